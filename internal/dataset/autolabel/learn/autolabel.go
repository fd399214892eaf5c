package learn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Algorithm is the reference's algorithm_type.
type Algorithm string

const (
	// Fast learns from the labeled samples only.
	Fast Algorithm = "fast"
	// Accurate adds self-training: a few rounds in which the unlabeled
	// samples the model is most sure of join the training set with the
	// labels it gave them.
	Accurate Algorithm = "accurate"
)

// MinPerClass is the fewest labeled samples of each label AutoLabel accepts.
// It was measured (TestMinPerClassCurve: fast algorithm, mean of three
// labelings) as accuracy / expected calibration error on the unlabeled rest
// with n labels per class:
//
//	n per class    2            3            4            5            8            12
//	shapes (6)   0.515/0.247  0.655/0.161  0.743/0.045  0.770/0.053  0.884/0.020  0.939/0.023
//	topics (5)   0.463/0.136  0.551/0.157  0.601/0.173  0.605/0.096  0.722/0.092  0.794/0.069
//
// Below 5 the confidences cannot be trusted: the temperature is fitted on
// too few out-of-fold predictions, and the text model's calibration error
// stays above 0.13, so its key samples and confidences would mislead the
// user. From 5 on it is at most 0.10, and accuracy keeps rising with every
// label added. (ModelArts asks for the same: five images per label.)
const MinPerClass = 5

// Refusals: AutoLabel answers these, wrapped in an *InputError, when the
// labels cannot support a model. The caller's user can fix each by labeling
// more samples.
var (
	ErrNoLabeled   = errors.New("no labeled samples")
	ErrOneClass    = errors.New("labeled samples of fewer than 2 labels")
	ErrFewPerClass = errors.New("too few labeled samples of a label")
	ErrNoUnlabeled = errors.New("no unlabeled samples")
)

// InputError says why AutoLabel refused its input; errors.Is matches its
// Err, one of the Err variables above.
type InputError struct {
	Err   error
	Class string // the label that has too few samples (ErrFewPerClass)
	Have  int    // labeled samples (of Class, for ErrFewPerClass; labels, for ErrOneClass)
	Need  int    // the minimum
}

func (e *InputError) Error() string {
	switch e.Err {
	case ErrOneClass:
		return fmt.Sprintf("auto labeling needs labeled samples of at least %d labels, there are %d", e.Need, e.Have)
	case ErrFewPerClass:
		return fmt.Sprintf("auto labeling needs at least %d labeled samples of every label, label %q has %d", e.Need, e.Class, e.Have)
	case ErrNoLabeled:
		return "auto labeling needs labeled samples, there are none"
	case ErrNoUnlabeled:
		return "auto labeling needs unlabeled samples to label, there are none"
	}
	return e.Err.Error()
}

func (e *InputError) Unwrap() error { return e.Err }

// Scope is the reference's confidence_scope: predictions whose confidence
// lies in [Lo, Hi] are key samples (hard examples) a human should look at
// first.
type Scope struct{ Lo, Hi float64 }

// ParseScope reads a confidence_scope such as "0.10-0.90".
func ParseScope(s string) (Scope, error) {
	lo, hi, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Scope{}, fmt.Errorf("confidence_scope %q is not two numbers joined by '-', like 0.10-0.90", s)
	}
	a, err1 := strconv.ParseFloat(strings.TrimSpace(lo), 64)
	b, err2 := strconv.ParseFloat(strings.TrimSpace(hi), 64)
	if err1 != nil || err2 != nil {
		return Scope{}, fmt.Errorf("confidence_scope %q is not two numbers joined by '-', like 0.10-0.90", s)
	}
	if !(a >= 0 && a <= b && b <= 1) {
		return Scope{}, fmt.Errorf("confidence_scope %q must satisfy 0 <= min <= max <= 1", s)
	}
	return Scope{Lo: a, Hi: b}, nil
}

