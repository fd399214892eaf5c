package learn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// KMeansOptions tunes KMeans; the zero value is sound.
type KMeansOptions struct {
	// Seed fixes the k-means++ choice of starting centres: the same rows and
	// seed give the same groups, bit for bit, on any number of cores.
	Seed uint64
	// MaxIterations bounds Lloyd's iterations; 0 means 100.
	MaxIterations int
	// Tolerance stops the iterations once an iteration lowers the sum of
	// squared distances by less than this fraction of it; 0 means 1e-4.
	Tolerance float64
}

// Clusters is KMeans' answer.
type Clusters struct {
	// Assign is each row's group, in [0, len(Centroids)); -1 for an absent
	// row.
	Assign     []int
	Centroids  [][]float32
	Inertia    float64 // sum of squared distances from rows to their centres
	Iterations int
}

// KMeans groups the present rows of x into k groups: greedy k-means++
// starting centres (each next centre drawn with probability proportional to
// its squared distance from the nearest one chosen, which spreads them over
// the data), then Lloyd's iterations until no row moves, the tolerance or
// the iteration limit. Absent rows are in group -1.
//
// When there are fewer rows, or fewer distinct rows, than k, there are that
// many groups instead: a group cannot be made of nothing. A group that loses
// all its rows during the iterations is restarted at the row farthest from
// its centre, so k groups stay k groups.
func KMeans(ctx context.Context, x *Matrix, k int, opt KMeansOptions) (*Clusters, error) {
	if x == nil {
		return nil, errors.New("learn: k-means of no matrix")
	}
	if k < 1 {
		return nil, fmt.Errorf("learn: k-means needs at least one group, asked for %d", k)
	}
	maxIter, tol := opt.MaxIterations, opt.Tolerance
	if maxIter <= 0 {
		maxIter = 100
	}
	if tol <= 0 {
		tol = 1e-4
	}
	rows := x.present()
	if len(rows) == 0 {
		return nil, errors.New("learn: k-means of no rows")
	}
	km := newKMeans(x, rows)
	rng := rand.New(rand.NewPCG(opt.Seed, 0x6b6d65616e73))
	if err := km.seed(ctx, min(k, len(rows)), rng); err != nil {
		return nil, err
	}
	prev := math.Inf(1)
	iter := 0
	for {
		changed, inertia := km.assign()
		iter++
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if changed == 0 || iter >= maxIter || (iter > 1 && prev-inertia <= tol*prev) {
			km.inertia = inertia
			break
		}
		prev = inertia
		km.update()
	}
	out := &Clusters{Assign: make([]int, x.n), Inertia: km.inertia, Iterations: iter}
	for i := range out.Assign {
		out.Assign[i] = -1
	}
	for i, row := range rows {
		out.Assign[row] = km.label[i]
	}
	out.Centroids = make([][]float32, km.k)
	for c := range out.Centroids {
		out.Centroids[c] = make([]float32, km.d)
		for j, v := range km.c[c*km.d : (c+1)*km.d] {
			out.Centroids[c][j] = float32(v)
		}
	}
	return out, nil
}

type kmeans struct {
	x       *Matrix
	rows    []int
	d, k    int
	c       []float64 // k×d centres
	cc      []float64 // their squared lengths
	xx      []float64 // squared length of each row
	label   []int
	dist    []float64 // each row's squared distance to its centre
	inertia float64

	sums   [][]float64 // per partition: k×d sums of assigned rows
	counts [][]int     // per partition: rows per group
}

func newKMeans(x *Matrix, rows []int) *kmeans {
	km := &kmeans{x: x, rows: rows, d: x.dim, xx: make([]float64, len(rows)),
		label: make([]int, len(rows)), dist: make([]float64, len(rows))}
	for i, row := range rows {
		var s float64
		if x.dense != nil {
			for _, v := range x.dense[row*x.dim : (row+1)*x.dim] {
				s += float64(v) * float64(v)
			}
		} else {
			for _, v := range x.sparse[row].val {
				s += float64(v) * float64(v)
			}
		}
		km.xx[i] = s
		km.label[i] = -1
	}
	return km
}

