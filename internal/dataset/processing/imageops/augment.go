package imageops

// Transforms use github.com/disintegration/imaging for flips, right-angle
// turns, crops, pads, resizing, blurs and colour curves (exact, tested,
// parallel over rows), and golang.org/x/image/draw for the arbitrary affine
// ones (rotation by any angle, shear, scale about the centre), because
// there we choose the matrix ourselves and boxes must go through exactly
// the map the pixels go through; imaging.Rotate picks its own canvas.

import (
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/disintegration/imaging"
	"golang.org/x/image/draw"
	"golang.org/x/image/math/f64"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// Copy is one augmented copy of a sample.
type Copy struct {
	// Index is the copy's number (0 to copies-1); the seed, the sample's
	// key and Index decide its random draws.
	Index int
	Data  []byte
	// Format is the format of Data: the input's, or PNG for an input
	// that has no encoder here (WebP). Ext is its file extension.
	Format, Ext   string
	Width, Height int
	// Labels are the sample's labels carried through the transform.
	Labels []annotation.Label
	// Metadata is the sample's, with @modelarts:size set to the new size.
	Metadata map[string]any
	// Dropped counts the labels the transform lost (out of the image).
	Dropped int
	// Description says what was done, e.g. "Rotate 12.5°".
	Description string
}

// step is one transform's outcome: the new image, the map from the
// source's plane to the new one, and a description.
type step struct {
	img  image.Image
	m    affine
	desc string
}

type transform func(r *rand.Rand, img image.Image) step

// Augmenter makes augmented copies with one augmentation operator. It is
// safe for concurrent use.
type Augmenter struct {
	name       string
	copies     int
	seed       uint64
	minVisible float64
	skipLost   bool
	quality    int
	op         transform
}

// NewAugmenter makes an augmenter from an augmentation operator's config.
func NewAugmenter(c Config) (*Augmenter, error) {
	if c.op == nil || c.op.Kind != Augmentation {
		return nil, errors.New("imageops: NewAugmenter needs an augmentation operator's config")
	}
	op, err := build(c)
	if err != nil {
		return nil, err
	}
	return &Augmenter{
		name: c.op.Name, copies: c.int("copies"), seed: uint64(c.int("seed")),
		minVisible: c.float("min_visible"), skipLost: c.bool("skip_if_boxes_lost"),
		quality: c.int("jpeg_quality"), op: op,
	}, nil
}

// Augment decodes the sample and makes its copies. With
// skip_if_boxes_lost, a copy that lost a label is not made: the result then
// has fewer copies than asked, and their Index values say which remain.
// The error is the sample's: it does not decode, or a copy does not encode.
func (a *Augmenter) Augment(s Sample) ([]Copy, error) {
	img, format, err := decode(s.Data)
	if err != nil {
		return nil, fmt.Errorf("augment %s: decode: %w", s.Key, err)
	}
	out := make([]Copy, 0, a.copies)
	for i := range a.copies {
		st := a.op(a.rand(s.Key, i), img)
		w, h := size(st.img)
		labels, dropped := moveLabels(s.Labels, st.m, w, h, a.minVisible)
		if dropped > 0 && a.skipLost {
			continue
		}
		data, f, err := encode(st.img, format, a.quality)
		if err != nil {
			return nil, fmt.Errorf("augment %s: copy %d: %w", s.Key, i, err)
		}
		out = append(out, Copy{
			Index: i, Data: data, Format: f, Ext: Ext(f), Width: w, Height: h,
			Labels: labels, Metadata: withSize(s.Metadata, w, h), Dropped: dropped, Description: st.desc,
		})
	}
	return out, nil
}

// rand is the source of one copy's draws: a function of the seed, the
// operator, the sample's key and the copy number only, so that a copy does
// not depend on which samples were processed before it, or in what order.
func (a *Augmenter) rand(key string, copy int) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(a.name))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return rand.New(rand.NewPCG(a.seed, h.Sum64()^(uint64(copy)+1)*0x9e3779b97f4a7c15))
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

