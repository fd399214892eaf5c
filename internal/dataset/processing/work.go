package processing

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/dataset/imageprobe"
	"github.com/atelier-dev/atelier/internal/dataset/processing/imageops"
	"github.com/atelier-dev/atelier/internal/obs"
)

// The work on one sample during the scan, and the files and manifest
// lines of the output.

// item is a sample's pending work, kept in its result row between the
// scan and the whole-set phases: what the output needs of it, and the
// fingerprint, features or inspection the decision compares.
type item struct {
	Source   string             `json:"source,omitempty"`
	Rel      string             `json:"rel,omitempty"`
	Labels   []annotation.Label `json:"labels,omitempty"`
	Metadata map[string]any     `json:"metadata,omitempty"`
	Usage    string             `json:"usage,omitempty"`
	FP       *fingerprint       `json:"fp,omitempty"`
	// Feature is the feature vector, float32 little-endian.
	Feature []byte      `json:"feature,omitempty"`
	Inspect *inspection `json:"inspect,omitempty"`
}

type fingerprint struct {
	SHA256        []byte `json:"sha256"`
	PHash         uint64 `json:"phash"`
	Luma          uint8  `json:"luma"`
	Width, Height int
	Bytes         int
}

type inspection struct {
	Format        string `json:"format"`
	Width, Height int
	Bytes         int
}

func encodeFeature(f []float32) []byte {
	b := make([]byte, 4*len(f))
	for i, v := range f {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func decodeFeature(b []byte) []float32 {
	f := make([]float32, len(b)/4)
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return f
}

// outcome is what the scan made of one input sample.
type outcome struct {
	pos int64
	key string
	// rows are the sample's result, then those of the samples it added.
	rows   []*resultRow
	counts counts
	// failure says why the sample failed ("" when it did not).
	failure string
}

// failed makes an outcome a failed sample: left out of the output, with
// why.
func (o *outcome) failed(reason string) *outcome {
	row := o.rows[0]
	row.Property, row.Failed, row.Item = PropDeleted, true, nil
	row.Description = append(row.Description, []string{"failed", reason})
	o.rows = o.rows[:1]
	o.counts = counts{Origin: 1, Deleted: 1, Failed: 1}
	o.failure = reason
	return o
}

// sampleProblem is a problem of one sample: it fails, and the run goes on.
type sampleProblem struct{ reason string }

func (e *sampleProblem) Error() string { return e.reason }

func problemf(format string, args ...any) error {
	return &sampleProblem{reason: fmt.Sprintf(format, args...)}
}

// process is the scan's work on one sample.
func (r *run) process(ctx context.Context, sm sample) (*outcome, error) {
	o := &outcome{pos: sm.pos, key: sm.source, counts: counts{Origin: 1}}
	o.rows = []*resultRow{{SampleID: sm.id, OriginSource: sm.source}}
	if sm.problem != "" {
		return o.failed(sm.problem), nil
	}
	err := r.work(ctx, sm, o)
	var sp *sampleProblem
	if errors.As(err, &sp) {
		return o.failed(sp.reason), nil
	}
	if err != nil {
		return nil, fmt.Errorf("sample %s: %w", sm.source, err)
	}
	return o, nil
}

func (r *run) work(ctx context.Context, sm sample, o *outcome) error {
	data, err := r.read(ctx, sm.acc, sm.obj)
	if err != nil {
		return err
	}
	row := o.rows[0]
	is := imageops.Sample{Key: sm.id, Name: path.Base(sm.obj.Key), Data: data, Labels: sm.labels, Metadata: sm.metadata}
	if r.kind == imageops.Validation {
		return r.validate(ctx, sm, is, o)
	}
	if r.validator != nil {
		in := r.validator.Inspect(is)
		if imageops.Removes(in.Findings) {
			row.Property, row.Description = PropDeleted, findingLines(in.Findings)
			o.counts.Deleted++
			return nil
		}
	}
	switch r.kind {
	case imageops.Augmentation:
		return r.augment(ctx, sm, is, o)
	}
	it := &item{Source: sm.source, Rel: sm.rel, Labels: sm.labels, Metadata: sm.metadata, Usage: sm.usage}
	switch r.ops[0].Operator().Name {
	case "SimDeduplication":
		fp, err := imageops.Hash(is)
		if err != nil {
			return problemf("%v", err)
		}
		it.FP = &fingerprint{SHA256: fp.SHA256[:], PHash: fp.PHash, Luma: fp.Luma, Width: fp.Width, Height: fp.Height, Bytes: fp.Bytes}
	default: // RRD, PCC
		f, err := r.featuresOf(data)
		if err != nil {
			return problemf("%v", err)
		}
		it.Feature = encodeFeature(f)
	}
	row.Property, row.Item = propPending, it
	return nil
}

// featuresOf decodes an image and computes its feature vector.
func (r *run) featuresOf(data []byte) ([]float32, error) {
	img, _, err := imageops.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("the file is not an image that decodes: %v", err)
	}
	f := r.s.features(img)
	if len(f) == 0 {
		return nil, errors.New("no features could be computed for the image")
	}
	return f, nil
}

// findingLines describes validation findings: code, action and message.
func findingLines(fs []imageops.Finding) [][]string {
	out := make([][]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, []string{string(f.Code), string(f.Action), f.Message})
	}
	return out
}