// Contains reports whether confidence c lies in the scope.
func (s Scope) Contains(c float64) bool { return c >= s.Lo && c <= s.Hi }

// Options configures AutoLabel. The zero value is the fast algorithm
// without key samples.
type Options struct {
	Algorithm Algorithm // "" means Fast
	// KeySamples is collect_key_sample: mark predictions inside Scope Hard.
	KeySamples bool
	Scope      Scope
	// TopK is how many of the most probable labels each prediction lists;
	// 0 means 3.
	TopK int
	// Seed fixes the cross-validation folds: the same input and seed give
	// the same result, bit for bit, on any number of cores.
	Seed uint64
}

// Prediction is AutoLabel's answer for one unlabeled row.
type Prediction struct {
	Row        int
	Class      string
	Confidence float64      // calibrated probability of Class
	Top        []ClassScore // the most probable labels, most probable first
	Hard       bool         // a key sample: Options.KeySamples and Confidence in Options.Scope
}

// ClassScore is one label's calibrated probability.
type ClassScore struct {
	Class string
	P     float64
}

// Result is AutoLabel's answer.
type Result struct {
	Classes     []string     // the labels learned, sorted
	Predictions []Prediction // one per unlabeled, present row, in row order
	// CVAccuracy is the out-of-fold accuracy on the labeled rows of the
	// model that was used: an honest estimate of the share of Predictions
	// that are right.
	CVAccuracy   float64
	Temperature  float64 // dividing the logits; fitted out of fold
	Lambda       float64 // the L2 penalty cross-validation chose
	SelfTrained  bool    // accurate, and self-training beat the fast model out of fold
	PseudoLabels int     // unlabeled rows that trained the final model
}

// Self-training settings. Pseudo-labels are chosen afresh each round from
// the latest model, so that an early mistake can be undone; their number
// grows each round up to a budget (see budgets) in the last. Only
// predictions at least pseudoThreshold sure (by the fast model's
// temperature) qualify, and each label's share of the pseudo-labels is
// capped at its share of the labeled rows, so that one easy label cannot
// take over. maxPseudo bounds the work when the pool is large: with
// thousands of labels the fast model has little left to learn from it.
const (
	selfRounds      = 5
	pseudoThreshold = 0.9
	pseudoRatio     = 4
	maxPseudo       = 20000
)

const (
	maxFolds    = 5
	defaultTopK = 3
	// manyLabels is the labeled count from which cross-validation uses 3
	// folds instead of 5: its estimates are then already within a fraction
	// of a point, and two fewer folds save 40% of the training.
	manyLabels = 2000
)

// lambdas are the penalties cross-validation chooses among, strongest
// first so that each fold's next fit starts from a nearby optimum.
var lambdas = []float64{1e-1, 1e-2, 1e-3, 1e-4, 1e-5}

// AutoLabel learns from the rows that have a label (labels[i] != "") and
// predicts the present rows that have none; labels has one entry per row of
// x, and absent rows are left out of both. It refuses, with an *InputError,
// labels that cannot support a model, and returns ctx's error when ctx ends
// first. Accurate costs several times fast: each self-training budget runs
// once per fold.
func AutoLabel(ctx context.Context, x *Matrix, labels []string, opt Options) (*Result, error) {
	return autoLabel(ctx, x, labels, opt, MinPerClass)
}