var black = color.NRGBA{A: 0xff}

// warp draws img through m onto a black w×h canvas. ApproxBiLinear takes
// a third of BiLinear's time here (it has fast paths for decoded JPEGs);
// it does not filter when it shrinks, which the small zooms and shears of
// augmentation do not need.
func warp(img image.Image, m affine, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 3; i < len(dst.Pix); i += 4 {
		dst.Pix[i] = 0xff
	}
	draw.ApproxBiLinear.Transform(dst, f64.Aff3(m), img, img.Bounds(), draw.Src, nil)
	return dst
}

// build returns the transform of an augmentation config.
func build(c Config) (transform, error) {
	switch c.op.Name {
	case "Flip":
		p, ud := c.float("flip_p"), c.string("lr_ud") == "ud"
		return func(r *rand.Rand, img image.Image) step {
			if p < 1 && r.Float64() >= p {
				return step{img, identity, "Flip: not flipped (flip_p " + fmt.Sprint(p) + ")"}
			}
			w, h := size(img)
			if ud {
				return step{imaging.FlipV(img), affine{1, 0, 0, 0, -1, float64(h)}, "Flip ud"}
			}
			return step{imaging.FlipH(img), affine{-1, 0, float64(w), 0, 1, 0}, "Flip lr"}
		}, nil
	case "Rotate":
		lo, hi := c.float("angle_min"), c.float("angle_max")
		if lo > hi {
			lo, hi = hi, lo
		}
		var rights []float64
		if c.bool("right_angles") {
			for k := math.Ceil(lo / 90); k*90 <= hi; k++ {
				if k != 0 {
					rights = append(rights, k*90)
				}
			}
			if len(rights) == 0 {
				return nil, &ParamError{Code: BadValue, Operator: c.op.Name, Param: "right_angles", Value: true,
					Reason: fmt.Sprintf("no non-zero multiple of 90° lies between %g and %g", lo, hi)}
			}
		}
		return func(r *rand.Rand, img image.Image) step {
			deg := uniform(r, lo, hi)
			if rights != nil {
				deg = rights[r.IntN(len(rights))]
			}
			return rotate(img, deg)
		}, nil
	case "Crop":
		lo, hi := c.float("crop_percent_min"), c.float("crop_percent_max")
		return func(r *rand.Rand, img image.Image) step {
			w, h := size(img)
			cut := func(n int) int { return int(math.Round(uniform(r, lo, hi) * float64(n))) }
			x0, y0 := cut(w), cut(h)
			x1, y1 := max(w-cut(w), x0+1), max(h-cut(h), y0+1)
			return step{imaging.Crop(img, image.Rect(x0, y0, x1, y1)), translate(float64(-x0), float64(-y0)),
				fmt.Sprintf("Crop (%d, %d)-(%d, %d)", x0, y0, x1, y1)}
		}, nil
	case "Padding":
		t, rt, l, b := c.int("px_top"), c.int("px_right"), c.int("px_left"), c.int("px_bottom")
		return func(_ *rand.Rand, img image.Image) step {
			w, h := size(img)
			bg := imaging.New(w+l+rt, h+t+b, black)
			return step{imaging.Paste(bg, img, image.Pt(l, t)), translate(float64(l), float64(t)),
				fmt.Sprintf("Padding top %d right %d bottom %d left %d", t, rt, b, l)}
		}, nil
	case "Resize":
		nw, nh := c.int("width"), c.int("height")
		if nw*nh > MaxPixels {
			return nil, &ParamError{Code: BadValue, Operator: c.op.Name, Param: "width", Value: nw,
				Reason: fmt.Sprintf("%dx%d is more than the %d pixels an image may have", nw, nh, MaxPixels)}
		}
		return func(_ *rand.Rand, img image.Image) step {
			w, h := size(img)
			return step{imaging.Resize(img, nw, nh, imaging.Linear), scale(float64(nw)/float64(w), float64(nh)/float64(h)),
				fmt.Sprintf("Resize %dx%d", nw, nh)}
		}, nil
	case "Scale":
		x, lo, hi := c.string("scaleXY") == "X", c.float("scale_min"), c.float("scale_max")
		return func(r *rand.Rand, img image.Image) step {
			s := uniform(r, lo, hi)
			m, axis := scale(1, s), "Y"
			if x {
				m, axis = scale(s, 1), "X"
			}
			return affineStep(img, m, fmt.Sprintf("Scale %s ×%.3f", axis, s))
		}, nil
	case "Shear":
		x, lo, hi := c.string("shearXY") == "X", c.float("shear_min"), c.float("shear_max")
		return func(r *rand.Rand, img image.Image) step {
			deg := uniform(r, lo, hi)
			t := math.Tan(deg * math.Pi / 180)
			m, axis := affine{1, 0, 0, t, 1, 0}, "Y"
			if x {
				m, axis = affine{1, t, 0, 0, 1, 0}, "X"
			}
			return affineStep(img, m, fmt.Sprintf("Shear %s %.1f°", axis, deg))
		}, nil
	case "Translate":
		x, lo, hi := c.string("translateXY") == "X", c.float("translate_percent_min"), c.float("translate_percent_max")
		return func(r *rand.Rand, img image.Image) step {
			w, h := size(img)
			p := uniform(r, lo, hi)
			dx, dy := 0, int(math.Round(p*float64(h)))
			if x {
				dx, dy = int(math.Round(p*float64(w))), 0
			}
			return step{imaging.Paste(imaging.New(w, h, black), img, image.Pt(dx, dy)), translate(float64(dx), float64(dy)),
				fmt.Sprintf("Translate (%d, %d)", dx, dy)}
		}, nil
	case "CutOut":
		return func(r *rand.Rand, img image.Image) step {
			w, h := size(img)
			side := max(1, int(math.Round(0.2*float64(min(w, h)))))
			x0, y0 := r.IntN(w)-side/2, r.IntN(h)-side/2
			grey := imaging.New(side, side, color.NRGBA{0x80, 0x80, 0x80, 0xff})
			return step{imaging.Paste(img, grey, image.Pt(x0, y0)), identity, fmt.Sprintf("CutOut %dx%d at (%d, %d)", side, side, x0, y0)}
		}, nil
	}
	return buildPhotometric(c)
}

