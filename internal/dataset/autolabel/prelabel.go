package autolabel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/autolabel/inference"
	"github.com/atelier-dev/atelier/internal/dataset/autolabel/learn"
)

// prePage is how many samples pre-label sends before it writes their
// answers and checkpoints.
const prePage = 64

// preLabel sends each sample no person labeled to the model server and
// writes its answers; a sample the server fails on (after the client's
// retries) is a failure of its own, and the task ends with the others
// written.
func (j *job) preLabel(ctx context.Context) error {
	ep, ok := j.s.models[j.prm.Model]
	if !ok {
		return dataset.Invalid(dataset.CodeInvalid, "model server %q is no longer configured on this server", j.prm.Model)
	}
	pred, err := inference.NewPredictor(ctx, j.s.infer, ep)
	if err != nil {
		return dataset.Invalid(dataset.CodeInvalid, "model server %s: %v", ep.Describe(), err)
	}
	var after int64
	if j.t.Cursor != "" {
		if after, err = strconv.ParseInt(j.t.Cursor, 10, 64); err != nil {
			return fmt.Errorf("resume pre-label: bad checkpoint %q", j.t.Cursor)
		}
	}
	todo, r, err := j.samples(ctx, after, notByPerson)
	if err != nil {
		return err
	}
	known, err := j.s.ds.LabelsOf(ctx, r.ID)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for _, l := range known {
		names[l.Name] = true
	}
	var scope learn.Scope
	if j.prm.KeySample {
		if scope, err = learn.ParseScope(j.prm.Scope); err != nil {
			return err
		}
		j.result.ConfidenceScope = j.prm.Scope
	}
	// A resumed run counts on from its checkpoint.
	j.p.SetTotal(j.t.Succeeded + j.t.Failed + int64(len(todo)))
	j.result.ModelName = ep.Describe()
	for from := 0; from < len(todo); from += prePage {
		page := todo[from:min(from+prePage, len(todo))]
		preds := make([]*prediction, len(page))
		fails := make([]error, len(page))
		var wg sync.WaitGroup
		next := make(chan int)
		for w := 0; w < j.s.workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					preds[i], fails[i] = j.predictOne(ctx, pred, &page[i], r.Type, names, scope)
				}
			}()
		}
		for i := range page {
			next <- i
		}
		close(next)
		wg.Wait()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ok []prediction
		for i := range page {
			var se *sampleError
			var ie *inference.Error
			switch {
			case fails[i] == nil:
				ok = append(ok, *preds[i])
			case errors.As(fails[i], &se), errors.As(fails[i], &ie):
				j.p.Fail(page[i].ID, fails[i].Error())
			default:
				return fails[i]
			}
		}
		written, err := j.write(ctx, ok)
		if err != nil {
			return err
		}
		j.result.UnconfirmedSampleCount += written
		j.p.Checkpoint(strconv.FormatInt(page[len(page)-1].Seq, 10))
	}
	j.result.TotalSampleCount = r.Total
	j.result.Description = fmt.Sprintf("%d predictions of %s to confirm, %d key samples", j.result.UnconfirmedSampleCount, ep.Describe(), j.result.KeySamples)
	j.finish(r)
	return nil
}

// predictOne asks the model about one sample and turns its answer into
// labels of the dataset's type: the best class of a classification, every
// box of a detection.
func (j *job) predictOne(ctx context.Context, pred *inference.Predictor, sm *dataset.StoredSample, typ int, names map[string]bool, scope learn.Scope) (*prediction, error) {
	data, err := j.read(ctx, sm)
	if err != nil {
		return nil, err
	}
	var got []inference.Scored
	if typ == annotation.TypeTextClassification {
		got, err = pred.PredictText(ctx, string(data))
	} else {
		got, err = pred.PredictImage(ctx, data)
	}
	if err != nil {
		return nil, err
	}
	known := func(name string) error {
		if len(names) > 0 && !names[name] {
			return sampleFailure("the model answered label %q, which the dataset does not have", name)
		}
		return nil
	}
	out := &prediction{sample: sm}
	switch typ {
	case annotation.TypeObjectDetection:
		lowest := 1.0
		for _, g := range got {
			if g.Box == nil {
				return nil, sampleFailure("the model answered %q without a box; object detection needs boxes", g.Name)
			}
			if err := known(g.Name); err != nil {
				return nil, err
			}
			score := clamp01(g.Score)
			lowest = math.Min(lowest, score)
			b := g.Box
			out.labels = append(out.labels, annotation.Label{Name: g.Name, Type: annotation.TypeObjectDetection, Score: &score, AnnotatedBy: "auto",
				Property: map[string]any{annotation.PropShape: "bndbox", annotation.PropFeature: [][]float64{
					{math.Round(b[0]), math.Round(b[1])}, {math.Round(b[2]), math.Round(b[3])}}}})
		}
		out.hard = j.prm.KeySample && len(got) > 0 && scope.Contains(lowest)
	default:
		if len(got) == 0 {
			return nil, sampleFailure("the model answered no class")
		}
		if err := known(got[0].Name); err != nil {
			return nil, err
		}
		score := clamp01(got[0].Score)
		out.labels = []annotation.Label{{Name: got[0].Name, Type: typ, Score: &score, AnnotatedBy: "auto"}}
		out.hard = j.prm.KeySample && scope.Contains(score)
	}
	return out, nil
}

func clamp01(v float64) float64 { return math.Max(0, math.Min(1, v)) }
