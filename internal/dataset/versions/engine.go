package versions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"sync"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// The manifest engine: what publishing and exports share.

// Layouts of the files written beside a manifest.
const (
	LayoutManifest = 0 // the manifest and VOC files only
	LayoutTree     = 1 // a folder per classification label (export_format 1)
	LayoutTile     = 2 // each file with its label file beside it (export_format 2)
	layoutData     = 3 // a version's copies under its data/ directory
)

// Sizes of the engine's work: samples read per query and concurrent
// object writes per page.
const (
	exportPageSize = 2000
	ioWorkers      = 8
)

// DefaultPartLines is how many lines a part holds unless
// Options.PartLines says otherwise, and so how much a resumed run may
// redo.
const DefaultPartLines = 100_000

// lineOptions say how a sample becomes a manifest line.
type lineOptions struct {
	// header prefixes object locations in the manifest: obs:// or s3://.
	header string
	// split assigns TRAIN or EVAL to labeled samples by this ratio when
	// set (unlabeled ones get no usage); nil keeps the stored usage.
	split *float64
	// keepUsage, with split, leaves a sample that has a usage alone.
	keepUsage bool
	// clearHard drops the hard-example attributes of samples and labels.
	clearHard bool
	// dropUnconfirmed writes samples whose labels wait for confirmation
	// as unlabeled: a version's labels are confirmed ones.
	dropUnconfirmed bool
	layout          int
	out             obs.Path // export directory (tree, tile)
	dataDir         obs.Path // copies of a version (layoutData)
	vocDir          obs.Path // VOC files that sit beside no copy
	inputs          []obs.Path
	datasetType     int
}

// outSample is one sample on its way into a manifest.
type outSample struct {
	// pos orders the samples and is what a checkpoint records: the seq of
	// a stored sample, the line number of a version's.
	pos        int64
	id         string
	source     string // obs://bucket/key or content://text
	sampleType int
	state      int
	usage      string
	updateTime int64
	labels     []annotation.Label
	// vocLocs are the VOC files of a version's line, copied to the export.
	vocLocs  []formats.AnnotationLoc
	metadata map[string]any
}

// SampleSource returns at most limit samples whose position follows
// after, in order: last is the position read up to (samples a filter left
// out included) and done reports the end.
type SampleSource func(ctx context.Context, after int64, limit int) (items []outSample, last int64, done bool, err error)

// sampleFailure is a sample the engine could not write: it is counted as
// failed and the job goes on.
type sampleFailure struct{ reason string }

func (e *sampleFailure) Error() string { return e.reason }

func sampleFailuref(format string, args ...any) error {
	return &sampleFailure{reason: fmt.Sprintf(format, args...)}
}

// manifestJob writes one manifest.
type manifestJob struct {
	s        *Service
	task     *tasks.Task
	p        tasks.Progress
	r        *dataset.Row
	manifest obs.Path
	opts     lineOptions
	// stats, for versions, count what was written.
	stats *versionStats
	// requester is who asked for the job; acc decides for them while a
	// page is written (read again for every page, so that a changed
	// grant applies from the next page on).
	requester *dataset.Requester
	acc       dataset.ObjectAccess
}

// may checks an action the whole job depends on (reading a version's
// manifest, writing the manifest), before the job starts: a denial fails
// the job with the action and the resource named.
func (j *manifestJob) may(ctx context.Context, action string, p obs.Path) error {
	acc, err := j.s.ds.ObjectAccess(ctx, j.requester)
	if err != nil {
		return err
	}
	reason, err := dataset.Denied(ctx, acc, action, p)
	if err != nil {
		return err
	}
	if reason != "" {
		return dataset.Invalid(dataset.CodeInvalid, "%s", reason)
	}
	return nil
}

// check decides an action on one object of a sample: a denial fails the
// sample, with the action and the resource named.
func (j *manifestJob) check(ctx context.Context, action string, p obs.Path) error {
	reason, err := dataset.Denied(ctx, j.acc, action, p)
	if err != nil {
		return err
	}
	if reason != "" {
		return &sampleFailure{reason: reason}
	}
	return nil
}

// jobCursor is a job's checkpoint.
type jobCursor struct {
	After int64         `json:"after"`
	Parts int           `json:"parts"`
	Done  bool          `json:"done"`
	Stats *versionStats `json:"stats,omitempty"`
}

// manifestIndex is where a written manifest's lines start.
type manifestIndex struct {
	// offsets[k] is the byte offset of line (k+1)*lineStride.
	offsets []int64
	size    int64
}

