package imageops

import (
	"errors"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
)

// Duplicate is an image of a group that de-duplication removes.
type Duplicate struct {
	Key string `json:"key"`
	// Exact is true when its bytes are those of the kept image.
	Exact bool `json:"exact"`
	// Distance is the Hamming distance of its perceptual hash to the kept
	// image's. It may exceed the threshold: groups are closed under
	// "near duplicate of", so a chain of close images is one group.
	Distance int `json:"distance"`
}

// Group is a set of duplicates: one image kept, the others removed.
type Group struct {
	Keep       string      `json:"keep"`
	Duplicates []Duplicate `json:"duplicates"`
}

// Deduplicator groups duplicates (SimDeduplication).
type Deduplicator struct {
	// MaxDistance is the largest Hamming distance between the perceptual
	// hashes of two near duplicates (0 to 64).
	MaxDistance int
}

// NewDeduplicator makes a deduplicator from a SimDeduplication config: two
// images are near duplicates when 1 − distance/64 ≥ simlarity_threshold.
func NewDeduplicator(c Config) (*Deduplicator, error) {
	if c.op == nil || c.op.Name != "SimDeduplication" {
		return nil, errors.New("imageops: NewDeduplicator needs a SimDeduplication config")
	}
	return &Deduplicator{MaxDistance: MaxDistance(c.float("simlarity_threshold"))}, nil
}

// MaxDistance is the largest Hamming distance of 64-bit hashes whose
// similarity, 1 − distance/64, is at least similarity.
func MaxDistance(similarity float64) int {
	return int(math.Floor((1-similarity)*64 + 1e-9))
}

// LumaTolerance is how far apart the mean lumas of near duplicates may be:
// a quarter of the range, more than a brightness change of 20% moves it.
const LumaTolerance = 64

// near reports whether two fingerprints are near duplicates at distance d.
func near(a, b *Fingerprint, d int) bool {
	return bits.OnesCount64(a.PHash^b.PHash) <= d && max(a.Luma, b.Luma)-min(a.Luma, b.Luma) <= LumaTolerance
}

// Groups finds the groups of duplicates among fps: images with the same
// bytes, and images whose perceptual hashes are within MaxDistance (and
// whose mean lumas are within LumaTolerance), joined transitively. Each group keeps the image with the most pixels, then the
// largest file (the least compressed), then the first in fps; its
// duplicates are listed in the order of fps, and groups in the order of
// their kept image. Images without a duplicate are in no group.
//
// Near pairs are found by multi-index hashing, not by comparing every
// pair: the 64 bits are cut into m bands, and by the pigeonhole principle
// two hashes within distance d agree on some band up to ⌊d/m⌋ bits, so
// each hash is compared only with those found under its bands' keys and
// their variants within that many bits. m is chosen to minimise the
// expected lookups and comparisons for len(fps) uniform hashes.
func (d Deduplicator) Groups(fps []Fingerprint) []Group {
	n := len(fps)
	uf := newUnionFind(n)
	first := make(map[[32]byte]int32, n)
	for i, f := range fps {
		if j, ok := first[f.SHA256]; ok {
			uf.union(int32(i), j)
		} else {
			first[f.SHA256] = int32(i)
		}
	}
	for _, e := range nearPairs(fps, d.MaxDistance) {
		uf.union(e[0], e[1])
	}
	members := map[int32][]int32{}
	for i := range fps {
		r := uf.find(int32(i))
		members[r] = append(members[r], int32(i))
	}
	var groups []Group
	var keeps []int32
	for _, m := range members {
		if len(m) < 2 {
			continue
		}
		keep := slices.MinFunc(m, func(a, b int32) int {
			fa, fb := &fps[a], &fps[b]
			pa, pb := fa.Width*fa.Height, fb.Width*fb.Height
			switch {
			case pa != pb:
				return pb - pa
			case fa.Bytes != fb.Bytes:
				return fb.Bytes - fa.Bytes
			}
			return int(a - b)
		})
		g := Group{Keep: fps[keep].Key}
		for _, i := range m { // members are in ascending order
			if i == keep {
				continue
			}
			g.Duplicates = append(g.Duplicates, Duplicate{Key: fps[i].Key, Exact: fps[i].SHA256 == fps[keep].SHA256,
				Distance: bits.OnesCount64(fps[i].PHash ^ fps[keep].PHash)})
		}
		groups = append(groups, g)
		keeps = append(keeps, keep)
	}
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return int(keeps[a] - keeps[b]) })
	out := make([]Group, len(groups))
	for i, o := range order {
		out[i] = groups[o]
	}
	return out
}

// band is a run of bits of the hash: (h >> shift) & mask.
type band struct {
	shift uint
	width int
	mask  uint64
}

func (b band) key(h uint64) uint64 { return (h >> b.shift) & b.mask }

