package imageops

import (
	"fmt"
	"image"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/disintegration/imaging"
)

// dupSet is a generated set with known duplicates: origin[i] is the index
// of the original image that image i was made from (itself for originals).
type dupSet struct {
	samples []Sample
	origin  []int
	kind    []string
}

// variant makes a near duplicate the way they arise in collected data.
var dupVariants = []struct {
	name string
	make func(t testing.TB, img image.Image) []byte
}{
	{"reencoded-q40", func(t testing.TB, img image.Image) []byte { return encodeJPEG(t, img, 40) }},
	{"cropped-2pct", func(t testing.TB, img image.Image) []byte { return encodeJPEG(t, crop(img, 2), 90) }},
	{"cropped-4pct", func(t testing.TB, img image.Image) []byte { return encodeJPEG(t, crop(img, 4), 90) }},
	{"brighter-15pct", func(t testing.TB, img image.Image) []byte {
		return encodeJPEG(t, imaging.AdjustBrightness(img, 15), 90)
	}},
	{"darker-contrast", func(t testing.TB, img image.Image) []byte {
		return encodeJPEG(t, imaging.AdjustContrast(imaging.AdjustBrightness(img, -10), -15), 90)
	}},
	{"downscaled-60pct", func(t testing.TB, img image.Image) []byte {
		w, h := size(img)
		return encodePNG(t, imaging.Resize(img, w*6/10, h*6/10, imaging.Lanczos))
	}},
	{"exact-copy", nil},
}

// crop cuts pct percent of the side off each edge.
func crop(img image.Image, pct int) image.Image {
	w, h := size(img)
	dx, dy := w*pct/100, h*pct/100
	return imaging.Crop(img, image.Rect(dx, dy, w-dx, h-dy))
}

func makeDupSet(t testing.TB, originals, withVariants int) dupSet {
	var s dupSet
	imgs := make([]image.Image, originals)
	for i := range originals {
		imgs[i] = scene(uint64(1000+i), 128, 96)
		s.samples = append(s.samples, Sample{Key: fmt.Sprint("o", i), Data: encodeJPEG(t, imgs[i], 90)})
		s.origin = append(s.origin, i)
		s.kind = append(s.kind, "original")
	}
	for i := range withVariants {
		o := i * originals / withVariants
		v := dupVariants[i%len(dupVariants)]
		data := s.samples[o].Data
		if v.make != nil {
			data = v.make(t, imgs[o])
		}
		s.samples = append(s.samples, Sample{Key: fmt.Sprintf("v%d-%s", i, v.name), Data: data})
		s.origin = append(s.origin, o)
		s.kind = append(s.kind, v.name)
	}
	return s
}

