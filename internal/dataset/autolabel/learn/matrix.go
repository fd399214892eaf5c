package learn

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// Matrix holds one feature row per sample, all of one width: dense (image
// descriptors) or sparse (text). Row i is sample i of the caller's list, so
// that labels, predictions and groups share one index. A row can be absent
// (its image could not be read): AutoLabel neither learns from nor predicts
// an absent row, and KMeans puts it in group -1.
//
// Dense rows are float32 because 100,000 descriptors must fit the memory
// budget; the learners convert a block at a time to float64 for arithmetic.
type Matrix struct {
	n, dim  int
	dense   []float32   // n×dim, row-major; nil when sparse
	sparse  []sparseRow // one per row; nil when dense
	missing []bool      // nil when no row is absent
	// blocks, when set, splits the columns into feature blocks (the
	// boundaries, first 0 and last dim): see objective.standardise.
	blocks []int
}

// sparseRow lists a row's non-zero columns in increasing order.
type sparseRow struct {
	idx []int32
	val []float32
}

// NewDense returns a dense matrix whose rows are copies of rows; every row
// must have the same, positive length.
func NewDense(rows [][]float32) (*Matrix, error) {
	if len(rows) == 0 {
		return nil, errors.New("learn: a matrix needs at least one row")
	}
	dim := len(rows[0])
	if dim == 0 {
		return nil, errors.New("learn: a matrix row needs at least one column")
	}
	m := &Matrix{n: len(rows), dim: dim, dense: make([]float32, len(rows)*dim)}
	for i, r := range rows {
		if len(r) != dim {
			return nil, fmt.Errorf("learn: row %d has %d columns, row 0 has %d", i, len(r), dim)
		}
		copy(m.dense[i*dim:], r)
	}
	return m, nil
}

// Len is the number of rows, absent ones included.
func (m *Matrix) Len() int { return m.n }

// Dim is the number of columns.
func (m *Matrix) Dim() int { return m.dim }

// Absent reports whether row i has no features.
func (m *Matrix) Absent(i int) bool { return m.missing != nil && m.missing[i] }

// Row returns a copy of row i as a dense vector.
func (m *Matrix) Row(i int) []float32 {
	out := make([]float32, m.dim)
	if m.dense != nil {
		copy(out, m.dense[i*m.dim:(i+1)*m.dim])
		return out
	}
	r := m.sparse[i]
	for j, c := range r.idx {
		out[c] = r.val[j]
	}
	return out
}

// present lists the rows that are not absent.
func (m *Matrix) present() []int {
	out := make([]int, 0, m.n)
	for i := 0; i < m.n; i++ {
		if !m.Absent(i) {
			out = append(out, i)
		}
	}
	return out
}

// gather writes rows (standardised by mean and scale when they are given)
// into dst as float64, len(rows)×dim row-major, for the BLAS calls.
func (m *Matrix) gather(dst []float64, rows []int, mean, scale []float64) {
	d := m.dim
	for k, i := range rows {
		out := dst[k*d : (k+1)*d]
		if m.dense != nil {
			src := m.dense[i*d : (i+1)*d]
			if mean == nil {
				for j, v := range src {
					out[j] = float64(v)
				}
			} else {
				for j, v := range src {
					out[j] = (float64(v) - mean[j]) * scale[j]
				}
			}
			continue
		}
		clear(out)
		r := m.sparse[i]
		for j, c := range r.idx {
			out[c] = float64(r.val[j])
		}
	}
}

// partitions is the fixed number of row ranges parallel reductions split
// their work into. It does not depend on GOMAXPROCS so that partial sums are
// added in the same order on every machine: results are reproducible for a
// seed, not merely close.
const partitions = 16

// forParts runs fn over partitions contiguous ranges of [0,n) on up to
// GOMAXPROCS goroutines. fn's part index says where to put partial results.
func forParts(n int, fn func(part, lo, hi int)) {
	parts := min(partitions, n)
	if parts <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	workers := min(runtime.GOMAXPROCS(0), parts)
	next := make(chan int, parts)
	for p := 0; p < parts; p++ {
		next <- p
	}
	close(next)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for p := range next {
				fn(p, n*p/parts, n*(p+1)/parts)
			}
		})
	}
	wg.Wait()
}
