package importer

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// taskError is what a failed task tells its clients: a domain error's
// message; anything else (store or storage trouble) is logged here and
// reported without detail, since task messages reach API callers.
func (s *Service) taskError(ctx context.Context, t *tasks.Task, err error) error {
	if err == nil || ctx.Err() != nil || errors.Is(err, tasks.ErrLeaseLost) {
		return err
	}
	if de, ok := dataset.AsError(err); ok {
		return errors.New(de.Msg)
	}
	s.log.ErrorContext(ctx, "dataset task failed", "task", t.ID, "kind", t.Kind, "err", err)
	return errors.New("internal error; the server log has the details")
}

// importFailed is a task error the caller can act on.
func importFailed(format string, args ...any) *dataset.Error {
	return dataset.Invalid(CodeImportFailed, format, args...)
}

// runImport imports a directory or a manifest, from the checkpoint on.
func (s *Service) runImport(ctx context.Context, t *tasks.Task, p tasks.Progress) error {
	var prm importParams
	if err := json.Unmarshal(t.Params, &prm); err != nil {
		return fmt.Errorf("decode import task %s: %w", t.ID, err)
	}
	src, err := obs.ParsePath(prm.Path)
	if err != nil {
		return fmt.Errorf("import task %s path: %w", t.ID, err)
	}
	im, err := s.newImporter(ctx, t, p, prm.DatasetID, prm.BatchSize)
	if err != nil {
		return err
	}
	defer im.close()
	im.annotations, im.onlyExisting, im.difficultOnly = prm.Annotations, !prm.Samples, prm.DifficultOnly
	im.opts = dataset.WriteOptions{Unconfirmed: prm.Unconfirmed, KeepExisting: prm.KeepExisting}
	im.included, im.excluded, im.requester = prm.Included, prm.Excluded, prm.Requester
	im.labelFormat = prm.LabelFormat
	if prm.Manifest {
		err = im.importManifest(ctx, src)
	} else {
		err = im.importDir(ctx, 0, src)
	}
	if err != nil {
		return err
	}
	return im.finish(ctx)
}

// runSync scans each data source for new files, then removes the samples
// whose files are gone; a resumed run goes on with the phase and source
// its checkpoint names.
func (s *Service) runSync(ctx context.Context, t *tasks.Task, p tasks.Progress) error {
	var prm syncParams
	if err := json.Unmarshal(t.Params, &prm); err != nil {
		return fmt.Errorf("decode sync task %s: %w", t.ID, err)
	}
	im, err := s.newImporter(ctx, t, p, prm.DatasetID, prm.BatchSize)
	if err != nil {
		return err
	}
	defer im.close()
	// Files already in the dataset keep their samples and labels; new ones
	// bring the labels their layout gives.
	im.annotations, im.labelFormat, im.requester = prm.Annotations, prm.LabelFormat, prm.Requester
	im.opts = dataset.WriteOptions{KeepExisting: true}
	sources := make([]obs.Path, len(prm.Sources))
	for i, src := range prm.Sources {
		if sources[i], err = obs.ParsePath(src); err != nil {
			return fmt.Errorf("sync task %s source: %w", t.ID, err)
		}
	}
	if !im.cur.Removing {
		for i := im.cur.Source; i < len(sources); i++ {
			if i > im.cur.Source {
				// A new source: its listing starts from the beginning.
				im.cur = importCursor{Source: i, Stats: im.cur.Stats}
			}
			if err := im.importDir(ctx, i, sources[i]); err != nil {
				return err
			}
		}
	}
	if err := im.removeMissing(ctx, sources); err != nil {
		return err
	}
	return im.finish(ctx)
}

// importer runs one import or one sync into one dataset.
type importer struct {
	s         *Service
	p         tasks.Progress
	projectID string
	ds        *dataset.Row
	batchSize int
	now       int64
	// What to import.
	annotations   bool
	onlyExisting  bool // import_samples=false: update samples that exist
	difficultOnly bool
	included      []LabelRef
	excluded      []LabelRef
	requester     *dataset.Requester
	labelFormat   *dataset.LabelFormat
	opts          dataset.WriteOptions
	// cur is the last committed checkpoint.
	cur importCursor
	// bulk writes every batch on one connection (see inTx).
	bulk *store.BulkWriter
}

// inTx runs fn in a transaction on the importer's bulk writer, which holds
// one connection for the whole task (see store.BulkWriter).
func (im *importer) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return im.bulk.InTx(ctx, fn)
}