// run writes the parts after the task's checkpoint, then the manifest.
func (j *manifestJob) run(ctx context.Context, next SampleSource) (*manifestIndex, error) {
	var cur jobCursor
	if j.task.Cursor != "" {
		if err := json.Unmarshal([]byte(j.task.Cursor), &cur); err != nil {
			return nil, fmt.Errorf("decode checkpoint: %w", err)
		}
		if cur.Stats != nil && j.stats != nil {
			st := cur.Stats
			st.prevMaxSeq, st.prevTime = j.stats.prevMaxSeq, j.stats.prevTime
			if st.Usage == nil {
				st.Usage = map[string]int64{}
			}
			if st.Labels == nil {
				st.Labels = map[string]*labelCount{}
			}
			j.stats = st
		}
	}
	// The manifest is the job's output: without the right to write it,
	// nothing is worth writing. (Its parts are staged in the dataset's own
	// work directory.)
	if err := j.may(ctx, obs.ActionPutObject, j.manifest); err != nil {
		return nil, err
	}
	inner, err := obs.ParsePath(j.r.InnerWorkPath)
	if err != nil {
		return nil, fmt.Errorf("dataset %s inner work path: %w", j.r.ID, err)
	}
	temp := obs.Path{Bucket: inner.Bucket, Key: inner.Key + "temp/" + j.task.ID + "/"}
	if !cur.Done {
		if err := j.writeParts(ctx, next, &cur, temp); err != nil {
			return nil, err
		}
	}
	idx, err := j.concat(ctx, temp, cur.Parts)
	if err != nil {
		return nil, err
	}
	if err := j.s.ds.DeletePrefix(ctx, temp); err != nil {
		// The manifest is complete; leftover parts only cost space.
		j.s.log.WarnContext(ctx, "delete export parts", "task", j.task.ID, "err", err)
	}
	return idx, nil
}

type samplePage struct {
	items []outSample
	last  int64
	done  bool
	err   error
}

// writeParts reads the samples one page ahead of the encoding and writes
// parts of j.s.partLines lines, checkpointing after each.
func (j *manifestJob) writeParts(ctx context.Context, next SampleSource, cur *jobCursor, temp obs.Path) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan samplePage, 2)
	go func() {
		defer close(pages)
		after := cur.After
		for {
			// A page never spans two parts' worth of lines.
			items, last, done, err := next(rctx, after, min(exportPageSize, j.s.partLines))
			select {
			case pages <- samplePage{items, last, done, err}:
			case <-rctx.Done():
				return
			}
			if err != nil || done {
				return
			}
			after = last
		}
	}()
	enc := newEncoders(j.workers())
	for {
		var part *partWriter
		n, finished := 0, false
		after := cur.After
		for n < j.s.partLines {
			pg, ok := <-pages
			if !ok {
				finished = true
				break
			}
			if pg.err != nil {
				if part != nil {
					part.abort(pg.err)
				}
				return pg.err
			}
			if len(pg.items) > 0 {
				if part == nil {
					part = j.openPart(ctx, temp, cur.Parts+1)
				}
				if err := j.writePage(ctx, enc, pg.items, part); err != nil {
					part.abort(err)
					return err
				}
				n += len(pg.items)
			}
			after = pg.last
			if pg.done {
				finished = true
				break
			}
		}
		if part != nil {
			if err := part.close(); err != nil {
				return fmt.Errorf("write manifest part %d: %w", cur.Parts+1, err)
			}
			cur.Parts++
		}
		cur.After, cur.Done, cur.Stats = after, finished, j.stats
		data, err := json.Marshal(cur)
		if err != nil {
			return fmt.Errorf("encode checkpoint: %w", err)
		}
		j.p.Checkpoint(string(data))
		if finished {
			return nil
		}
	}
}

// workers is how many samples of a page are turned into lines at once:
// enough to overlap object writes when there are some, else one per CPU.
func (j *manifestJob) workers() int {
	o := j.opts
	if o.layout != LayoutManifest || o.datasetType == dataset.TypeObjectDetection || o.datasetType == dataset.TypeImageSegmentation || o.datasetType == dataset.TypeCustom {
		return ioWorkers
	}
	return max(1, runtime.GOMAXPROCS(0))
}

// lineResult is one sample of a page: its line or why it failed.
type lineResult struct {
	data []byte
	rec  formats.Record
	err  error
}

