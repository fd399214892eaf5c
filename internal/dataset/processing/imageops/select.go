package imageops

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Selector picks a diverse subset of images from their feature vectors
// (RRD, de-redundancy).
type Selector struct {
	// Ratio is the fraction kept, unless Count is 0 or more.
	Ratio float64
	// Count is the number kept; -1 to use Ratio.
	Count int
	// Clusters is the number of clusters the images are first grouped
	// into; 0 (auto) for one group while farthest-point sampling of the
	// whole set stays cheap, else about √(n/2).
	Clusters int
}

// NewSelector makes a selector from an RRD config.
func NewSelector(c Config) (*Selector, error) {
	if c.op == nil || c.op.Name != "RRD" {
		return nil, errors.New("imageops: NewSelector needs an RRD config")
	}
	return &Selector{Ratio: c.float("sample_ratio"), Count: c.int("sample_count"), Clusters: c.int("n_clusters")}, nil
}

// fpsBudget bounds n·k·dim, the work of farthest-point sampling of the
// whole set, under which auto keeps one group: about a second here. A
// variable so that a test can reach the clustered path with a small set.
var fpsBudget = 2e9

// Select returns the indexes of the features kept, ascending. With one
// group it is farthest-point sampling (greedy k-center: start from the
// point nearest the mean, then repeatedly take the point farthest from
// those taken), which keeps the set's extent and drops the points closest
// to others, the redundant ones. With clusters, k-means (k-means++ seeded
// with a fixed seed) groups the points, each cluster keeps its share of k
// (largest remainders), and is sampled the same way from its centre. The
// result depends on the features only: no clock, no shared random source.
func (s Selector) Select(features [][]float32) ([]int, error) {
	n := len(features)
	if err := checkFeatures(features); err != nil {
		return nil, err
	}
	k := int(math.Round(s.Ratio * float64(n)))
	if s.Count >= 0 {
		k = min(s.Count, n)
	}
	if k >= n {
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return all, nil
	}
	if k <= 0 {
		return []int{}, nil
	}
	c := s.Clusters
	if c <= 0 {
		c = 1
		if dim := len(features[0]); float64(n)*float64(k)*float64(dim) > fpsBudget {
			c = int(math.Ceil(math.Sqrt(float64(n) / 2)))
		}
	}
	c = min(c, k)
	var kept []int
	if c == 1 {
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		kept = farthest(features, all, mean(features, all), k)
	} else {
		assign, centres := kmeans(features, c)
		members := make([][]int, c)
		for i, a := range assign {
			members[a] = append(members[a], i)
		}
		for j, q := range quotas(members, k) {
			kept = append(kept, farthest(features, members[j], centres[j], q)...)
		}
	}
	slices.Sort(kept)
	return kept, nil
}

func checkFeatures(features [][]float32) error {
	if len(features) == 0 {
		return nil
	}
	dim := len(features[0])
	if dim == 0 {
		return errors.New("feature vectors are empty")
	}
	for i, f := range features {
		if len(f) != dim {
			return fmt.Errorf("feature vector %d has %d values, the first has %d", i, len(f), dim)
		}
		for _, v := range f {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("feature vector %d holds %v", i, v)
			}
		}
	}
	return nil
}

// dist2 is the squared Euclidean distance; four running sums let the CPU
// overlap the additions (twice as fast as one here).
func dist2(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0, d1, d2, d3 := a[i]-b[i], a[i+1]-b[i+1], a[i+2]-b[i+2], a[i+3]-b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

func mean(features [][]float32, idx []int) []float32 {
	m := make([]float32, len(features[idx[0]]))
	for _, i := range idx {
		for j, v := range features[i] {
			m[j] += v
		}
	}
	for j := range m {
		m[j] /= float32(len(idx))
	}
	return m
}

// farthest takes k of the points idx by farthest-point sampling, starting
// from the one nearest start; ties go to the earlier point. Each step
// updates every point's distance to the points taken and finds the
// farthest; on a large set the CPUs share that work.
func farthest(features [][]float32, idx []int, start []float32, k int) []int {
	if k <= 0 || len(idx) == 0 {
		return nil
	}
	if k >= len(idx) {
		return slices.Clone(idx)
	}
	d := make([]float32, len(idx))
	for p, i := range idx {
		d[p] = dist2(features[i], start)
	}
	next := 0
	for p := range d {
		if d[p] < d[next] {
			next = p
		}
	}
	// update lowers d over [lo, hi) by the distance to c and returns the
	// farthest point left there (-1 if none).
	update := func(lo, hi int, c []float32) int {
		best := -1
		for p := lo; p < hi; p++ {
			if d[p] < 0 {
				continue
			}
			if e := dist2(features[idx[p]], c); e < d[p] {
				d[p] = e
			}
			if best < 0 || d[p] > d[best] {
				best = p
			}
		}
		return best
	}
	workers := 1
	if len(idx)*len(start) >= 1<<16 {
		workers = runtime.GOMAXPROCS(0)
	}
	bests := make([]int, workers)
	out := make([]int, 0, k)
	for len(out) < k {
		out = append(out, idx[next])
		c := features[idx[next]]
		d[next] = -1 // taken
		if workers == 1 {
			next = update(0, len(idx), c)
			continue
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bests[w] = update(w*len(idx)/workers, (w+1)*len(idx)/workers, c)
			}()
		}
		wg.Wait()
		next = -1
		for _, b := range bests { // in order of their ranges: ties stay with the earlier point
			if b >= 0 && (next < 0 || d[b] > d[next]) {
				next = b
			}
		}
	}
	return out
}

