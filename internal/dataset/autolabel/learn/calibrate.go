package learn

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/optimize"
)

// Calibration. A regularised logistic regression's probabilities are
// roughly right in shape but not in scale: with few labels the penalty
// makes them timid, and self-training makes them bold. One temperature T,
// dividing the logits before the softmax, fixes the scale without changing
// any prediction; it is fitted on out-of-fold predictions of the labeled
// samples (each predicted by a model that never saw it), which are the only
// predictions whose correctness is known and honest.

// Temperature limits: a fit outside them means the out-of-fold predictions
// were all right (or all wrong) by wide margins, and stretching further
// would promise certainty the data does not show.
const (
	minTemperature = 0.05
	maxTemperature = 20
)

// fitTemperature returns the T that minimises the mean negative
// log-likelihood of softmax(z/T) for labels y; z holds len(y) rows of k
// logits. The likelihood is convex in 1/T; it is optimised over log(1/T)
// so that no bound has to be kept during the search.
func fitTemperature(z []float64, y []int, k int) float64 {
	n := len(y)
	if n == 0 {
		return 1
	}
	p := make([]float64, k)
	nll := func(t []float64, grad []float64) float64 {
		beta := math.Exp(t[0])
		var f, g float64
		for i := 0; i < n; i++ {
			zi := z[i*k : (i+1)*k]
			softmaxInto(p, zi, 1/beta)
			var ez float64
			for c, v := range zi {
				ez += p[c] * v
			}
			f -= math.Log(max(p[y[i]], 1e-300))
			g += ez - zi[y[i]]
		}
		if grad != nil {
			grad[0] = beta * g / float64(n)
		}
		return f / float64(n)
	}
	prob := optimize.Problem{
		Func: func(t []float64) float64 { return nll(t, nil) },
		Grad: func(g, t []float64) { nll(t, g) },
	}
	settings := &optimize.Settings{GradientThreshold: 1e-6, MajorIterations: 100}
	res, _ := optimize.Minimize(prob, []float64{0}, settings, &optimize.LBFGS{})
	if res == nil || math.IsNaN(res.X[0]) {
		return 1
	}
	return min(max(math.Exp(-res.X[0]), minTemperature), maxTemperature)
}

// stratifiedFolds deals the positions of y into k folds so that every fold
// holds each class in the same proportion as the whole (to within one): with
// few labels, a fold without some class would make its model unable to
// predict that class at all.
func stratifiedFolds(y []int, classes, k int, rng *rand.Rand) []int {
	byClass := make([][]int, classes)
	for i, c := range y {
		byClass[c] = append(byClass[c], i)
	}
	fold := make([]int, len(y))
	next := 0
	for _, pos := range byClass {
		rng.Shuffle(len(pos), func(a, b int) { pos[a], pos[b] = pos[b], pos[a] })
		for _, i := range pos {
			fold[i] = next % k
			next++
		}
	}
	return fold
}