// TestNearDuplicatesRecallAndPrecision checks de-duplication on a set of
// 400 distinct pictures and 280 near or exact duplicates of some of them,
// at two thresholds. Per kind of duplicate it measures the share found
// (recall); over all, the share of removed images that were duplicates of
// the image kept (precision). Measured here at 0.9 (Hamming ≤ 6): recall
// 1.00 for re-encoding, downscaling, contrast and exact copies, 0.975 for
// +15% brightness, 0.95 for 2% crops per edge and 0.25 for 4% crops (a crop
// shifts and scales the picture: pHash's weak point); precision 1.00. At
// 0.8 (≤ 12): recall 1.00 but 4% crops 0.975; precision 0.993 (one pair of
// distinct pictures lies at distance 12).
func TestNearDuplicatesRecallAndPrecision(t *testing.T) {
	set := makeDupSet(t, 400, 280)
	fps := make([]Fingerprint, len(set.samples))
	index := map[string]int{}
	for i, s := range set.samples {
		f, err := Hash(s)
		if err != nil {
			t.Fatalf("hash %s: %v", s.Key, err)
		}
		fps[i] = f
		index[s.Key] = i
	}
	cases := []struct {
		similarity float64
		recall     map[string]float64 // minimum per kind; 1 for kinds not listed
		overall    float64
	}{
		{0.9, map[string]float64{"brighter-15pct": 0.95, "cropped-2pct": 0.9, "cropped-4pct": 0.15}, 0.85},
		{0.8, map[string]float64{"cropped-4pct": 0.9}, 0.97},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.similarity), func(t *testing.T) {
			groups := Deduplicator{MaxDistance: MaxDistance(c.similarity)}.Groups(fps)
			removed, wrong := 0, 0
			inGroupOf := map[int]int{} // image → kept image of its group
			for _, g := range groups {
				keep := index[g.Keep]
				inGroupOf[keep] = keep
				for _, d := range g.Duplicates {
					i := index[d.Key]
					inGroupOf[i] = keep
					removed++
					if set.origin[i] != set.origin[keep] {
						wrong++
						t.Logf("%s is grouped with %s, which it was not made from (distance %d)", d.Key, g.Keep, d.Distance)
						continue
					}
					if d.Exact != (set.kind[i] == "exact-copy" || set.kind[keep] == "exact-copy") {
						t.Errorf("%s: exact %v, but it is a %s of %s", d.Key, d.Exact, set.kind[i], g.Keep)
					}
				}
			}
			// A duplicate is found when it shares a group with its original.
			total, found := map[string]int{}, map[string]int{}
			all, allFound := 0, 0
			for i, o := range set.origin {
				if i == o {
					continue
				}
				total[set.kind[i]]++
				all++
				if k, ok := inGroupOf[i]; ok && k == inGroupOf[o] {
					found[set.kind[i]]++
					allFound++
				}
			}
			precision := 1.0
			if removed > 0 {
				precision = float64(removed-wrong) / float64(removed)
			}
			overall := float64(allFound) / float64(all)
			t.Logf("similarity %.2f (Hamming ≤ %d): recall %.3f (%d of %d), precision %.3f (%d removed)", c.similarity, MaxDistance(c.similarity), overall, allFound, all, precision, removed)
			for kind, n := range total {
				r := float64(found[kind]) / float64(n)
				t.Logf("  %-17s recall %.3f (%d of %d)", kind, r, found[kind], n)
				want, ok := c.recall[kind]
				if !ok {
					want = 1
				}
				if r < want {
					t.Errorf("%s: recall %.3f, want ≥ %.2f", kind, r, want)
				}
			}
			if overall < c.overall {
				t.Errorf("recall %.3f, want ≥ %.2f", overall, c.overall)
			}
			if precision < 0.99 {
				t.Errorf("precision %.3f, want ≥ 0.99", precision)
			}
		})
	}
}

// TestPHashSeparatesDistinctPictures: distinct pictures differ in about
// half their bits; the closest pair must stay far above the threshold.
func TestPHashSeparatesDistinctPictures(t *testing.T) {
	var hs []uint64
	for i := range 300 {
		hs = append(hs, PHash(scene(uint64(5000+i), 96, 96)))
	}
	closest, sum, n := 64, 0, 0
	for i := range hs {
		for j := i + 1; j < len(hs); j++ {
			d := bits.OnesCount64(hs[i] ^ hs[j])
			closest = min(closest, d)
			sum += d
			n++
		}
	}
	mean := float64(sum) / float64(n)
	t.Logf("distinct pictures: mean distance %.1f, closest %d", mean, closest)
	if mean < 26 || mean > 38 || closest <= MaxDistance(0.9) {
		t.Errorf("distinct pictures: mean distance %.1f (want about 32), closest %d (want above %d)", mean, closest, MaxDistance(0.9))
	}
}

// TestNearPairsMatchBruteForce holds multi-index hashing against comparing
// every pair, for thresholds that choose different band layouts (and the
// brute-force path for large ones).
func TestNearPairsMatchBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var fps []Fingerprint
	for range 1500 {
		fps = append(fps, Fingerprint{PHash: r.Uint64(), Luma: uint8(100 + r.IntN(100))})
	}
	// Plant hashes at every distance from 0 to 24 of some others, some of
	// them much brighter.
	for i := range 600 {
		h := fps[i].PHash
		for _, b := range r.Perm(64)[:i%25] {
			h ^= 1 << b
		}
		luma := fps[i].Luma
		if i%7 == 0 {
			luma = 255
		}
		fps = append(fps, Fingerprint{PHash: h, Luma: luma})
	}
	cmp := func(a, b [2]int32) int {
		if a[0] != b[0] {
			return int(a[0] - b[0])
		}
		return int(a[1] - b[1])
	}
	for _, d := range []int{0, 1, 3, 6, 10, 13, 20, 31, 64} {
		var want [][2]int32
		for i := range fps {
			for j := i + 1; j < len(fps); j++ {
				if bits.OnesCount64(fps[i].PHash^fps[j].PHash) <= d && math.Abs(float64(fps[i].Luma)-float64(fps[j].Luma)) <= LumaTolerance {
					want = append(want, [2]int32{int32(i), int32(j)})
				}
			}
		}
		got := nearPairs(fps, d)
		slices.SortFunc(got, cmp)
		bands, r, _ := plan(len(fps), d)
		if !slices.Equal(got, want) {
			t.Errorf("d=%d (%d bands, r=%d): multi-index hashing found %d pairs, brute force %d", d, len(bands), r, len(got), len(want))
		}
	}
}

