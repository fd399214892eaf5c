package imageops

import (
	"crypto/sha256"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
)

// Fingerprint is what de-duplication needs of one image.
type Fingerprint struct {
	Key    string
	SHA256 [32]byte
	// PHash is the image's perceptual hash (see PHash).
	PHash uint64
	// Luma is the image's mean luma (0 to 255). The hash leaves overall
	// brightness out, so two flat images, black and white, hash alike;
	// near duplicates must also agree in Luma (see LumaTolerance).
	Luma          uint8
	Width, Height int
	Bytes         int
}

// Hash decodes a sample and returns its fingerprint. The error is the
// sample's: it does not decode.
func Hash(s Sample) (Fingerprint, error) {
	img, _, err := decode(s.Data)
	if err != nil {
		return Fingerprint{}, fmt.Errorf("hash %s: decode: %w", s.Key, err)
	}
	w, h := size(img)
	ph, luma := hashGrey(grey32(img))
	return Fingerprint{Key: s.Key, SHA256: sha256.Sum256(s.Data), PHash: ph, Luma: luma, Width: w, Height: h, Bytes: len(s.Data)}, nil
}

// hashSide is the side of the grey image the hash is taken from, and
// hashFreqs the number of frequencies kept along each axis.
const (
	hashSide  = 32
	hashFreqs = 8
)

// dctCos[u][x] = cos((2x+1)·u·π / 64) for the frequencies 1..8 the hash
// keeps (index u-1).
var dctCos = func() (t [hashFreqs][hashSide]float64) {
	for u := range hashFreqs {
		for x := range hashSide {
			t[u][x] = math.Cos(float64(2*x+1) * float64(u+1) * math.Pi / (2 * hashSide))
		}
	}
	return t
}()

// PHash is the 64-bit perceptual hash of an image: the image is reduced
// to 32×32 grey by area averaging, its 2-D DCT is taken, and bit 8·(v−1) +
// (u−1) is set when the coefficient of frequencies u, v in 1..8 exceeds the
// median of those 64 coefficients. The constant term and the lowest row and
// column are left out, as phash.org does: they follow overall brightness
// and gradients, which near duplicates may not share. Re-encoding,
// resizing, small crops and brightness changes move few bits; different
// pictures differ in about half.
func PHash(img image.Image) uint64 {
	h, _ := hashGrey(grey32(img))
	return h
}

// hashGrey hashes a grey32 image and returns its mean too.
func hashGrey(g []float64) (uint64, uint8) {
	var sum float64
	for _, v := range g {
		sum += v
	}
	// rows[y][u] = Σx g[y][x]·cos_u(x); then coefficient (u, v) = Σy rows[y][u]·cos_v(y).
	var rows [hashSide][hashFreqs]float64
	for y := range hashSide {
		line := g[y*hashSide : (y+1)*hashSide]
		for u := range hashFreqs {
			var s float64
			for x, v := range line {
				s += v * dctCos[u][x]
			}
			rows[y][u] = s
		}
	}
	var coef [hashFreqs * hashFreqs]float64
	for v := range hashFreqs {
		for u := range hashFreqs {
			var s float64
			for y := range hashSide {
				s += rows[y][u] * dctCos[v][y]
			}
			if math.Abs(s) < 1e-3 {
				// Rounding noise of a flat image, not a feature: left
				// as it is, it would set bits at random.
				s = 0
			}
			coef[v*hashFreqs+u] = s
		}
	}
	sorted := coef
	slices.Sort(sorted[:])
	med := (sorted[31] + sorted[32]) / 2
	var h uint64
	for i, c := range coef {
		if c > med {
			h |= 1 << i
		}
	}
	return h, uint8(math.Round(sum / float64(len(g))))
}

// grey32 reduces img to hashSide×hashSide luma values by area averaging:
// each output cell is the mean of the source area it covers, edge pixels
// weighted by the fraction of them inside (a cell boundary that cuts
// pixels unevenly would otherwise move with the image's size, and a
// resized copy would hash differently). It reads the Y plane of a decoded
// JPEG directly: a JPEG stores luma, and converting every pixel to RGB and
// back would cost more than the rest of the hash.
func grey32(img image.Image) []float64 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	var row func(y int, dst []float64)
	switch m := img.(type) {
	case *image.YCbCr:
		row = func(y int, dst []float64) {
			for x := range dst {
				dst[x] = float64(m.Y[m.YOffset(b.Min.X+x, b.Min.Y+y)])
			}
		}
	case *image.Gray:
		row = func(y int, dst []float64) {
			p := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range dst {
				dst[x] = float64(p[x])
			}
		}
	case *image.NRGBA, *image.RGBA:
		pix, stride := rgbaPix(m)
		row = func(y int, dst []float64) {
			p := pix[y*stride:]
			for x := range dst {
				dst[x] = 0.299*float64(p[4*x]) + 0.587*float64(p[4*x+1]) + 0.114*float64(p[4*x+2])
			}
		}
	default:
		row = func(y int, dst []float64) {
			for x := range dst {
				dst[x] = float64(color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y)
			}
		}
	}
	wx, wy := areaWeights(w), areaWeights(h)
	cols := make([]float64, h*hashSide) // each row reduced to hashSide columns
	line := make([]float64, w)
	for y := range h {
		row(y, line)
		for i, ws := range wx {
			var s float64
			for _, t := range ws {
				s += line[t.src] * t.w
			}
			cols[y*hashSide+i] = s
		}
	}
	out := make([]float64, hashSide*hashSide)
	for j, ws := range wy {
		for i := range hashSide {
			var s float64
			for _, t := range ws {
				s += cols[t.src*hashSide+i] * t.w
			}
			out[j*hashSide+i] = s
		}
	}
	return out
}

func rgbaPix(m image.Image) ([]uint8, int) {
	switch m := m.(type) {
	case *image.NRGBA:
		return m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride
	case *image.RGBA:
		return m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride
	}
	return nil, 0
}

type tap struct {
	src int
	w   float64
}

// areaWeights returns, for each of the hashSide output cells along an axis
// of n pixels, the source pixels it covers and their weights (summing to
// 1). An axis shorter than hashSide is stretched: a cell then covers part
// of one or two pixels.
func areaWeights(n int) [][]tap {
	out := make([][]tap, hashSide)
	step := float64(n) / hashSide
	for i := range out {
		lo, hi := float64(i)*step, float64(i+1)*step
		for p := int(lo); p < n && float64(p) < hi; p++ {
			cover := math.Min(hi, float64(p+1)) - math.Max(lo, float64(p))
			if cover > 0 {
				out[i] = append(out[i], tap{p, cover / step})
			}
		}
	}
	return out
}
