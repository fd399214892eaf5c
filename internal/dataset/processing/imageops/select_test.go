package imageops

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// blobs makes n points in each of k tight clusters of dim dimensions, the
// cluster centres far apart; label[i] is point i's cluster.
func blobs(seed uint64, k, n, dim int) (points [][]float32, label []int) {
	r := rand.New(rand.NewPCG(seed, 7))
	for c := range k {
		centre := make([]float32, dim)
		for d := range centre {
			centre[d] = float32(r.NormFloat64() * 20)
		}
		for range n {
			p := make([]float32, dim)
			for d := range p {
				p[d] = centre[d] + float32(r.NormFloat64()*0.5)
			}
			points = append(points, p)
			label = append(label, c)
		}
	}
	// Interleave the clusters so that input order says nothing.
	perm := r.Perm(len(points))
	ps, ls := make([][]float32, len(points)), make([]int, len(points))
	for i, j := range perm {
		ps[i], ls[i] = points[j], label[j]
	}
	return ps, ls
}

func TestSelectCoversEveryCluster(t *testing.T) {
	points, label := blobs(1, 12, 40, 16)
	cases := []struct {
		name string
		sel  Selector
		want int
	}{
		{"farthest-point-one-each", Selector{Count: 12}, 12},
		{"farthest-point-ratio", Selector{Ratio: 0.1, Count: -1}, 48},
		{"clusters-given", Selector{Count: 24, Clusters: 12}, 24},
		{"clusters-fewer-than-kinds", Selector{Count: 36, Clusters: 6}, 36},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kept, err := c.sel.Select(points)
			if err != nil {
				t.Fatal(err)
			}
			if len(kept) != c.want || !slices.IsSorted(kept) {
				t.Fatalf("kept %d (sorted %v), want %d in ascending order", len(kept), slices.IsSorted(kept), c.want)
			}
			per := map[int]int{}
			for _, i := range kept {
				per[label[i]]++
			}
			if len(per) != 12 {
				t.Errorf("the subset covers %d of 12 clusters: %v", len(per), per)
			}
			lo, hi := math.MaxInt, 0
			for _, n := range per {
				lo, hi = min(lo, n), max(hi, n)
			}
			if hi-lo > 1+c.want/12 {
				t.Errorf("clusters are unevenly kept: %v", per)
			}
			again, _ := c.sel.Select(points)
			if !slices.Equal(kept, again) {
				t.Error("two runs select differently")
			}
		})
	}
}

// TestSelectDropsRedundantCopies: with 100 distinct points and 60 copies of
// some of them, keeping 100 keeps every distinct point once.
func TestSelectDropsRedundantCopies(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var points [][]float32
	for range 100 {
		points = append(points, []float32{float32(r.Float64()), float32(r.Float64()), float32(r.Float64())})
	}
	for i := range 60 {
		points = append(points, slices.Clone(points[i*13%100]))
	}
	kept, err := Selector{Count: 100}.Select(points)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[3]float32]bool{}
	for _, i := range kept {
		p := [3]float32(points[i])
		if seen[p] {
			t.Fatalf("point %d is a copy of one already kept", i)
		}
		seen[p] = true
	}
	if len(seen) != 100 {
		t.Errorf("kept %d distinct points, want 100", len(seen))
	}
}

func TestSelectCountsAndErrors(t *testing.T) {
	points, _ := blobs(2, 3, 10, 4)
	for _, c := range []struct {
		sel  Selector
		want int
	}{
		{Selector{Ratio: 0.9, Count: -1}, 27}, {Selector{Ratio: 1, Count: -1}, 30}, {Selector{Ratio: 0, Count: -1}, 0},
		{Selector{Ratio: 0.5, Count: 7}, 7}, {Selector{Count: 100}, 30}, {Selector{Count: 0}, 0},
	} {
		kept, err := c.sel.Select(points)
		if err != nil || len(kept) != c.want {
			t.Errorf("%+v: kept %d (%v), want %d", c.sel, len(kept), err, c.want)
		}
	}
	if kept, err := (Selector{Ratio: 0.5, Count: -1}).Select(nil); err != nil || len(kept) != 0 {
		t.Errorf("no features: %v, %v", kept, err)
	}
	for _, bad := range []struct {
		name     string
		features [][]float32
		says     string
	}{
		{"ragged", [][]float32{{1, 2}, {1}}, "feature vector 1 has 1 values, the first has 2"},
		{"nan", [][]float32{{1, 2}, {float32(math.NaN()), 0}}, "feature vector 1 holds NaN"},
		{"empty", [][]float32{{}, {}}, "feature vectors are empty"},
	} {
		_, err := Selector{Count: 1}.Select(bad.features)
		if err == nil || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%s: error %v, want one saying %q", bad.name, err, bad.says)
		}
	}
}

