package importer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/dataset/imageprobe"
	"github.com/atelier-dev/atelier/internal/dataset/pipeline"
	"github.com/atelier-dev/atelier/internal/obs"
)

// ---- Directories ----

// keyTracker follows which listed objects are done (written as samples,
// failed, or consumed as label files) so that a checkpoint can say where to
// resume: the classifier holds some objects until their partner files
// arrive, so "the last listed key" is not a safe place.
type keyTracker struct {
	queue []string           // listed keys, oldest first, from head on
	head  int                // queue[:head] are done and forgotten
	info  map[string]objInfo // listed keys not yet done
	done  map[string]bool    // keys done while an older one is not
	after string             // every key up to here is done
}

type objInfo struct {
	size int64
	mod  int64
}

func (k *keyTracker) listed(key string, size, mod int64) {
	k.queue = append(k.queue, key)
	k.info[key] = objInfo{size, mod}
}

// resolve marks a listed key done and returns what was listed of it; ok is
// false for a key not listed (or already done).
func (k *keyTracker) resolve(key string) (objInfo, bool) {
	info, ok := k.info[key]
	if !ok {
		return objInfo{}, false
	}
	delete(k.info, key)
	k.done[key] = true
	for k.head < len(k.queue) && k.done[k.queue[k.head]] {
		delete(k.done, k.queue[k.head])
		k.after = k.queue[k.head]
		k.head++
	}
	if k.head > 4096 && k.head > len(k.queue)/2 {
		k.queue = append(k.queue[:0], k.queue[k.head:]...)
		k.head = 0
	}
	return info, true
}

// dirScan is one scan of a directory, feeding batches to the writer.
type dirScan struct {
	im      *importer
	dir     obs.Path
	source  int
	cls     *formats.Classifier
	keys    keyTracker
	exclude string // the dataset's own files, when the scan covers them
	// prior are the keys beyond After the checkpoint covers; priorLeft
	// those not listed again yet.
	prior     map[string]bool
	priorLeft map[string]bool
	partial   string
	partialN  int64
	file      string // text file being read
	fileN     int64  // its lines so far
	yolo      yoloNames
	// acc decides for the requester while the current page is read.
	acc dataset.ObjectAccess
	b   *batch
	// emit hands a finished batch to the writer.
	emit func(*batch) error
}

// yoloNames is a YOLO directory's obj.names, read once when a label file
// first needs it.
type yoloNames struct {
	once  sync.Once
	names []string
	err   string
}

// dirItem is one classifier output with what its label file said.
type dirItem struct {
	sample  *formats.DirSample
	skipped *formats.Skipped
	labels  []annotation.Label
	meta    map[string]any
	fail    string
}

// importDir imports the samples of a directory listing from the checkpoint
// on (cursor source i): the listing and the label files are read while the
// previous batch is written.
func (im *importer) importDir(ctx context.Context, source int, dir obs.Path) error {
	return pipeline.Ordered(ctx, 1,
		func(ctx context.Context, emit func(*batch) error) error { return im.scanDir(ctx, source, dir, emit) },
		pipeline.Same[*batch], im.write)
}

