package learn

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
)

// blobs draws perCluster points around each of k random centres in dim
// dimensions, the centres spread far beyond the points' scatter.
func blobs(seed uint64, k, perCluster, dim int, spread float64) (*Matrix, []int) {
	rng := rand.New(rand.NewPCG(seed, 5))
	centres := make([][]float64, k)
	for c := range centres {
		centres[c] = make([]float64, dim)
		for j := range centres[c] {
			centres[c][j] = rng.Float64() * 20
		}
	}
	var rows [][]float32
	var ys []int
	for i := 0; i < perCluster; i++ {
		for c := range centres {
			row := make([]float32, dim)
			for j := range row {
				row[j] = float32(centres[c][j] + rng.NormFloat64()*spread)
			}
			rows = append(rows, row)
			ys = append(ys, c)
		}
	}
	m, err := NewDense(rows)
	if err != nil {
		panic(err)
	}
	return m, ys
}

// adjustedRand is the adjusted Rand index of two partitions: 1 when they
// agree, about 0 when they agree only by chance.
func adjustedRand(a, b []int) float64 {
	type pair struct{ x, y int }
	joint := map[pair]int{}
	ra, rb := map[int]int{}, map[int]int{}
	for i := range a {
		joint[pair{a[i], b[i]}]++
		ra[a[i]]++
		rb[b[i]]++
	}
	choose2 := func(n int) float64 { return float64(n) * float64(n-1) / 2 }
	var index, sa, sb float64
	for _, n := range joint {
		index += choose2(n)
	}
	for _, n := range ra {
		sa += choose2(n)
	}
	for _, n := range rb {
		sb += choose2(n)
	}
	expected := sa * sb / choose2(len(a))
	return (index - expected) / ((sa+sb)/2 - expected)
}

// purity is the share of rows whose group's most common truth is theirs.
func purity(groups, truth []int) float64 {
	count := map[int]map[int]int{}
	for i, g := range groups {
		if count[g] == nil {
			count[g] = map[int]int{}
		}
		count[g][truth[i]]++
	}
	right := 0
	for _, byTruth := range count {
		best := 0
		for _, n := range byTruth {
			best = max(best, n)
		}
		right += best
	}
	return float64(right) / float64(len(groups))
}