// TestSelectLargeSetUsesClusters: above the work budget auto clusters
// instead of sampling the whole set, and still covers every cluster.
func TestSelectLargeSetUsesClusters(t *testing.T) {
	defer func(b float64) { fpsBudget = b }(fpsBudget)
	fpsBudget = 1e6
	points, label := blobs(5, 20, 400, 16) // 8,000 points: n·k·dim = 8e8 at ratio 0.8
	kept, err := Selector{Ratio: 0.8, Count: -1}.Select(points)
	if err != nil {
		t.Fatal(err)
	}
	per := map[int]int{}
	for _, i := range kept {
		per[label[i]]++
	}
	if len(kept) != 6400 || len(per) != 20 {
		t.Errorf("kept %d over %d clusters, want 6400 over 20", len(kept), len(per))
	}
	for c, n := range per {
		if n < 280 || n > 360 {
			t.Errorf("cluster %d keeps %d of its 400, want about 320", c, n)
		}
	}
}

func TestCleanerKeepsWhatLooksLikeThePositives(t *testing.T) {
	// Three kinds of image: cats and dogs (positive examples given) and
	// cars (negative examples given).
	points, label := blobs(9, 3, 30, 8)
	var positives, negatives [][]float32
	for i, l := range label {
		switch {
		case l == 0 && len(positives) < 3, l == 1 && len(positives) < 6 && len(positives) >= 3:
			positives = append(positives, points[i])
		case l == 2 && len(negatives) < 3:
			negatives = append(negatives, points[i])
		}
	}
	for _, c := range []Cleaner{
		{Similarity: 0.9, Distance: 0.2},
		{Clusters: 2, Similarity: 0.9, Distance: 0.2},
	} {
		verdicts, err := c.Clean(points, positives, negatives)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range verdicts {
			if want := label[i] != 2; v.Keep != want {
				t.Errorf("%+v: image %d of kind %d: keep %v (positive %.3f, negative %.3f), want %v", c, i, label[i], v.Keep, v.Positive, v.Negative, want)
			}
		}
	}
	// Without negatives, a threshold alone decides.
	verdicts, _ := Cleaner{Similarity: 0.999, Distance: 0}.Clean(points, positives, nil)
	kept := 0
	for _, v := range verdicts {
		if v.Keep {
			kept++
		}
		if v.Negative != 0 {
			t.Fatalf("negative similarity %v without negatives", v.Negative)
		}
	}
	if kept == 0 || kept == len(points) {
		t.Errorf("a strict similarity kept %d of %d", kept, len(points))
	}
	if _, err := (Cleaner{Clusters: 7}).Clean(points, positives, nil); err == nil || !strings.Contains(err.Error(), "n_clusters 7 is more than the 6 positive samples") {
		t.Errorf("too many clusters: %v", err)
	}
	if _, err := (Cleaner{}).Clean(points, nil, nil); err == nil {
		t.Error("no positives: no error")
	}
	if _, err := (Cleaner{}).Clean(points, [][]float32{{1, 2}}, nil); err == nil {
		t.Error("features of another length: no error")
	}
}

// TestFarthestOnManyCPUsMatchesOne holds the parallel steps of
// farthest-point sampling (taken on large sets) against a plain loop.
func TestFarthestOnManyCPUsMatchesOne(t *testing.T) {
	points, _ := blobs(11, 30, 200, 16) // 6,000 × 16: above the parallel threshold
	// Copies make ties, which must go to the earlier point either way.
	for i := range 500 {
		points[5000+i] = points[i*7]
	}
	idx := make([]int, len(points))
	for i := range idx {
		idx[i] = i
	}
	start := mean(points, idx)
	got := farthest(points, idx, start, 300)

	d := make([]float32, len(points))
	next := 0
	for i := range points {
		d[i] = dist2(points[i], start)
		if d[i] < d[next] {
			next = i
		}
	}
	var want []int
	for len(want) < 300 {
		want = append(want, next)
		c := points[next]
		d[next] = -1
		next = -1
		for i := range points {
			if d[i] < 0 {
				continue
			}
			d[i] = min(d[i], dist2(points[i], c))
			if next < 0 || d[i] > d[next] {
				next = i
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("parallel farthest-point sampling differs from the plain loop:\n got %v\nwant %v", got[:20], want[:20])
	}
}