// quotas shares k among the clusters in proportion to their sizes, by
// largest remainders (ties to the earlier cluster).
func quotas(members [][]int, k int) []int {
	n := 0
	for _, m := range members {
		n += len(m)
	}
	q := make([]int, len(members))
	rem := make([]float64, len(members))
	given := 0
	for j, m := range members {
		exact := float64(k) * float64(len(m)) / float64(n)
		q[j] = int(exact)
		rem[j] = exact - float64(q[j])
		given += q[j]
	}
	order := make([]int, len(members))
	for j := range order {
		order[j] = j
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rem[a] > rem[b]:
			return -1
		case rem[a] < rem[b]:
			return 1
		}
		return 0
	})
	for _, j := range order[:k-given] {
		q[j]++
	}
	return q
}

// kmeansSeed fixes k-means' draws, so that a selection is the same every
// time.
const kmeansSeed = 0x5eed

// kmeansSample is how many points per cluster k-means fits its centres on:
// beyond that, a fixed sample (as mini-batch k-means does) places centres
// as well for sharing out a selection, at a fraction of the cost.
const kmeansSample = 64

// kmeans groups the features into c clusters: centres fitted on at most
// max(64·c, 4096) points chosen by a seeded draw (k-means++ seeding, then
// Lloyd's iterations until no point moves, at most 20; a cluster left
// empty takes the point farthest from its centre), then every point
// assigned to its nearest centre.
func kmeans(features [][]float32, c int) (assign []int, centres [][]float32) {
	n := len(features)
	r := rand.New(rand.NewPCG(kmeansSeed, uint64(n)))
	fit := features
	if m := max(c*kmeansSample, 4096); n > m {
		pick := r.Perm(n)[:m]
		slices.Sort(pick)
		fit = make([][]float32, m)
		for i, p := range pick {
			fit[i] = features[p]
		}
	}
	centres = lloyd(r, fit, c)
	assign, _ = nearest(features, centres, nil)
	return assign, centres
}

// lloyd fits c centres to the points.
func lloyd(r *rand.Rand, points [][]float32, c int) [][]float32 {
	n, dim := len(points), len(points[0])
	centres := make([][]float32, 0, c)
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(math.Inf(1))
	}
	pick := r.IntN(n)
	for len(centres) < c {
		centres = append(centres, slices.Clone(points[pick]))
		var total float64
		for i, f := range points {
			d[i] = min(d[i], dist2(f, centres[len(centres)-1]))
			total += float64(d[i])
		}
		if total == 0 {
			pick = r.IntN(n)
			continue
		}
		t := r.Float64() * total
		for i := range d {
			t -= float64(d[i])
			if t <= 0 {
				pick = i
				break
			}
		}
	}
	var assign []int
	for range 20 {
		var moved int
		assign, moved = nearest(points, centres, assign)
		if moved == 0 {
			break
		}
		counts := make([]int, c)
		for j := range centres {
			clear(centres[j])
		}
		for i, f := range points {
			counts[assign[i]]++
			for x, v := range f {
				centres[assign[i]][x] += v
			}
		}
		for j := range centres {
			if counts[j] == 0 {
				far := 0
				for i, f := range points {
					if dist2(f, centres[assign[i]]) > dist2(points[far], centres[assign[far]]) {
						far = i
					}
				}
				copy(centres[j], points[far])
				continue
			}
			for x := 0; x < dim; x++ {
				centres[j][x] /= float32(counts[j])
			}
		}
	}
	return centres
}