// autoLabel is AutoLabel with the minimum per class as a parameter, for the
// test that measured it. Two is the least cross-validation can work with.
func autoLabel(ctx context.Context, x *Matrix, labels []string, opt Options, minPerClass int) (*Result, error) {
	if x == nil || len(labels) != x.n {
		return nil, fmt.Errorf("learn: %d labels for %d rows", len(labels), matrixLen(x))
	}
	switch opt.Algorithm {
	case "", Fast, Accurate:
	default:
		return nil, fmt.Errorf("learn: unknown algorithm %q (fast or accurate)", opt.Algorithm)
	}
	topK := opt.TopK
	if topK <= 0 {
		topK = defaultTopK
	}
	d, err := split(x, labels, max(minPerClass, 2))
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x6c6561726e))
	nf := min(maxFolds, d.minCount)
	if len(d.lab) >= manyLabels {
		nf = min(nf, 3)
	}
	folds := stratifiedFolds(d.y, d.k, nf, rng)

	fast, err := crossValidate(ctx, d, folds)
	if err != nil {
		return nil, err
	}
	res := &Result{Classes: d.classes, Lambda: fast.lambda}
	model, temp, acc := fast.final, fast.temp, fast.acc
	if opt.Algorithm == Accurate {
		// Self-training is kept only when it wins out of fold: on labels
		// that already separate well it can only add its own mistakes. Of
		// its two budgets, the one with the better out-of-fold accuracy is
		// used (the near one on a tie).
		var best *fitted
		var bestBudget budget
		for _, b := range budgets(d) {
			st, err := selfTrainCV(ctx, d, folds, fast, b)
			if err != nil {
				return nil, err
			}
			if st.acc > acc && (best == nil || st.acc > best.acc) {
				best, bestBudget = st, b
			}
		}
		if best != nil {
			m, pseudo, err := selfTrain(ctx, d, trainSet{x: d.x, rows: d.lab, y: d.y}, d.unl, fast, bestBudget)
			if err != nil {
				return nil, err
			}
			model, temp, acc = m, best.temp, best.acc
			res.SelfTrained, res.PseudoLabels = true, pseudo
		}
	}
	res.Temperature, res.CVAccuracy = temp, acc

	z := make([]float64, len(d.unl)*d.k)
	model.logits(x, d.unl, z)
	p := make([]float64, d.k)
	order := make([]int, d.k)
	res.Predictions = make([]Prediction, len(d.unl))
	for i, row := range d.unl {
		softmaxInto(p, z[i*d.k:(i+1)*d.k], temp)
		for c := range order {
			order[c] = c
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(p[b], p[a]) })
		top := make([]ClassScore, min(topK, d.k))
		for j := range top {
			top[j] = ClassScore{Class: d.classes[order[j]], P: p[order[j]]}
		}
		res.Predictions[i] = Prediction{
			Row: row, Class: top[0].Class, Confidence: top[0].P, Top: top,
			Hard: opt.KeySamples && opt.Scope.Contains(top[0].P),
		}
	}
	return res, nil
}

func matrixLen(x *Matrix) int {
	if x == nil {
		return 0
	}
	return x.n
}

// data is AutoLabel's input sorted into labeled and unlabeled rows.
type data struct {
	x        *Matrix
	classes  []string
	k        int
	lab      []int // labeled rows
	y        []int // their classes
	unl      []int // unlabeled rows
	prior    []float64
	minCount int
}

func split(x *Matrix, labels []string, minPerClass int) (*data, error) {
	d := &data{x: x}
	count := map[string]int{}
	for i, l := range labels {
		if x.Absent(i) {
			continue
		}
		if l == "" {
			d.unl = append(d.unl, i)
			continue
		}
		count[l]++
	}
	if len(count) == 0 {
		return nil, &InputError{Err: ErrNoLabeled, Need: minPerClass}
	}
	for c := range count {
		d.classes = append(d.classes, c)
	}
	slices.Sort(d.classes)
	if len(d.classes) < 2 {
		return nil, &InputError{Err: ErrOneClass, Have: len(d.classes), Need: 2}
	}
	d.minCount = math.MaxInt
	for _, c := range d.classes {
		if count[c] < minPerClass {
			return nil, &InputError{Err: ErrFewPerClass, Class: c, Have: count[c], Need: minPerClass}
		}
		d.minCount = min(d.minCount, count[c])
	}
	if len(d.unl) == 0 {
		return nil, &InputError{Err: ErrNoUnlabeled}
	}
	d.k = len(d.classes)
	index := make(map[string]int, d.k)
	for i, c := range d.classes {
		index[c] = i
	}
	d.prior = make([]float64, d.k)
	for i, l := range labels {
		if l == "" || x.Absent(i) {
			continue
		}
		d.lab = append(d.lab, i)
		d.y = append(d.y, index[l])
		d.prior[index[l]]++
	}
	for c := range d.prior {
		d.prior[c] /= float64(len(d.lab))
	}
	return d, nil
}

