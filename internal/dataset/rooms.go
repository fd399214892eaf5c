package dataset

import (
	"context"
	"database/sql"
	"fmt"
)

// The seams the dataset rooms (importer, exporter, versions, and later
// team labeling, auto labeling, data processing) attach to. A room loads a
// dataset row with LoadRow (locked when it is about to write), writes
// samples with WriteSamplesTx and removes them with DeleteSamplesTx in its
// own transaction (the counters follow in the same one), reads the
// dataset's samples page by page with SamplePage, and decides objects with
// ObjectAccess and Denied. Everything else about samples and labels stays
// behind the core's own API.

// ExistingSamples reports which of the sample IDs are stored in the
// dataset, as the caller's transaction sees them.
func (s *Service) ExistingSamples(ctx context.Context, tx *sql.Tx, datasetID string, ids []string) (map[string]bool, error) {
	found, err := loadExisting(ctx, s.db, tx, datasetID, ids)
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
// rows, in the caller's transaction, and maintains the dataset's counters.
// r is the dataset as LoadRow read it, locked, in that transaction.
func (s *Service) DeleteSamplesTx(ctx context.Context, tx *sql.Tx, r *Row, seqs []int64) error {
	return deleteSampleSeqs(ctx, s.db, tx, r, seqs, s.now().UnixMilli())
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
	rows, err := s.db.QueryContext(ctx, `SELECT seq, id, source FROM dataset_samples WHERE dataset_id=$1 AND seq>$2
		ORDER BY seq LIMIT $3`, datasetID, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("list the dataset's samples: %w", err)
	}
	defer rows.Close()
	var page []SampleRef
	for rows.Next() {
		var r SampleRef
		if err := rows.Scan(&r.Seq, &r.ID, &r.Source); err != nil {
			return nil, fmt.Errorf("list the dataset's samples: %w", err)
		}
		page = append(page, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the dataset's samples: %w", err)
	}
	return page, nil
}