func TestFlatImagesOfDifferentBrightnessAreNotDuplicates(t *testing.T) {
	var fps []Fingerprint
	for i, v := range []uint8{0, 255, 250, 128} {
		img := image.NewGray(image.Rect(0, 0, 40, 40))
		for p := range img.Pix {
			img.Pix[p] = v
		}
		f, err := Hash(Sample{Key: fmt.Sprint(v), Data: encodePNG(t, img)})
		if err != nil {
			t.Fatal(err)
		}
		f.SHA256[0] ^= byte(i) // not byte-identical
		fps = append(fps, f)
	}
	got := Deduplicator{MaxDistance: 6}.Groups(fps)
	if len(got) != 1 || got[0].Keep != "255" || len(got[0].Duplicates) != 1 || got[0].Duplicates[0].Key != "250" {
		t.Errorf("groups %+v: want only white (255) and near-white (250) together", got)
	}
}

func TestGroupsKeepTheBestImage(t *testing.T) {
	small := Fingerprint{Key: "small", PHash: 0xff00ff00, Width: 50, Height: 50, Bytes: 900, SHA256: [32]byte{1}}
	big := Fingerprint{Key: "big", PHash: 0xff00ff01, Width: 100, Height: 100, Bytes: 800, SHA256: [32]byte{2}}
	bigger := Fingerprint{Key: "heavier", PHash: 0xff00ff03, Width: 100, Height: 100, Bytes: 3000, SHA256: [32]byte{3}}
	copyOfSmall := small
	copyOfSmall.Key = "copy"
	other := Fingerprint{Key: "other", PHash: ^uint64(0xff00ff00), SHA256: [32]byte{4}, Width: 10, Height: 10}
	alone := Fingerprint{Key: "alone", PHash: 0x0123456789abcdef, SHA256: [32]byte{5}}
	otherCopy := other
	otherCopy.Key = "other-copy"
	got := Deduplicator{MaxDistance: 3}.Groups([]Fingerprint{small, big, other, bigger, copyOfSmall, alone, otherCopy})
	want := []Group{
		{Keep: "other", Duplicates: []Duplicate{{Key: "other-copy", Exact: true, Distance: 0}}},
		{Keep: "heavier", Duplicates: []Duplicate{{Key: "small", Distance: 2}, {Key: "big", Distance: 1}, {Key: "copy", Distance: 2}}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("groups\n got %+v\nwant %+v", got, want)
	}
	// Exact copies group even when the threshold is 0 and hashes differ
	// (they cannot, but the bytes alone decide).
	a := Fingerprint{Key: "a", SHA256: [32]byte{9}, PHash: 1}
	b := Fingerprint{Key: "b", SHA256: [32]byte{9}, PHash: 1 << 40}
	if g := (Deduplicator{}).Groups([]Fingerprint{a, b}); len(g) != 1 || !g[0].Duplicates[0].Exact {
		t.Errorf("same bytes: groups %+v, want one exact group", g)
	}
}

func TestMaxDistance(t *testing.T) {
	for _, c := range []struct {
		sim  float64
		want int
	}{{1, 0}, {0.9, 6}, {0.95, 3}, {0.8, 12}, {0.5, 32}, {0, 64}, {63.0 / 64, 1}} {
		if got := MaxDistance(c.sim); got != c.want {
			t.Errorf("MaxDistance(%v) = %d, want %d", c.sim, got, c.want)
		}
	}
}

func TestHashRefusesWhatDoesNotDecode(t *testing.T) {
	if _, err := Hash(Sample{Key: "x", Data: []byte("GIF89a but no more")}); err == nil {
		t.Error("Hash of a broken file did not fail")
	}
}
