package learn

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"math/cmplx"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/image/draw"
)

// The image descriptor's layout. An image is first brought to baseSide²,
// where edges are measured (a thin ring or fine stripes are still visible
// there), then averaged down to side² for colour, which needs no detail.
const (
	baseSide = 64
	side     = 32

	hueBins, satBins, valBins = 8, 3, 3
	histDim                   = hueBins * satBins * valBins

	layoutGrid = 4
	layoutDim  = 3 * layoutGrid * layoutGrid

	orientBins = 9
	hogCells   = 1 + 2*2 + 4*4 // a spatial pyramid: whole image, quarters, sixteenths
	hogDim     = orientBins * hogCells

	symDim = 6 // rotational symmetry of edge orientations, orders 1 to 6

	radialBins, alignBins = 8, 4
	radialDim             = radialBins * alignBins

	statsDim = 8

	histOff   = 0
	layoutOff = histOff + histDim
	hogOff    = layoutOff + layoutDim
	symOff    = hogOff + hogDim
	radialOff = symOff + symDim
	statsOff  = radialOff + radialDim
)

// ImageDim is the length of an image descriptor.
const ImageDim = statsOff + statsDim

// The global statistics, in the order they sit in the descriptor's last block.
const (
	statBrightness = iota // mean luminance
	statContrast          // luminance standard deviation
	statSaturation        // mean HSV saturation
	statColourful         // Hasler–Süsstrunk colourfulness
	statGradient          // mean gradient magnitude
	statSharpness         // root mean square Laplacian at baseSide
	statEdges             // share of pixels on an edge
	statDetail            // Laplacian energy relative to gradient energy
)

// ImageDescriptor returns img's descriptor, ImageDim values:
//
//   - a joint HSV colour histogram (8 hue × 3 saturation × 3 value bins),
//     square-rooted (Hellinger) so that one dominant colour does not drown
//     the others;
//   - a 4×4 colour layout: mean opponent colour (red–green, yellow–blue,
//     intensity) of each cell, which tells a sky-at-the-top photo from a
//     sky-at-the-bottom one;
//   - gradient-orientation histograms (9 unsigned bins, HOG-like) over a
//     1 + 2×2 + 4×4 spatial pyramid, each level square-rooted and unit-length:
//     the whole-image level describes edges wherever they sit, the finer
//     levels where they are;
//   - the rotational symmetry of the edge orientations (orders 1 to 6: a
//     square's edges repeat every 90°, a triangle's every 60°, a disc's are
//     all directions), which does not change when the object turns;
//   - a centre-distance × alignment histogram of the edges: each edge
//     pixel's distance from the edges' centre of mass, divided by the mean
//     distance, against how closely its gradient points along the radius.
//     It describes an outline wherever it is, whatever its size: a disc's
//     edges sit at one distance and point outwards, a ring's at two, a
//     square's corners are farther than its sides and point askew;
//   - eight global statistics: brightness, contrast, saturation,
//     colourfulness, gradient strength, sharpness (Laplacian at 64×64),
//     edge density and detail, which auto grouping uses for its brightness,
//     colour and clarity aspects.
//
// Gradients are taken (Sobel) on whichever colour channel changes most, so
// a red object on a green ground of the same luminance still has edges,
// and only their part above the image's own noise level counts (the noise
// level is taken as twice the median gradient, since most pixels of most
// images are not on an edge). Every image is resized to a square first, so
// aspect ratio is not part of the descriptor. Transparent pixels count as
// black.
func ImageDescriptor(img image.Image) []float32 {
	out := make([]float32, ImageDim)
	newScratch().describe(img, out)
	return out
}

