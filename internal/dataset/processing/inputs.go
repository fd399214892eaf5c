package processing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/obs"
)

// Reading a version's inputs. Each input gives its samples in a fixed
// order: a dataset's by seq (up to the seq fixed when the version was
// created), a manifest's by line, a directory's as its listing and the
// layout rules make them. A resumed run skips what its checkpoint covers:
// samples up to a seq, or the first n of the input.

// sample is one input sample on its way through a run.
type sample struct {
	// pos is a dataset sample's seq, else its ordinal in its input
	// (from 1).
	pos      int64
	id       string
	source   string // obs://bucket/key
	obj      obs.Path
	rel      string // its name below the output's Data/
	labels   []annotation.Label
	metadata map[string]any
	usage    string
	// problem says why the sample cannot be processed ("" when it can).
	problem string
	// acc is the requester's permissions as of the sample's page.
	acc dataset.ObjectAccess
}

// emitFunc hands a sample to the run; an error stops the input.
type emitFunc func(sample) error

// readInput emits the samples of input i after the checkpoint: seq after
// for a dataset's samples, else the first done are skipped.
func (r *run) readInput(ctx context.Context, i int, after, done int64, emit emitFunc) error {
	in := r.doc.Spec.Inputs[i]
	prefix := ""
	if len(r.doc.Spec.Inputs) > 1 {
		prefix = fmt.Sprintf("input%d/", i+1)
	}
	switch {
	case in.Type == SourceDataset && in.VersionID == "":
		return r.readDataset(ctx, in, prefix, after, emit)
	case in.Type == SourceDataset || in.Manifest:
		m, err := obs.ParsePath(in.Path)
		if err != nil {
			return fmt.Errorf("input %d path %q: %w", i, in.Path, err)
		}
		var bases []obs.Path
		if in.DatasetID != "" {
			if d, err := r.s.ds.LoadRow(ctx, r.s.db, r.t.ProjectID, in.DatasetID, false); err == nil {
				bases = d.Inputs()
			}
		} else {
			bases = []obs.Path{{Bucket: m.Bucket, Key: m.Key[:strings.LastIndexByte(m.Key, '/')+1]}}
		}
		return r.readManifest(ctx, m, bases, prefix, done, emit)
	default:
		dir, err := obs.ParsePath(in.Path)
		if err != nil {
			return fmt.Errorf("input %d path %q: %w", i, in.Path, err)
		}
		return r.readDir(ctx, dir, prefix, done, emit)
	}
}

// relOf names a file below the output's Data/: its path below the first
// base directory it is in, else its bucket and key.
func relOf(obj obs.Path, bases []obs.Path) string {
	for _, b := range bases {
		if dataset.Within(obj, b) && len(obj.Key) > len(b.Key) {
			return obj.Key[len(b.Key):]
		}
	}
	return obj.Bucket + "/" + obj.Key
}

// objectSample fills a sample's object from its source.
func objectSample(sm *sample, source string, bases []obs.Path, prefix string) {
	sm.source = source
	if strings.HasPrefix(source, dataset.ContentScheme) {
		sm.problem = "the sample is inline text, not an image file"
		return
	}
	p, err := obs.ParsePath(source)
	if err != nil || p.Key == "" || strings.HasSuffix(p.Key, "/") {
		sm.problem = fmt.Sprintf("the sample's source %q is not an object path", source)
		return
	}
	sm.obj, sm.source = p, p.String()
	sm.rel = prefix + relOf(p, bases)
}

