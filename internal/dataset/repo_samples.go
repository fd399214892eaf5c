package dataset

import (
	"context"
	"fmt"
)

// repo_samples.go holds the SQL of the dataset_samples and
// dataset_sample_labels tables: the batch writers of sample and label rows
// (multi-row statements, chunked, every placeholder from db.Param), the
// loads a write or delete needs of stored samples, and the walks rooms make
// over a dataset. The sample list's filter and page queries are in
// repo_query.go.

// labelers lists up to 1000 labelers of the dataset's samples, by name.
func (rp *repo) labelers(ctx context.Context, datasetID string) ([]string, error) {
	rows, err := rp.db.QueryContext(ctx, `SELECT DISTINCT labeler FROM dataset_samples WHERE dataset_id=$1 AND labeler<>'' ORDER BY labeler LIMIT 1000`, datasetID)
	if err != nil {
		return nil, fmt.Errorf("list labelers: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, fmt.Errorf("list labelers: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
