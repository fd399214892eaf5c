package versions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/obs"
)

// ListVersionLabels answers the label list of a version: the dataset's
// labels as they were when the version was published.
func (s *Service) ListVersionLabels(ctx context.Context, projectID, datasetID, versionID string, offset, limit int) (int, []dataset.Label, error) {
	r, err := s.ds.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return 0, nil, err
	}
	v, err := s.loadVersion(ctx, s.db, r.ID, versionID)
	if err != nil {
		return 0, nil, err
	}
	if v.Status != VersionNormal {
		return 0, nil, dataset.Invalid(CodeVersionNotNormal, "Dataset version status must be normal: version %s is not.", v.Name)
	}
	labels, err := s.repo.versionLabels(ctx, v.ID)
	if err != nil {
		return 0, nil, err
	}
	total := len(labels)
	labels = labels[min(offset, total):min(offset+limit, total)]
	if labels == nil {
		labels = []dataset.Label{}
	}
	return total, labels, nil
}

// ListVersionSamples answers the sample list of a version from its
// manifest. Without filters a page seeks through the line index and reads
// at most lineStride lines more than it returns. With sample_state,
// label_name, label_type or sample_type it reads the manifest from the
// start up to the page (and label_type and sample_type read it whole once
// more to count): O(offset) lines, plus, for label filters on detection
// and segmentation versions, one VOC file per line read. sample_size and
// sample_time are not part of a manifest and are 0. Search conditions,
// scores and markers are not supported on versions.
func (s *Service) ListVersionSamples(ctx context.Context, projectID, datasetID, versionID string, q dataset.SampleQuery) (int64, []*dataset.Sample, error) {
	r, err := s.ds.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return 0, nil, err
	}
	v, err := s.loadVersion(ctx, s.db, r.ID, versionID)
	if err != nil {
		return 0, nil, err
	}
	if v.Status != VersionNormal {
		return 0, nil, dataset.Invalid(CodeVersionNotNormal, "Dataset version status must be normal: version %s is not.", v.Name)
	}
	switch {
	case len(q.Conditions) > 0:
		return 0, nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(search_conditions): not supported with version_id.")
	case q.LowScore != nil || q.HighScore != nil:
		return 0, nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(low_score, high_score): not supported with version_id.")
	case q.Marker != "":
		return 0, nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(marker): not supported with version_id; page with offset.")
	case len(q.IDs) > 0:
		return 0, nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(samples): not supported with version_id.")
	}
	if q.TeamState || v.Total == 0 {
		return 0, []*dataset.Sample{}, nil
	}
	index, err := s.repo.lineIndex(ctx, v.ID)
	if err != nil {
		return 0, nil, err
	}
	vr := &versionReader{s: s, v: v, index: index, q: q}
	return vr.page(ctx)
}

// versionReader pages a version's manifest.
type versionReader struct {
	s     *Service
	v     *versionRow
	index []int64
	q     dataset.SampleQuery
}

func (vr *versionReader) filtered() bool {
	q := vr.q
	return q.State != nil || q.LabelName != "" || q.LabelType != nil || q.SampleType != nil
}

// count is the number of matching lines, from the version's counters
// when they answer it.
func (vr *versionReader) count(ctx context.Context) (int64, error) {
	q, v := vr.q, vr.v
	if q.LabelType == nil && q.SampleType == nil {
		switch {
		case q.LabelName != "":
			if q.State != nil && *q.State != dataset.StateLabeled {
				return 0, nil
			}
			for _, ls := range v.Doc.LabelStats {
				if ls.Name == q.LabelName {
					return ls.SampleCount, nil
				}
			}
			return 0, nil
		case q.State == nil:
			return v.Total, nil
		case *q.State == dataset.StateLabeled:
			return v.Annotated, nil
		case *q.State == dataset.StateUnlabeled:
			return v.Total - v.Annotated, nil
		}
		return 0, nil // a version holds no label waiting for confirmation
	}
	var n int64
	err := vr.scan(ctx, 0, func(int64, *vline) bool { n++; return true })
	return n, err
}