// fitted is a model (nil when only measured) with its penalty, and the
// temperature and out-of-fold accuracy of its way of training.
type fitted struct {
	final  *softmax
	lambda float64
	temp   float64
	acc    float64
}

// crossValidate chooses the penalty by the out-of-fold likelihood after
// calibration (smoother than accuracy on a few dozen labels, and what the
// confidences are judged by), fits that penalty's temperature, and trains
// the final fast model on every labeled row.
func crossValidate(ctx context.Context, d *data, folds []int) (*fitted, error) {
	nf := slices.Max(folds) + 1
	z := make([]float64, len(d.lab)*d.k)
	prev := make([]*softmax, nf)
	best := &fitted{}
	bestNLL := math.Inf(1)
	for _, lambda := range lambdas {
		for f := 0; f < nf; f++ {
			tr, _ := foldSplit(d, folds, f)
			m, err := train(ctx, tr, d.k, lambda, prev[f])
			if err != nil {
				return nil, fmt.Errorf("learn: cross-validation: %w", err)
			}
			prev[f] = m
			scatterLogits(m, d, folds, f, z)
		}
		t := fitTemperature(z, d.y, d.k)
		nll, acc := score(z, d.y, d.k, t)
		if nll < bestNLL {
			bestNLL = nll
			best = &fitted{lambda: lambda, temp: t, acc: acc, final: prev[0]}
		}
	}
	m, err := train(ctx, trainSet{x: d.x, rows: d.lab, y: d.y}, d.k, best.lambda, best.final)
	if err != nil {
		return nil, fmt.Errorf("learn: train: %w", err)
	}
	best.final = m
	return best, nil
}

// budget says how many pseudo-labels self-training may use in its last
// round, given the labeled and pool sizes.
type budget func(labeled, pool int) int

// budgets are the self-training budgets AutoLabel chooses between. Near:
// a few times the labels, the classic choice. Wide: the whole pool.
// Measured with 10% labeled (seed 1), accuracy on the rest (out of fold):
//
//	          fast             near             wide
//	shapes    0.960 (0.983)    0.954 (0.983)    0.988 (1.000)
//	topics    0.837 (0.730)    0.861 (0.800)    0.829 (0.790)
//
// The shapes' fast model is right 96% of the time and its last mistakes sit
// where the unlabeled rows show the true boundary, so the more of them the
// better; the topics' fast model is right 84% of the time, and past its
// surest predictions it teaches itself its own mistakes. Neither budget is
// right for both, so cross-validation decides. When both come to the same
// number (large label sets reach maxPseudo) one is tried.
func budgets(d *data) []budget {
	near := func(labeled, pool int) int { return min(pool, pseudoRatio*labeled, maxPseudo) }
	wide := func(labeled, pool int) int { return min(pool, maxPseudo) }
	if near(len(d.lab), len(d.unl)) == wide(len(d.lab), len(d.unl)) {
		return []budget{near}
	}
	return []budget{near, wide}
}

// selfTrainCV measures self-training out of fold (each fold's model
// self-trains without that fold's labels, and that fold's rows join the
// unlabeled pool, as the real unlabeled rows do) and fits its temperature.
func selfTrainCV(ctx context.Context, d *data, folds []int, fast *fitted, b budget) (*fitted, error) {
	nf := slices.Max(folds) + 1
	z := make([]float64, len(d.lab)*d.k)
	for f := 0; f < nf; f++ {
		tr, te := foldSplit(d, folds, f)
		pool := append(slices.Clone(d.unl), te...)
		m, _, err := selfTrain(ctx, d, tr, pool, fast, b)
		if err != nil {
			return nil, err
		}
		scatterLogits(m, d, folds, f, z)
	}
	t := fitTemperature(z, d.y, d.k)
	_, acc := score(z, d.y, d.k, t)
	return &fitted{lambda: fast.lambda, temp: t, acc: acc}, nil
}

