package dataset

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/store"
)

// Seams of the team labeling room (package dataset/teamtask): it keeps
// its labelers' work beside the dataset, reads the samples it hands out by
// seq, checks labels against the dataset's label set before it stores
// them, and writes accepted labels into the dataset in its own
// transaction.

// Seq is the sample's position in its dataset (what rooms key on).
func (sm *Sample) Seq() int64 { return sm.seq }

// SamplesBySeq reads samples of the dataset by seq; seqs that name no
// sample are absent from the map.
func (s *Service) SamplesBySeq(ctx context.Context, datasetID string, seqs []int64) (map[int64]*Sample, error) {
	out := make(map[int64]*Sample, len(seqs))
	for start := 0; start < len(seqs); start += 500 {
		chunk := seqs[start:min(start+500, len(seqs))]
		list, args := seqList(s.db, []any{datasetID}, chunk)
		query := `SELECT ` + sampleColumns + ` FROM dataset_samples x WHERE x.dataset_id=` + s.db.Param(1) + ` AND x.seq IN (` + list + `)`
		rows, err := store.QueryAll(ctx, s.db, scanSample, query, args...)
		if err != nil {
			return nil, fmt.Errorf("read samples by seq: %w", err)
		}
		for _, sm := range rows {
			out[sm.seq] = sm
		}
	}
	return out, nil
}

// SampleSeqs maps sample IDs of the dataset to their seqs; unknown IDs are
// absent.
func (s *Service) SampleSeqs(ctx context.Context, datasetID string, ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := []any{datasetID}
		ph := make([]string, len(chunk))
		for i, id := range chunk {
			args = append(args, id)
			ph[i] = s.db.Param(len(args))
		}
		_, err := store.QueryAll(ctx, s.db, func(sc store.Scanner) (struct{}, error) {
			var id string
			var seq int64
			if err := sc.Scan(&id, &seq); err != nil {
				return struct{}{}, err
			}
			out[id] = seq
			return struct{}{}, nil
		}, `SELECT id, seq FROM dataset_samples WHERE dataset_id=`+s.db.Param(1)+` AND id IN (`+strings.Join(ph, ",")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("find samples: %w", err)
		}
	}
	return out, nil
}

// LabelChecker checks labels for samples of one dataset against its type
// and its label set as they are stored now.
type LabelChecker struct {
	r  *Row
	ix *labelIndex
}

// NewLabelChecker loads the dataset's label set for checking.
func (s *Service) NewLabelChecker(ctx context.Context, r *Row) (*LabelChecker, error) {
	ix, err := s.repo.loadLabelIndex(ctx, s.db, r)
	if err != nil {
		return nil, err
	}
	return &LabelChecker{r: r, ix: ix}, nil
}

// Check validates a sample's labels the way a label update does, except
// that a label the dataset lacks is refused rather than created: a team
// labels with the dataset's label set. field names the item in errors.
func (c *LabelChecker) Check(field string, sm *Sample, labels []annotation.Label) error {
	content := ""
	if text, ok := strings.CutPrefix(sm.Stored, ContentScheme); ok {
		content = text
	}
	if err := annotation.Validate(c.r.Type, content, labels); err != nil {
		return Invalid(CodeInvalid, "%s.%v", field, err)
	}
	for i, l := range labels {
		ref, ok := c.ix.byName[l.Name]
		if !ok {
			return Invalid(CodeLabelNotFound, "%s.labels[%d]: %q is not a label of the dataset", field, i, l.Name)
		}
		if ref.typ != l.Type {
			return Invalid(CodeLabelIncompatible, "%s.labels[%d]: label %q has type %d in the dataset, not %d", field, i, l.Name, ref.typ, l.Type)
		}
	}
	return nil
}

// UpdateSampleLabelsTx is UpdateSampleLabels in the caller's transaction:
// the team labeling room writes accepted labels together with the
// acceptance that accepts them.
func (s *Service) UpdateSampleLabelsTx(ctx context.Context, tx *sql.Tx, projectID, datasetID string, items []LabelUpdate) ([]error, error) {
	return s.updateSampleLabelsTx(ctx, tx, projectID, datasetID, items)
}
