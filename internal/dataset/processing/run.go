package processing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/pipeline"
	"github.com/atelier-dev/atelier/internal/dataset/processing/imageops"
	"github.com/atelier-dev/atelier/internal/dataset/versions"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// The run of a version: a task of kind TaskProcess, in phases.
//
//   - scan: each input sample is read and worked on (validation,
//     augmentation: finished at once; de-duplication, selection and
//     cleansing: its fingerprint or features are kept for the next phase);
//   - decide: the whole-set decision of de-duplication, selection or
//     cleansing, then each waiting sample kept (copied to the output) or
//     removed;
//   - outliers: validation's findings over the whole set (sizes far from
//     the others), added to those samples' results;
//   - manifest: the output manifest, from the results in order;
//   - publish: with a DATASET work path, the output becomes a new version
//     of the dataset (the versions room publishes it).
//
// Each batch of samples commits its result rows, the version's counts and
// the task's checkpoint in one transaction, so a resumed run (a restart,
// another replica) continues after the last batch that committed and
// counts nothing twice; the files it writes are overwritten with the same
// bytes by a run that redoes a batch.

// taskParams are a run's parameters.
type taskParams struct {
	VersionID string `json:"version_id"`
	// Requester is who asked for the version: each object the run reads or
	// writes is authorized for them when it is touched.
	Requester *dataset.Requester `json:"requester,omitempty"`
}

// Phases of a run.
const (
	phaseScan = iota
	phaseDecide
	phaseOutliers
	phaseManifest
	phasePublish
	phaseDone
)

// cursor is a run's checkpoint.
type cursor struct {
	Phase int `json:"phase"`
	// Input is the input being scanned; After the seq of a dataset's last
	// sample done, or in the decide phase the last result seq decided;
	// Done the samples of the input done.
	Input int   `json:"input,omitempty"`
	After int64 `json:"after,omitempty"`
	Done  int64 `json:"done,omitempty"`
	// Seq is the last result's seq (results count from 1).
	Seq int64 `json:"seq"`
}

// errStopped ends a run whose version was stopped or deleted while it ran.
var errStopped = errors.New("the version was stopped")

// outputManifest is the output manifest's name in a version's directory.
const outputManifest = "output.manifest"

// run is one run of a version.
type run struct {
	s   *Service
	t   *tasks.Task
	p   tasks.Progress
	v   *versionRow
	doc versionDoc
	who *dataset.Requester
	cur cursor

	kind imageops.Kind
	ops  []imageops.Config
	// validator is MetaValidation's, or the default one of do_validation
	// (checking the samples before another operator); nil for none.
	validator  *imageops.Validator
	augmenters []*imageops.Augmenter
	out, data  obs.Path
}