// ExtractImages computes the descriptors of n images in parallel over
// GOMAXPROCS goroutines; load(i) returns image i and is called from several
// goroutines at once (a loader that waits on remote storage gains from
// fetching ahead itself). An image that load cannot return, or that has no
// pixels, is an absent row of the matrix, with the reason in errs[i] (errs
// has n entries, nil where the image was read). The error is ctx's when ctx
// ends first; the matrix is nil then.
//
// The matrix records the descriptor's feature blocks, which AutoLabel
// weighs equally; a matrix built from ImageDescriptor rows with NewDense
// does not, and learns less well.
func ExtractImages(ctx context.Context, n int, load func(i int) (image.Image, error)) (*Matrix, []error, error) {
	if n <= 0 {
		return nil, nil, errors.New("learn: no images to describe")
	}
	m := &Matrix{n: n, dim: ImageDim, dense: make([]float32, n*ImageDim), blocks: imageBlocks}
	errs := make([]error, n)
	// Images are handed out in batches, so that the hand-out costs nothing
	// next to decoding, yet a worker that drew slow images does not leave
	// the others idle at the end for long.
	const batch = 64
	var next atomic.Int64
	take := func() (int, int) {
		lo := int(next.Add(batch)) - batch
		return min(lo, n), min(lo+batch, n)
	}
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), (n+batch-1)/batch); w++ {
		wg.Go(func() {
			s := newScratch()
			for {
				if ctx.Err() != nil {
					return
				}
				lo, hi := take()
				if lo >= hi {
					return
				}
				for i := lo; i < hi; i++ {
					img, err := load(i)
					if err == nil && img == nil {
						err = errors.New("no image")
					}
					if err == nil {
						if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
							err = fmt.Errorf("the image is empty (%d×%d)", b.Dx(), b.Dy())
						}
					}
					if err != nil {
						errs[i] = err
						continue
					}
					s.describe(img, m.dense[i*ImageDim:(i+1)*ImageDim])
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	for i, err := range errs {
		if err != nil {
			if m.missing == nil {
				m.missing = make([]bool, n)
			}
			m.missing[i] = true
		}
	}
	return m, errs, nil
}

// imageBlocks are the descriptor's feature blocks for the learner (see
// Matrix.blocks): each histogram, each pyramid level, the symmetry and
// radial blocks, and each statistic on its own, since each is one fact.
var imageBlocks = []int{histOff, layoutOff, hogOff, hogOff + orientBins, hogOff + 5*orientBins, symOff, radialOff, statsOff, statsOff + 1, statsOff + 2, statsOff + 3, statsOff + 4, statsOff + 5, statsOff + 6, statsOff + 7, ImageDim}

// scratch holds one worker's buffers so that describing an image allocates
// nothing.
type scratch struct {
	base          *image.RGBA
	r64, g64, b64 []float32 // baseSide² each
	lum64         []float32
	gx, gy, mag   []float32 // the gradient at each base pixel
	dist          []float32 // each edge pixel's distance from the edges' centre
	r, g, b       []float32 // side² each
}

func newScratch() *scratch {
	const n = baseSide * baseSide
	return &scratch{
		base: image.NewRGBA(image.Rect(0, 0, baseSide, baseSide)),
		r64:  make([]float32, n), g64: make([]float32, n), b64: make([]float32, n),
		lum64: make([]float32, n),
		gx:    make([]float32, n), gy: make([]float32, n), mag: make([]float32, n),
		dist: make([]float32, n),
		r:    make([]float32, side*side), g: make([]float32, side*side), b: make([]float32, side*side),
	}
}

func (s *scratch) describe(img image.Image, out []float32) {
	clear(out)
	b := img.Bounds()
	if b.Dx() == baseSide && b.Dy() == baseSide {
		draw.Draw(s.base, s.base.Rect, img, b.Min, draw.Src)
	} else {
		// BiLinear is a true kernel: when it shrinks a large photo it averages
		// every source pixel under the kernel instead of sampling a few, so the
		// small image is not aliased noise.
		draw.BiLinear.Scale(s.base, s.base.Rect, img, b, draw.Src, nil)
	}
	pix := s.base.Pix
	for i := range s.r64 {
		p := pix[i*4 : i*4+3]
		s.r64[i], s.g64[i], s.b64[i] = float32(p[0])/255, float32(p[1])/255, float32(p[2])/255
		s.lum64[i] = 0.299*s.r64[i] + 0.587*s.g64[i] + 0.114*s.b64[i]
	}
	s.sharpness(out[statsOff:])
	s.shrink()
	s.colour(out)
	s.gradients(out)
}

// sharpness measures clarity at baseSide, before averaging blurs it away.
func (s *scratch) sharpness(stats []float32) {
	var lap, grad float64
	for y := 1; y < baseSide-1; y++ {
		for x := 1; x < baseSide-1; x++ {
			i := y*baseSide + x
			c := s.lum64[i]
			l := 4*c - s.lum64[i-1] - s.lum64[i+1] - s.lum64[i-baseSide] - s.lum64[i+baseSide]
			lap += float64(l * l)
			gx := s.lum64[i+1] - s.lum64[i-1]
			gy := s.lum64[i+baseSide] - s.lum64[i-baseSide]
			grad += float64(gx*gx + gy*gy)
		}
	}
	inner := float64((baseSide - 2) * (baseSide - 2))
	stats[statSharpness] = float32(math.Sqrt(lap / inner))
	stats[statDetail] = float32(math.Sqrt(lap / (grad + 1e-6) / 4))
}

// shrink averages 2×2 blocks of the base channels into the side² ones.
func (s *scratch) shrink() {
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			o := 2*y*baseSide + 2*x
			i := y*side + x
			s.r[i] = (s.r64[o] + s.r64[o+1] + s.r64[o+baseSide] + s.r64[o+baseSide+1]) / 4
			s.g[i] = (s.g64[o] + s.g64[o+1] + s.g64[o+baseSide] + s.g64[o+baseSide+1]) / 4
			s.b[i] = (s.b64[o] + s.b64[o+1] + s.b64[o+baseSide] + s.b64[o+baseSide+1]) / 4
		}
	}
}

// colour fills the HSV histogram, the colour layout and the colour
// statistics.
func (s *scratch) colour(out []float32) {
	hist := out[histOff : histOff+histDim]
	layout := out[layoutOff : layoutOff+layoutDim]
	stats := out[statsOff : statsOff+statsDim]
	const cell = side / layoutGrid
	var sumY, sumYY, sumS, sumRG, sumRGRG, sumYB, sumYBYB float64
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			i := y*side + x
			r, g, b := s.r[i], s.g[i], s.b[i]
			mx, mn := max(r, g, b), min(r, g, b)
			var h, sat float32
			if mx > 0 {
				sat = (mx - mn) / mx
			}
			if d := mx - mn; d > 0 {
				switch mx {
				case r:
					h = (g - b) / d
					if h < 0 {
						h += 6
					}
				case g:
					h = (b-r)/d + 2
				default:
					h = (r-g)/d + 4
				}
			}
			hb := min(int(h/6*hueBins), hueBins-1)
			sb := min(int(sat*satBins), satBins-1)
			vb := min(int(mx*valBins), valBins-1)
			hist[(hb*satBins+sb)*valBins+vb]++

			c := (y/cell*layoutGrid + x/cell) * 3
			layout[c] += (r - g) / math.Sqrt2
			layout[c+1] += (r + g - 2*b) / 2.449489743
			layout[c+2] += (r + g + b) / 3

			lum := float64(0.299*r + 0.587*g + 0.114*b)
			sumY += lum
			sumYY += lum * lum
			sumS += float64(sat)
			rg, yb := float64(r-g), float64((r+g)/2-b)
			sumRG += rg
			sumRGRG += rg * rg
			sumYB += yb
			sumYBYB += yb * yb
		}
	}
	n := float64(side * side)
	for i, v := range hist {
		hist[i] = float32(math.Sqrt(float64(v) / n))
	}
	// Each cell mean is scaled by 1/4 so that the block's length is near one,
	// like the histogram blocks beside it.
	for i := range layout {
		layout[i] /= cell * cell * layoutGrid
	}
	meanY := sumY / n
	stats[statBrightness] = float32(meanY)
	stats[statContrast] = float32(2 * math.Sqrt(max(0, sumYY/n-meanY*meanY)))
	stats[statSaturation] = float32(sumS / n)
	mRG, mYB := sumRG/n, sumYB/n
	sdRG := math.Sqrt(max(0, sumRGRG/n-mRG*mRG))
	sdYB := math.Sqrt(max(0, sumYBYB/n-mYB*mYB))
	stats[statColourful] = float32(math.Hypot(sdRG, sdYB) + 0.3*math.Hypot(mRG, mYB))
}

