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

// Versions made of a manifest. A data processing task whose output goes
// to a dataset (work_path type DATASET) makes a new version of it out of
// its output manifest: the version's samples are the manifest's lines,
// not the dataset's samples, which the task never changes. Publishing
// runs as for any version (the same task kind, engine, statistics and
// line index); only the samples' source differs.

// ManifestVersionRequest is a version to publish from a manifest.
type ManifestVersionRequest struct {
	// Name is the version's name; "" for the next default one.
	Name        string
	Description string
	// Manifest is the manifest whose lines become the version's samples,
	// Lines how many it has.
	Manifest obs.Path
	Lines    int64
	// Added, Modified and Deleted are what made the manifest out of its
	// input (a processing task's counts), shown as the version's.
	Added, Modified, Deleted int64
}

// CheckVersionName reports whether name can name a new version of the
// dataset ("" names the next default one).
func (s *Service) CheckVersionName(ctx context.Context, projectID, datasetID, name string) error {
	r, err := s.ds.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return err
	}
	if name == "" {
		return nil
	}
	if !versionNameRe.MatchString(name) {
		return dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(version_name): %q must be 1 to 32 letters, digits, underscores (_) and hyphens (-).", name)
	}
	taken, err := s.repo.nameTaken(ctx, r.ID, name)
	if err != nil {
		return err
	}
	if taken {
		return dataset.Invalid(CodeVersionExists, "Dataset version already exists: %s.", name)
	}
	return nil
}

// PlanManifestVersion validates a version made of a manifest; commit it
// with CommitVersion or CommitVersionTx.
func (s *Service) PlanManifestVersion(ctx context.Context, projectID, datasetID string, req ManifestVersionRequest) (*VersionPlan, error) {
	r, err := s.ds.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return nil, err
	}
	if err := dataset.CheckDescription("description", req.Description, versionDescForbidden); err != nil {
		return nil, err
	}
	name := req.Name
	if name == "" {
		name = fmt.Sprintf("V%03d", r.NextVersion)
	} else if !versionNameRe.MatchString(name) {
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(version_name): %q must be 1 to 32 letters, digits, underscores (_) and hyphens (-).", name)
	}
	inner, err := obs.ParsePath(r.InnerWorkPath)
	if err != nil {
		return nil, fmt.Errorf("dataset %s inner work path: %w", r.ID, err)
	}
	out := obs.Path{Bucket: inner.Bucket, Key: inner.Key + "annotation/" + name + "/"}
	return &VersionPlan{Output: out, Reads: []obs.Path{req.Manifest}, projectID: projectID, datasetID: r.ID, name: name, ratio: 1, doc: versionDoc{
		Description: req.Description, ClearHardProperty: true, Ratio: "1.00", VersionFormat: "Default", TaskType: r.Type,
		Dir: "/" + out.Bucket + "/" + out.Key, Source: "/" + req.Manifest.Bucket + "/" + req.Manifest.Key, SourceLines: req.Lines,
		Added: req.Added, Modified: req.Modified, Deleted: req.Deleted,
	}}, nil
}

// manifestSource reads a manifest line by line (pos is the 1-based line),
// with the boxes of its VOC files (annotation-loc) added to each line's
// labels, so that the engine writes them as it writes a dataset sample's.
// Reading a VOC file is decided for who: a denial fails the version. It
// keeps its reader open between pages; a call that does not continue
// where the last one stopped (a resumed run) reads from the start again.
func (s *Service) manifestSource(m obs.Path, who *dataset.Requester) SampleSource {
	var (
		rc   io.ReadCloser
		rd   *formats.Reader
		line int64
	)
	return func(ctx context.Context, after int64, limit int) ([]outSample, int64, bool, error) {
		if rd == nil || line != after {
			if rc != nil {
				rc.Close()
			}
			r, _, err := s.objects.Get(ctx, m.Bucket, m.Key, nil)
			if err != nil {
				return nil, 0, false, fmt.Errorf("read manifest %s: %w", m, err)
			}
			rc, rd, line = r, formats.NewReader(r), 0
		}
		acc, err := s.ds.ObjectAccess(ctx, who)
		if err != nil {
			return nil, 0, false, err
		}
		var items []outSample
		for len(items) < limit {
			rec, err := rd.Next()
			if errors.Is(err, io.EOF) {
				rc.Close()
				rc, rd = nil, nil
				return items, line, true, nil
			}
			if err != nil {
				return nil, 0, false, fmt.Errorf("read manifest %s line %d: %w", m, line+1, err)
			}
			line++
			if line <= after {
				continue
			}
			if err := s.addVOC(ctx, acc, &rec); err != nil {
				return nil, 0, false, err
			}
			src := rec.Source
			if p, err := obs.ParsePath(src); err == nil {
				src = p.String()
			}
			it := outSample{pos: line, id: rec.ID, source: src, sampleType: rec.SampleType, usage: rec.Usage,
				labels: rec.Labels, metadata: rec.Metadata, state: dataset.StateUnlabeled}
			if len(rec.Labels) > 0 {
				it.state = dataset.StateLabeled
			}
			items = append(items, it)
		}
		return items, line, false, nil
	}
}

// addVOC reads a record's VOC files into its labels.
func (s *Service) addVOC(ctx context.Context, acc dataset.ObjectAccess, rec *formats.Record) error {
	locs := rec.AnnotationLocs
	rec.AnnotationLocs = nil
	for _, loc := range locs {
		p, err := obs.ParsePath(loc.Loc)
		if err != nil {
			return dataset.Invalid(dataset.CodeInvalid, "annotation-loc %q: %v", loc.Loc, err)
		}
		reason, err := dataset.Denied(ctx, acc, obs.ActionGetObject, p)
		if err != nil {
			return err
		}
		if reason != "" {
			return dataset.Invalid(dataset.CodeInvalid, "%s", reason)
		}
		rc, _, err := s.objects.Get(ctx, p.Bucket, p.Key, nil)
		if err != nil {
			return fmt.Errorf("read VOC file %s: %w", loc.Loc, err)
		}
		doc, err := formats.ParseVOC(rc)
		rc.Close()
		if err != nil {
			return dataset.Invalid(dataset.CodeInvalid, "VOC file %s: %v", loc.Loc, err)
		}
		rec.AddVOC(loc, doc)
	}
	return nil
}

// Name is the planned version's name.
func (p *VersionPlan) Name() string { return p.name }