// readDataset emits a dataset's samples up to the version's MaxSeq.
func (r *run) readDataset(ctx context.Context, in input, prefix string, after int64, emit emitFunc) error {
	d, err := r.s.ds.LoadRow(ctx, r.s.db, r.t.ProjectID, in.DatasetID, false)
	if err != nil {
		return err
	}
	sel, err := r.s.ds.Select(ctx, d, dataset.SampleQuery{}, in.MaxSeq)
	if err != nil {
		return err
	}
	bases := d.Inputs()
	for {
		page, last, done, err := sel.Page(ctx, after, 500)
		if err != nil {
			return err
		}
		acc, err := r.access(ctx)
		if err != nil {
			return err
		}
		for _, it := range page {
			sm := sample{pos: it.Seq, id: it.ID, labels: it.Labels, metadata: it.Metadata, usage: it.Usage, acc: acc}
			objectSample(&sm, it.Source, bases, prefix)
			if err := emit(sm); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
		after = last
	}
}

// readManifest emits a manifest's samples, with the boxes of their VOC
// files; sources relative to the manifest are below its directory.
func (r *run) readManifest(ctx context.Context, m obs.Path, bases []obs.Path, prefix string, skip int64, emit emitFunc) error {
	acc, err := r.access(ctx)
	if err != nil {
		return err
	}
	if reason, err := dataset.Denied(ctx, acc, obs.ActionGetObject, m); err != nil || reason != "" {
		if err != nil {
			return err
		}
		return invalid("The manifest %s cannot be read: %s", m, reason)
	}
	rc, _, err := r.s.objects.Get(ctx, m.Bucket, m.Key, nil)
	if errors.Is(err, obs.ErrNotFound) || errors.Is(err, obs.ErrBucketNotFound) {
		return invalid("The manifest %s does not exist.", m)
	}
	if err != nil {
		return fmt.Errorf("read manifest %s: %w", m, err)
	}
	defer rc.Close()
	rd := formats.NewReader(rc)
	dir := m.Key[:strings.LastIndexByte(m.Key, '/')+1]
	var n int64
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var le *formats.LineError
		if err != nil && !errors.As(err, &le) {
			return fmt.Errorf("read manifest %s: %w", m, err)
		}
		n++
		if n <= skip {
			continue
		}
		if n%500 == 0 {
			if acc, err = r.access(ctx); err != nil {
				return err
			}
		}
		sm := sample{pos: n, acc: acc}
		if err != nil {
			sm.source, sm.id = fmt.Sprintf("%s line %d", m, rd.Line()), dataset.SampleID(fmt.Sprintf("%s#%d", m, n))
			sm.problem = err.Error()
			if err := emit(sm); err != nil {
				return err
			}
			continue
		}
		src := rec.Source
		if !strings.HasPrefix(src, "obs://") && !strings.HasPrefix(src, "s3://") && !strings.HasPrefix(src, "/") &&
			!strings.HasPrefix(src, dataset.ContentScheme) {
			src = "obs://" + m.Bucket + "/" + path.Clean(dir+src)
		}
		sm.labels, sm.metadata, sm.usage = rec.Labels, rec.Metadata, rec.Usage
		objectSample(&sm, src, bases, prefix)
		sm.id = rec.ID
		if sm.id == "" {
			sm.id = dataset.SampleID(sm.source)
		}
		if sm.problem == "" && len(rec.AnnotationLocs) > 0 {
			sm.problem = r.addVOC(ctx, acc, &rec)
			sm.labels, sm.metadata = rec.Labels, rec.Metadata
		}
		if err := emit(sm); err != nil {
			return err
		}
	}
}

// addVOC reads a record's VOC files into its labels; the reason a file
// cannot be read is the sample's problem.
func (r *run) addVOC(ctx context.Context, acc dataset.ObjectAccess, rec *formats.Record) string {
	locs := rec.AnnotationLocs
	rec.AnnotationLocs = nil
	for _, loc := range locs {
		p, err := obs.ParsePath(loc.Loc)
		if err != nil {
			return fmt.Sprintf("annotation-loc %q is not an object path", loc.Loc)
		}
		doc, problem, err := r.readVOC(ctx, acc, p)
		if err != nil || problem != "" {
			if err != nil {
				return fmt.Sprintf("read %s: %v", p, err)
			}
			return problem
		}
		rec.AddVOC(loc, doc)
	}
	return ""
}

// readVOC reads and parses a VOC file the requester may read.
func (r *run) readVOC(ctx context.Context, acc dataset.ObjectAccess, p obs.Path) (formats.VOC, string, error) {
	reason, err := dataset.Denied(ctx, acc, obs.ActionGetObject, p)
	if err != nil || reason != "" {
		return formats.VOC{}, reason, err
	}
	rc, _, err := r.s.objects.Get(ctx, p.Bucket, p.Key, nil)
	if errors.Is(err, obs.ErrNotFound) {
		return formats.VOC{}, fmt.Sprintf("the label file %s does not exist", p), nil
	}
	if err != nil {
		return formats.VOC{}, "", err
	}
	defer rc.Close()
	doc, err := formats.ParseVOC(io.LimitReader(rc, formats.MaxVOCSize+1))
	if err != nil {
		return formats.VOC{}, fmt.Sprintf("the label file %s: %v", p, err), nil
	}
	return doc, "", nil
}