// validate runs MetaValidation on one sample: removed, repaired into a
// new file, or written unchanged.
func (r *run) validate(ctx context.Context, sm sample, is imageops.Sample, o *outcome) error {
	row := o.rows[0]
	in := r.validator.Inspect(is)
	row.Description = findingLines(in.Findings)
	row.Item = &item{Inspect: &inspection{Format: in.Format, Width: in.Width, Height: in.Height, Bytes: in.Bytes}}
	if imageops.Removes(in.Findings) {
		row.Property = PropDeleted
		o.counts.Deleted++
		return nil
	}
	checked := map[string]any{"@modelarts:data_checked": true}
	rep, ok, err := r.validator.Repair(is)
	if err != nil {
		return problemf("repair: %v", err)
	}
	if ok {
		ext := rep.Ext
		if ext == "" {
			ext = path.Ext(sm.rel)
		}
		target := r.target(stem(sm.rel) + "_checked" + ext)
		line, err := r.output(ctx, sm.acc, target, sm.id, rep.Data, rep.Labels, withMeta(rep.Metadata, checked), sm.usage)
		if err != nil {
			return err
		}
		for _, c := range rep.Changes {
			row.Description = append(row.Description, []string{"repaired", c})
		}
		row.Property, row.NewSource, row.Line = PropModified, target.String(), line
		o.counts.Modified++
		return nil
	}
	target := r.target(sm.rel)
	line, err := r.output(ctx, sm.acc, target, sm.id, is.Data, sm.labels, withMeta(sm.metadata, checked), sm.usage)
	if err != nil {
		return err
	}
	row.Property, row.NewSource, row.Line = PropReserved, target.String(), line
	o.counts.Unmodified++
	return nil
}

// augment writes a sample unchanged and the copies each augmentation
// operator makes of it.
func (r *run) augment(ctx context.Context, sm sample, is imageops.Sample, o *outcome) error {
	row := o.rows[0]
	type made struct {
		op     string
		copies []imageops.Copy
		asked  int
	}
	var all []made
	for i, a := range r.augmenters {
		cs, err := a.Augment(is)
		if err != nil {
			return problemf("%s: %v", r.ops[i].Operator().Name, err)
		}
		n, _ := r.ops[i].Value("copies").(int)
		all = append(all, made{op: r.ops[i].Operator().Name, copies: cs, asked: n})
	}
	target := r.target(sm.rel)
	line, err := r.output(ctx, sm.acc, target, sm.id, is.Data, sm.labels, sm.metadata, sm.usage)
	if err != nil {
		return err
	}
	row.Property, row.NewSource, row.Line = PropReserved, target.String(), line
	o.counts.Unmodified++
	for _, m := range all {
		if len(m.copies) < m.asked {
			row.Description = append(row.Description, []string{m.op, fmt.Sprintf("%d of %d copies not made: a box would have been lost", m.asked-len(m.copies), m.asked)})
		}
		for _, c := range m.copies {
			ct := r.target(stem(sm.rel) + "_" + m.op + "_" + strconv.Itoa(c.Index) + c.Ext)
			id := dataset.SampleID(ct.String())
			line, err := r.output(ctx, sm.acc, ct, id, c.Data, c.Labels, c.Metadata, sm.usage)
			if err != nil {
				return err
			}
			desc := [][]string{{"use " + m.op + " augmentation"}, {c.Description}}
			if c.Dropped > 0 {
				desc = append(desc, []string{fmt.Sprintf("%d box(es) left the image and were dropped", c.Dropped)})
			}
			o.rows = append(o.rows, &resultRow{SampleID: id, Property: PropAdded, OriginSource: sm.source, NewSource: ct.String(),
				Description: desc, Line: line})
			o.counts.Added++
		}
	}
	return nil
}