// nearest assigns each point to its nearest centre, on every CPU, and
// counts the points whose assignment changed from prev (all of them when
// prev is nil).
func nearest(points, centres [][]float32, prev []int) (assign []int, moved int) {
	n := len(points)
	assign = make([]int, n)
	workers := runtime.GOMAXPROCS(0)
	moves := make([]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * n / workers; i < (w+1)*n/workers; i++ {
				best := 0
				bd := dist2(points[i], centres[0])
				for j := 1; j < len(centres); j++ {
					if e := dist2(points[i], centres[j]); e < bd {
						best, bd = j, e
					}
				}
				assign[i] = best
				if prev == nil || prev[i] != best {
					moves[w]++
				}
			}
		}()
	}
	wg.Wait()
	for _, m := range moves {
		moved += m
	}
	return assign, moved
}

// Cleaner keeps the images like positive examples and unlike negative
// ones (PCC, data cleansing), comparing feature vectors.
type Cleaner struct {
	// Clusters is the number of kinds among the positive examples; 0
	// (auto) makes each example its own kind.
	Clusters int
	// Similarity is the cosine similarity above which two images are
	// similar; Distance the feature distance (half the Euclidean distance
	// of the unit vectors, in [0, 1]) below which they are.
	Similarity, Distance float64
}

// NewCleaner makes a cleaner from a PCC config.
func NewCleaner(c Config) (*Cleaner, error) {
	if c.op == nil || c.op.Name != "PCC" {
		return nil, errors.New("imageops: NewCleaner needs a PCC config")
	}
	return &Cleaner{Clusters: c.int("n_clusters"), Similarity: c.float("simlarity_threshold"), Distance: c.float("embedding_distance")}, nil
}

// Verdict is the cleaner's decision on one image.
type Verdict struct {
	Keep bool `json:"keep"`
	// Positive and Negative are the image's highest cosine similarity to a
	// positive kind and to a negative example (0 without negatives).
	Positive float64 `json:"positive"`
	Negative float64 `json:"negative"`
}

// Clean decides for each image of features: it is kept when it is similar
// to a kind of the positive examples (by Similarity or Distance) and not
// more similar to a negative example than to any positive kind. With
// Clusters set, the positive examples are first grouped by k-means into
// that many kinds, each compared through its (normalised) centre.
func (c Cleaner) Clean(features, positives, negatives [][]float32) ([]Verdict, error) {
	if len(positives) == 0 {
		return nil, errors.New("there are no positive samples")
	}
	for _, set := range []struct {
		name     string
		features [][]float32
	}{{"image", features}, {"positive sample", positives}, {"negative sample", negatives}} {
		if err := checkFeatures(set.features); err != nil {
			return nil, fmt.Errorf("%s features: %w", set.name, err)
		}
	}
	dim := len(positives[0])
	if (len(features) > 0 && len(features[0]) != dim) || (len(negatives) > 0 && len(negatives[0]) != dim) {
		return nil, errors.New("image, positive and negative features differ in length")
	}
	kinds := unitAll(positives)
	if c.Clusters > 0 {
		if c.Clusters > len(positives) {
			return nil, fmt.Errorf("n_clusters %d is more than the %d positive samples", c.Clusters, len(positives))
		}
		_, centres := kmeans(kinds, c.Clusters)
		kinds = unitAll(centres)
	}
	neg := unitAll(negatives)
	out := make([]Verdict, len(features))
	for i, f := range features {
		u := unit(f)
		v := Verdict{Positive: maxCos(u, kinds), Negative: maxCos(u, neg)}
		if len(neg) == 0 {
			v.Negative = 0
		}
		dist := math.Sqrt(math.Max(0, 2-2*v.Positive)) / 2
		similar := v.Positive > c.Similarity || dist < c.Distance
		v.Keep = similar && (len(neg) == 0 || v.Negative <= v.Positive)
		out[i] = v
	}
	return out, nil
}

func unit(f []float32) []float32 {
	var s float64
	for _, v := range f {
		s += float64(v) * float64(v)
	}
	u := make([]float32, len(f))
	if s == 0 {
		return u
	}
	n := float32(1 / math.Sqrt(s))
	for i, v := range f {
		u[i] = v * n
	}
	return u
}

func unitAll(fs [][]float32) [][]float32 {
	out := make([][]float32, len(fs))
	for i, f := range fs {
		out[i] = unit(f)
	}
	return out
}

// maxCos is the highest cosine similarity of the unit vector u to the
// unit vectors of set; -1 for an empty set.
func maxCos(u []float32, set [][]float32) float64 {
	best := -1.0
	for _, s := range set {
		var dot float64
		for i := range u {
			dot += float64(u[i]) * float64(s[i])
		}
		best = math.Max(best, dot)
	}
	return best
}