// scanDir lists a directory from the checkpoint on and emits its batches.
func (im *importer) scanDir(ctx context.Context, source int, dir obs.Path, emit func(*batch) error) error {
	opts := formats.DirOptions{Prefix: dir.Key, DatasetType: im.ds.Type}
	if lf := im.labelFormat; lf != nil && im.ds.Type == dataset.TypeTextClassification {
		opts.Text = formats.TextFormat{LabelType: lf.LabelType, SampleSeparator: lf.TextSampleSeparator, LabelSeparator: lf.TextLabelSeparator}
	}
	cls, err := formats.NewClassifier(opts)
	if err != nil {
		return importFailed("The directory %s cannot be imported: %v.", dir, err)
	}
	ds := &dirScan{im: im, dir: dir, source: source, cls: cls, emit: emit, b: &batch{},
		keys:  keyTracker{info: map[string]objInfo{}, done: map[string]bool{}, after: im.cur.After},
		prior: map[string]bool{}, priorLeft: map[string]bool{}, partial: im.cur.Partial, partialN: im.cur.PartialN}
	if inner, err := obs.ParsePath(im.ds.InnerWorkPath); err == nil && inner.Bucket == dir.Bucket && strings.HasPrefix(inner.Key, dir.Key) {
		ds.exclude = inner.Key
	}
	for _, k := range im.cur.Done {
		ds.prior[k], ds.priorLeft[k] = true, true
	}
	after := im.cur.After
	for {
		// Each page is listed and read with the requester's permissions
		// as they are when the page is: a change applies from the next
		// page on.
		acc, err := im.s.ds.ObjectAccess(ctx, im.requester)
		if err != nil {
			return err
		}
		if reason, err := dataset.Denied(ctx, acc, obs.ActionListBucket, obs.Path{Bucket: dir.Bucket}); err != nil || reason != "" {
			if err != nil {
				return err
			}
			return importFailed("The directory %s cannot be listed: %s", dir, reason)
		}
		ds.acc = acc
		page, err := im.s.objects.List(ctx, dir.Bucket, obs.ListOptions{Prefix: dir.Key, StartAfter: after})
		if errors.Is(err, obs.ErrBucketNotFound) {
			return importFailed("OBS bucket does not exist: %s.", dir.Bucket)
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", dir, err)
		}
		var work []dirItem
		for _, o := range page.Objects {
			rel := o.Key[len(dir.Key):]
			if rel == "" || strings.HasSuffix(rel, "/") || ds.exclude != "" && strings.HasPrefix(o.Key, ds.exclude) {
				continue
			}
			ds.keys.listed(o.Key, o.Size, o.ModTime.UnixMilli())
			delete(ds.priorLeft, o.Key)
			// A file the requester may not read is a failed file; the
			// classifier never sees it, so it is neither a sample nor
			// the labels of one.
			reason, err := dataset.Denied(ctx, acc, obs.ActionGetObject, obs.Path{Bucket: dir.Bucket, Key: o.Key})
			if err != nil {
				return err
			}
			if reason != "" {
				if !ds.prior[o.Key] {
					ds.b.fail("obs://"+dir.Bucket+"/"+o.Key, reason)
				}
				ds.resolve(o.Key)
				continue
			}
			res, err := cls.Add(o.Key, o.Size)
			if err != nil {
				return fmt.Errorf("classify %s: %w", dir, err)
			}
			work = appendOutput(work, res)
		}
		if !page.Truncated {
			work = appendOutput(work, cls.Flush())
		}
		if err := ds.process(ctx, work); err != nil {
			return err
		}
		if !page.Truncated {
			break
		}
		after = page.NextStartAfter
	}
	return ds.cut(ctx)
}

// appendOutput copies a classifier output, whose slices the next call
// reuses.
func appendOutput(work []dirItem, o formats.Output) []dirItem {
	for i := range o.Samples {
		s := o.Samples[i]
		work = append(work, dirItem{sample: &s})
	}
	for i := range o.Skipped {
		s := o.Skipped[i]
		work = append(work, dirItem{skipped: &s})
	}
	return work
}

// process reads the label files of a page's samples concurrently and
// adds the page's items to batches in listing order.
func (ds *dirScan) process(ctx context.Context, work []dirItem) error {
	need := ds.im.needLabels()
	return pipeline.Ordered(ctx, importFetchers,
		func(ctx context.Context, emit func(*dirItem) error) error {
			for i := range work {
				if err := emit(&work[i]); err != nil {
					return err
				}
			}
			return nil
		},
		func(ctx context.Context, it *dirItem) (*dirItem, error) {
			if s := it.sample; need && s != nil && !ds.prior[s.Key] {
				switch s.AnnotationFormat {
				case formats.FormatVOC, formats.FormatLabelList, formats.FormatYOLO:
					ds.readLabels(ctx, it)
				}
			}
			return it, nil
		},
		ds.add)
}

// readLabels reads the label file of a sample.
func (ds *dirScan) readLabels(ctx context.Context, it *dirItem) {
	s := it.sample
	key := s.AnnotationKey
	rc, _, err := ds.im.s.objects.Get(ctx, ds.dir.Bucket, key, nil)
	if err != nil {
		it.fail = "label file " + key + " " + ds.im.s.readProblem(ctx, obs.Path{Bucket: ds.dir.Bucket, Key: key}, err)
		return
	}
	defer rc.Close()
	switch s.AnnotationFormat {
	case formats.FormatVOC:
		doc, err := formats.ParseVOC(rc)
		if err != nil {
			it.fail = fmt.Sprintf("label file %s: %v", key, err)
			return
		}
		it.labels = formats.LabelsFromVOC(doc)
		for i := range it.labels {
			// The dataset's type decides, as a manifest's annotation type
			// would: a detection dataset's VOC file marked segmented still
			// holds boxes of that dataset.
			it.labels[i].Type = ds.im.ds.Type
		}
		it.meta = map[string]any{annotation.MetaSize: []any{float64(doc.Size.Width), float64(doc.Size.Height), float64(doc.Size.Depth)}}
	case formats.FormatLabelList:
		names, err := formats.ParseLabelList(rc)
		if err != nil {
			it.fail = fmt.Sprintf("label file %s: %v", key, err)
			return
		}
		for _, n := range names {
			it.labels = append(it.labels, annotation.Label{Name: n, Type: annotation.TypeImageClassification})
		}
	case formats.FormatYOLO:
		names, reason := ds.yoloNames(ctx)
		if reason != "" {
			it.fail = reason
			return
		}
		w, h, err := ds.imageSize(ctx, s.Key)
		if err != nil {
			it.fail = fmt.Sprintf("the image's size is needed for its YOLO labels: %v", err)
			return
		}
		if it.labels, err = formats.LabelsFromYOLO(rc, names, w, h); err != nil {
			it.fail = fmt.Sprintf("label file %s: %v", key, err)
		}
	}
}