// readDir emits the images of a directory with the labels its layout
// gives (a class directory, or a VOC or label-list file beside an image).
// A file the requester may not read is a failed sample.
func (r *run) readDir(ctx context.Context, dir obs.Path, prefix string, skip int64, emit emitFunc) error {
	typ := dataset.TypeImageClassification
	if r.doc.Spec.Scenario == ScenarioDetection {
		typ = dataset.TypeObjectDetection
	}
	cls, err := formats.NewClassifier(formats.DirOptions{Prefix: dir.Key, DatasetType: typ, MaxSize: MaxObjectSize})
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	bases := []obs.Path{dir}
	var n int64
	send := func(sm sample) error {
		n++
		if n <= skip {
			return nil
		}
		sm.pos = n
		return emit(sm)
	}
	var acc dataset.ObjectAccess
	flush := func(out formats.Output) error {
		for _, ds := range out.Samples {
			obj := obs.Path{Bucket: dir.Bucket, Key: ds.Key}
			sm := sample{labels: ds.Labels, acc: acc}
			objectSample(&sm, obj.String(), bases, prefix)
			sm.id = dataset.SampleID(sm.source)
			if ds.AnnotationKey != "" {
				sm.problem = r.dirLabels(ctx, acc, obs.Path{Bucket: dir.Bucket, Key: ds.AnnotationKey}, ds.AnnotationFormat, &sm)
			}
			if err := send(sm); err != nil {
				return err
			}
		}
		return nil
	}
	after := ""
	for {
		if acc, err = r.access(ctx); err != nil {
			return err
		}
		if reason, err := dataset.Denied(ctx, acc, obs.ActionListBucket, obs.Path{Bucket: dir.Bucket}); err != nil || reason != "" {
			if err != nil {
				return err
			}
			return invalid("The directory %s cannot be listed: %s", dir, reason)
		}
		page, err := r.s.objects.List(ctx, dir.Bucket, obs.ListOptions{Prefix: dir.Key, StartAfter: after})
		if errors.Is(err, obs.ErrBucketNotFound) {
			return invalid("OBS bucket does not exist: %s.", dir.Bucket)
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", dir, err)
		}
		for _, o := range page.Objects {
			if strings.HasSuffix(o.Key, "/") {
				continue
			}
			obj := obs.Path{Bucket: dir.Bucket, Key: o.Key}
			reason, err := dataset.Denied(ctx, acc, obs.ActionGetObject, obj)
			if err != nil {
				return err
			}
			if reason != "" {
				sm := sample{problem: reason, acc: acc}
				objectSample(&sm, obj.String(), bases, prefix)
				sm.id, sm.problem = dataset.SampleID(sm.source), reason
				if err := send(sm); err != nil {
					return err
				}
				continue
			}
			out, err := cls.Add(o.Key, o.Size)
			if err != nil {
				return fmt.Errorf("classify %s: %w", dir, err)
			}
			if err := flush(out); err != nil {
				return err
			}
		}
		if !page.Truncated {
			return flush(cls.Flush())
		}
		after = page.NextStartAfter
	}
}

// dirLabels reads the label file of a directory's image into the sample;
// the result is the sample's problem.
func (r *run) dirLabels(ctx context.Context, acc dataset.ObjectAccess, p obs.Path, format string, sm *sample) string {
	switch format {
	case formats.FormatVOC:
		doc, problem, err := r.readVOC(ctx, acc, p)
		if err != nil {
			return fmt.Sprintf("read %s: %v", p, err)
		}
		if problem != "" {
			return problem
		}
		sm.labels = append(sm.labels, formats.LabelsFromVOC(doc)...)
		return ""
	case formats.FormatLabelList:
		reason, err := dataset.Denied(ctx, acc, obs.ActionGetObject, p)
		if err != nil || reason != "" {
			if err != nil {
				return fmt.Sprintf("read %s: %v", p, err)
			}
			return reason
		}
		rc, _, err := r.s.objects.Get(ctx, p.Bucket, p.Key, nil)
		if err != nil {
			return fmt.Sprintf("read %s: %v", p, err)
		}
		defer rc.Close()
		names, err := formats.ParseLabelList(io.LimitReader(rc, 1<<20))
		if err != nil {
			return fmt.Sprintf("the label file %s: %v", p, err)
		}
		sm.labels = nil
		for _, n := range names {
			sm.labels = append(sm.labels, annotation.Label{Name: n, Type: annotation.TypeImageClassification})
		}
		return ""
	}
	return fmt.Sprintf("labels in %s files (%s) are not read by data processing; convert them to Pascal VOC", format, p)
}
