package versions

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/obs"
)

// SelectionSource reads the samples of a selection of the dataset's, in
// seq order.
func SelectionSource(sel *dataset.Selection) SampleSource {
	return func(ctx context.Context, after int64, limit int) ([]outSample, int64, bool, error) {
		page, last, done, err := sel.Page(ctx, after, limit)
		if err != nil {
			return nil, 0, false, err
		}
		items := make([]outSample, len(page))
		for i, it := range page {
			items[i] = outSample{pos: it.Seq, id: it.ID, source: it.Source, sampleType: it.SampleType, state: it.State,
				usage: it.Usage, updateTime: it.UpdateTime, labels: it.Labels, metadata: it.Metadata}
		}
		return items, last, done, nil
	}
}

// versionSource reads a version's manifest by line number (pos is the
// 1-based line), seeking through its line index, keeping the lines of the
// state when state is set.
func (s *Service) versionSource(ctx context.Context, v *versionRow, state *int) (SampleSource, error) {
	index, err := s.repo.lineIndex(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	m := v.manifest()
	return func(ctx context.Context, after int64, limit int) ([]outSample, int64, bool, error) {
		k := min(after/lineStride, int64(len(index)))
		var off int64
		line := int64(0)
		if k > 0 {
			off, line = index[k-1], k*lineStride
		}
		if off >= v.Doc.ManifestSz {
			return nil, after, true, nil
		}
		rc, _, err := s.objects.Get(ctx, m.Bucket, m.Key, &obs.Range{Offset: off, Length: -1})
		if err != nil {
			return nil, 0, false, fmt.Errorf("read version manifest %s: %w", m, err)
		}
		defer rc.Close()
		rd := formats.NewReader(rc)
		var items []outSample
		for read := 0; read < limit; {
			rec, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return items, line, true, nil
			}
			if err != nil {
				return nil, 0, false, fmt.Errorf("read version manifest %s line %d: %w", m, line+1, err)
			}
			line++
			if line <= after {
				continue
			}
			read++
			src := rec.Source
			if p, err := obs.ParsePath(src); err == nil {
				src = p.String()
			}
			it := outSample{pos: line, id: rec.ID, source: src, sampleType: rec.SampleType, usage: rec.Usage,
				labels: rec.Labels, vocLocs: rec.AnnotationLocs, metadata: rec.Metadata, state: dataset.StateUnlabeled}
			if len(rec.Labels) > 0 || len(rec.AnnotationLocs) > 0 {
				it.state = dataset.StateLabeled
			}
			if state == nil || *state == it.state {
				items = append(items, it)
			}
		}
		return items, line, line >= v.Total, nil
	}, nil
}
