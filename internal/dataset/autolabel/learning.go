package autolabel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"strconv"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/autolabel/learn"
	"github.com/atelier-dev/atelier/internal/obs"
)

// seed makes a task's learning reproducible: the same task ID learns the
// same model from the same samples.
func seed(taskID string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(taskID))
	return h.Sum64()
}

// features computes the rows of the samples: image descriptors, or TF-IDF
// vectors of texts. A sample that cannot be read is an absent row, with its
// failure in errs; another error ends the task.
func (j *job) features(ctx context.Context, typ int, rows []*dataset.StoredSample) (*learn.Matrix, []error, error) {
	if typ == annotation.TypeTextClassification {
		docs := make([]string, len(rows))
		errs := make([]error, len(rows))
		for i, sm := range rows {
			data, err := j.read(ctx, sm)
			var se *sampleError
			if errors.As(err, &se) {
				errs[i] = err
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			docs[i] = string(data)
		}
		x, err := learn.TextFeatures(ctx, docs, learn.TextOptions{})
		return x, errs, err
	}
	x, errs, err := learn.ExtractImages(ctx, len(rows), func(i int) (image.Image, error) { return j.decode(ctx, rows[i]) })
	if err != nil {
		return nil, nil, err
	}
	for _, e := range errs {
		var se *sampleError
		if e != nil && !errors.As(e, &se) {
			return nil, nil, e // the database or the object store, not the sample
		}
	}
	return x, errs, nil
}

// autoLabel learns from the samples people labeled and predicts the
// others.
func (j *job) autoLabel(ctx context.Context) error {
	all, r, err := j.samples(ctx, 0, func(*dataset.StoredSample) bool { return true })
	if err != nil {
		return err
	}
	var rows []*dataset.StoredSample
	var labels []string
	var unlabeled int64
	for i := range all {
		sm := &all[i]
		switch {
		case sm.State == dataset.StateLabeled && len(sm.Labels) > 0:
			rows, labels = append(rows, sm), append(labels, sm.Labels[0].Name)
			j.result.AnnotatedSampleCount++
		case notByPerson(sm):
			rows, labels = append(rows, sm), append(labels, "")
			unlabeled++
		}
	}
	j.result.TotalSampleCount = int64(len(all))
	j.p.SetTotal(unlabeled)
	x, errs, err := j.features(ctx, r.Type, rows)
	if err != nil {
		return err
	}
	unreadable := 0
	for i, e := range errs {
		if e == nil {
			continue
		}
		if labels[i] == "" {
			j.p.Fail(rows[i].ID, e.Error())
		} else {
			unreadable++
			labels[i] = "" // neither learned from nor, being absent, predicted
		}
	}
	opt := learn.Options{Algorithm: j.prm.Algorithm, KeySamples: j.prm.KeySample, Seed: seed(j.t.ID)}
	if j.prm.KeySample {
		if opt.Scope, err = learn.ParseScope(j.prm.Scope); err != nil {
			return err
		}
		j.result.ConfidenceScope = j.prm.Scope
	}
	res, err := learn.AutoLabel(ctx, x, labels, opt)
	var ie *learn.InputError
	if errors.As(err, &ie) {
		return dataset.Invalid(dataset.CodeInvalid, "%v (%d labeled samples could not be read)", err, unreadable)
	}
	if err != nil {
		return err
	}
	labelType := annotation.TypeImageClassification
	if r.Type == annotation.TypeTextClassification {
		labelType = annotation.TypeTextClassification
	}
	preds := make([]prediction, 0, len(res.Predictions))
	for _, pr := range res.Predictions {
		if errs[pr.Row] != nil {
			continue // an unreadable text is an empty row, not a sample to predict
		}
		conf := pr.Confidence
		preds = append(preds, prediction{sample: rows[pr.Row], hard: pr.Hard,
			labels: []annotation.Label{{Name: pr.Class, Type: labelType, Score: &conf, AnnotatedBy: "auto"}}})
	}
	written, err := j.write(ctx, preds)
	if err != nil {
		return err
	}
	acc := res.CVAccuracy
	j.result.UnconfirmedSampleCount = written
	j.result.Algorithm, j.result.Classes, j.result.CVAccuracy = string(j.prm.Algorithm), res.Classes, &acc
	j.result.PseudoLabels, j.result.SelfTrained = res.PseudoLabels, res.SelfTrained
	j.result.Description = fmt.Sprintf("%s model learned from %d labeled samples (cross-validated accuracy %.3f); %d predictions to confirm, %d key samples",
		j.prm.Algorithm, j.result.AnnotatedSampleCount-int64(unreadable), acc, written, j.result.KeySamples)
	j.finish(r)
	return nil
}

// group clusters the images no person labeled into n groups, written to
// a sample attribute or to a file of the output directory.
func (j *job) group(ctx context.Context) error {
	todo, r, err := j.samples(ctx, 0, notByPerson)
	if err != nil {
		return err
	}
	rows := make([]*dataset.StoredSample, len(todo))
	for i := range todo {
		rows[i] = &todo[i]
	}
	j.result.TotalSampleCount = int64(len(rows))
	j.p.SetTotal(int64(len(rows)))
	x, errs, err := j.features(ctx, r.Type, rows)
	if err != nil {
		return err
	}
	for i, e := range errs {
		if e != nil {
			j.p.Fail(rows[i].ID, e.Error())
		}
	}
	g, err := learn.GroupingFeatures(x, j.prm.Aspects)
	if err != nil {
		return err
	}
	cl, err := learn.KMeans(ctx, g, j.prm.Groups, learn.KMeansOptions{Seed: seed(j.t.ID)})
	if err != nil {
		return err
	}
	j.result.Groups = make([]int64, len(cl.Centroids))
	if j.prm.Property != "" {
		var preds []prediction
		for i, grp := range cl.Assign {
			if grp < 0 {
				continue
			}
			j.result.Groups[grp]++
			meta := map[string]any{}
			for k, v := range rows[i].Metadata {
				meta[k] = v
			}
			meta[j.prm.Property] = strconv.Itoa(grp)
			preds = append(preds, prediction{sample: rows[i], labels: rows[i].Labels, meta: meta})
		}
		if _, err := j.write(ctx, preds); err != nil {
			return err
		}
	} else if err := j.writeGroups(ctx, rows, cl.Assign); err != nil {
		return err
	}
	j.result.Description = fmt.Sprintf("%d images in %d groups", j.result.TotalSampleCount-int64(countFailed(errs)), len(cl.Centroids))
	j.finish(r)
	return nil
}

func countFailed(errs []error) int {
	n := 0
	for _, e := range errs {
		if e != nil {
			n++
		}
	}
	return n
}

// writeGroups writes result_type 0's file: one JSON line per grouped
// sample, {"sample_id", "source", "group"}, at <output_dir><task_id>.json.
func (j *job) writeGroups(ctx context.Context, rows []*dataset.StoredSample, assign []int) error {
	dir, err := obs.ParsePath(j.prm.Output)
	if err != nil {
		return err
	}
	out := obs.Path{Bucket: dir.Bucket, Key: dir.Key + j.t.ID + ".json"}
	acc, err := j.access(ctx)
	if err != nil {
		return err
	}
	if reason, err := dataset.Denied(ctx, acc, obs.ActionPutObject, out); err != nil {
		return err
	} else if reason != "" {
		return dataset.Invalid(dataset.CodeInvalid, "write the groups: %s", reason)
	}
	var b []byte
	var done int64
	for i, grp := range assign {
		if grp < 0 {
			continue
		}
		j.result.Groups[grp]++
		line, err := json.Marshal(struct {
			SampleID string `json:"sample_id"`
			Source   string `json:"source"`
			Group    int    `json:"group"`
		}{rows[i].ID, rows[i].Source, grp})
		if err != nil {
			return err
		}
		b = append(append(b, line...), '\n')
		done++
	}
	if _, err := j.s.ds.PutObject(ctx, out, b); err != nil {
		return fmt.Errorf("write the groups to %s: %w", out, err)
	}
	j.p.Succeed(done)
	return nil
}
