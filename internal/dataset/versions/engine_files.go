package versions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/dataset/imageprobe"
	"github.com/atelier-dev/atelier/internal/obs"
)

// located writes an obs:// location with the manifest's header.
func (j *manifestJob) located(loc string) string {
	if rest, ok := strings.CutPrefix(loc, "obs://"); ok {
		return j.opts.header + rest
	}
	return loc
}

// prepareLabels copies labels for the manifest: without hard-example
// attributes when asked, with the time the label was written
// (creation-time) when it has none: the sample's last update.
func (j *manifestJob) prepareLabels(labels []annotation.Label, updateTime int64) []annotation.Label {
	if len(labels) == 0 {
		return nil
	}
	created := ""
	if updateTime > 0 {
		created = time.UnixMilli(updateTime).UTC().Format("2006-01-02 15:04:05")
	}
	out := make([]annotation.Label, len(labels))
	for i, l := range labels {
		p := make(map[string]any, len(l.Property)+1)
		maps.Copy(p, l.Property)
		if j.opts.clearHard {
			delete(p, annotation.PropHard)
			delete(p, annotation.PropHardCoefficient)
		}
		if _, ok := p[formats.PropCreationTime]; !ok && created != "" {
			p[formats.PropCreationTime] = created
		}
		l.Property = p
		out[i] = l
	}
	return out
}

// rel is where an object sits below the dataset's input directory, or its
// bucket and key when it lies elsewhere.
func (j *manifestJob) rel(obj obs.Path) string {
	for _, in := range j.opts.inputs {
		if in.Bucket == obj.Bucket && strings.HasPrefix(obj.Key, in.Key) && len(obj.Key) > len(in.Key) {
			return obj.Key[len(in.Key):]
		}
	}
	return obj.Bucket + "/" + obj.Key
}

// classNames are the names of a sample's classification labels, the
// folders of a tree export and the lines of a tile export's label file.
func classNames(labels []annotation.Label) []string {
	var names []string
	for _, l := range labels {
		switch l.Type {
		case annotation.TypeImageClassification, annotation.TypeTextClassification, annotation.TypeSoundClassification:
			if !slices.Contains(names, l.Name) {
				names = append(names, l.Name)
			}
		}
	}
	return names
}

// copyTargets are where a sample's file is copied; the first is the one
// the manifest points at.
func (j *manifestJob) copyTargets(obj obs.Path, labels []annotation.Label) []obs.Path {
	o := &j.opts
	rel := j.rel(obj)
	switch o.layout {
	case layoutData:
		return []obs.Path{{Bucket: o.dataDir.Bucket, Key: o.dataDir.Key + rel}}
	case LayoutTree:
		// One level of folders: the label is the folder's name, so the
		// file's own directories are folded into its name.
		flat := strings.ReplaceAll(rel, "/", "_")
		names := classNames(labels)
		if len(names) == 0 {
			return []obs.Path{{Bucket: o.out.Bucket, Key: o.out.Key + flat}}
		}
		out := make([]obs.Path, len(names))
		for i, n := range names {
			out[i] = obs.Path{Bucket: o.out.Bucket, Key: o.out.Key + n + "/" + flat}
		}
		return out
	}
	return []obs.Path{{Bucket: o.out.Bucket, Key: o.out.Key + rel}}
}

// copyObject copies a sample's file; a file that is gone fails the sample.
func (j *manifestJob) copyObject(ctx context.Context, from, to obs.Path) error {
	if from == to {
		return nil
	}
	if err := j.check(ctx, obs.ActionGetObject, from); err != nil {
		return err
	}
	if err := j.check(ctx, obs.ActionPutObject, to); err != nil {
		return err
	}
	rc, _, err := j.s.objects.Get(ctx, from.Bucket, from.Key, nil)
	if errors.Is(err, obs.ErrNotFound) || errors.Is(err, obs.ErrBucketNotFound) {
		return sampleFailuref("the sample's file %s does not exist", from)
	}
	if errors.Is(err, obs.ErrInvalidKey) || errors.Is(err, obs.ErrInvalidBucket) {
		return sampleFailuref("the sample's file %s is not a valid object path", from)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", from, err)
	}
	defer rc.Close()
	if _, err := j.s.objects.Put(ctx, to.Bucket, to.Key, rc, obs.PutOptions{}); err != nil {
		if errors.Is(err, obs.ErrInvalidKey) || errors.Is(err, obs.ErrKeyConflict) {
			return sampleFailuref("cannot copy %s to %s: %v", from, to, err)
		}
		return fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
	return nil
}

// keyStem is a key without the extension of its last segment.
func keyStem(key string) string {
	base := path.Base(key)
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		return key[:len(key)-len(base)+i]
	}
	return key
}

// writeLabelList writes the classification labels of a tile export's file
// beside it, one per line, as an import reads them back.
func (j *manifestJob) writeLabelList(ctx context.Context, file obs.Path, labels []annotation.Label) error {
	names := classNames(labels)
	key := keyStem(file.Key) + ".txt"
	if len(names) == 0 || key == file.Key {
		return nil // no label, or the sample is itself a .txt file
	}
	body := strings.Join(names, "\n") + "\n"
	return j.put(ctx, obs.Path{Bucket: file.Bucket, Key: key}, []byte(body))
}

