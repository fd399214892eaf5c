package versions

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// runPublish is the handler of TaskPublish: it writes the version's
// manifest (and VOC files, and copies with export_images) through the
// export engine, then records the statistics and makes the version
// current. A failure marks the version in error.
func (s *Service) runPublish(ctx context.Context, t *tasks.Task, p tasks.Progress) error {
	var params publishParams
	if err := json.Unmarshal(t.Params, &params); err != nil {
		return fmt.Errorf("decode publish parameters: %w", err)
	}
	r, err := s.ds.LoadRow(ctx, s.db, t.ProjectID, t.ResourceID, false)
	if err != nil {
		return fmt.Errorf("publish version %s: %w", params.VersionID, err)
	}
	v, err := s.loadVersion(ctx, s.db, r.ID, params.VersionID)
	if err != nil {
		return fmt.Errorf("publish version %s: %w", params.VersionID, err)
	}
	if v.Status != VersionCreating {
		return nil // published (or failed) by an earlier run
	}
	err = s.publish(ctx, t, p, r, v, params.Requester)
	if err != nil && ctx.Err() == nil {
		msg := s.ds.TaskMessage(ctx, "publish version "+v.Name, err)
		if ferr := s.failVersion(context.WithoutCancel(ctx), v, msg); ferr != nil {
			s.log.ErrorContext(ctx, "record failed version", "version", v.ID, "err", ferr)
		}
		return errors.New(msg)
	}
	return err
}

func (s *Service) publish(ctx context.Context, t *tasks.Task, p tasks.Progress, r *dataset.Row, v *versionRow, who *dataset.Requester) error {
	ratio, _, err := ParseRatio("train_evaluate_sample_ratio", (*Ratio)(&v.Doc.Ratio))
	if err != nil {
		return err
	}
	dir := v.dir()
	var src SampleSource
	var manifest obs.Path
	if v.Doc.Source != "" {
		manifest, err = obs.ParsePath(v.Doc.Source)
		if err != nil {
			return fmt.Errorf("version %s source %q: %w", v.Name, v.Doc.Source, err)
		}
		src = s.manifestSource(manifest, who)
		p.SetTotal(v.Doc.SourceLines)
	} else {
		sel, err := s.ds.Select(ctx, r, dataset.SampleQuery{}, v.Doc.MaxSeq)
		if err != nil {
			return err
		}
		total, err := sel.Count(ctx)
		if err != nil {
			return err
		}
		p.SetTotal(total)
		src = SelectionSource(sel)
	}
	j := &manifestJob{s: s, task: t, p: p, r: r, requester: who, manifest: v.manifest(), stats: newVersionStats(v.Doc), opts: lineOptions{
		header: "obs://", split: &ratio, keepUsage: !v.Doc.RemoveSampleUsage, clearHard: v.Doc.ClearHardProperty,
		dropUnconfirmed: true, inputs: r.Inputs(), datasetType: r.Type,
		vocDir: obs.Path{Bucket: dir.Bucket, Key: dir.Key + "annotation/"},
	}}
	if v.Doc.ExportImages {
		j.opts.layout = layoutData
		j.opts.dataDir = obs.Path{Bucket: dir.Bucket, Key: dir.Key + "data/"}
	}
	if v.Doc.Source != "" {
		// The manifest's samples are new to the dataset's version
		// history: what the stats would count as added or modified is
		// the request's.
		j.stats.prevMaxSeq, j.stats.prevTime = math.MaxInt64, 0
		if err := j.may(ctx, obs.ActionGetObject, manifest); err != nil {
			return err
		}
	}
	index, err := j.run(ctx, src)
	if err != nil {
		return err
	}
	labels, err := s.ds.LabelsOf(ctx, r.ID)
	if err != nil {
		return err
	}
	st := j.stats
	d := v.Doc
	d.Multi, d.Usage, d.ManifestSz = st.Multi, st.Usage, index.size
	if d.Source == "" {
		d.Added, d.Modified = st.Added, st.Modified
		d.Deleted = max(0, d.PreviousTotal-(st.Total-st.Added))
	}
	d.LabelStats = st.labelStats(labels)
	if st.Failed > 0 {
		d.Message = fmt.Sprintf("%d sample(s) left out of the version; the first: %s", st.Failed, st.FirstFailure)
	}
	docJSON, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode version: %w", err)
	}
	labelsJSON, err := json.Marshal(labels)
	if err != nil {
		return fmt.Errorf("encode version labels: %w", err)
	}
	indexJSON, err := json.Marshal(index.offsets)
	if err != nil {
		return fmt.Errorf("encode version index: %w", err)
	}
	now := s.now().UnixMilli()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		recorded, err := s.repo.recordPublished(ctx, tx, r.ID, v.ID, st.Total, st.Annotated, string(docJSON), string(labelsJSON), string(indexJSON), now)
		if err != nil || !recorded {
			return err // !recorded: deleted or failed meanwhile
		}
		return s.ds.SetCurrentVersionTx(ctx, tx, r.ID, v.ID, v.Name, true)
	})
}