// affineStep applies m around the image's centre, keeping its size.
func affineStep(img image.Image, m affine, desc string) step {
	w, h := size(img)
	m = around(m, float64(w)/2, float64(h)/2)
	return step{warp(img, m, w, h), m, desc}
}

// rotate turns img by deg degrees counter-clockwise. A multiple of 90° is
// an exact turn (the sides swap for 90° and 270°, nothing is lost); any
// other angle turns the image around its centre on a canvas of the same
// size, the uncovered corners black, as the user guide says.
func rotate(img image.Image, deg float64) step {
	w, h := size(img)
	desc := fmt.Sprintf("Rotate %.1f°", deg)
	if deg == math.Round(deg/90)*90 {
		switch n := int(math.Mod(math.Mod(deg, 360)+360, 360)); n {
		case 0:
			return step{img, identity, desc}
		case 90:
			return step{imaging.Rotate90(img), affine{0, 1, 0, -1, 0, float64(w)}, desc}
		case 180:
			return step{imaging.Rotate180(img), affine{-1, 0, float64(w), 0, -1, float64(h)}, desc}
		default:
			return step{imaging.Rotate270(img), affine{0, -1, float64(h), 1, 0, 0}, desc}
		}
	}
	return affineStep(img, rotation(deg), desc)
}