// plan cuts 64 bits into the number of bands that minimises the expected
// cost of finding the pairs within distance d among n uniform hashes: per
// hash and band, one lookup per variant of the band's key within r = ⌊d/m⌋
// bits, and one comparison per hash found there (n/2^width on average).
// cost is that expected work per query hash.
func plan(n, d int) (bands []band, r int, cost float64) {
	best := math.Inf(1)
	for m := 1; m <= min(64, d+1); m++ {
		width := 64 / m
		rr := d / m
		variants := 0.0
		for i := 0; i <= rr && i <= width; i++ {
			variants += binomial(width, i)
		}
		c := float64(m) * variants * (1 + float64(n)/math.Exp2(float64(width)))
		if c < best {
			best, r = c, rr
			bands = bands[:0]
			shift := 0
			for i := range m {
				wi := 64/m + btoi(i < 64%m) // the first 64 mod m bands take one bit more
				bands = append(bands, band{shift: uint(shift), width: wi, mask: 1<<wi - 1})
				shift += wi
			}
		}
	}
	return bands, r, best
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func binomial(n, k int) float64 {
	c := 1.0
	for i := range k {
		c = c * float64(n-i) / float64(i+1)
	}
	return c
}

// nearPairs returns the pairs (i, j), i < j, whose hashes are within d,
// found by multi-index hashing; the queries run on every CPU. When d is so
// large that the index would cost more than comparing a hash with every
// other (then most pairs are near anyway), it compares them all.
func nearPairs(fps []Fingerprint, d int) [][2]int32 {
	n := len(fps)
	if n < 2 || d < 0 {
		return nil
	}
	d = min(d, 64)
	bands, r, cost := plan(n, d)
	if cost >= float64(n) {
		return parallelPairs(n, func(i int, pairs [][2]int32) [][2]int32 {
			for j := i + 1; j < n; j++ {
				if near(&fps[i], &fps[j], d) {
					pairs = append(pairs, [2]int32{int32(i), int32(j)})
				}
			}
			return pairs
		})
	}
	index := make([]bucketIndex, len(bands))
	for b, bd := range bands {
		index[b] = newBucketIndex(fps, bd)
	}
	// stamps[w][j] == i+1 when query i of worker w has already compared
	// candidate j (several bands and variants may lead to it).
	stamps := make(chan []int32, runtime.GOMAXPROCS(0))
	for range cap(stamps) {
		stamps <- make([]int32, n)
	}
	return parallelPairs(n, func(i int, pairs [][2]int32) [][2]int32 {
		h := fps[i].PHash
		stamp := <-stamps
		for b, bd := range bands {
			variants(bd.key(h), bd.width, r, func(k uint64) {
				for _, j := range index[b].bucket(k) {
					if j <= int32(i) || stamp[j] == int32(i)+1 {
						continue
					}
					stamp[j] = int32(i) + 1
					if near(&fps[i], &fps[j], d) {
						pairs = append(pairs, [2]int32{int32(i), j})
					}
				}
			})
		}
		stamps <- stamp
		return pairs
	})
}

// denseBits is the widest band indexed by an array of all its keys (2^20
// offsets, 4 MiB); wider bands, chosen only for small thresholds, use a map.
const denseBits = 20

// bucketIndex finds the hashes whose band key is k.
type bucketIndex struct {
	offsets []int32 // dense: items[offsets[k]:offsets[k+1]] have key k
	items   []int32
	sparse  map[uint64][]int32
}

func newBucketIndex(fps []Fingerprint, bd band) bucketIndex {
	if bd.width > denseBits {
		m := make(map[uint64][]int32, len(fps))
		for i, f := range fps {
			k := bd.key(f.PHash)
			m[k] = append(m[k], int32(i))
		}
		return bucketIndex{sparse: m}
	}
	// Counting sort of the hashes by key.
	offsets := make([]int32, 1<<bd.width+1)
	for _, f := range fps {
		offsets[bd.key(f.PHash)+1]++
	}
	for k := 1; k < len(offsets); k++ {
		offsets[k] += offsets[k-1]
	}
	items := make([]int32, len(fps))
	next := slices.Clone(offsets[:len(offsets)-1])
	for i, f := range fps {
		k := bd.key(f.PHash)
		items[next[k]] = int32(i)
		next[k]++
	}
	return bucketIndex{offsets: offsets, items: items}
}

func (x bucketIndex) bucket(k uint64) []int32 {
	if x.sparse != nil {
		return x.sparse[k]
	}
	return x.items[x.offsets[k]:x.offsets[k+1]]
}

// parallelPairs runs query for every i in [0, n) on every CPU (each worker
// taking every GOMAXPROCS-th i) and joins the pairs they append.
func parallelPairs(n int, query func(i int, pairs [][2]int32) [][2]int32) [][2]int32 {
	workers := runtime.GOMAXPROCS(0)
	found := make([][][2]int32, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pairs [][2]int32
			for i := w; i < n; i += workers {
				pairs = query(i, pairs)
			}
			found[w] = pairs
		}()
	}
	wg.Wait()
	var all [][2]int32
	for _, p := range found {
		all = append(all, p...)
	}
	return all
}

// variants calls f with key and with every key of width bits within r bits
// of it.
func variants(key uint64, width, r int, f func(uint64)) {
	f(key)
	var flip func(k uint64, from, left int)
	flip = func(k uint64, from, left int) {
		for b := from; b < width; b++ {
			v := k ^ 1<<b
			f(v)
			if left > 1 {
				flip(v, b+1, left-1)
			}
		}
	}
	if r > 0 {
		flip(key, 0, r)
	}
}

// unionFind is a disjoint-set forest with path halving and union by size.
type unionFind struct {
	parent, size []int32
}

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int32, n), size: make([]int32, n)}
	for i := range u.parent {
		u.parent[i], u.size[i] = int32(i), 1
	}
	return u
}

func (u *unionFind) find(x int32) int32 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) union(a, b int32) {
	a, b = u.find(a), u.find(b)
	if a == b {
		return
	}
	if u.size[a] < u.size[b] {
		a, b = b, a
	}
	u.parent[b] = a
	u.size[a] += u.size[b]
}