// writePage turns a page into lines, concurrently, and writes them in
// order.
func (j *manifestJob) writePage(ctx context.Context, enc []*lineEncoder, items []outSample, part *partWriter) error {
	acc, err := j.s.ds.ObjectAccess(ctx, j.requester)
	if err != nil {
		return err
	}
	j.acc = acc
	res := make([]lineResult, len(items))
	var wg sync.WaitGroup
	var mu sync.Mutex
	nextIdx := 0
	for w := range enc {
		wg.Add(1)
		go func(e *lineEncoder) {
			defer wg.Done()
			for {
				mu.Lock()
				i := nextIdx
				nextIdx++
				mu.Unlock()
				if i >= len(items) || ctx.Err() != nil {
					return
				}
				rec, err := j.build(ctx, &items[i])
				if err == nil {
					res[i].data, err = e.encode(rec)
				}
				res[i].rec, res[i].err = rec, err
			}
		}(enc[w])
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	var ok int64
	for i := range res {
		if err := res[i].err; err != nil {
			var ie *sampleFailure
			if !errors.As(err, &ie) {
				return fmt.Errorf("sample %s: %w", items[i].id, err)
			}
			j.p.Fail(items[i].id, ie.reason)
			if j.stats != nil {
				j.stats.fail(items[i].id, ie.reason)
			}
			continue
		}
		if err := part.write(res[i].data); err != nil {
			return fmt.Errorf("write manifest part: %w", err)
		}
		if j.stats != nil {
			j.stats.add(&items[i], &res[i].rec)
		}
		ok++
	}
	j.p.Succeed(ok)
	return nil
}

// lineEncoder turns records into manifest lines.
type lineEncoder struct {
	buf bytes.Buffer
	w   *formats.Writer
}

func newEncoders(n int) []*lineEncoder {
	out := make([]*lineEncoder, n)
	for i := range out {
		e := &lineEncoder{}
		e.w = formats.NewWriter(&e.buf)
		out[i] = e
	}
	return out
}

// encode returns the line of rec; a record the manifest cannot carry is
// an item error.
func (e *lineEncoder) encode(rec formats.Record) ([]byte, error) {
	e.buf.Reset()
	if err := e.w.Write(rec); err != nil {
		return nil, sampleFailuref("%v", err)
	}
	if err := e.w.Flush(); err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

// build makes a sample's record, writing the files it points at.
func (j *manifestJob) build(ctx context.Context, it *outSample) (formats.Record, error) {
	o := &j.opts
	labels, locs := it.labels, it.vocLocs
	if o.dropUnconfirmed && it.state == dataset.StateUnconfirmed {
		labels, locs = nil, nil
	}
	labeled := len(labels) > 0 || len(locs) > 0
	usage := it.usage
	if o.split != nil && !(o.keepUsage && usage != "") {
		usage = ""
		if labeled {
			usage = splitUsage(it.id, *o.split)
		}
	}
	meta := it.metadata
	if o.clearHard && meta != nil {
		meta = maps.Clone(meta)
		delete(meta, annotation.MetaHard)
		delete(meta, annotation.MetaHardCoefficient)
	}
	rec := formats.Record{Source: it.source, Usage: usage, ID: it.id, SampleType: it.sampleType,
		Labels: j.prepareLabels(labels, it.updateTime), Metadata: meta}
	obj, isObject := dataset.ObjectOf(it.source)
	if !isObject && !strings.HasPrefix(it.source, dataset.ContentScheme) {
		return rec, sampleFailuref("the sample's source %q is not a valid object path", it.source)
	}
	if isObject {
		// A sample stored before imports checked keys as the object
		// store does may name one that can never be read.
		if reason := j.s.ds.CheckObjectKey(obj); reason != "" {
			return rec, sampleFailuref("the sample's file %s", reason)
		}
	}
	var copies []obs.Path
	if isObject && o.layout != LayoutManifest {
		copies = j.copyTargets(obj, rec.Labels)
		for _, c := range copies {
			if err := j.copyObject(ctx, obj, c); err != nil {
				return rec, err
			}
		}
		rec.Source = copies[0].String()
	}
	if o.layout == LayoutTile && len(copies) > 0 {
		if err := j.writeLabelList(ctx, copies[0], rec.Labels); err != nil {
			return rec, err
		}
	}
	if err := j.writeVOC(ctx, it, obj, isObject, copies, &rec, locs); err != nil {
		return rec, err
	}
	rec.Source = j.located(rec.Source)
	return rec, nil
}