// runVersion is the handler of TaskProcess.
func (s *Service) runVersion(ctx context.Context, t *tasks.Task, p tasks.Progress) error {
	var prm taskParams
	if err := json.Unmarshal(t.Params, &prm); err != nil {
		return fmt.Errorf("decode processing task parameters: %w", err)
	}
	v, err := s.repo.versionByID(ctx, t.ProjectID, prm.VersionID)
	if fe, ok := dataset.AsError(err); ok && fe.Code == CodeTaskNotFound {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	if v.Status != StatusInit && v.Status != StatusRunning {
		return nil
	}
	if ok, err := s.repo.start(ctx, v.ID, s.now().UnixMilli()); err != nil || !ok {
		return err
	}
	r, err := s.newRun(t, p, v, prm.Requester)
	if err == nil {
		err = r.run(ctx)
	}
	wctx := context.WithoutCancel(ctx)
	switch {
	case err == nil:
		return s.repo.finish(wctx, v.ID, StatusCompleted, "", s.now().UnixMilli())
	case errors.Is(err, errStopped):
		return err // the stop ended the version (and cancelled the task)
	case ctx.Err() != nil || errors.Is(err, tasks.ErrLeaseLost):
		// A stop (the task cancelled) ends the version; a shutdown or a
		// lost lease leaves it running for the next run.
		if s.tasks != nil {
			if tk, gerr := s.tasks.Get(wctx, t.ID); gerr == nil && tk.Status == tasks.Cancelled {
				if ferr := s.repo.finish(wctx, v.ID, StatusStopped, "", s.now().UnixMilli()); ferr != nil {
					s.log.ErrorContext(ctx, "record stopped processing version", "version", v.ID, "err", ferr)
				}
			}
		}
		return err
	}
	msg := s.ds.TaskMessage(ctx, "process version "+v.Name, err)
	if ferr := s.repo.finish(wctx, v.ID, StatusFailed, msg, s.now().UnixMilli()); ferr != nil {
		s.log.ErrorContext(ctx, "record failed processing version", "version", v.ID, "err", ferr)
	}
	return errors.New(msg)
}

// newRun prepares a run from the version's spec and the task's
// checkpoint.
func (s *Service) newRun(t *tasks.Task, p tasks.Progress, v *versionRow, who *dataset.Requester) (*run, error) {
	r := &run{s: s, t: t, p: p, v: v, doc: v.Doc, who: who}
	if t.Cursor != "" {
		if err := json.Unmarshal([]byte(t.Cursor), &r.cur); err != nil {
			return nil, fmt.Errorf("decode checkpoint: %w", err)
		}
	}
	kind, ops, err := s.checkTemplate(v.Doc.Spec.Request.Template)
	if err != nil {
		return nil, err
	}
	r.kind, r.ops = kind, ops
	switch {
	case kind == imageops.Validation:
		if r.validator, err = imageops.NewValidator(ops[0]); err != nil {
			return nil, err
		}
	case ops[0].DoValidation():
		r.validator = imageops.DefaultValidator()
	}
	if kind == imageops.Augmentation {
		for _, c := range ops {
			a, err := imageops.NewAugmenter(c)
			if err != nil {
				return nil, err
			}
			r.augmenters = append(r.augmenters, a)
		}
	}
	if r.out, err = obs.ParsePath(v.Doc.Output); err != nil {
		return nil, fmt.Errorf("version %s output %q: %w", v.ID, v.Doc.Output, err)
	}
	r.data = obs.Path{Bucket: r.out.Bucket, Key: r.out.Key + "Data/"}
	return r, nil
}

// run goes through the phases from the checkpoint on.
func (r *run) run(ctx context.Context) error {
	if r.cur.Phase == phaseScan {
		if err := r.scan(ctx); err != nil {
			return err
		}
	}
	if r.cur.Phase == phaseDecide {
		if err := r.decide(ctx); err != nil {
			return err
		}
	}
	if r.cur.Phase == phaseOutliers {
		if err := r.outliers(ctx); err != nil {
			return err
		}
	}
	if r.cur.Phase == phaseManifest {
		if err := r.writeManifest(ctx); err != nil {
			return err
		}
	}
	if r.cur.Phase == phasePublish {
		return r.publish(ctx)
	}
	return nil
}

// access reads the requester's object permissions now.
func (r *run) access(ctx context.Context) (dataset.ObjectAccess, error) {
	return r.s.ds.ObjectAccess(ctx, r.who)
}

// afterScan is the phase that follows the scan.
func (r *run) afterScan() int {
	switch {
	case r.kind == imageops.Selection || r.kind == imageops.Cleaning:
		return phaseDecide
	case r.kind == imageops.Validation:
		return phaseOutliers
	}
	return phaseManifest
}

// scan reads every input after the checkpoint and works on its samples,
// several at once, committing them in order batch by batch.
func (r *run) scan(ctx context.Context) error {
	inputs := r.doc.Spec.Inputs
	for r.cur.Input < len(inputs) {
		i := r.cur.Input
		var batch []*outcome
		produce := func(ctx context.Context, emit func(sample) error) error {
			return r.readInput(ctx, i, r.cur.After, r.cur.Done, emitFunc(emit))
		}
		sink := func(ctx context.Context, o *outcome) error {
			batch = append(batch, o)
			if len(batch) < r.s.batch {
				return nil
			}
			err := r.commitScan(ctx, batch, false)
			batch = nil
			return err
		}
		if err := pipeline.Ordered(ctx, r.s.workers, produce, r.process, sink); err != nil {
			return err
		}
		if err := r.commitScan(ctx, batch, true); err != nil {
			return err
		}
	}
	return nil
}

// commitScan commits a batch of outcomes; last ends the input.
func (r *run) commitScan(ctx context.Context, batch []*outcome, last bool) error {
	next := r.cur
	var c counts
	var rows []*resultRow
	var ok int64
	for _, o := range batch {
		for _, row := range o.rows {
			next.Seq++
			row.Seq = next.Seq
			rows = append(rows, row)
		}
		c.add(o.counts)
		next.Done++
		if o.pos > 0 {
			next.After = o.pos
		}
		if o.failure != "" {
			r.p.Fail(o.key, o.failure)
		} else {
			ok++
		}
	}
	r.p.Succeed(ok)
	if last {
		next.Input, next.After, next.Done = next.Input+1, 0, 0
		if next.Input >= len(r.doc.Spec.Inputs) {
			next.Phase = r.afterScan()
			r.p.SetTotal(r.v.Counts.Origin + c.Origin)
		}
	}
	if err := r.commit(ctx, next, func(tx *sql.Tx) error {
		if err := r.s.repo.insertResults(ctx, tx, r.v.ID, rows); err != nil {
			return err
		}
		return r.s.repo.addCounts(ctx, tx, r.v.ID, c, r.s.now().UnixMilli())
	}); err != nil {
		return err
	}
	r.v.Counts.add(c)
	return nil
}

// commit runs fn and moves the checkpoint to next in one transaction.
func (r *run) commit(ctx context.Context, next cursor, fn func(tx *sql.Tx) error) error {
	cp, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	err = r.s.db.InTx(ctx, func(tx *sql.Tx) error {
		// A version stopped (or deleted) meanwhile takes nothing more.
		if running, err := r.s.repo.runningTx(ctx, tx, r.v.ID); err != nil || !running {
			if err == nil {
				err = errStopped
			}
			return err
		}
		if fn != nil {
			if err := fn(tx); err != nil {
				return err
			}
		}
		return r.p.CheckpointTx(ctx, tx, string(cp))
	})
	if err != nil {
		return err
	}
	r.cur = next
	return nil
}

// writeManifest writes the output manifest: the output lines of the
// results, in order, in one atomic Put.
func (r *run) writeManifest(ctx context.Context) error {
	m := obs.Path{Bucket: r.out.Bucket, Key: r.out.Key + outputManifest}
	acc, err := r.access(ctx)
	if err != nil {
		return err
	}
	if reason, err := dataset.Denied(ctx, acc, obs.ActionPutObject, m); err != nil || reason != "" {
		if err != nil {
			return err
		}
		return invalid("The output manifest cannot be written: %s", reason)
	}
	pr, pw := io.Pipe()
	var lines int64
	go func() {
		pw.CloseWithError(r.s.repo.outputLines(ctx, r.v.ID, func(line string) error {
			lines++
			_, err := io.WriteString(pw, line+"\n")
			return err
		}))
	}()
	_, err = r.s.objects.Put(ctx, m.Bucket, m.Key, pr, obs.PutOptions{ContentType: "application/json"})
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("write %s: %w", m, err)
	}
	next := r.cur
	next.Phase = phasePublish
	doc := r.doc
	doc.Lines = lines
	if err := r.commit(ctx, next, func(tx *sql.Tx) error { return r.s.repo.setDoc(ctx, tx, r.v.ID, doc) }); err != nil {
		return err
	}
	r.doc = doc
	return nil
}