// selfTrain trains on lab, then for selfRounds rounds adds the most
// confident predictions on pool as labels and trains again.
func selfTrain(ctx context.Context, d *data, lab trainSet, pool []int, fast *fitted, b budget) (*softmax, int, error) {
	m, err := train(ctx, lab, d.k, fast.lambda, fast.final)
	if err != nil {
		return nil, 0, fmt.Errorf("learn: self-training: %w", err)
	}
	z := make([]float64, len(pool)*d.k)
	p := make([]float64, d.k)
	type cand struct {
		row  int
		conf float64
	}
	used := 0
	for r := 1; r <= selfRounds; r++ {
		m.logits(d.x, pool, z)
		byClass := make([][]cand, d.k)
		for i, row := range pool {
			softmaxInto(p, z[i*d.k:(i+1)*d.k], fast.temp)
			c := argmax(p)
			if p[c] >= pseudoThreshold {
				byClass[c] = append(byClass[c], cand{row, p[c]})
			}
		}
		total := b(len(lab.rows), len(pool)) * r / selfRounds
		ts := trainSet{x: d.x, rows: slices.Clone(lab.rows), y: slices.Clone(lab.y)}
		for c, cs := range byClass {
			slices.SortStableFunc(cs, func(a, b cand) int {
				return cmp.Or(cmp.Compare(b.conf, a.conf), cmp.Compare(a.row, b.row))
			})
			quota := int(math.Ceil(float64(total) * d.prior[c]))
			for _, cd := range cs[:min(quota, len(cs))] {
				ts.rows = append(ts.rows, cd.row)
				ts.y = append(ts.y, c)
			}
		}
		used = len(ts.rows) - len(lab.rows)
		if m, err = train(ctx, ts, d.k, fast.lambda, m); err != nil {
			return nil, 0, fmt.Errorf("learn: self-training round %d: %w", r, err)
		}
	}
	return m, used, nil
}

// foldSplit returns the training set without fold f and fold f's rows.
func foldSplit(d *data, folds []int, f int) (trainSet, []int) {
	tr := trainSet{x: d.x}
	var te []int
	for i, row := range d.lab {
		if folds[i] == f {
			te = append(te, row)
			continue
		}
		tr.rows = append(tr.rows, row)
		tr.y = append(tr.y, d.y[i])
	}
	return tr, te
}

// scatterLogits writes m's logits for fold f's rows into their places in z
// (laid out like d.lab).
func scatterLogits(m *softmax, d *data, folds []int, f int, z []float64) {
	var pos, rows []int
	for i, row := range d.lab {
		if folds[i] == f {
			pos = append(pos, i)
			rows = append(rows, row)
		}
	}
	out := make([]float64, len(rows)*d.k)
	m.logits(d.x, rows, out)
	for j, i := range pos {
		copy(z[i*d.k:(i+1)*d.k], out[j*d.k:(j+1)*d.k])
	}
}

// score returns the mean negative log-likelihood and the accuracy of
// softmax(z/t) against y.
func score(z []float64, y []int, k int, t float64) (nll, acc float64) {
	p := make([]float64, k)
	right := 0
	for i, c := range y {
		softmaxInto(p, z[i*k:(i+1)*k], t)
		nll -= math.Log(max(p[c], 1e-300))
		if argmax(p) == c {
			right++
		}
	}
	return nll / float64(len(y)), float64(right) / float64(len(y))
}

func argmax(p []float64) int {
	best := 0
	for c, v := range p {
		if v > p[best] {
			best = c
		}
	}
	return best
}