// seed chooses up to k starting centres by greedy k-means++: each next
// centre is the best, by the sum of squared distances it leaves, of a few
// rows drawn with probability proportional to their squared distance from
// the nearest centre so far. A single draw (plain k-means++) put two
// centres in one of five well-separated blobs for 2 seeds in 6 here, and
// Lloyd's iterations cannot undo that; 2 + ln k draws is the usual remedy.
func (km *kmeans) seed(ctx context.Context, k int, rng *rand.Rand) error {
	n, d := len(km.rows), km.d
	km.c = make([]float64, 0, k*d)
	km.cc = km.cc[:0]
	km.addCentre(rng.IntN(n))
	best := make([]float64, n)
	km.distances(km.c, km.cc, best)
	trials := 2 + int(math.Log(float64(k)))
	cand := make([]int, 0, trials)
	candDist := make([]float64, n*trials)
	for len(km.cc) < k {
		if err := ctx.Err(); err != nil {
			return err
		}
		var total float64
		for _, v := range best {
			total += v
		}
		// Every row already sits on a centre: the rows have fewer distinct
		// values than k.
		if total <= 0 {
			break
		}
		cand = cand[:0]
		for range trials {
			// The draw walks the cumulative distances; rounding can carry u
			// past the end, and then the last row with a distance is drawn.
			u := rng.Float64() * total
			next := -1
			for i, v := range best {
				if v <= 0 {
					continue
				}
				next = i
				if u < v {
					break
				}
				u -= v
			}
			cand = append(cand, next)
		}
		// The candidates' distances to every row, in one product.
		c := make([]float64, 0, len(cand)*d)
		cc := make([]float64, 0, len(cand))
		for _, i := range cand {
			row := km.x.Row(km.rows[i])
			var s float64
			for _, v := range row {
				c = append(c, float64(v))
				s += float64(v) * float64(v)
			}
			cc = append(cc, s)
		}
		km.distances(c, cc, candDist[:n*len(cand)])
		pick, pickSum := 0, math.Inf(1)
		for t := range cand {
			var s float64
			for i, v := range best {
				s += min(v, candDist[i*len(cand)+t])
			}
			if s < pickSum {
				pick, pickSum = t, s
			}
		}
		for i := range best {
			best[i] = min(best[i], candDist[i*len(cand)+pick])
		}
		km.addCentre(cand[pick])
	}
	km.prepare()
	return nil
}

// prepare sizes the per-partition sums for the centres chosen.
func (km *kmeans) prepare() {
	km.k = len(km.cc)
	parts := min(partitions, len(km.rows))
	km.sums = make([][]float64, parts)
	km.counts = make([][]int, parts)
	for p := range parts {
		km.sums[p] = make([]float64, km.k*km.d)
		km.counts[p] = make([]int, km.k)
	}
}

// addCentre appends row i (a position in km.rows) as a centre.
func (km *kmeans) addCentre(i int) {
	row := km.x.Row(km.rows[i])
	var s float64
	for _, v := range row {
		km.c = append(km.c, float64(v))
		s += float64(v) * float64(v)
	}
	km.cc = append(km.cc, s)
}

// distances writes the squared distance of every row to each of the
// centres c (len(cc) of them) into out, len(rows)×len(cc).
func (km *kmeans) distances(c, cc []float64, out []float64) {
	k := len(cc)
	forParts(len(km.rows), func(_, lo, hi int) {
		var buf []float64
		for b := lo; b < hi; b += blockRows {
			e := min(b+blockRows, hi)
			buf = km.distBlock(b, e, c, cc, out[b*k:e*k], buf)
		}
	})
}

// blockRows is the number of rows converted to float64 and multiplied at
// once: large enough for BLAS to run at speed, small enough that a block
// per goroutine is a few hundred kilobytes.
const blockRows = 256