func (ds *dirScan) yoloNames(ctx context.Context) ([]string, string) {
	y := &ds.yolo
	y.once.Do(func() {
		key := ds.dir.Key + "obj.names"
		if reason, err := dataset.Denied(ctx, ds.acc, obs.ActionGetObject, obs.Path{Bucket: ds.dir.Bucket, Key: key}); err != nil || reason != "" {
			if err != nil {
				reason = "it could not be authorized"
				ds.im.s.log.WarnContext(ctx, "import: authorize obj.names", "err", err)
			}
			y.err = fmt.Sprintf("YOLO labels need %s at the top of the import directory: %s", key, reason)
			return
		}
		rc, _, err := ds.im.s.objects.Get(ctx, ds.dir.Bucket, key, nil)
		if err != nil {
			y.err = fmt.Sprintf("YOLO labels need %s at the top of the import directory, which %s", key, ds.im.s.readProblem(ctx, obs.Path{Bucket: ds.dir.Bucket, Key: key}, err))
			return
		}
		defer rc.Close()
		if y.names, err = formats.ParseYOLONames(rc); err != nil {
			y.err = err.Error()
		}
	})
	return y.names, y.err
}

// imageSize reads an image's width and height from its header.
func (ds *dirScan) imageSize(ctx context.Context, key string) (int, int, error) {
	rc, _, err := ds.im.s.objects.Get(ctx, ds.dir.Bucket, key, nil)
	if err != nil {
		return 0, 0, err
	}
	defer rc.Close()
	w, h, _, err := imageprobe.Size(rc)
	return w, h, err
}

// yoloFiles describe a YOLO dataset at the top of its directory: neither
// samples nor failures.
var yoloFiles = []string{"obj.names", "obj.data", "train.txt", "valid.txt"}

// add turns one classifier output into samples and failures.
func (ds *dirScan) add(ctx context.Context, it *dirItem) error {
	b := ds.dir.Bucket
	if sk := it.skipped; sk != nil {
		first := !ds.prior[sk.Key]
		if _, ok := ds.resolve(sk.Key); ok && first {
			rel := sk.Key[len(ds.dir.Key):]
			if !(ds.im.ds.Type == dataset.TypeObjectDetection && slices.Contains(yoloFiles, rel)) {
				ds.b.fail("obs://"+b+"/"+sk.Key, sk.Reason)
			}
		}
		return ds.maybeCut(ctx)
	}
	s := it.sample
	if ds.prior[s.Key] {
		ds.resolve(s.Key)
		ds.resolve(s.AnnotationKey)
		return nil
	}
	if s.SampleType == annotation.SampleText && isTextType(ds.im.ds.Type) {
		if err := ds.emitText(ctx, s); err != nil {
			return err
		}
	} else {
		ds.emitFile(it)
	}
	ds.resolve(s.Key)
	ds.resolve(s.AnnotationKey)
	return ds.maybeCut(ctx)
}

func isTextType(t int) bool {
	return t == dataset.TypeTextClassification || t == dataset.TypeNamedEntity || t == dataset.TypeTextTriplet
}

// resolve marks a key done; keys the checkpoint covered are not counted
// again.
func (ds *dirScan) resolve(key string) (objInfo, bool) {
	if key == "" {
		return objInfo{}, false
	}
	info, ok := ds.keys.resolve(key)
	if ok && !ds.prior[key] {
		ds.b.files++
		ds.b.bytes += info.size
	}
	return info, ok
}