// buildPhotometric returns the transforms that change pixel values only.
func buildPhotometric(c Config) (transform, error) {
	pixels := func(f func(r *rand.Rand, img image.Image) (image.Image, string)) transform {
		return func(r *rand.Rand, img image.Image) step {
			out, desc := f(r, img)
			return step{out, identity, desc}
		}
	}
	switch c.op.Name {
	case "Grayscale":
		return pixels(func(_ *rand.Rand, img image.Image) (image.Image, string) {
			return imaging.Grayscale(img), "Grayscale"
		}), nil
	case "HistogramEqual":
		return pixels(func(_ *rand.Rand, img image.Image) (image.Image, string) {
			return equalize(img), "HistogramEqual"
		}), nil
	case "LightArithmetic":
		lo, hi := c.float("brightness_min"), c.float("brightness_max")
		return pixels(func(r *rand.Rand, img image.Image) (image.Image, string) {
			pct := uniform(r, lo, hi)
			return imaging.AdjustBrightness(img, pct), fmt.Sprintf("LightArithmetic %+.1f%%", pct)
		}), nil
	case "LightContrast":
		fn := c.string("func")
		lo, hi := c.float("strength_min"), c.float("strength_max")
		if lo == -1 {
			lo, hi = contrastRange(fn)
		}
		return pixels(func(r *rand.Rand, img image.Image) (image.Image, string) {
			v := uniform(r, lo, hi)
			cutoff := uniform(r, 0.3, 0.6)
			lut := contrastLUT(fn, v, cutoff)
			return applyLUT(img, lut), fmt.Sprintf("LightContrast %s %.3f", fn, v)
		}), nil
	case "Saturation":
		slo, shi := c.float("saturation_min"), c.float("saturation_max")
		hlo, hhi := c.float("hue_min"), c.float("hue_max")
		return pixels(func(r *rand.Rand, img image.Image) (image.Image, string) {
			sat, hue := uniform(r, slo, shi), uniform(r, hlo, hhi)
			return hueSaturation(img, hue, sat), fmt.Sprintf("Saturation %+.1f%% hue %+.1f°", sat, hue)
		}), nil
	case "Blur":
		gauss := c.string("blur_type") == "Gauss"
		return pixels(func(r *rand.Rand, img image.Image) (image.Image, string) {
			if gauss {
				sigma := uniform(r, 0.5, 2)
				return imaging.Blur(img, sigma), fmt.Sprintf("Blur Gauss sigma %.2f", sigma)
			}
			opts := &imaging.ConvolveOptions{Normalize: true}
			if r.IntN(2) == 0 {
				var k [9]float64
				for i := range k {
					k[i] = 1
				}
				return imaging.Convolve3x3(img, k, opts), "Blur Average 3x3"
			}
			var k [25]float64
			for i := range k {
				k[i] = 1
			}
			return imaging.Convolve5x5(img, k, opts), "Blur Average 5x5"
		}), nil
	case "Sharpen":
		return pixels(func(r *rand.Rand, img image.Image) (image.Image, string) {
			sigma := uniform(r, 0.5, 1.5)
			return imaging.Sharpen(img, sigma), fmt.Sprintf("Sharpen sigma %.2f", sigma)
		}), nil
	case "MotionBlur":
		return pixels(func(r *rand.Rand, img image.Image) (image.Image, string) {
			deg := uniform(r, 0, 360)
			s, co := math.Sincos(deg * math.Pi / 180)
			var k [25]float64
			for t := -2.0; t <= 2; t += 0.25 {
				k[int(math.Round(2+t*s))*5+int(math.Round(2+t*co))] = 1
			}
			return imaging.Convolve5x5(img, k, &imaging.ConvolveOptions{Normalize: true}), fmt.Sprintf("MotionBlur %.0f°", deg)
		}), nil
	case "AddNoise":
		n := noise{kind: c.string("noise_type"), loc: c.float("loc"), scale: c.float("scale"), lam: c.float("lam"), p: c.float("p")}
		return pixels(func(r *rand.Rand, img image.Image) (image.Image, string) {
			return n.add(r, img), "AddNoise " + n.kind
		}), nil
	}
	return nil, fmt.Errorf("imageops: operator %s has no transform", c.op.Name)
}

// augmentationNames lists the augmentation operators, for tests that must
// cover each.
func augmentationNames() []string {
	var names []string
	for _, o := range catalogue {
		if o.Kind == Augmentation {
			names = append(names, o.Name)
		}
	}
	return slices.Clip(names)
}