// distBlock writes the squared distances of rows [b,e) to the centres into
// out as |x|² - 2x·c + |c|²: the cross terms are one matrix product per
// block, which gonum's BLAS does far faster than row-by-row differences.
// buf is scratch space, returned for reuse.
func (km *kmeans) distBlock(b, e int, c, cc, out, buf []float64) []float64 {
	k, d := len(cc), km.d
	if km.x.dense == nil {
		for i := b; i < e; i++ {
			row := km.x.sparse[km.rows[i]]
			for q := 0; q < k; q++ {
				var dot float64
				cq := c[q*d : (q+1)*d]
				for j, col := range row.idx {
					dot += float64(row.val[j]) * cq[col]
				}
				out[(i-b)*k+q] = max(0, km.xx[i]-2*dot+cc[q])
			}
		}
		return buf
	}
	if cap(buf) < blockRows*d {
		buf = make([]float64, blockRows*d)
	}
	km.x.gather(buf, km.rows[b:e], nil, nil)
	xs := blas64.General{Rows: e - b, Cols: d, Stride: d, Data: buf[:(e-b)*d]}
	cm := blas64.General{Rows: k, Cols: d, Stride: d, Data: c}
	zs := blas64.General{Rows: e - b, Cols: k, Stride: k, Data: out}
	blas64.Gemm(blas.NoTrans, blas.Trans, -2, xs, cm, 0, zs)
	for i := b; i < e; i++ {
		for q := 0; q < k; q++ {
			out[(i-b)*k+q] = max(0, out[(i-b)*k+q]+km.xx[i]+cc[q])
		}
	}
	return buf
}

// assign moves every row to its nearest centre and sums the groups for the
// next update; it returns how many rows moved and the sum of squared
// distances.
func (km *kmeans) assign() (changed int, inertia float64) {
	n, k, d := len(km.rows), km.k, km.d
	moved := make([]int, len(km.sums))
	dist := make([]float64, len(km.sums))
	forParts(n, func(part, lo, hi int) {
		sums, counts := km.sums[part], km.counts[part]
		clear(sums)
		clear(counts)
		all := make([]float64, blockRows*k)
		var buf []float64
		for b := lo; b < hi; b += blockRows {
			e := min(b+blockRows, hi)
			buf = km.distBlock(b, e, km.c, km.cc, all[:(e-b)*k], buf)
			for i := b; i < e; i++ {
				di := all[(i-b)*k : (i-b+1)*k]
				best := 0
				for q, v := range di {
					if v < di[best] {
						best = q
					}
				}
				if km.label[i] != best {
					moved[part]++
					km.label[i] = best
				}
				km.dist[i] = di[best]
				dist[part] += di[best]
				counts[best]++
				s := sums[best*d : (best+1)*d]
				if km.x.dense != nil {
					for j, v := range km.x.dense[km.rows[i]*d : (km.rows[i]+1)*d] {
						s[j] += float64(v)
					}
				} else {
					row := km.x.sparse[km.rows[i]]
					for j, col := range row.idx {
						s[col] += float64(row.val[j])
					}
				}
			}
		}
	})
	for p := range moved {
		changed += moved[p]
		inertia += dist[p]
	}
	return changed, inertia
}

// update moves each centre to the mean of its rows, restarting empty groups
// at the rows farthest from their centres.
func (km *kmeans) update() {
	k, d := km.k, km.d
	clear(km.c)
	counts := make([]int, k)
	for p := range km.sums {
		for i, v := range km.sums[p] {
			km.c[i] += v
		}
		for q, c := range km.counts[p] {
			counts[q] += c
		}
	}
	var empty []int
	for q := 0; q < k; q++ {
		if counts[q] == 0 {
			empty = append(empty, q)
			continue
		}
		for j := range km.c[q*d : (q+1)*d] {
			km.c[q*d+j] /= float64(counts[q])
		}
	}
	if len(empty) > 0 {
		far := make([]int, len(km.rows))
		for i := range far {
			far[i] = i
		}
		slices.SortStableFunc(far, func(a, b int) int { return cmp.Compare(km.dist[b], km.dist[a]) })
		for j, q := range empty {
			row := km.x.Row(km.rows[far[j]])
			for i, v := range row {
				km.c[q*d+i] = float64(v)
			}
		}
	}
	for q := 0; q < k; q++ {
		var s float64
		for _, v := range km.c[q*d : (q+1)*d] {
			s += v * v
		}
		km.cc[q] = s
	}
}
