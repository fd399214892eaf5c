package dataset

import (
	"context"
	"database/sql"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/obs"
)

// The seams the dataset rooms (importer, exporter, versions, and later
// team labeling, auto labeling, data processing) attach to. A room loads a
// dataset row with LoadRow (locked when it is about to write), writes
// samples with WriteSamplesTx and removes them with DeleteSamplesTx in its
// own transaction (the counters follow in the same one), walks the
// dataset's samples with SamplePage or reads a query's with Select, looks
// labels up with LabelsOf, decides objects with ObjectAccess and Denied,
// and reports a failed task with TaskMessage; the versions room keeps the
// dataset row's version columns with CountVersionTx and
// SetCurrentVersionTx. A room runs no SQL on the core's tables; everything
// else about datasets, samples and labels stays behind the core's own API.

// ExistingSamples reports which of the sample IDs are stored in the
// dataset, as the caller's transaction sees them.
func (s *Service) ExistingSamples(ctx context.Context, tx *sql.Tx, datasetID string, ids []string) (map[string]bool, error) {
	found, err := s.repo.loadExisting(ctx, tx, datasetID, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(found))
	for id := range found {
		out[id] = true
	}
	return out, nil
}

// DeleteSamplesTx deletes samples of the dataset by seq, with their label
// and attribute rows, in the caller's transaction, and maintains the
// dataset's counters. r is the dataset as LoadRow read it, locked, in that
// transaction.
func (s *Service) DeleteSamplesTx(ctx context.Context, tx *sql.Tx, r *Row, seqs []int64) error {
	return s.deleteSampleSeqs(ctx, tx, r, seqs, s.now().UnixMilli())
}

// SampleRef is a stored sample as a room walking a dataset sees it.
type SampleRef struct {
	Seq    int64
	ID     string
	Source string
}

// SamplePage returns up to limit samples of the dataset after seq
// afterSeq, in seq order (afterSeq 0: from the first). An empty page is
// the end.
func (s *Service) SamplePage(ctx context.Context, datasetID string, afterSeq int64, limit int) ([]SampleRef, error) {
	return s.repo.samplePage(ctx, datasetID, afterSeq, limit)
}

// LabelsOf is the dataset's label set as it is stored now.
func (s *Service) LabelsOf(ctx context.Context, datasetID string) ([]Label, error) {
	return s.labels(ctx, s.db, datasetID)
}

// Inputs are the dataset's input directories (its data sources').
func (r *Row) Inputs() []obs.Path {
	var out []obs.Path
	for _, src := range r.Doc.DataSources {
		if p, err := obs.ParsePath(src.DataPath); err == nil && src.DataPath != "" {
			out = append(out, p)
		}
	}
	return out
}

// TaskMessage is what a failed task of a room tells its client: the step
// and a domain error's message; other causes (the database, object
// storage) are logged with their detail and not shown.
func (s *Service) TaskMessage(ctx context.Context, step string, err error) string {
	if de, ok := AsError(err); ok {
		return step + ": " + de.Msg
	}
	s.log.ErrorContext(ctx, "dataset task failed", "step", step, "err", err)
	return step + " failed: internal error, see the server log"
}

// Selection is the samples a query selects among the first maxSeq of a
// dataset, which a room reads page by page in seq order (an export, the
// publishing of a version). Samples added after maxSeq are not in it, so
// that a task resumed later writes what it would have written at first.
type Selection struct {
	s      *Service
	r      *Row
	q      SampleQuery
	f      *sampleFilter
	maxSeq int64
}

// Select checks a query against the dataset's labels (a bad condition is
// the request's fault) and returns its selection up to maxSeq. A
// team-labeling state selects nothing: Atelier has no team labeling yet.
func (s *Service) Select(ctx context.Context, r *Row, q SampleQuery, maxSeq int64) (*Selection, error) {
	ix, err := s.repo.loadLabelIndex(ctx, s.db, r)
	if err != nil {
		return nil, err
	}
	f, err := buildSampleFilter(r, ix, q)
	if err != nil {
		return nil, err
	}
	if q.TeamState {
		f.none = true
	}
	return &Selection{s: s, r: r, q: q, f: f, maxSeq: maxSeq}, nil
}

// Count counts the selection: from the counters when no sample was added
// since maxSeq, else by an index scan.
func (sel *Selection) Count(ctx context.Context) (int64, error) {
	f := sel.f
	if f.none {
		return 0, nil
	}
	if sel.r.SampleSeq == sel.maxSeq {
		return sel.s.countSamples(ctx, sel.r, -1, sel.q, f)
	}
	return sel.s.repo.countSelection(ctx, f, sel.maxSeq)
}

// StoredSample is a sample of a selection as a room writes it out.
type StoredSample struct {
	Seq        int64
	ID         string
	Source     string // obs://bucket/key or content://text
	SampleType int
	State      int
	Usage      string
	UpdateTime int64
	Labels     []annotation.Label
	Metadata   map[string]any
}

// Page returns up to limit samples of the selection after seq after, in
// seq order; last is the seq read up to and done reports the end.
func (sel *Selection) Page(ctx context.Context, after int64, limit int) (items []StoredSample, last int64, done bool, err error) {
	f := sel.f
	if f.none {
		return nil, after, true, nil
	}
	items, err = sel.s.repo.selectionPage(ctx, f, after, sel.maxSeq, limit)
	if err != nil {
		return nil, 0, false, err
	}
	last = after
	if len(items) > 0 {
		last = items[len(items)-1].Seq
	}
	return items, last, len(items) < limit, nil
}

// The versions room's bookkeeping on the dataset row: how many versions it
// has, the number of the next default name, and which one is current.

// CountVersionTx counts a version added (moving the next default version
// number past next, 0 for no name of that form) or removed, in the
// caller's transaction.
func (s *Service) CountVersionTx(ctx context.Context, tx *sql.Tx, datasetID string, added bool, next int) error {
	return s.repo.countVersion(ctx, tx, datasetID, added, next, s.now().UnixMilli())
}

// SetCurrentVersionTx makes a version the dataset's current one (id ""
// for none) in the caller's transaction; touch also marks the dataset
// updated (a version just published).
func (s *Service) SetCurrentVersionTx(ctx context.Context, tx *sql.Tx, datasetID, versionID, versionName string, touch bool) error {
	var now int64
	if touch {
		now = s.now().UnixMilli()
	}
	return s.repo.setCurrentVersion(ctx, tx, datasetID, versionID, versionName, now)
}

// CurrentVersion is the ID of the dataset's current version ("" for
// none), read through q (the database or a transaction).
func (s *Service) CurrentVersion(ctx context.Context, q rowQuerier, datasetID string) (string, error) {
	return s.repo.currentVersion(ctx, q, datasetID)
}