// versionStats are what publishing counts, carried in the task's cursor
// so that a resumed run counts each sample once.
type versionStats struct {
	Total     int64                  `json:"total"`
	Annotated int64                  `json:"annotated"`
	Added     int64                  `json:"added"`
	Modified  int64                  `json:"modified"`
	Multi     bool                   `json:"multi"`
	Usage     map[string]int64       `json:"usage,omitempty"`
	Labels    map[string]*labelCount `json:"labels,omitempty"`
	// Failed counts the samples left out, FirstFailure says why the first
	// one was.
	Failed       int64  `json:"failed,omitempty"`
	FirstFailure string `json:"first_failure,omitempty"`

	prevMaxSeq, prevTime int64
}

type labelCount struct {
	Type    int   `json:"type"`
	Count   int64 `json:"count"`
	Samples int64 `json:"samples"`
}

func newVersionStats(d versionDoc) *versionStats {
	return &versionStats{Usage: map[string]int64{}, Labels: map[string]*labelCount{}, prevMaxSeq: d.PreviousMaxSeq, prevTime: d.PreviousTime}
}

// add counts one sample as written.
func (st *versionStats) add(it *outSample, rec *formats.Record) {
	st.Total++
	if it.pos > st.prevMaxSeq {
		st.Added++
	} else if st.prevTime > 0 && it.updateTime > st.prevTime {
		st.Modified++
	}
	if len(rec.Labels) > 0 {
		st.Annotated++
	}
	if rec.Usage != "" {
		st.Usage[rec.Usage]++
	}
	seen := make(map[string]bool, len(rec.Labels))
	for _, l := range rec.Labels {
		c := st.Labels[l.Name]
		if c == nil {
			c = &labelCount{Type: l.Type}
			st.Labels[l.Name] = c
		}
		c.Count++
		if !seen[l.Name] {
			seen[l.Name] = true
			c.Samples++
		}
	}
	if len(seen) > 1 {
		st.Multi = true
	}
}

// fail counts a sample that could not be written.
func (st *versionStats) fail(sampleID, reason string) {
	st.Failed++
	if st.FirstFailure == "" {
		st.FirstFailure = "sample " + sampleID + ": " + reason
	}
}

// labelStats lists the counts in the order of the dataset's labels, then
// any label the samples carry that the dataset no longer lists.
func (st *versionStats) labelStats(labels []dataset.Label) []dataset.LabelStats {
	out := make([]dataset.LabelStats, 0, len(labels))
	listed := map[string]bool{}
	for _, l := range labels {
		listed[l.Name] = true
		ls := dataset.LabelStats{Name: l.Name, Property: l.Property, Attributes: l.Attributes}
		if l.Type != nil {
			ls.Type = *l.Type
		}
		if c := st.Labels[l.Name]; c != nil {
			ls.Count, ls.SampleCount = c.Count, c.Samples
		}
		if ls.Property == nil {
			ls.Property = map[string]string{}
		}
		out = append(out, ls)
	}
	var extra []string
	for name := range st.Labels {
		if !listed[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		c := st.Labels[name]
		out = append(out, dataset.LabelStats{Name: name, Type: c.Type, Count: c.Count, SampleCount: c.Samples, Property: map[string]string{}})
	}
	return out
}
