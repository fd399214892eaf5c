package importer

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/dataset/pipeline"
	"github.com/atelier-dev/atelier/internal/obs"
)

// ---- Manifests ----

// chunk is a run of whole manifest lines: one batch's worth.
type chunk struct {
	data  []byte
	first int64   // number of the first line
	long  []int64 // lines over formats.MaxLine, left out of data (kept as blank lines)
	end   importCursor
}

// importManifest imports the manifest from the checkpoint on: a splitter
// cuts it into chunks of whole lines, workers parse chunks (and fetch the
// VOC files they point at), and the batches are written in manifest order.
func (im *importer) importManifest(ctx context.Context, file obs.Path) error {
	start := im.cur
	if start.Offset > 0 {
		info, err := im.s.objects.Head(ctx, file.Bucket, file.Key)
		if errors.Is(err, obs.ErrNotFound) {
			return importFailed("The manifest %s no longer exists.", file)
		}
		if err != nil {
			return fmt.Errorf("read manifest %s: %w", file, err)
		}
		if info.ETag != start.ETag {
			return importFailed("The manifest %s changed after line %d was imported; start a new import.", file, start.Line)
		}
		if start.Offset >= info.Size {
			return im.write(ctx, finalBatch(start, start.Stats.Files > 0))
		}
	}
	// The manifest itself is read for the requester too.
	acc, err := im.s.ds.ObjectAccess(ctx, im.requester)
	if err != nil {
		return err
	}
	if reason, err := dataset.Denied(ctx, acc, obs.ActionGetObject, file); err != nil || reason != "" {
		if err != nil {
			return err
		}
		return importFailed("The manifest %s cannot be read: %s", file, reason)
	}
	var rng *obs.Range
	if start.Offset > 0 {
		rng = &obs.Range{Offset: start.Offset, Length: -1}
	}
	rc, info, err := im.s.objects.Get(ctx, file.Bucket, file.Key, rng)
	if errors.Is(err, obs.ErrNotFound) {
		return importFailed("The manifest %s does not exist.", file)
	}
	if err != nil {
		return fmt.Errorf("read manifest %s: %w", file, err)
	}
	defer rc.Close()
	if start.ETag != "" && info.ETag != start.ETag {
		return importFailed("The manifest %s changed after line %d was imported; start a new import.", file, start.Line)
	}
	start.ETag = info.ETag
	dir := path.Dir(file.Key)
	if dir == "." {
		dir = ""
	} else {
		dir += "/"
	}
	workers := max(1, min(4, runtime.GOMAXPROCS(0)-1))
	end := start
	// Parsed chunks are gathered into windows, sorted there by sample ID
	// and handed to the writer as batches (see window); the writer commits
	// one window while the next is parsed.
	batches := make(chan *batch, 3)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(batches)
		w := &window{im: im, start: start, out: batches}
		err := pipeline.Ordered(gctx, workers,
			func(ctx context.Context, emit func(*chunk) error) error {
				var err error
				if end, err = im.splitManifest(ctx, rc, start, emit); err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					return fmt.Errorf("read manifest %s: %w", file, err)
				}
				return nil
			},
			func(ctx context.Context, c *chunk) (*batch, error) {
				return im.parseChunk(ctx, file.Bucket, dir, c), nil
			},
			w.add)
		if err != nil {
			return err
		}
		return w.flush(gctx)
	})
	g.Go(func() error {
		for b := range batches {
			if err := im.write(gctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	return im.write(ctx, finalBatch(end, start.Stats.Files > 0))
}

// windowChunks is how many chunks (batches as read) make a window, and
// windowBytes how many manifest bytes a window holds at most.
const (
	windowChunks = 10
	windowBytes  = 32 << 20
)

// window gathers a run of parsed chunks and writes their samples sorted
// by sample ID, in batches of the usual size. A sample ID is the MD5 of
// the source, so the batches of a manifest in its own order insert keys
// spread over the whole (dataset, sample ID) index: at a million samples
// nearly every sample of a batch dirties its own index page, which the
// commit writes to the WAL and the checkpoint copies again. Sorted, each
// batch of a window of ten falls within a tenth of the index: about half
// as many pages per batch, hot in the writer's cache (at a million
// samples on SQLite, 1.4 to 1.9 times the samples per second; see
// docs/performance.md). The writer commits a window while the next one is
// gathered: two windows and the chunks being parsed are in memory.
//
// A window's batches but the last carry the window's start as their
// checkpoint, with the sort key of their last sample (importCursor's
// Sorted); a resumed run reads the same chunks again and skips the samples
// up to that key. The last batch carries the failures, the filtered-out
// count and the checkpoint after the window, so that a resumed run reports
// them once.
type window struct {
	im     *importer
	start  importCursor // where the window's first chunk starts
	out    chan<- *batch
	chunks []*batch
	size   int64 // the chunks' manifest bytes
}

// add gathers a parsed chunk and writes the window once it is full. A
// chunk that ends the task does so before its window is written: the
// checkpoint stays at the window's start.
func (w *window) add(ctx context.Context, b *batch) error {
	if b.err != nil {
		return b.err
	}
	if b.prepared != nil {
		// The preparation holds what the write needs, labels and
		// metadata encoded: a window holds tens of thousands of samples.
		b.inputs = nil
	}
	w.chunks = append(w.chunks, b)
	w.size += b.size
	if len(w.chunks) >= windowChunks || w.size >= windowBytes {
		return w.flush(ctx)
	}
	return nil
}

// sortedItem is one input of a window: its batch and index, and its sort
// key, the sample ID then the line.
type sortedItem struct {
	b    *batch
	i    int
	id   string
	line int64
}

// flush sorts the window's inputs and sends them as batches.
func (w *window) flush(ctx context.Context) error {
	if len(w.chunks) == 0 {
		return nil
	}
	last := w.chunks[len(w.chunks)-1]
	var items []sortedItem
	tail := &batch{cursor: last.cursor}
	after := w.start.Sorted
	for _, b := range w.chunks {
		for i := range b.count() {
			var id string
			if b.prepared != nil {
				id = b.prepared.ID(i)
			} else {
				id = dataset.SampleID(b.inputs[i].Source)
			}
			it := sortedItem{b: b, i: i, id: id, line: b.lines[i]}
			if after != "" && it.key() <= after {
				continue // written before the run was resumed
			}
			items = append(items, it)
		}
		tail.fails = append(tail.fails, b.fails...)
		tail.skipped += b.skipped
		tail.files += b.files
		tail.bytes += b.bytes
	}
	slices.SortFunc(items, func(a, b sortedItem) int {
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		return cmp.Compare(a.line, b.line)
	})
	var parts []*dataset.PreparedSamples
	if after == "" {
		for _, b := range w.chunks {
			if b.prepared != nil {
				parts = append(parts, b.prepared)
			}
		}
	}
	runs := max(1, (len(items)+w.im.batchSize-1)/w.im.batchSize) // the last one carries tail
	for k := range runs {
		run := items[k*w.im.batchSize : min((k+1)*w.im.batchSize, len(items))]
		out := tail
		if k < runs-1 {
			out = &batch{cursor: w.start}
			out.cursor.Sorted = run[len(run)-1].key()
		}
		// The chunks of a window are all prepared, or none is (an import
		// of existing samples only prepares in the transaction).
		out.where = make([]string, len(run))
		var picks []dataset.Pick
		for j, it := range run {
			out.where[j] = it.b.where[it.i]
			if it.b.prepared != nil {
				picks = append(picks, dataset.Pick{Part: it.b.prepared, Index: it.i})
			} else {
				out.inputs = append(out.inputs, it.b.inputs[it.i])
			}
		}
		if len(picks) > 0 {
			if out.prepared = dataset.Gather(picks, parts); out.prepared == nil || len(out.inputs) > 0 {
				return errors.New("import window: its chunks were not all prepared alike")
			}
		}
		parts = nil
		select {
		case w.out <- out:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.start = last.cursor
	w.chunks, w.size = nil, 0
	return nil
}

// key orders a window's inputs the way its batches are written.
func (it sortedItem) key() string {
	return it.id + "/" + fmt.Sprintf("%020d", it.line)
}

// finalBatch is the empty batch that counts a manifest read to its end.
func finalBatch(end importCursor, counted bool) *batch {
	end.Stats = importStats{}
	b := &batch{cursor: end, files: 1}
	if counted {
		b.files = 0 // a run that stopped after the end was counted
	}
	return b
}

// splitManifest cuts the stream into chunks of at most batchSize lines
// (and about maxChunkBytes), tracking line numbers and byte offsets from
// start; a line too long for the manifest reader is left out, memory
// included, and reported by its chunk. emit returns false to stop.
func (im *importer) splitManifest(ctx context.Context, r io.Reader, start importCursor, emit func(*chunk) error) (importCursor, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	line, off := start.Line, start.Offset
	c := &chunk{first: line + 1}
	n := 0
	end := start
	end.Stats = importStats{}
	send := func() error {
		c.end = importCursor{Line: line, Offset: off, ETag: start.ETag}
		end = c.end
		err := emit(c)
		c = &chunk{first: line + 1}
		n = 0
		return err
	}
	for {
		if ctx.Err() != nil {
			return end, ctx.Err()
		}
		begin := len(c.data)
		size, long, eof := 0, false, false
		for {
			frag, err := br.ReadSlice('\n')
			size += len(frag)
			if !long {
				if size > formats.MaxLine+2 {
					long = true
					c.data = c.data[:begin]
				} else {
					c.data = append(c.data, frag...)
				}
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err == io.EOF {
				eof = true
			} else if err != nil {
				return end, err
			}
			break
		}
		if size > 0 {
			line++
			off += int64(size)
			n++
			if long {
				c.long = append(c.long, line)
			}
			if len(c.data) == begin || c.data[len(c.data)-1] != '\n' {
				// A left-out line stays as a blank one so that the reader
				// numbers the following lines right; the last line may
				// lack its terminator.
				c.data = append(c.data, '\n')
			}
		}
		if eof {
			if n > 0 {
				if err := send(); err != nil {
					return end, err
				}
			}
			return end, nil
		}
		if n >= im.batchSize || len(c.data) >= maxChunkBytes {
			if err := send(); err != nil {
				return end, err
			}
		}
	}
}

// manifestItem is one record of a chunk on its way to a sample.
type manifestItem struct {
	line   int64
	rec    formats.Record
	source string
	fail   string
}

// parseChunk turns a chunk into a batch: records, their VOC labels,
// filters, and a failure for every line that is not a sample.
func (im *importer) parseChunk(ctx context.Context, bucket, dir string, c *chunk) *batch {
	b := &batch{cursor: c.end, size: int64(len(c.data))}
	// The requester's permissions as they are now decide this chunk's
	// objects: a change applies from the next chunk on.
	acc, err := im.s.ds.ObjectAccess(ctx, im.requester)
	if err != nil {
		b.err = err
		return b
	}
	type lineFail struct {
		line   int64
		reason string
	}
	var fails []lineFail
	for _, l := range c.long {
		fails = append(fails, lineFail{l, fmt.Sprintf("longer than %d bytes", formats.MaxLine)})
	}
	var items []manifestItem
	r := formats.NewReader(bytes.NewReader(c.data))
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		var le *formats.LineError
		if errors.As(err, &le) {
			fails = append(fails, lineFail{c.first - 1 + int64(le.Line), le.Reason})
			continue
		}
		if err != nil {
			fails = append(fails, lineFail{c.first - 1 + int64(r.Line()), err.Error()})
			break
		}
		it := manifestItem{line: c.first - 1 + int64(r.Line()), rec: rec}
		if it.source, it.fail, err = im.manifestSource(ctx, acc, bucket, dir, rec.Source); err != nil {
			b.err = err
			return b
		}
		items = append(items, it)
	}
	// VOC files are read concurrently: they are small and many.
	var vocs []int
	if im.needLabels() {
		for i := range items {
			if items[i].fail == "" && len(items[i].rec.AnnotationLocs) > 0 {
				vocs = append(vocs, i)
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(importFetchers)
	for _, i := range vocs {
		it := &items[i]
		g.Go(func() error {
			var err error
			it.fail, err = im.addVOCs(gctx, acc, bucket, dir, &it.rec)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.err = err
		return b
	}
	b.inputs = make([]dataset.SampleInput, 0, len(items))
	b.where = make([]string, 0, len(items))
	b.lines = make([]int64, 0, len(items))
	for i := range items {
		it := &items[i]
		if it.fail != "" {
			fails = append(fails, lineFail{it.line, it.fail})
			continue
		}
		if im.difficultOnly {
			if h, _ := it.rec.Metadata[annotation.MetaHard].(float64); h != 1 {
				b.skipped++
				continue
			}
		}
		labels, ok := im.admit(im.mapEntities(it.rec.Labels))
		if !ok {
			b.skipped++
			continue
		}
		b.inputs = append(b.inputs, dataset.SampleInput{Source: it.source, SampleType: it.rec.SampleType, SampleTime: im.now,
			Usage: it.rec.Usage, Labels: labels, Metadata: it.rec.Metadata})
		b.where = append(b.where, "line "+strconv.FormatInt(it.line, 10))
		b.lines = append(b.lines, it.line)
	}
	sort.SliceStable(fails, func(i, j int) bool { return fails[i].line < fails[j].line })
	for _, f := range fails {
		b.fail("line "+strconv.FormatInt(f.line, 10), f.reason)
	}
	im.prepare(b)
	return b
}

// mapEntities reads text_entity annotations as the dataset's kind of
// entity: the manifest reader cannot tell a named entity from a triplet
// entity on a line without relations.
func (im *importer) mapEntities(labels []annotation.Label) []annotation.Label {
	from, to := -1, -1
	switch im.ds.Type {
	case dataset.TypeNamedEntity:
		from, to = annotation.TypeTripletEntity, annotation.TypeNamedEntity
	case dataset.TypeTextTriplet:
		from, to = annotation.TypeNamedEntity, annotation.TypeTripletEntity
	}
	for i := range labels {
		if labels[i].Type == from {
			labels[i].Type = to
		}
	}
	return labels
}

// manifestSource resolves a manifest location to a stored source
// (obs://bucket/key or content://text), or says why it cannot be one.
func (im *importer) manifestSource(ctx context.Context, acc dataset.ObjectAccess, bucket, dir, loc string) (string, string, error) {
	if strings.HasPrefix(loc, dataset.ContentScheme) {
		switch im.ds.Type {
		case dataset.TypeTextClassification, dataset.TypeNamedEntity, dataset.TypeTextTriplet:
			return loc, "", nil
		}
		return "", "inline content:// samples belong in text datasets", nil
	}
	p, reason, err := im.manifestObject(ctx, acc, bucket, dir, loc, "source")
	if reason != "" || err != nil {
		return "", reason, err
	}
	return "obs://" + p.Bucket + "/" + p.Key, "", nil
}

// manifestObject resolves an object location of a manifest (absolute, or
// relative to the manifest's directory) that is a valid object of the
// store and that the requester may read (obs:object:GetObject, decided
// now with their current policies).
func (im *importer) manifestObject(ctx context.Context, acc dataset.ObjectAccess, bucket, dir, loc, field string) (obs.Path, string, error) {
	var p obs.Path
	if strings.HasPrefix(loc, "/") || strings.Contains(loc, "://") {
		var err error
		if p, err = obs.ParsePath(loc); err != nil || p.IsDir() {
			return obs.Path{}, fmt.Sprintf("%s %q is not an OBS object path", field, loc), nil
		}
	} else {
		p = obs.Path{Bucket: bucket, Key: dir + loc}
	}
	// The object API's rules for keys, the store's own included (the
	// local store reserves .atelier/): a sample must be readable later.
	if reason := im.s.ds.CheckObjectKey(p); reason != "" {
		return obs.Path{}, field + " " + reason, nil
	}
	reason, err := dataset.Denied(ctx, acc, obs.ActionGetObject, p)
	if err != nil {
		return obs.Path{}, "", err
	}
	if reason != "" {
		return obs.Path{}, field + " " + p.String() + ": " + reason, nil
	}
	return p, "", nil
}

// addVOCs reads the VOC files a record points at and adds their labels.
func (im *importer) addVOCs(ctx context.Context, acc dataset.ObjectAccess, bucket, dir string, rec *formats.Record) (string, error) {
	for _, loc := range rec.AnnotationLocs {
		p, reason, err := im.manifestObject(ctx, acc, bucket, dir, loc.Loc, "annotation-loc")
		if reason != "" || err != nil {
			return reason, err
		}
		doc, reason := im.readVOC(ctx, p)
		if reason != "" {
			return "annotation-loc " + p.String() + ": " + reason, nil
		}
		rec.AddVOC(loc, doc)
	}
	return "", nil
}

func (im *importer) readVOC(ctx context.Context, p obs.Path) (formats.VOC, string) {
	rc, _, err := im.s.objects.Get(ctx, p.Bucket, p.Key, nil)
	if errors.Is(err, obs.ErrNotFound) {
		return formats.VOC{}, "does not exist"
	}
	if err != nil {
		return formats.VOC{}, im.s.readProblem(ctx, p, err)
	}
	defer rc.Close()
	doc, err := formats.ParseVOC(rc)
	if err != nil {
		return formats.VOC{}, err.Error()
	}
	return doc, ""
}

// readProblem says why an object could not be read, without the storage
// detail (a local store's errors name files of the server), which is
// logged instead.
func (s *Service) readProblem(ctx context.Context, p obs.Path, err error) string {
	switch {
	case errors.Is(err, obs.ErrNotFound):
		return "does not exist"
	case errors.Is(err, obs.ErrInvalidKey), errors.Is(err, obs.ErrInvalidBucket):
		return "is not a valid object path"
	case errors.Is(err, obs.ErrBucketNotFound):
		return "is in a bucket that does not exist"
	}
	if ctx.Err() == nil {
		s.log.WarnContext(ctx, "import: read object", "object", p.String(), "err", err)
	}
	return "cannot be read from object storage"
}
