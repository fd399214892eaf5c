package autolabel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"maps"
	"sync"
	"time"

	// Decoders of the image formats datasets hold.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// writeBatch is how many samples one label update writes.
const writeBatch = 500

// maxSampleBytes bounds what is read of one sample's file: an image bigger
// than this is not a dataset sample a model learns from.
const maxSampleBytes = 64 << 20

// run is the handler of TaskSmart.
func (s *Service) run(ctx context.Context, t *tasks.Task, p tasks.Progress) error {
	var prm params
	if err := json.Unmarshal(t.Params, &prm); err != nil {
		return fmt.Errorf("decode the intelligent task's parameters: %w", err)
	}
	j := &job{s: s, t: t, p: p, prm: prm}
	var err error
	switch prm.Type {
	case TypeAutoLabel:
		err = j.autoLabel(ctx)
	case TypePreLabel:
		err = j.preLabel(ctx)
	case TypeAutoGrouping:
		err = j.group(ctx)
	default:
		err = fmt.Errorf("unknown intelligent task type %q", prm.Type)
	}
	if err != nil && ctx.Err() == nil {
		return errors.New(s.ds.TaskMessage(ctx, prm.Type, err))
	}
	return err
}

// job is one run of a task.
type job struct {
	s   *Service
	t   *tasks.Task
	p   tasks.Progress
	prm params

	mu     sync.Mutex
	acc    dataset.ObjectAccess
	accAt  time.Time
	result Result
}

// access is the requester's object permissions, read again when a second
// has passed, so that a grant revoked during a long task applies to the
// objects it touches next (see dataset.ObjectAccess).
func (j *job) access(ctx context.Context) (dataset.ObjectAccess, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.acc != nil && time.Since(j.accAt) < time.Second {
		return j.acc, nil
	}
	acc, err := j.s.ds.ObjectAccess(ctx, j.prm.Requester)
	if err != nil {
		return nil, err
	}
	j.acc, j.accAt = acc, time.Now()
	return acc, nil
}

// sampleError is a sample's own failure: recorded, and the task goes on.
type sampleError struct{ msg string }

func (e *sampleError) Error() string { return e.msg }

func sampleFailure(format string, args ...any) error {
	return &sampleError{fmt.Sprintf(format, args...)}
}

// read returns a sample's content: its text, or its file's bytes after
// the requester was authorized to read it.
func (j *job) read(ctx context.Context, sm *dataset.StoredSample) ([]byte, error) {
	if text, ok := inlineText(sm.Source); ok {
		return []byte(text), nil
	}
	path, ok := dataset.ObjectOf(sm.Source)
	if !ok {
		return nil, sampleFailure("the sample's source %q is not an object", sm.Source)
	}
	acc, err := j.access(ctx)
	if err != nil {
		return nil, err
	}
	if reason, err := dataset.Denied(ctx, acc, obs.ActionGetObject, path); err != nil {
		return nil, err
	} else if reason != "" {
		return nil, sampleFailure("%s", reason)
	}
	rc, _, err := j.s.objects.Get(ctx, path.Bucket, path.Key, nil)
	if errors.Is(err, obs.ErrNotFound) || errors.Is(err, obs.ErrBucketNotFound) {
		return nil, sampleFailure("the sample's file %s does not exist", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxSampleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxSampleBytes {
		return nil, sampleFailure("the sample's file %s is larger than %d MiB", path, maxSampleBytes>>20)
	}
	return data, nil
}

func inlineText(source string) (string, bool) {
	if len(source) >= len(dataset.ContentScheme) && source[:len(dataset.ContentScheme)] == dataset.ContentScheme {
		return source[len(dataset.ContentScheme):], true
	}
	return "", false
}

// decode reads an image sample.
func (j *job) decode(ctx context.Context, sm *dataset.StoredSample) (image.Image, error) {
	data, err := j.read(ctx, sm)
	if err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, sampleFailure("the sample's file is not an image Atelier can read: %v", err)
	}
	return img, nil
}

// samples reads the dataset's samples after seq after, in seq order, and
// keeps those keep accepts.
func (j *job) samples(ctx context.Context, after int64, keep func(*dataset.StoredSample) bool) ([]dataset.StoredSample, *dataset.Row, error) {
	r, err := j.s.ds.LoadRow(ctx, j.s.db, j.t.ProjectID, j.t.ResourceID, false)
	if err != nil {
		return nil, nil, err
	}
	sel, err := j.s.ds.Select(ctx, r, dataset.SampleQuery{}, r.SampleSeq)
	if err != nil {
		return nil, nil, err
	}
	var out []dataset.StoredSample
	for done := false; !done; {
		var page []dataset.StoredSample
		page, after, done, err = sel.Page(ctx, after, 2000)
		if err != nil {
			return nil, nil, err
		}
		for i := range page {
			if keep(&page[i]) {
				out = append(out, page[i])
			}
		}
	}
	return out, r, nil
}

// notByPerson keeps the samples no person labeled: a model may write
// there.
func notByPerson(sm *dataset.StoredSample) bool {
	return sm.State == dataset.StateUnlabeled || sm.State == dataset.StateUnconfirmed
}

// prediction is what a model said of one sample.
type prediction struct {
	sample *dataset.StoredSample
	labels []annotation.Label
	hard   bool
	// meta, when not nil, replaces the sample's metadata (auto-grouping).
	meta map[string]any
}

// write stores predictions as the samples' labels awaiting confirmation,
// never over a person's labels; each sample that could not be written is a
// failure of its own. It answers how many were written.
func (j *job) write(ctx context.Context, preds []prediction) (int64, error) {
	var total int64
	for from := 0; from < len(preds); from += writeBatch {
		batch := preds[from:min(from+writeBatch, len(preds))]
		items := make([]dataset.LabelUpdate, len(batch))
		for i, pr := range batch {
			meta := pr.meta
			if meta == nil {
				meta = maps.Clone(pr.sample.Metadata)
				if meta == nil {
					meta = map[string]any{}
				}
				if pr.hard {
					meta[annotation.MetaHard] = 1.0 // a JSON number, as the core reads it
				} else {
					delete(meta, annotation.MetaHard)
				}
			}
			// A sample without labels stays unlabeled whatever Unconfirmed
			// says (an auto-grouped image keeps its state).
			items[i] = dataset.LabelUpdate{SampleID: pr.sample.ID, Labels: pr.labels, Metadata: meta, Usage: pr.sample.Usage,
				Unconfirmed: true, IfStates: []int{dataset.StateUnlabeled, dataset.StateUnconfirmed}}
		}
		errs, err := j.s.ds.UpdateSampleLabels(ctx, j.t.ProjectID, j.t.ResourceID, items)
		if err != nil {
			return total, err
		}
		written := int64(0)
		for i, e := range errs {
			if e != nil {
				j.p.Fail(batch[i].sample.ID, errText(e))
				continue
			}
			written++
			if batch[i].hard {
				j.result.KeySamples++
			}
		}
		j.p.Succeed(written)
		total += written
	}
	return total, nil
}

func errText(err error) string {
	if de, ok := dataset.AsError(err); ok {
		return de.Msg
	}
	return err.Error()
}

// finish stores the result.
func (j *job) finish(r *dataset.Row) {
	j.result.DatasetName = r.Name
	j.result.DatasetType = itoa(r.Type)
	data, _ := json.Marshal(j.result)
	j.p.SetResult(data)
}