// publish makes the output a version of the work path's dataset, then
// drops the run's pending work.
func (r *run) publish(ctx context.Context) error {
	next := r.cur
	next.Phase = phaseDone
	w := r.doc.Spec.Work
	if w.Type != SourceDataset {
		return r.commit(ctx, next, func(tx *sql.Tx) error { return r.s.repo.clearWork(ctx, tx, r.v.ID) })
	}
	m := obs.Path{Bucket: r.out.Bucket, Key: r.out.Key + outputManifest}
	c := r.v.Counts
	for wait := time.Second; ; wait = min(2*wait, 15*time.Second) {
		plan, err := r.s.versions.PlanManifestVersion(ctx, r.t.ProjectID, w.DatasetID, versions.ManifestVersionRequest{
			Name: w.VersionName, Description: r.v.Description, Manifest: m, Lines: r.doc.Lines,
			Added: c.Added, Modified: c.Modified, Deleted: c.Deleted})
		if err != nil {
			return err
		}
		plan.Requester = r.who
		doc := r.doc
		err = r.commit(ctx, next, func(tx *sql.Tx) error {
			id, err := r.s.versions.CommitVersionTx(ctx, tx, plan)
			if err != nil {
				return err
			}
			doc.DatasetVersionID, doc.DatasetVersionName = id, plan.Name()
			if err := r.s.repo.setDoc(ctx, tx, r.v.ID, doc); err != nil {
				return err
			}
			return r.s.repo.clearWork(ctx, tx, r.v.ID)
		})
		fe, isDomain := dataset.AsError(err)
		// Another version of the dataset is being published, or a
		// default name was taken meanwhile: wait, then try again.
		if isDomain && (fe.Code == versions.CodePublishing || fe.Code == versions.CodeVersionExists && w.VersionName == "") {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		if err != nil {
			return err
		}
		r.doc = doc
		return nil
	}
}