// sobel returns channel c's Sobel gradient at base pixel i, scaled so that
// a step of height 1 gives 1.
func sobel(c []float32, i int) (float32, float32) {
	const w = baseSide
	gx := (c[i-w+1] + 2*c[i+1] + c[i+w+1]) - (c[i-w-1] + 2*c[i-1] + c[i+w-1])
	gy := (c[i+w-1] + 2*c[i+w] + c[i+w+1]) - (c[i-w-1] + 2*c[i-w] + c[i-w+1])
	return gx / 8, gy / 8
}

// noiseBins is the resolution of the gradient-magnitude histogram the noise
// level is read from.
const noiseBins = 256

// gradients fills the orientation pyramid, the symmetry and radial blocks,
// and the edge statistics.
func (s *scratch) gradients(out []float32) {
	const w = baseSide
	var hist [noiseBins]int
	var sumMag float64
	for y := 1; y < w-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			gx, gy := sobel(s.r64, i)
			m2 := gx*gx + gy*gy
			if ax, ay := sobel(s.g64, i); ax*ax+ay*ay > m2 {
				gx, gy, m2 = ax, ay, ax*ax+ay*ay
			}
			if ax, ay := sobel(s.b64, i); ax*ax+ay*ay > m2 {
				gx, gy, m2 = ax, ay, ax*ax+ay*ay
			}
			m := float32(math.Sqrt(float64(m2)))
			s.gx[i], s.gy[i], s.mag[i] = gx, gy, m
			sumMag += float64(m)
			hist[min(int(m*noiseBins/2), noiseBins-1)]++
		}
	}
	inner := (w - 2) * (w - 2)
	half, seen, median := inner/2, 0, float32(0)
	for b, c := range hist {
		seen += c
		if seen > half {
			median = (float32(b) + 0.5) * 2 / noiseBins
			break
		}
	}
	noise := 2 * median

	hog := out[hogOff : hogOff+hogDim]
	const binWidth = math.Pi / orientBins
	var sym [symDim]complex128
	var sumE, sumX, sumY float64
	edges := 0
	for y := 1; y < w-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			m := s.mag[i]
			e := m - noise
			if e <= 0 {
				s.mag[i] = 0
				continue
			}
			s.mag[i] = e
			edges++
			gx, gy := s.gx[i], s.gy[i]
			theta := math.Atan2(float64(gy), float64(gx))
			if theta < 0 {
				theta += math.Pi
			}
			// Votes are split between the two nearest bins so that an edge at a
			// bin boundary does not flip between bins with noise.
			pos := theta/binWidth - 0.5
			lo := int(math.Floor(pos))
			frac := float32(pos - float64(lo))
			lo = (lo + orientBins) % orientBins
			hi := (lo + 1) % orientBins
			for _, cell := range [3]int{0, 1 + (y*2/w)*2 + x*2/w, 5 + (y*4/w)*4 + x*4/w} {
				hog[cell*orientBins+lo] += e * (1 - frac)
				hog[cell*orientBins+hi] += e * frac
			}
			// The doubled angle makes opposite gradients (the two sides of a
			// stripe) one direction; its powers measure symmetry orders.
			u := complex(float64(gx), float64(gy)) / complex(float64(m), 0)
			u2 := u * u
			p := u2
			for k := range sym {
				sym[k] += complex(float64(e), 0) * p
				p *= u2
			}
			sumE += float64(e)
			sumX += float64(e) * float64(x)
			sumY += float64(e) * float64(y)
		}
	}
	stats := out[statsOff : statsOff+statsDim]
	stats[statGradient] = float32(sumMag / float64(inner))
	stats[statEdges] = float32(float64(edges) / float64(inner))
	if sumE == 0 {
		return
	}
	for _, level := range [][2]int{{0, 1}, {1, 5}, {5, hogCells}} {
		seg := hog[level[0]*orientBins : level[1]*orientBins]
		var sum float64
		for _, v := range seg {
			sum += float64(v)
		}
		if sum == 0 {
			continue
		}
		// Square-rooted and divided by √3 so that the three levels together
		// weigh as much as one histogram block.
		for i, v := range seg {
			seg[i] = float32(math.Sqrt(float64(v)/sum) / math.Sqrt(3))
		}
	}
	for k, v := range sym {
		out[symOff+k] = float32(cmplx.Abs(v) / sumE)
	}

	cx, cy := sumX/sumE, sumY/sumE
	var sumD float64
	for y := 1; y < w-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			if s.mag[i] == 0 {
				continue
			}
			d := math.Hypot(float64(x)-cx, float64(y)-cy)
			s.dist[i] = float32(d)
			sumD += float64(s.mag[i]) * d
		}
	}
	meanD := sumD / sumE
	if meanD == 0 {
		return
	}
	radial := out[radialOff : radialOff+radialDim]
	for y := 1; y < w-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			e := s.mag[i]
			if e == 0 {
				continue
			}
			d := float64(s.dist[i])
			db := min(int(d/meanD*radialBins/2), radialBins-1)
			align := 1.0
			if d > 0 {
				align = math.Abs(float64(s.gx[i])*(float64(x)-cx)+float64(s.gy[i])*(float64(y)-cy)) / (float64(e+noise) * d)
			}
			ab := min(int(align*alignBins), alignBins-1)
			radial[db*alignBins+ab] += e
		}
	}
	for i, v := range radial {
		radial[i] = float32(math.Sqrt(float64(v) / sumE))
	}
}
