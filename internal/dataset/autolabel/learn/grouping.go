package learn

import (
	"errors"
	"math"
)

// Aspects are auto grouping's advanced feature settings: image_brightness,
// image_colorfulness and ambiguity (clarity) in the reference. With none
// set, images are grouped on their whole descriptor.
type Aspects struct {
	Brightness bool
	Colour     bool
	Clarity    bool
}

// column is one grouping feature, read from an image descriptor.
type column func(row []float32) float64

func stat(i int) column { return func(row []float32) float64 { return float64(row[statsOff+i]) } }

// hueShare is the share of the colourful pixels (saturation above a third)
// whose hue falls in bin h: colour without brightness, which darkening an
// image does not change.
func hueShare(h int) column {
	return func(row []float32) float64 {
		var in, all float64
		for hb := 0; hb < hueBins; hb++ {
			for sb := 1; sb < satBins; sb++ {
				for vb := 0; vb < valBins; vb++ {
					v := float64(row[histOff+(hb*satBins+sb)*valBins+vb])
					all += v * v // the histogram holds square roots of shares
					if hb == h {
						in += v * v
					}
				}
			}
		}
		if all == 0 {
			return 0
		}
		return in / all
	}
}

// aspectColumns lists the columns that describe each chosen aspect.
func aspectColumns(a Aspects) [][]column {
	var out [][]column
	if a.Brightness {
		cols := []column{stat(statBrightness), stat(statContrast)}
		for c := 0; c < layoutGrid*layoutGrid; c++ {
			j := layoutOff + c*3 + 2 // the cell's intensity
			cols = append(cols, func(row []float32) float64 { return float64(row[j]) })
		}
		out = append(out, cols)
	}
	if a.Colour {
		var cols []column
		for h := 0; h < hueBins; h++ {
			cols = append(cols, hueShare(h))
		}
		// Each cell's opponent colours divided by its intensity: where the
		// colours are, whatever the light.
		for c := 0; c < layoutGrid*layoutGrid; c++ {
			o := layoutOff + c*3
			for _, j := range []int{o, o + 1} {
				cols = append(cols, func(row []float32) float64 {
					return float64(row[j]) / (float64(row[o+2]) + 0.01)
				})
			}
		}
		cols = append(cols, stat(statSaturation))
		out = append(out, cols)
	}
	if a.Clarity {
		// The Laplacian's strength, the usual blur measure, on a log scale:
		// blur divides it by a factor, so sharp and blurred images form two
		// groups there, where on a linear scale the sharp images' spread
		// (from noise and contrast) would dwarf the gap between them. And its
		// ratio to the gradient's, which does not depend on contrast.
		out = append(out, []column{
			func(row []float32) float64 { return math.Log(float64(row[statsOff+statSharpness]) + 1e-3) },
			stat(statDetail),
		})
	}
	return out
}

// GroupingFeatures returns the rows of x (image descriptors, from
// ExtractImages or ImageDescriptor) reduced to the chosen aspects, for
// KMeans to group by brightness, colour or clarity rather than by content.
// Each column is standardised over the present rows (the statistics have
// unlike units), and each aspect is scaled by one over the square root of
// its column count, so that every chosen aspect weighs the same in a
// distance whatever its number of columns. With no aspect chosen it
// returns x itself.
func GroupingFeatures(x *Matrix, a Aspects) (*Matrix, error) {
	groups := aspectColumns(a)
	if len(groups) == 0 {
		return x, nil
	}
	if x == nil || x.dense == nil || x.dim != ImageDim {
		return nil, errors.New("learn: grouping aspects need image descriptors")
	}
	rows := x.present()
	if len(rows) == 0 {
		return nil, errors.New("learn: no images to group")
	}
	var cols []column
	var weight []float64
	for _, g := range groups {
		for _, c := range g {
			cols = append(cols, c)
			weight = append(weight, 1/math.Sqrt(float64(len(g))))
		}
	}
	d := len(cols)
	out := &Matrix{n: x.n, dim: d, dense: make([]float32, x.n*d)}
	if x.missing != nil {
		out.missing = append([]bool(nil), x.missing...)
	}
	raw := make([]float64, x.n*d)
	mean := make([]float64, d)
	sq := make([]float64, d)
	for _, i := range rows {
		row := x.dense[i*x.dim : (i+1)*x.dim]
		for j, c := range cols {
			v := c(row)
			raw[i*d+j] = v
			mean[j] += v
			sq[j] += v * v
		}
	}
	n := float64(len(rows))
	scale := make([]float64, d)
	for j := range cols {
		mean[j] /= n
		if v := sq[j]/n - mean[j]*mean[j]; v > 1e-12 {
			scale[j] = weight[j] / math.Sqrt(v)
		}
	}
	for _, i := range rows {
		for j := range cols {
			out.dense[i*d+j] = float32((raw[i*d+j] - mean[j]) * scale[j])
		}
	}
	return out, nil
}