// close gives the importer's connection back to the pool as it was.
func (im *importer) close() { im.bulk.Close() }

func (s *Service) newImporter(ctx context.Context, t *tasks.Task, p tasks.Progress, datasetID string, batchSize int) (*importer, error) {
	r, err := s.ds.LoadRow(ctx, s.db, t.ProjectID, datasetID, false)
	if err != nil {
		if de, ok := dataset.AsError(err); ok && de.Kind == dataset.KindNotFound {
			return nil, importFailed("The dataset %s no longer exists.", datasetID)
		}
		return nil, err
	}
	if batchSize <= 0 {
		batchSize = ImportBatch
	}
	im := &importer{s: s, p: p, projectID: t.ProjectID, ds: r, batchSize: batchSize, now: s.now().UnixMilli(), bulk: s.db.BulkWriter(s.log)}
	if t.Cursor != "" {
		if err := json.Unmarshal([]byte(t.Cursor), &im.cur); err != nil {
			return nil, fmt.Errorf("decode the checkpoint of task %s: %w", t.ID, err)
		}
	}
	im.publish()
	return im, nil
}

// publish makes the figures visible while the task runs.
func (im *importer) publish() {
	data, err := json.Marshal(im.cur.Stats)
	if err == nil {
		im.p.SetResult(data)
	}
}

// finish records the final figures.
func (im *importer) finish(ctx context.Context) error {
	st := &im.cur.Stats
	r, err := im.s.ds.LoadRow(ctx, im.s.db, im.projectID, im.ds.ID, false)
	if err != nil {
		return fmt.Errorf("read the dataset's sample count: %w", err)
	}
	st.Total = r.Total
	im.p.SetTotal(st.Imported + st.Failed + st.Skipped)
	im.publish()
	return nil
}

// batch is what the producer hands the writer: samples, the failures met
// on the way, and the position after them.
type batch struct {
	inputs []dataset.SampleInput
	// prepared are the inputs checked and encoded by the producer's
	// worker (nil: the writer does it). A manifest's batch keeps only
	// them (inputs nil): a window holds tens of thousands.
	prepared *dataset.PreparedSamples
	where    []string // the item each input came from ("line 12", "obs://b/k")
	lines    []int64  // manifests: the line of each input
	size     int64    // manifests: the chunk's bytes
	fails    []tasks.Failure
	skipped  int64 // samples a filter left out
	files    int64 // objects examined
	bytes    int64
	cursor   importCursor // position after the batch; the writer adds the figures
	// err, set by a producer's worker, ends the task: a decision that
	// could not be made, not a line's fault.
	err error
}

// prepare checks and encodes a batch's inputs on the producer's side, so
// that the writer, which holds the database's write lock, only resolves
// labels and writes. An import that keeps only existing samples filters
// its inputs in the write transaction and prepares them there.
func (im *importer) prepare(b *batch) {
	if b.err == nil && len(b.inputs) > 0 && !im.onlyExisting {
		b.prepared = dataset.PrepareSamples(im.ds.Type, b.inputs, im.opts)
	}
}

func (b *batch) fail(item, reason string) {
	b.fails = append(b.fails, tasks.Failure{Item: item, Reason: reason})
}

func (b *batch) items() int { return b.count() + len(b.fails) }

// count is the number of samples to write: the inputs, or their
// preparation alone.
func (b *batch) count() int {
	if b.inputs == nil && b.prepared != nil {
		return b.prepared.Len()
	}
	return len(b.inputs)
}

