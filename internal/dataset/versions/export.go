package versions

import (
	"context"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// What the exporter room uses of this one: the manifest engine and the
// reading of a published version.

// ManifestSpec is an export's manifest: where it goes, how its lines are
// written and which files go beside it.
type ManifestSpec struct {
	Manifest obs.Path // the manifest file
	Header   string   // prefixes object locations in the manifest: obs:// or s3://
	// Split assigns TRAIN or EVAL to labeled samples by this ratio when
	// set; nil keeps the stored usage.
	Split     *float64
	ClearHard bool     // drop the hard-example attributes
	Layout    int      // LayoutManifest, LayoutTree or LayoutTile
	Out       obs.Path // the export directory (tree, tile)
	VOCDir    obs.Path // VOC files that sit beside no copy
	// Reads are objects the whole job reads (a version's manifest): a
	// denial fails the job before it writes anything.
	Reads     []obs.Path
	Requester *dataset.Requester
}

// WriteManifest writes the manifest of the samples src gives, for the
// task t, resuming after its checkpoint.
func (s *Service) WriteManifest(ctx context.Context, t *tasks.Task, p tasks.Progress, r *dataset.Row, spec ManifestSpec, src SampleSource) error {
	j := &manifestJob{s: s, task: t, p: p, r: r, requester: spec.Requester, manifest: spec.Manifest, opts: lineOptions{
		header: spec.Header, split: spec.Split, clearHard: spec.ClearHard, layout: spec.Layout,
		out: spec.Out, inputs: r.Inputs(), datasetType: r.Type, vocDir: spec.VOCDir,
	}}
	for _, obj := range spec.Reads {
		if err := j.may(ctx, obs.ActionGetObject, obj); err != nil {
			return err
		}
	}
	_, err := j.run(ctx, src)
	return err
}

// Published is a version in the normal state, as an export reads it.
type Published struct {
	Name             string
	Total, Annotated int64
	// Manifest is the version's manifest file.
	Manifest obs.Path
	v        *versionRow
}

// Published returns a version of the dataset that an export may read: one
// that exists and is in the normal state.
func (s *Service) Published(ctx context.Context, datasetID, versionID string) (*Published, error) {
	v, err := s.loadVersion(ctx, s.db, datasetID, versionID)
	if err != nil {
		return nil, err
	}
	if v.Status != VersionNormal {
		return nil, dataset.Invalid(CodeVersionNotNormal, "Dataset version status must be normal: version %s is not.", v.Name)
	}
	return &Published{Name: v.Name, Total: v.Total, Annotated: v.Annotated, Manifest: v.manifest(), v: v}, nil
}

// Source reads the version's manifest, keeping the lines of the state when
// state is set.
func (s *Service) Source(ctx context.Context, pv *Published, state *int) (SampleSource, error) {
	return s.versionSource(ctx, pv.v, state)
}