// read reads a sample's file for the requester.
func (r *run) read(ctx context.Context, acc dataset.ObjectAccess, obj obs.Path) ([]byte, error) {
	reason, err := dataset.Denied(ctx, acc, obs.ActionGetObject, obj)
	if err != nil {
		return nil, err
	}
	if reason != "" {
		return nil, &sampleProblem{reason: reason}
	}
	if reason := r.s.ds.CheckObjectKey(obj); reason != "" {
		return nil, &sampleProblem{reason: "the sample's file " + reason}
	}
	rc, info, err := r.s.objects.Get(ctx, obj.Bucket, obj.Key, nil)
	if errors.Is(err, obs.ErrNotFound) || errors.Is(err, obs.ErrBucketNotFound) {
		return nil, problemf("the file %s does not exist", obj)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", obj, err)
	}
	defer rc.Close()
	if info.Size > MaxObjectSize {
		return nil, problemf("the file %s is %d bytes, more than the %d a processed file may have", obj, info.Size, MaxObjectSize)
	}
	data, err := io.ReadAll(io.LimitReader(rc, MaxObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", obj, err)
	}
	return data, nil
}

// put writes a file of the output for the requester.
func (r *run) put(ctx context.Context, acc dataset.ObjectAccess, p obs.Path, data []byte) error {
	reason, err := dataset.Denied(ctx, acc, obs.ActionPutObject, p)
	if err != nil {
		return err
	}
	if reason != "" {
		return &sampleProblem{reason: reason}
	}
	if _, err := r.s.objects.Put(ctx, p.Bucket, p.Key, bytes.NewReader(data), obs.PutOptions{}); err != nil {
		if errors.Is(err, obs.ErrInvalidKey) || errors.Is(err, obs.ErrKeyConflict) {
			return problemf("cannot write %s: %v", p, err)
		}
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// target is a file of the output's Data/ directory.
func (r *run) target(rel string) obs.Path {
	return obs.Path{Bucket: r.data.Bucket, Key: r.data.Key + rel}
}

// stem is a name without its extension.
func stem(name string) string { return strings.TrimSuffix(name, path.Ext(name)) }

// withMeta is metadata with extra keys set.
func withMeta(m, extra map[string]any) map[string]any {
	out := make(map[string]any, len(m)+len(extra))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// output writes one sample of the output (its file and, for boxes, its
// Pascal VOC file beside it) and returns its manifest line.
func (r *run) output(ctx context.Context, acc dataset.ObjectAccess, target obs.Path, id string, data []byte, labels []annotation.Label,
	metadata map[string]any, usage string) (string, error) {
	if err := r.put(ctx, acc, target, data); err != nil {
		return "", err
	}
	rec := formats.Record{Source: target.String(), ID: id, Usage: usage, SampleType: annotation.SampleImage, Labels: labels, Metadata: metadata}
	var boxes []annotation.Label
	for _, l := range labels {
		if l.Type == annotation.TypeObjectDetection || l.Type == annotation.TypeImageSegmentation {
			boxes = append(boxes, l)
		}
	}
	if len(boxes) > 0 {
		w, h, _, err := imageprobe.Size(bytes.NewReader(data))
		if err != nil {
			return "", problemf("read the size of %s: %v", target, err)
		}
		doc, err := formats.VOCFromLabels(path.Base(target.Key), w, h, 3, boxes)
		if err != nil {
			return "", problemf("labels of %s: %v", target, err)
		}
		var buf bytes.Buffer
		if err := formats.WriteVOC(&buf, doc); err != nil {
			return "", problemf("labels of %s: %v", target, err)
		}
		voc := obs.Path{Bucket: target.Bucket, Key: stem(target.Key) + ".xml"}
		if err := r.put(ctx, acc, voc, buf.Bytes()); err != nil {
			return "", err
		}
		typ := annotation.TypeObjectDetection
		if doc.Segmented {
			typ = annotation.TypeImageSegmentation
		}
		rec.AnnotationLocs = []formats.AnnotationLoc{{Loc: voc.String(), Type: typ, AnnotatedBy: boxes[0].AnnotatedBy}}
	}
	var buf bytes.Buffer
	w := formats.NewWriter(&buf)
	if err := w.Write(rec); err != nil {
		return "", problemf("%v", err)
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}