func (j *manifestJob) put(ctx context.Context, p obs.Path, data []byte) error {
	if err := j.check(ctx, obs.ActionPutObject, p); err != nil {
		return err
	}
	if _, err := j.s.objects.Put(ctx, p.Bucket, p.Key, bytes.NewReader(data), obs.PutOptions{}); err != nil {
		if errors.Is(err, obs.ErrInvalidKey) || errors.Is(err, obs.ErrKeyConflict) {
			return sampleFailuref("cannot write %s: %v", p, err)
		}
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// vocKey is where the VOC file of a sample goes: beside its copy in a
// tree or tile export, else in the VOC directory at the file's path below
// the input directory.
func (j *manifestJob) vocKey(obj obs.Path, copies []obs.Path) obs.Path {
	if len(copies) > 0 && j.opts.layout != layoutData {
		return obs.Path{Bucket: copies[0].Bucket, Key: keyStem(copies[0].Key) + ".xml"}
	}
	d := j.opts.vocDir
	return obs.Path{Bucket: d.Bucket, Key: d.Key + keyStem(j.rel(obj)) + ".xml"}
}

// writeVOC writes the Pascal VOC file of a sample's boxes and polygons
// (or copies a version's) and points the record at it.
func (j *manifestJob) writeVOC(ctx context.Context, it *outSample, obj obs.Path, isObject bool, copies []obs.Path, rec *formats.Record, locs []formats.AnnotationLoc) error {
	var boxes []annotation.Label
	for _, l := range rec.Labels {
		if l.Type == annotation.TypeObjectDetection || l.Type == annotation.TypeImageSegmentation {
			// A shape left out is the default one, as sample validation
			// takes it (prepareLabels made the property map a copy).
			if _, ok := l.Property[annotation.PropShape]; !ok {
				l.Property[annotation.PropShape] = map[int]string{annotation.TypeObjectDetection: formats.ShapeBndBox,
					annotation.TypeImageSegmentation: formats.ShapePolygon}[l.Type]
			}
			boxes = append(boxes, l)
		}
	}
	if len(boxes) == 0 && len(locs) == 0 {
		return nil
	}
	if !isObject {
		return sampleFailuref("boxes and polygons label image files, not inline text")
	}
	key := j.vocKey(obj, copies)
	if len(locs) > 0 {
		for i, loc := range locs {
			from, err := obs.ParsePath(loc.Loc)
			if err != nil {
				return sampleFailuref("annotation-loc %q: %v", loc.Loc, err)
			}
			to := key
			if i > 0 {
				to.Key = keyStem(key.Key) + fmt.Sprintf("-%d.xml", i+1)
			}
			if err := j.copyObject(ctx, from, to); err != nil {
				return err
			}
			loc.Loc = j.located(to.String())
			rec.AnnotationLocs = append(rec.AnnotationLocs, loc)
		}
		return nil
	}
	w, h, d := j.imageSize(ctx, obj, it.metadata, boxes)
	doc, err := formats.VOCFromLabels(path.Base(obj.Key), w, h, d, boxes)
	if err != nil {
		return sampleFailuref("%v", err)
	}
	var buf bytes.Buffer
	if err := formats.WriteVOC(&buf, doc); err != nil {
		return sampleFailuref("%v", err)
	}
	if err := j.put(ctx, key, buf.Bytes()); err != nil {
		return err
	}
	typ := annotation.TypeObjectDetection
	if doc.Segmented {
		typ = annotation.TypeImageSegmentation
	}
	created, _ := boxes[0].Property[formats.PropCreationTime].(string)
	rec.AnnotationLocs = append(rec.AnnotationLocs, formats.AnnotationLoc{Loc: j.located(key.String()), Type: typ,
		AnnotatedBy: boxes[0].AnnotatedBy, CreationTime: created})
	return nil
}

// imageSize is the size a VOC file gives its image: the sample's
// @modelarts:size, else what the image's header says (JPEG, PNG, GIF),
// else the extent of the shapes, so that every point lies inside.
func (j *manifestJob) imageSize(ctx context.Context, obj obs.Path, meta map[string]any, labels []annotation.Label) (w, h, d int) {
	if size, ok := meta[annotation.MetaSize].([]any); ok && len(size) >= 2 {
		dims := make([]int, 3)
		valid := true
		for i := 0; i < len(size) && i < 3; i++ {
			f, ok := size[i].(float64)
			if !ok || f < 0 || f != math.Trunc(f) {
				valid = false
			}
			dims[i] = int(f)
		}
		if valid && dims[0] > 0 && dims[1] > 0 {
			return dims[0], dims[1], dims[2]
		}
	}
	// The image's header is read only when the requester may read it.
	if reason, err := dataset.Denied(ctx, j.acc, obs.ActionGetObject, obj); err != nil || reason != "" {
		return extent(labels)
	}
	if rc, _, err := j.s.objects.Get(ctx, obj.Bucket, obj.Key, nil); err == nil {
		w, h, _, err := imageprobe.Size(rc)
		rc.Close()
		if err == nil {
			return w, h, 3
		}
	}
	return extent(labels)
}

// extent is the size that holds every point of the shapes.
func extent(labels []annotation.Label) (w, h, d int) {
	var maxX, maxY float64
	for _, l := range labels {
		visitPoints(l.Property[annotation.PropFeature], func(x, y float64) {
			maxX, maxY = max(maxX, x), max(maxY, y)
		})
	}
	return max(1, int(math.Ceil(maxX))), max(1, int(math.Ceil(maxY))), 3
}

// visitPoints calls fn with every [x, y] pair of a feature.
func visitPoints(v any, fn func(x, y float64)) {
	list, ok := v.([]any)
	if !ok {
		return
	}
	if len(list) == 2 {
		x, okx := list[0].(float64)
		y, oky := list[1].(float64)
		if okx && oky {
			fn(x, y)
			return
		}
	}
	for _, e := range list {
		visitPoints(e, fn)
	}
}