// write commits one batch: its samples with the counters they change, its
// failures, and the checkpoint after it, in one transaction.
func (im *importer) write(ctx context.Context, b *batch) error {
	if b.err != nil {
		return b.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var st importStats
	err := im.inTx(ctx, func(tx *sql.Tx) error {
		st = im.cur.Stats
		st.Skipped += b.skipped
		st.Files += b.files
		st.Bytes += b.bytes
		in, where := b.inputs, b.where
		if im.onlyExisting && len(in) > 0 {
			var left int64
			var err error
			if in, where, left, err = im.existingOnly(ctx, tx, in, where); err != nil {
				return err
			}
			st.Skipped += left
		}
		var fails []tasks.Failure
		var ok int64
		// A window's batch has its preparation only; onlyExisting may
		// have filtered the inputs down to none.
		if len(in) > 0 || in == nil && b.prepared != nil && b.prepared.Len() > 0 {
			// b.prepared is nil when onlyExisting filtered the inputs.
			res, err := im.s.ds.WritePreparedTx(ctx, tx, im.projectID, im.ds.ID, b.prepared, in, im.opts)
			if err != nil {
				return fmt.Errorf("write %d samples: %w", len(in), err)
			}
			for i, wr := range res {
				if wr.Err != nil {
					fails = append(fails, tasks.Failure{Item: where[i], Reason: itemReason(wr.Err, i, where)})
					continue
				}
				ok++
				if wr.Created {
					st.Added++
				}
				labeled := b.prepared != nil && b.prepared.Labeled(i) || b.prepared == nil && len(in[i].Labels) > 0
				if labeled && (wr.Created || !im.opts.KeepExisting) {
					if im.opts.Unconfirmed {
						st.Unconfirmed++
					} else {
						st.Annotated++
					}
				}
			}
		}
		st.Imported += ok
		st.Failed += int64(len(b.fails) + len(fails))
		cur := b.cursor
		cur.Stats = st
		data, err := json.Marshal(cur)
		if err != nil {
			return fmt.Errorf("encode checkpoint: %w", err)
		}
		// The batch's counts go to the task before the checkpoint that
		// covers them.
		for _, f := range b.fails {
			im.p.Fail(f.Item, f.Reason)
		}
		for _, f := range fails {
			im.p.Fail(f.Item, f.Reason)
		}
		im.p.Succeed(ok)
		return im.p.CheckpointTx(ctx, tx, string(data))
	})
	if err != nil {
		return err
	}
	im.cur = b.cursor
	im.cur.Stats = st
	im.publish()
	return nil
}

// existingOnly keeps the inputs whose samples exist (import_samples=false
// updates labels, adds nothing) and counts the others.
func (im *importer) existingOnly(ctx context.Context, tx *sql.Tx, in []dataset.SampleInput, where []string) ([]dataset.SampleInput, []string, int64, error) {
	ids := make([]string, len(in))
	for i := range in {
		ids[i] = dataset.SampleID(in[i].Source)
	}
	found, err := im.s.ds.ExistingSamples(ctx, tx, im.ds.ID, ids)
	if err != nil {
		return nil, nil, 0, err
	}
	var keep []dataset.SampleInput
	var keepWhere []string
	for i := range in {
		if found[ids[i]] {
			keep = append(keep, in[i])
			keepWhere = append(keepWhere, where[i])
		}
	}
	return keep, keepWhere, int64(len(in) - len(keep)), nil
}

var samplesRef = regexp.MustCompile(`samples\[(\d+)\]`)

// itemReason turns WriteSamples' message about input i, which names inputs
// by their index in the batch, into one that names lines and files.
func itemReason(err error, i int, where []string) string {
	msg := err.Error()
	if de, ok := dataset.AsError(err); ok {
		msg = de.Msg
	}
	msg = strings.TrimLeft(strings.TrimPrefix(msg, fmt.Sprintf("samples[%d]", i)), ".: ")
	return samplesRef.ReplaceAllStringFunc(msg, func(m string) string {
		j, err := strconv.Atoi(m[len("samples[") : len(m)-1])
		if err != nil || j >= len(where) {
			return m
		}
		return where[j]
	})
}

// keepLabels applies the label filters (included_labels, excluded_labels)
// to a sample's labels.
func (im *importer) keepLabels(labels []annotation.Label) bool {
	match := func(refs []LabelRef) bool {
		for _, l := range labels {
			for _, r := range refs {
				if l.Name == r.Name && (r.Type == nil || *r.Type == l.Type) {
					return true
				}
			}
		}
		return false
	}
	if match(im.excluded) {
		return false
	}
	return len(im.included) == 0 || match(im.included)
}

// needLabels reports whether labels must be read: to import them or to
// filter on them.
func (im *importer) needLabels() bool {
	return im.annotations || len(im.included) > 0 || len(im.excluded) > 0
}

// admit decides a sample's fate by its labels: left out by a filter, or
// kept with its labels (none without import_annotations).
func (im *importer) admit(labels []annotation.Label) ([]annotation.Label, bool) {
	if !im.keepLabels(labels) {
		return nil, false
	}
	if !im.annotations {
		return nil, true
	}
	return labels, true
}
