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

// aspectColumns lists the descriptor columns that describe each aspect.
func aspectColumns(a Aspects) [][]int {
	var out [][]int
	if a.Brightness {
		cols := []int{statsOff + statBrightness, statsOff + statContrast}
		for c := 0; c < layoutGrid*layoutGrid; c++ {
			cols = append(cols, layoutOff+c*3+2) // each cell's intensity
		}
		out = append(out, cols)
	}
	if a.Colour {
		var cols []int
		for j := histOff; j < histOff+histDim; j++ {
			cols = append(cols, j)
		}
		for c := 0; c < layoutGrid*layoutGrid; c++ {
			cols = append(cols, layoutOff+c*3, layoutOff+c*3+1) // each cell's hue
		}
		cols = append(cols, statsOff+statSaturation, statsOff+statColourful)
		out = append(out, cols)
	}
	if a.Clarity {
		// The Laplacian's strength (the usual blur measure), on a log
		// scale (see logColumn), and its ratio to the gradient's, which
		// does not depend on contrast.
		out = append(out, []int{statsOff + statSharpness, statsOff + statDetail})
	}
	return out
}

// logColumn is a column GroupingFeatures takes the logarithm of: blur
// divides the Laplacian's strength by a factor, so sharp and blurred images
// form two groups on a log scale, where on a linear one the sharp images'
// spread (from noise and contrast) would dwarf the gap between them.
const logColumn = statsOff + statSharpness

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
	var cols []int
	var weight []float64
	for _, g := range groups {
		for _, c := range g {
			cols = append(cols, c)
			weight = append(weight, 1/math.Sqrt(float64(len(g))))
		}
	}
	mean := make([]float64, len(cols))
	sq := make([]float64, len(cols))
	for _, i := range rows {
		row := x.dense[i*x.dim:]
		for j, c := range cols {
			v := groupingValue(row, c)
			mean[j] += v
			sq[j] += v * v
		}
	}
	n := float64(len(rows))
	scale := make([]float64, len(cols))
	for j := range cols {
		mean[j] /= n
		if v := sq[j]/n - mean[j]*mean[j]; v > 1e-12 {
			scale[j] = weight[j] / math.Sqrt(v)
		}
	}
	out := &Matrix{n: x.n, dim: len(cols), dense: make([]float32, x.n*len(cols))}
	if x.missing != nil {
		out.missing = append([]bool(nil), x.missing...)
	}
	for _, i := range rows {
		src, dst := x.dense[i*x.dim:], out.dense[i*len(cols):]
		for j, c := range cols {
			dst[j] = float32((groupingValue(src, c) - mean[j]) * scale[j])
		}
	}
	return out, nil
}

func groupingValue(row []float32, c int) float64 {
	if c == logColumn {
		return math.Log(float64(row[c]) + 1e-3)
	}
	return float64(row[c])
}