func (vr *versionReader) page(ctx context.Context) (int64, []*dataset.Sample, error) {
	q := vr.q
	count, err := vr.count(ctx)
	if err != nil {
		return 0, nil, err
	}
	// Matches are numbered in manifest order; a descending page is the
	// same range counted from the end.
	lo, hi := int64(q.Offset), int64(q.Offset)+int64(q.Limit)
	if !q.Asc {
		lo, hi = count-hi, count-int64(q.Offset)
	}
	lo, hi = max(lo, 0), min(hi, count)
	var lines []*vline
	if lo >= hi {
		return count, []*dataset.Sample{}, nil
	}
	if vr.filtered() {
		var m int64
		err = vr.scan(ctx, 0, func(_ int64, vl *vline) bool {
			if m >= lo && m < hi {
				lines = append(lines, vl)
			}
			m++
			return m < hi
		})
	} else {
		err = vr.scan(ctx, lo, func(line int64, vl *vline) bool {
			lines = append(lines, vl)
			return line+1 < hi
		})
	}
	if err != nil {
		return 0, nil, err
	}
	out := make([]*dataset.Sample, 0, len(lines))
	for _, vl := range lines {
		if err := vr.fillVOC(ctx, vl); err != nil {
			return 0, nil, err
		}
		out = append(out, vl.sm)
	}
	if !q.Asc {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return count, out, nil
}

// vline is a line of a version's manifest as a sample, with the VOC files
// that hold its boxes until fillVOC reads them.
type vline struct {
	sm    *dataset.Sample
	state int // labeled or not, as the line's annotations say
	locs  []formats.AnnotationLoc
}

// scan reads the manifest from line start (0-based) and calls fn with
// each line that matches the filters until fn returns false.
func (vr *versionReader) scan(ctx context.Context, start int64, fn func(line int64, vl *vline) bool) error {
	m := vr.v.manifest()
	k := start / lineStride
	if k > int64(len(vr.index)) {
		k = int64(len(vr.index))
	}
	var off int64
	line := int64(0)
	if k > 0 {
		off, line = vr.index[k-1], k*lineStride
	}
	if off >= vr.v.Doc.ManifestSz {
		return nil
	}
	rc, _, err := vr.s.objects.Get(ctx, m.Bucket, m.Key, &obs.Range{Offset: off, Length: -1})
	if err != nil {
		return fmt.Errorf("read version manifest %s: %w", m, err)
	}
	defer rc.Close()
	rd := formats.NewReader(rc)
	for ; ; line++ {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read version manifest %s line %d: %w", m, line+1, err)
		}
		if line < start {
			continue
		}
		vl := lineOfRecord(rec)
		ok, err := vr.match(ctx, vl)
		if err != nil {
			return err
		}
		if ok && !fn(line, vl) {
			return nil
		}
	}
}

// match applies the filters to a line; label filters on lines whose labels
// live in VOC files read those first.
func (vr *versionReader) match(ctx context.Context, vl *vline) (bool, error) {
	q, sm := vr.q, vl.sm
	if q.SampleType != nil && sm.SampleType != *q.SampleType {
		return false, nil
	}
	if q.State != nil && vl.state != *q.State {
		return false, nil
	}
	if q.LabelName == "" && q.LabelType == nil {
		return true, nil
	}
	if err := vr.fillVOC(ctx, vl); err != nil {
		return false, err
	}
	for _, l := range sm.Labels {
		if (q.LabelName == "" || l.Name == q.LabelName) && (q.LabelType == nil || l.Type == *q.LabelType) {
			return true, nil
		}
	}
	return false, nil
}

// fillVOC adds the labels of a line's VOC files to its sample.
func (vr *versionReader) fillVOC(ctx context.Context, vl *vline) error {
	locs, sm := vl.locs, vl.sm
	vl.locs = nil
	for _, loc := range locs {
		p, err := obs.ParsePath(loc.Loc)
		if err != nil {
			return fmt.Errorf("version %s: annotation-loc %q: %w", vr.v.Name, loc.Loc, err)
		}
		rc, _, err := vr.s.objects.Get(ctx, p.Bucket, p.Key, nil)
		if err != nil {
			return fmt.Errorf("read VOC file %s: %w", loc.Loc, err)
		}
		doc, err := formats.ParseVOC(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("read VOC file %s: %w", loc.Loc, err)
		}
		rec := formats.Record{Metadata: sm.Metadata}
		rec.AddVOC(loc, doc)
		sm.Labels = append(sm.Labels, rec.Labels...)
		sm.Metadata = rec.Metadata
	}
	return nil
}

// lineOfRecord is a manifest line as a sample of the list.
func lineOfRecord(rec formats.Record) *vline {
	src := rec.Source
	if p, err := obs.ParsePath(src); err == nil {
		src = p.String()
	}
	sm := &dataset.Sample{SampleID: rec.ID, Stored: src, Source: src, SampleType: rec.SampleType, SampleUsage: rec.Usage,
		Labels: rec.Labels, Metadata: rec.Metadata, SampleName: dataset.SampleName(src)}
	if sm.Labels == nil {
		sm.Labels = []annotation.Label{}
	}
	if sm.Metadata == nil {
		sm.Metadata = map[string]any{}
	}
	state := dataset.StateUnlabeled
	if len(rec.Labels) > 0 || len(rec.AnnotationLocs) > 0 {
		state = dataset.StateLabeled
	}
	sm.SampleStatus = dataset.StateName(state)
	if text, ok := rec.Content(); ok {
		sm.SampleData = []string{text}
		sm.SampleSize = int64(len(text))
	} else if i := strings.LastIndexByte(src, '/'); i >= 0 {
		sm.SampleDir = src[:i+1]
	}
	return &vline{sm: sm, state: state, locs: rec.AnnotationLocs}
}