// emitFile adds a sample that is one object.
func (ds *dirScan) emitFile(it *dirItem) {
	s := it.sample
	src := "obs://" + ds.dir.Bucket + "/" + s.Key
	if it.fail != "" {
		ds.b.fail(src, it.fail)
		return
	}
	labels, ok := ds.im.admit(append(slices.Clip(s.Labels), it.labels...))
	if !ok {
		ds.b.skipped++
		return
	}
	in := dataset.SampleInput{Source: src, SampleType: s.SampleType, Size: s.Size, SampleTime: ds.keys.info[s.Key].mod, Labels: labels}
	if labels != nil {
		in.Metadata = it.meta
	}
	ds.b.inputs = append(ds.b.inputs, in)
	ds.b.where = append(ds.b.where, src)
}

// emitText adds the samples of a text file, one per non-blank line; the
// batch may be cut within the file.
func (ds *dirScan) emitText(ctx context.Context, s *formats.DirSample) error {
	b := ds.dir.Bucket
	src := "obs://" + b + "/" + s.Key
	rc, _, err := ds.im.s.objects.Get(ctx, b, s.Key, nil)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ds.b.fail(src, ds.im.s.readProblem(ctx, obs.Path{Bucket: b, Key: s.Key}, err))
		return nil
	}
	defer rc.Close()
	var lines iter.Seq2[formats.TextSample, error]
	lf := dataset.LabelFormat{}
	if ds.im.labelFormat != nil {
		lf = *ds.im.labelFormat
	}
	switch s.AnnotationFormat {
	case formats.FormatTextCombined:
		lines = formats.ParseTextClassification(rc, lf.TextSampleSeparator, lf.TextLabelSeparator)
	case formats.FormatTextResult:
		res, _, err := ds.im.s.objects.Get(ctx, b, s.AnnotationKey, nil)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			ds.b.fail(src, "label file "+s.AnnotationKey+" "+ds.im.s.readProblem(ctx, obs.Path{Bucket: b, Key: s.AnnotationKey}, err))
			return nil
		}
		defer res.Close()
		lines = formats.ZipTextResult(rc, res, lf.TextLabelSeparator)
	default:
		// Unlabeled lines: a text without a result file has every line
		// unlabeled, with the reader's checks of each line.
		lines = formats.ZipTextResult(rc, strings.NewReader(""), "")
	}
	skip := int64(0)
	if s.Key == ds.partial {
		skip, ds.partial = ds.partialN, ""
	}
	ds.file, ds.fileN = s.Key, 0
	defer func() { ds.file, ds.fileN = "", 0 }()
	mod := ds.keys.info[s.Key].mod
	for ts, err := range lines {
		ds.fileN++
		if ds.fileN <= skip {
			continue
		}
		var le *formats.LineError
		switch {
		case errors.As(err, &le):
			ds.b.fail(fmt.Sprintf("%s line %d", src, le.Line), le.Reason)
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			ds.b.fail(src, err.Error())
		default:
			var labels []annotation.Label
			for _, n := range ts.Labels {
				labels = append(labels, annotation.Label{Name: n, Type: annotation.TypeTextClassification})
			}
			kept, ok := ds.im.admit(labels)
			if !ok {
				ds.b.skipped++
				break
			}
			ds.b.inputs = append(ds.b.inputs, dataset.SampleInput{Source: dataset.ContentScheme + ts.Text, SampleType: annotation.SampleText,
				Size: int64(len(ts.Text)), SampleTime: mod, Labels: kept})
			ds.b.where = append(ds.b.where, fmt.Sprintf("%s line %d", src, ts.Line))
		}
		if err := ds.maybeCut(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (ds *dirScan) maybeCut(ctx context.Context) error {
	if ds.b.items() < ds.im.batchSize {
		return nil
	}
	if ds.partial != "" && ds.file != "" {
		// A checkpoint holds one partly written file: while the previous
		// run's is still ahead (the listing changed), this file is
		// written whole before the next cut.
		return nil
	}
	return ds.cut(ctx)
}

// cut sends the batch with the position after it.
func (ds *dirScan) cut(ctx context.Context) error {
	done := make([]string, 0, len(ds.keys.done)+len(ds.priorLeft))
	for k := range ds.keys.done {
		done = append(done, k)
	}
	for k := range ds.priorLeft {
		done = append(done, k)
	}
	sort.Strings(done)
	ds.b.cursor = importCursor{Source: ds.source, After: ds.keys.after, Done: done, Partial: ds.file, PartialN: ds.fileN}
	if ds.partial != "" && ds.file == "" {
		// The partial file of the checkpoint has not been reached again.
		ds.b.cursor.Partial, ds.b.cursor.PartialN = ds.partial, ds.partialN
	}
	ds.im.prepare(ds.b)
	if err := ds.emit(ds.b); err != nil {
		return err
	}
	ds.b = &batch{}
	return nil
}
