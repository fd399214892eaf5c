package imageops

// Pixel-value operators that imaging has no function for (hue, HSV
// saturation, value equalisation, noise), written over imaging.AdjustFunc
// and imaging.Clone so that they take any decoded image and return the
// same *image.NRGBA as the others.

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"

	"github.com/disintegration/imaging"
)

// contrastRange is the usual range of a LightContrast function's strength
// (imgaug's defaults, which the user guide's functions come from).
func contrastRange(fn string) (float64, float64) {
	switch fn {
	case "gamma":
		return 0.7, 1.7
	case "sigmoid":
		return 5, 6
	}
	return 0.6, 1.4
}

// contrastLUT tabulates a LightContrast function (the user guide's
// formulas) for every 8-bit value.
func contrastLUT(fn string, v, cutoff float64) *[256]uint8 {
	var lut [256]uint8
	for i := range lut {
		x := float64(i)
		var y float64
		switch fn {
		case "gamma":
			y = 255 * math.Pow(x/255, v)
		case "sigmoid":
			y = 255 / (1 + math.Exp(v*(cutoff-x/255)))
		case "log":
			y = 255 * v * math.Log2(1+x/255)
		default: // linear
			y = 127 + v*(x-127)
		}
		lut[i] = clamp8(y)
	}
	return &lut
}

func clamp8(f float64) uint8 {
	switch {
	case f <= 0 || math.IsNaN(f):
		return 0
	case f >= 255:
		return 255
	}
	return uint8(math.Round(f))
}

func applyLUT(img image.Image, lut *[256]uint8) *image.NRGBA {
	return imaging.AdjustFunc(img, func(c color.NRGBA) color.NRGBA {
		return color.NRGBA{lut[c.R], lut[c.G], lut[c.B], c.A}
	})
}

// hueSaturation turns the hue by deg degrees and changes the saturation by
// pct percent, in HSV as the user guide says (imaging's own saturation
// works in HSL). It is one pass over the pixels in float32, without
// imaging.AdjustFunc's call per pixel: this operator was the slowest of the
// colour ones, at twice the CPU of the others (BenchmarkAugment256).
func hueSaturation(img image.Image, deg, pct float64) *image.NRGBA {
	out := imaging.Clone(img)
	f := float32(1 + pct/100)
	shift := float32(math.Mod(deg/60, 6))
	if shift < 0 {
		shift += 6
	}
	p := out.Pix
	for i := 0; i < len(p); i += 4 {
		r, g, b := float32(p[i]), float32(p[i+1]), float32(p[i+2])
		hi, lo := max(r, g, b), min(r, g, b)
		d := hi - lo
		if d == 0 {
			continue // grey: no hue to turn, no saturation to scale
		}
		var h float32 // in sextants, [0, 6)
		switch hi {
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
		h += shift
		if h >= 6 {
			h -= 6
		}
		s := min(1, d/hi*f)
		c := hi * s
		m := hi - c
		sextant := int(h)
		frac := h - float32(sextant)
		if sextant%2 == 1 {
			frac = 1 - frac
		}
		x := c * frac
		switch sextant {
		case 0:
			r, g, b = c, x, 0
		case 1:
			r, g, b = x, c, 0
		case 2:
			r, g, b = 0, c, x
		case 3:
			r, g, b = 0, x, c
		case 4:
			r, g, b = x, 0, c
		default:
			r, g, b = c, 0, x
		}
		p[i], p[i+1], p[i+2] = round8(r+m), round8(g+m), round8(b+m)
	}
	return out
}

func round8(f float32) uint8 {
	switch {
	case f <= 0:
		return 0
	case f >= 255:
		return 255
	}
	return uint8(f + 0.5)
}

// equalize equalises the histogram of the HSV value (the largest channel)
// and scales each pixel's channels with it, so that hue and saturation stay.
func equalize(img image.Image) *image.NRGBA {
	out := imaging.Clone(img)
	var hist [256]int
	p := out.Pix
	for i := 0; i < len(p); i += 4 {
		hist[max(p[i], p[i+1], p[i+2])]++
	}
	n, first := len(p)/4, 0
	for first < 255 && hist[first] == 0 {
		first++
	}
	den := n - hist[first]
	if den == 0 {
		return out // one value only: nothing to spread
	}
	var lut [256]float64
	cum := 0
	for v := range hist {
		cum += hist[v]
		if v >= first {
			lut[v] = math.Round(float64(cum-hist[first]) / float64(den) * 255)
		}
	}
	for i := 0; i < len(p); i += 4 {
		v := max(p[i], p[i+1], p[i+2])
		if v == 0 {
			continue
		}
		f := lut[v] / float64(v)
		p[i], p[i+1], p[i+2] = clamp8(float64(p[i])*f), clamp8(float64(p[i+1])*f), clamp8(float64(p[i+2])*f)
	}
	return out
}

// noise is AddNoise's configuration.
type noise struct {
	kind               string
	loc, scale, lam, p float64
}

// add returns img with noise: Gauss and Laplace of mean loc and standard
// deviation scale, Poisson(lam) centred on 0 (it varies values around
// themselves, as shot noise does), Impulse (a channel value replaced by a
// random one with probability p) or SaltAndPepper (a pixel turned black or
// white with probability p).
func (n noise) add(r *rand.Rand, img image.Image) *image.NRGBA {
	out := imaging.Clone(img)
	p := out.Pix
	switch n.kind {
	case "SaltAndPepper":
		for i := 0; i < len(p); i += 4 {
			if r.Float64() < n.p {
				v := uint8(0)
				if r.IntN(2) == 1 {
					v = 255
				}
				p[i], p[i+1], p[i+2] = v, v, v
			}
		}
		return out
	case "Impulse":
		for i := range p {
			if i%4 != 3 && r.Float64() < n.p {
				p[i] = uint8(r.IntN(256))
			}
		}
		return out
	}
	var draw func() float64
	switch n.kind {
	case "Laplace":
		b := n.scale / math.Sqrt2
		draw = func() float64 {
			u := r.Float64() - 0.5
			return n.loc - b*math.Copysign(math.Log(1-2*math.Abs(u)), u)
		}
	case "Poisson":
		draw = func() float64 { return poisson(r, n.lam) - n.lam }
	default:
		draw = func() float64 { return n.loc + n.scale*r.NormFloat64() }
	}
	for i := range p {
		if i%4 != 3 {
			p[i] = clamp8(float64(p[i]) + draw())
		}
	}
	return out
}

// poisson draws from a Poisson distribution: by Knuth's product of
// uniforms for small lam, by the normal approximation above 30 where that
// loop grows long and the approximation is good.
func poisson(r *rand.Rand, lam float64) float64 {
	if lam > 30 {
		return math.Max(0, math.Round(lam+math.Sqrt(lam)*r.NormFloat64()))
	}
	l, k, prod := math.Exp(-lam), 0, 1.0
	for {
		prod *= r.Float64()
		if prod <= l {
			return float64(k)
		}
		k++
	}
}