// TestKMeansRecovers: well-separated generated clusters are found, and the
// shapes are grouped by shape well enough to label groups at once.
// Measured: blobs ARI 1.000; shapes purity 0.796 with k = 6 and 0.754 with
// k = 12 (colour, which is random here, pulls some groups its way).
func TestKMeansRecovers(t *testing.T) {
	x, ys := blobs(1, 5, 200, 10, 1)
	cl, err := KMeans(context.Background(), x, 5, KMeansOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ari := adjustedRand(cl.Assign, ys)
	t.Logf("blobs: ARI %.3f, %d iterations", ari, cl.Iterations)
	if ari < 0.99 {
		t.Errorf("blobs: adjusted Rand index %.3f, want at least 0.99 (k-means++ should not merge separated clusters)", ari)
	}
	if len(cl.Centroids) != 5 || cl.Iterations < 1 || cl.Inertia <= 0 {
		t.Errorf("blobs: %d centroids, %d iterations, inertia %g", len(cl.Centroids), cl.Iterations, cl.Inertia)
	}

	sx, sy := shapeFixture(t)
	for _, tc := range []struct {
		k    int
		want float64
	}{{6, 0.75}, {12, 0.70}} {
		cl, err := KMeans(context.Background(), sx, tc.k, KMeansOptions{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		p := purity(cl.Assign, sy)
		t.Logf("shapes, k=%d: purity %.3f, ARI %.3f, %d iterations", tc.k, p, adjustedRand(cl.Assign, sy), cl.Iterations)
		if p < tc.want {
			t.Errorf("shapes, k=%d: purity %.3f, want at least %.2f", tc.k, p, tc.want)
		}
	}
}

func TestKMeansSparse(t *testing.T) {
	x, ys := textFixture(t)
	cl, err := KMeans(context.Background(), x, 5, KMeansOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := purity(cl.Assign, ys)
	t.Logf("topics, k=5: purity %.3f", p)
	if p < 0.55 {
		t.Errorf("topics: purity %.3f, want at least 0.55 (measured 0.625)", p)
	}
}

func TestKMeansEdgeCases(t *testing.T) {
	three, _ := NewDense([][]float32{{0, 0}, {1, 1}, {5, 5}})
	dups, _ := NewDense([][]float32{{1, 2}, {1, 2}, {1, 2}, {3, 4}, {3, 4}})
	cases := []struct {
		name   string
		x      *Matrix
		k      int
		groups int // groups expected
	}{
		{"k-above-rows", three, 10, 3},
		{"k-equals-rows", three, 3, 3},
		{"one-group", three, 1, 1},
		{"fewer-distinct-than-k", dups, 4, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := KMeans(context.Background(), tc.x, tc.k, KMeansOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(cl.Centroids) != tc.groups {
				t.Fatalf("%d groups, want %d", len(cl.Centroids), tc.groups)
			}
			seen := map[int]bool{}
			for i, g := range cl.Assign {
				if g < 0 || g >= tc.groups {
					t.Fatalf("row %d in group %d", i, g)
				}
				seen[g] = true
			}
			if len(seen) != tc.groups {
				t.Errorf("%d of %d groups used: a group is empty", len(seen), tc.groups)
			}
			if tc.groups == tc.x.Len() && cl.Inertia != 0 {
				t.Errorf("every row its own group, yet inertia %g", cl.Inertia)
			}
		})
	}
	if _, err := KMeans(context.Background(), three, 0, KMeansOptions{}); err == nil {
		t.Error("k = 0 was accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	big, _ := blobs(2, 3, 100, 4, 1)
	if _, err := KMeans(ctx, big, 3, KMeansOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
}

// TestKMeansEmptyGroup: a centre left with no rows moves to the row
// farthest from its own centre instead of staying empty.
func TestKMeansEmptyGroup(t *testing.T) {
	x, _ := NewDense([][]float32{{0}, {0.1}, {0.2}, {10}, {10.1}, {30}})
	km := newKMeans(x, x.present())
	km.c = []float64{0.1, 10.05, 1000} // the third centre is far from every row
	km.cc = []float64{0.01, 101.0025, 1e6}
	km.prepare()
	km.assign()
	km.update()
	if got := km.c[2]; got != 30 {
		t.Fatalf("the empty group's centre moved to %g, want 30 (the farthest row)", got)
	}
	if changed, _ := km.assign(); changed == 0 || km.label[5] != 2 {
		t.Errorf("after the restart row 5 is in group %d, want 2", km.label[5])
	}
}

func TestKMeansDeterministic(t *testing.T) {
	x, _ := blobs(3, 8, 300, 16, 4)
	run := func(procs int, seed uint64) *Clusters {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		cl, err := KMeans(context.Background(), x, 8, KMeansOptions{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	if a, b := run(1, 7), run(3, 7); !reflect.DeepEqual(a, b) {
		t.Error("one core and three gave different groups for one seed")
	}
}

// TestGroupingAspects: grouping on an aspect groups by that aspect and not
// by content. Half the images are dark and half bright, half sharp and
// half blurred, with shapes of every kind in each half; and for colour,
// half are scenes in reds and half in blues, of any brightness.
func TestGroupingAspects(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 1))
	const n = 240
	imgs := make([]image.Image, n)
	bright, sharp, warm := make([]int, n), make([]int, n), make([]int, n)
	scenes := make([]image.Image, n)
	for i := range imgs {
		img := shapeImage(rng, i%len(shapeClasses), 64)
		bright[i], sharp[i], warm[i] = (i/6)%2, (i/12)%2, (i/24)%2
		scenes[i] = scene(rng, warm[i] == 1)
		if bright[i] == 1 {
			lighten(img)
		} else {
			scaleBrightness(img, 0.25)
		}
		if sharp[i] == 0 {
			boxBlur(img, 3)
		}
		imgs[i] = img
	}
	x, _, err := ExtractImages(context.Background(), n, func(i int) (image.Image, error) { return imgs[i], nil })
	if err != nil {
		t.Fatal(err)
	}
	sx, _, err := ExtractImages(context.Background(), n, func(i int) (image.Image, error) { return scenes[i], nil })
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		x     *Matrix
		a     Aspects
		truth []int
	}{
		{"brightness", x, Aspects{Brightness: true}, bright},
		{"clarity", x, Aspects{Clarity: true}, sharp},
		{"colour", sx, Aspects{Colour: true}, warm},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := GroupingFeatures(tc.x, tc.a)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := KMeans(context.Background(), g, 2, KMeansOptions{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			p := purity(cl.Assign, tc.truth)
			t.Logf("grouping by %s: purity %.3f", tc.name, p)
			if p < 0.95 {
				t.Errorf("grouping by %s: purity %.3f against %s, want at least 0.95", tc.name, p, tc.name)
			}
		})
	}
	if g, err := GroupingFeatures(x, Aspects{}); err != nil || g != x {
		t.Errorf("no aspect: got a new matrix or %v, want x itself", err)
	}
	text, _ := NewDense([][]float32{{1, 2}})
	if _, err := GroupingFeatures(text, Aspects{Colour: true}); err == nil {
		t.Error("aspects of a matrix that is not image descriptors were accepted")
	}
}

func scaleBrightness(img *image.RGBA, f float64) {
	for i := range img.Pix {
		if i%4 != 3 {
			img.Pix[i] = uint8(float64(img.Pix[i]) * f)
		}
	}
}

// scene draws a 64×64 image mostly in one hue family (reds when warm,
// blues otherwise) at a random brightness, with a patch of any colour.
func scene(rng *rand.Rand, warm bool) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	hue := 190 + 60*rng.Float64()
	if warm {
		hue = math.Mod(340+60*rng.Float64(), 360)
	}
	base := hsvColour(hue, 0.5+0.5*rng.Float64(), 0.25+0.75*rng.Float64())
	patch := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
	x0, y0 := rng.IntN(48), rng.IntN(48)
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			c := base
			if x >= x0 && x < x0+16 && y >= y0 && y < y0+16 {
				c = patch
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func hsvColour(h, s, v float64) color.RGBA {
	c := v * s
	hp := h / 60
	x := c * (1 - math.Abs(math.Mod(hp, 2)-1))
	var r, g, b float64
	switch int(hp) {
	case 0:
		r, g = c, x
	case 1:
		r, g = x, c
	case 2:
		g, b = c, x
	case 3:
		g, b = x, c
	case 4:
		r, b = x, c
	default:
		r, b = c, x
	}
	m := v - c
	return color.RGBA{uint8(255 * (r + m)), uint8(255 * (g + m)), uint8(255 * (b + m)), 255}
}

// lighten maps every channel into its upper half.
func lighten(img *image.RGBA) {
	for i := range img.Pix {
		if i%4 != 3 {
			img.Pix[i] = 128 + img.Pix[i]/2
		}
	}
}

// boxBlur replaces each pixel by the mean of its (2r+1)² neighbourhood.
func boxBlur(img *image.RGBA, r int) {
	b := img.Bounds()
	src := image.NewRGBA(b)
	copy(src.Pix, img.Pix)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var s [3]int
			n := 0
			for dy := -r; dy <= r; dy++ {
				for dx := -r; dx <= r; dx++ {
					p := image.Pt(x+dx, y+dy)
					if !p.In(b) {
						continue
					}
					c := src.RGBAAt(p.X, p.Y)
					s[0] += int(c.R)
					s[1] += int(c.G)
					s[2] += int(c.B)
					n++
				}
			}
			img.SetRGBA(x, y, color.RGBA{uint8(s[0] / n), uint8(s[1] / n), uint8(s[2] / n), 255})
		}
	}
}
