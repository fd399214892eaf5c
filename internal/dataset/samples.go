package dataset

import (
	"bytes"
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/obs"
)

// Sample states as stored (dataset_samples.state).
const (
	StateUnlabeled   = 0
	StateLabeled     = 1
	StateUnconfirmed = 2
)

// Sample status strings of the responses and the sample_state filter.
var (
	stateNames  = map[int]string{StateUnlabeled: "UN_ANNOTATION", StateLabeled: "MANUAL_ANNOTATION", StateUnconfirmed: "AUTO_ANNOTATION"}
	stateFilter = map[string]int{"__ALL__": StateLabeled, "__NONE__": StateUnlabeled, "__AUTO_ANNOTATION__": StateUnconfirmed}
	// Team-labeling states exist in the reference; no sample is in them
	// until team labeling is built, so filtering by one finds nothing.
	teamStates = map[string]bool{"__UNCHECK__": true, "__ACCEPTED__": true, "__REJECTED__": true, "__UNREVIEWED__": true,
		"__REVIEWED__": true, "__WORKFORCE_SAMPLED__": true, "__WORKFORCE_SAMPLED_UNCHECK__": true,
		"__WORKFORCE_SAMPLED_CHECKED__": true, "__WORKFORCE_SAMPLED_ACCEPTED__": true, "__WORKFORCE_SAMPLED_REJECTED__": true}
)

// StateName is a stored sample state's status string in responses.
func StateName(state int) string { return stateNames[state] }

// ParseSampleState maps a sample_state value to a stored state; team
// reports a team-labeling state (valid, but no sample is in it yet).
func ParseSampleState(field, v string) (state int, team bool, err error) {
	if s, ok := stateFilter[v]; ok {
		return s, false, nil
	}
	if teamStates[v] {
		return -1, true, nil
	}
	return 0, false, badRequest("%s %q is not a sample state of the reference", field, v)
}

// MaxLabelUpdates bounds the samples of one label update or delete
// request.
const MaxLabelUpdates = 1000

// ContentScheme prefixes the source of a text sample stored inline (the
// manifest's "content://").
const ContentScheme = "content://"

// SampleID is the sample_id of a source: the MD5 of the source, so that the
// same file (or text) added twice is one sample.
func SampleID(source string) string {
	sum := md5.Sum([]byte(source))
	return hex.EncodeToString(sum[:])
}

// Sample is a sample as list and details return it (DescribeSampleResp).
type Sample struct {
	Labels       []annotation.Label `json:"labels"`
	Metadata     map[string]any     `json:"metadata"`
	SampleData   []string           `json:"sample_data,omitempty"`
	SampleDir    string             `json:"sample_dir,omitempty"`
	SampleID     string             `json:"sample_id"`
	SampleName   string             `json:"sample_name"`
	SampleSize   int64              `json:"sample_size"`
	SampleStatus string             `json:"sample_status"`
	SampleTime   int64              `json:"sample_time"`
	SampleType   int                `json:"sample_type"`
	SampleUsage  string             `json:"sample_usage,omitempty"`
	Source       string             `json:"source"`
	// SourceError is Atelier's: why Source has no preview URL, for a
	// sample whose object can never be read (its key breaks the object
	// store's rules, as rows stored before imports checked keys can).
	SourceError string `json:"source_error,omitempty"`
	WorkerID    string `json:"worker_id,omitempty"`

	// Stored is the canonical source (obs://bucket/key or content://…)
	// that Source replaces with a preview URL in responses.
	Stored string `json:"-"`
	seq    int64
	state  int
	// doc is the stored document, kept as read (docKept) when the sample
	// was read for a response (AppendSamplePage): Labels and Metadata are
	// nil then, and AppendJSON copies them from here.
	doc     string
	docKept bool
}

// sampleDoc is the JSON column of a sample.
type sampleDoc struct {
	Labels   []annotation.Label `json:"labels,omitempty"`
	Metadata map[string]any     `json:"metadata,omitempty"`
}

// SampleInput is one sample to add or replace, from the API, an import or
// a sync.
type SampleInput struct {
	Source     string // obs://bucket/key or content://text
	Name       string // file name; defaults to the source's last segment
	SampleType int
	Size       int64
	SampleTime int64 // object's last modification (ms)
	Usage      string
	Labels     []annotation.Label
	Metadata   map[string]any
	Labeler    string
}

// WriteOptions say how WriteSamples treats samples and labels.
type WriteOptions struct {
	// Unconfirmed stores labeled samples as to be confirmed
	// (final_annotation=false) instead of labeled.
	Unconfirmed bool
	// KeepExisting leaves a sample that already exists untouched (a sync or
	// a re-run import of unlabeled files); otherwise its labels and metadata
	// are replaced.
	KeepExisting bool
}

// WriteResult is the outcome of one input, in input order.
type WriteResult struct {
	SampleID string
	Err      error // an *Error for a bad item; nil when written or kept
	Created  bool
}

// sampleChange is one sample's before and after, for counters.
type sampleChange struct {
	oldState, newState int
	oldHard, newHard   int
	oldLabels          map[int64]int // label seq → occurrences
	newLabels          map[int64]int
	existed, deleted   bool
}

// counterDelta accumulates what a batch changes in a dataset's counters.
type counterDelta struct {
	total, annotated, unconfirmed, hard int64
	labelAnn, labelSamples              map[int64]int64
}

func newCounterDelta() *counterDelta {
	return &counterDelta{labelAnn: map[int64]int64{}, labelSamples: map[int64]int64{}}
}

func (d *counterDelta) add(c sampleChange) {
	b2i := func(b bool) int64 {
		if b {
			return 1
		}
		return 0
	}
	if c.existed {
		d.total--
		d.annotated -= b2i(c.oldState == StateLabeled)
		d.unconfirmed -= b2i(c.oldState == StateUnconfirmed)
		d.hard -= int64(c.oldHard)
		for l, n := range c.oldLabels {
			d.labelAnn[l] -= int64(n)
			d.labelSamples[l]--
		}
	}
	if !c.deleted {
		d.total++
		d.annotated += b2i(c.newState == StateLabeled)
		d.unconfirmed += b2i(c.newState == StateUnconfirmed)
		d.hard += int64(c.newHard)
		for l, n := range c.newLabels {
			d.labelAnn[l] += int64(n)
			d.labelSamples[l]++
		}
	}
}

// labelIndex maps a dataset's label names to their seq and type; labels
// that samples bring and the dataset lacks are created on the way, the way
// an import creates the labels it finds.
type labelIndex struct {
	datasetType int
	bySeq       map[int64]string
	byName      map[string]labelRef
	next        int64
	added       []Label
}

type labelRef struct {
	seq int64
	typ int
}

// resolve finds (or plans) the label a sample label names.
func (ix *labelIndex) resolve(name string, typ int) (int64, error) {
	if ref, ok := ix.byName[name]; ok {
		if ref.typ != typ {
			return 0, fmt.Errorf("label %q has type %d in the dataset, not %d", name, ref.typ, typ)
		}
		return ref.seq, nil
	}
	if err := checkName("labels.name", name); err != nil {
		return 0, err
	}
	ix.next++
	ix.byName[name] = labelRef{seq: ix.next, typ: typ}
	ix.bySeq[ix.next] = name
	ix.added = append(ix.added, Label{Name: name, Type: &typ, Property: map[string]string{}})
	return ix.next, nil
}

// save inserts the labels resolve created.
func (ix *labelIndex) save(ctx context.Context, rp *repo, tx *sql.Tx, datasetID string) error {
	for _, l := range ix.added {
		if err := rp.insertLabel(ctx, tx, datasetID, ix.byName[l.Name].seq, l); err != nil {
			return err
		}
	}
	if len(ix.added) > 0 {
		if err := rp.setLabelSeq(ctx, tx, datasetID, ix.next); err != nil {
			return err
		}
	}
	ix.added = nil
	return nil
}

// existingSample is what a write needs to know of a stored sample.
type existingSample struct {
	seq    int64
	state  int
	hard   int // 0 or 1: stored as an integer on both engines
	labels map[int64]int
	props  bool // has attribute rows
}

// WriteSamples adds or replaces samples in one transaction with the
// counters they change. Items that are invalid are reported in their
// result and skipped; the others are written. An error return means
// nothing was written.
func (s *Service) WriteSamples(ctx context.Context, projectID, datasetID string, in []SampleInput, opts WriteOptions) ([]WriteResult, error) {
	var results []WriteResult
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		results, err = s.WriteSamplesTx(ctx, tx, projectID, datasetID, in, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// WriteSamplesTx is WriteSamples inside the caller's transaction (an import
// commits a batch together with its task checkpoint).
func (s *Service) WriteSamplesTx(ctx context.Context, tx *sql.Tx, projectID, datasetID string, in []SampleInput, opts WriteOptions) ([]WriteResult, error) {
	return s.WritePreparedTx(ctx, tx, projectID, datasetID, nil, in, opts)
}

// WritePreparedTx is WriteSamplesTx with the inputs already checked and
// encoded by PrepareSamples (nil: prepared here, in the transaction). A
// preparation for another dataset type or other options is done again
// from in; in may be nil when prepared is given (an import that keeps
// only the preparation of a large run), and such a preparation must then
// match.
func (s *Service) WritePreparedTx(ctx context.Context, tx *sql.Tx, projectID, datasetID string, prepared *PreparedSamples, in []SampleInput, opts WriteOptions) ([]WriteResult, error) {
	r, err := s.LoadRow(ctx, tx, projectID, datasetID, true)
	if err != nil {
		return nil, err
	}
	n := len(in)
	if prepared != nil && in == nil {
		n = len(prepared.items)
		if prepared.datasetType != r.Type || prepared.unconfirmed != opts.Unconfirmed {
			return nil, fmt.Errorf("samples prepared for dataset type %d (unconfirmed %v) written to dataset %s of type %d (unconfirmed %v)",
				prepared.datasetType, prepared.unconfirmed, datasetID, r.Type, opts.Unconfirmed)
		}
	} else if prepared == nil || prepared.datasetType != r.Type || prepared.unconfirmed != opts.Unconfirmed || len(prepared.items) != len(in) {
		prepared = PrepareSamples(r.Type, in, opts)
	}
	results := make([]WriteResult, n)
	if err := s.writeSamplesTx(ctx, tx, r, prepared, opts, results); err != nil {
		return nil, err
	}
	return results, nil
}

// pendingRow is a sample row about to be inserted or updated.
type pendingRow struct {
	in     *SampleInput
	id     string
	seq    int64
	state  int
	hard   int
	labels map[int64]int
	doc    string
	score  *float64
	update bool
	// props are the attributes to index; hadProps says the stored sample
	// has attribute rows to clear first; keepProps leaves them as they
	// are (the metadata is unchanged).
	props     []sampleProp
	hadProps  bool
	keepProps bool
}

func (s *Service) writeSamplesTx(ctx context.Context, tx *sql.Tx, r *Row, prepared *PreparedSamples, opts WriteOptions, results []WriteResult) error {
	ix, err := s.repo.loadLabelIndex(ctx, tx, r)
	if err != nil {
		return err
	}
	now := s.now().UnixMilli()
	seq := r.SampleSeq
	n := len(prepared.items)
	for _, l := range prepared.labelsFirst {
		// An input that names the label reports what is wrong with it.
		_, _ = ix.resolve(l.name, l.typ)
	}
	seen := make(map[string]int, n)
	pending := make([]pendingRow, 0, n)
	at := make([]int, 0, n) // input index of each pending row
	for i := range prepared.items {
		c := &prepared.items[i]
		results[i].SampleID = c.id
		if prev, dup := seen[c.id]; dup {
			results[i].Err = Invalid(CodeInvalid, "samples[%d] repeats samples[%d] (same source)", i, prev)
			continue
		}
		seen[c.id] = i
		p, err := c.resolve(ix, i)
		if err != nil {
			results[i].Err = err
			continue
		}
		seq++
		p.seq = seq
		pending = append(pending, p)
		at = append(at, i)
	}
	if err := ix.save(ctx, s.repo, tx, r.ID); err != nil {
		return err
	}
	// Insert what is new in one pass over the unique index; the rows that
	// were not inserted already exist.
	inserted, err := s.repo.insertRows(ctx, tx, r.ID, pending, now)
	if err != nil {
		return err
	}
	delta := newCounterDelta()
	written := make([]pendingRow, 0, len(pending))
	var existingIDs []string
	for j, p := range pending {
		if inserted[p.seq] {
			results[at[j]].Created = true
			delta.add(sampleChange{newState: p.state, newHard: p.hard, newLabels: p.labels})
			written = append(written, p)
		} else if !opts.KeepExisting {
			existingIDs = append(existingIDs, p.id)
		}
	}
	if len(existingIDs) > 0 {
		existing, err := s.repo.loadExisting(ctx, tx, r.ID, existingIDs)
		if err != nil {
			return err
		}
		var updates []pendingRow
		for _, p := range pending {
			old := existing[p.id]
			if inserted[p.seq] || old == nil {
				continue
			}
			p.seq, p.update, p.hadProps = old.seq, true, old.props
			delta.add(sampleChange{existed: true, oldState: old.state, oldHard: old.hard, oldLabels: old.labels,
				newState: p.state, newHard: p.hard, newLabels: p.labels})
			updates = append(updates, p)
		}
		if err := s.repo.writeRows(ctx, tx, r.ID, updates, now); err != nil {
			return err
		}
	}
	if err := s.repo.insertLabelRows(ctx, tx, r.ID, written); err != nil {
		return err
	}
	if err := s.repo.insertPropRows(ctx, tx, r.ID, written); err != nil {
		return err
	}
	return s.repo.applyCounters(ctx, tx, r.ID, delta, seq, now)
}

// prepareSample validates one input's labels for the dataset and resolves
// them to label seqs (planning labels the dataset lacks).
func (s *Service) prepareSample(r *Row, ix *labelIndex, i int, item *SampleInput, opts WriteOptions) (pendingRow, error) {
	c := checkSample(r.Type, item, opts)
	return c.resolve(ix, i)
}

// checkedSample is an input validated and encoded for a dataset type: the
// part of a sample write that needs no transaction (see PrepareSamples).
// Its errors do not name the input's index, since a preparation may be
// written in another order than it was made (Gather): resolve names it.
type checkedSample struct {
	in     *SampleInput
	id     string
	err    error // invalid labels: the item is reported, not written
	labels []labelKey
	score  *float64
	state  int
	hard   int
	doc    string
	docErr error // reported after the labels' resolution, as it was
	props  []sampleProp
}

// labelKey is a sample label as the label index resolves it.
type labelKey struct {
	name string
	typ  int
}

func checkSample(datasetType int, item *SampleInput, opts WriteOptions) checkedSample {
	c := checkedSample{in: item, id: SampleID(item.Source)}
	content := ""
	if strings.HasPrefix(item.Source, ContentScheme) {
		content = strings.TrimPrefix(item.Source, ContentScheme)
	}
	labels := append([]annotation.Label(nil), item.Labels...)
	if err := annotation.Validate(datasetType, content, labels); err != nil {
		c.err = err
		return c
	}
	c.labels = make([]labelKey, len(labels))
	for j, l := range labels {
		c.labels[j] = labelKey{l.Name, l.Type}
		if l.Score != nil && (c.score == nil || *l.Score > *c.score) {
			v := *l.Score
			c.score = &v
		}
	}
	c.state = StateUnlabeled
	if len(labels) > 0 {
		c.state = StateLabeled
		if opts.Unconfirmed {
			c.state = StateUnconfirmed
		}
	}
	docJSON, err := json.Marshal(sampleDoc{Labels: labels, Metadata: item.Metadata})
	if err != nil {
		c.docErr = err
	}
	c.doc, c.hard, c.props = string(docJSON), isHard(item.Metadata), userProps(item.Metadata)
	return c
}

// resolve turns a checked sample into the row to write, its labels
// resolved to label seqs through ix (planning labels the dataset lacks).
func (c *checkedSample) resolve(ix *labelIndex, i int) (pendingRow, error) {
	if c.err != nil {
		return pendingRow{}, Invalid(CodeInvalid, "samples[%d].%v", i, c.err)
	}
	counts := make(map[int64]int, len(c.labels))
	for _, l := range c.labels {
		seq, err := ix.resolve(l.name, l.typ)
		if err != nil {
			return pendingRow{}, Invalid(CodeLabelIncompatible, "samples[%d]: %v", i, err)
		}
		counts[seq]++
	}
	if c.docErr != nil {
		return pendingRow{}, Invalid(CodeInvalid, "samples[%d]: %v", i, c.docErr)
	}
	return pendingRow{in: c.in, id: c.id, state: c.state, hard: c.hard, labels: counts, doc: c.doc, score: c.score, props: c.props}, nil
}

// PreparedSamples are inputs checked and encoded for a dataset type
// outside any transaction (PrepareSamples), for WritePreparedTx: an
// import prepares its next batch on another core while the database's
// single writer commits the current one.
type PreparedSamples struct {
	datasetType int
	unconfirmed bool
	items       []checkedSample
	// labelsFirst are resolved before the items' labels (see Gather).
	labelsFirst []labelKey
}

// PrepareSamples checks and encodes inputs for a dataset of the type, with
// the options they will be written with. The preparation keeps what the
// write needs of the inputs, not their labels and metadata, which it
// holds encoded: a caller may drop the inputs once they are prepared.
func PrepareSamples(datasetType int, in []SampleInput, opts WriteOptions) *PreparedSamples {
	p := &PreparedSamples{datasetType: datasetType, unconfirmed: opts.Unconfirmed, items: make([]checkedSample, len(in))}
	for i := range in {
		p.items[i] = checkSample(datasetType, &in[i], opts)
		// Each on its own: an item of a reordered run (Gather) keeps
		// only itself alive.
		lean := in[i]
		lean.Labels, lean.Metadata = nil, nil
		p.items[i].in = &lean
	}
	return p
}

// Len is the number of prepared inputs.
func (p *PreparedSamples) Len() int { return len(p.items) }

// ID is the sample ID of the i-th prepared input.
func (p *PreparedSamples) ID(i int) string { return p.items[i].id }

// Labeled reports whether the i-th prepared input has labels.
func (p *PreparedSamples) Labeled(i int) bool { return len(p.items[i].labels) > 0 }

// Pick names one prepared input: the Index-th of Part.
type Pick struct {
	Part  *PreparedSamples
	Index int
}

// Gather makes one preparation of picked inputs, in the picks' order, for
// an import that writes its inputs in another order than it read them (by
// sample ID, so that a batch's inserts into the ID index fall on fewer
// pages). The labels the inputs of parts name (in their order) are
// resolved before the picks', so that the labels a write creates are
// numbered in the order the source names them whatever the write order:
// give parts to the first batch of a reordered run, nil to the others.
// The inputs to write are the picked ones, in the picks' order. Gather
// returns nil if the parts were prepared for different types or options
// (the write then prepares them itself).
func Gather(picks []Pick, parts []*PreparedSamples) *PreparedSamples {
	if len(picks) == 0 {
		return &PreparedSamples{}
	}
	first := picks[0].Part
	out := &PreparedSamples{datasetType: first.datasetType, unconfirmed: first.unconfirmed, items: make([]checkedSample, len(picks))}
	for i, pk := range picks {
		if pk.Part.datasetType != out.datasetType || pk.Part.unconfirmed != out.unconfirmed {
			return nil
		}
		out.items[i] = pk.Part.items[pk.Index]
	}
	seen := map[labelKey]bool{}
	for _, part := range parts {
		for i := range part.items {
			c := &part.items[i]
			if c.err != nil {
				continue
			}
			for _, l := range c.labels {
				if !seen[l] {
					seen[l] = true
					out.labelsFirst = append(out.labelsFirst, l)
				}
			}
		}
	}
	return out
}

// isHard reads the hard-example flag of sample metadata as 0 or 1.
func isHard(meta map[string]any) int {
	switch v := meta[annotation.MetaHard].(type) {
	case float64:
		if v == 1 {
			return 1
		}
	case bool:
		if v {
			return 1
		}
	case string:
		if v == "1" || v == "true" {
			return 1
		}
	}
	return 0
}

// SampleName is the file name a source shows.
func SampleName(source string) string {
	if strings.HasPrefix(source, ContentScheme) {
		return ""
	}
	return path.Base(source)
}

// ObjectOf parses a stored sample source (obs://bucket/key); ok is false
// for inline text samples.
func ObjectOf(source string) (obs.Path, bool) {
	if strings.HasPrefix(source, ContentScheme) {
		return obs.Path{}, false
	}
	p, err := obs.ParsePath(source)
	return p, err == nil && p.Key != ""
}

// PreviewURL is a presigned URL of an object sample (one hour), or the
// stored source for inline text. A sample whose object can never be read
// (a key the object store refuses) gets no URL but the problem, so that
// the page showing it still answers.
func (s *Service) PreviewURL(ctx context.Context, source string) (url, problem string, err error) {
	p, ok := ObjectOf(source)
	if !ok {
		if strings.HasPrefix(source, ContentScheme) {
			return source, "", nil
		}
		return "", "the sample's source is not a valid object path", nil
	}
	if reason := s.CheckObjectKey(p); reason != "" {
		return "", "the sample's file " + reason, nil
	}
	u, err := s.objects.PresignGet(ctx, p.Bucket, p.Key, time.Hour)
	if errors.Is(err, obs.ErrInvalidKey) || errors.Is(err, obs.ErrInvalidBucket) {
		return "", "the sample's file " + p.String() + " is not a valid object path", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("sign preview of %s: %w", source, err)
	}
	return u, "", nil
}

// DataPaths are a dataset's input directories and its work directory: the
// locations its sample operations touch.
func (s *Service) DataPaths(ctx context.Context, projectID, datasetID string) (inputs []obs.Path, work obs.Path, typ int, err error) {
	r, err := s.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return nil, obs.Path{}, 0, err
	}
	for _, src := range r.Doc.DataSources {
		if p, err := obs.ParsePath(src.DataPath); err == nil && src.DataPath != "" {
			inputs = append(inputs, p)
		}
	}
	work, _ = obs.ParsePath(r.Doc.WorkPath)
	return inputs, work, r.Type, nil
}

// DeleteObjects removes sample source objects (delete_source), after the
// samples are gone; a missing object is not an error.
func (s *Service) DeleteObjects(ctx context.Context, sources []string) error {
	for _, src := range sources {
		p, ok := ObjectOf(src)
		if !ok {
			continue
		}
		if err := s.objects.Delete(ctx, p.Bucket, p.Key); err != nil && !errors.Is(err, obs.ErrNotFound) {
			return fmt.Errorf("delete source %s: %w", src, err)
		}
	}
	return nil
}

// PutObject stores an uploaded sample file.
// NewSample is one sample of an add request: a file already in object
// storage (Data nil) or one uploaded with the request (Data, stored at
// Target).
type NewSample struct {
	Input  SampleInput
	Target obs.Path
	Data   []byte
}

// AddSamples adds samples as one unit of work: it uploads the files sent
// with the request, reads the others' metadata, and writes the rows in one
// transaction. An uploaded file whose row is not written (the item failed,
// or the whole write did) is deleted again, unless the upload replaced an
// object that was there before, so that a failure leaves no orphan behind.
// The caller has authorized every target. results has one entry per
// sample: its ID, or the error of that item alone.
func (s *Service) AddSamples(ctx context.Context, projectID, datasetID string, samples []NewSample, opts WriteOptions) ([]WriteResult, error) {
	results := make([]WriteResult, len(samples))
	var write []SampleInput
	var at []int
	var uploaded []int // samples whose file this call created
	for i := range samples {
		sm := &samples[i]
		var info obs.ObjectInfo
		var err error
		if sm.Data != nil {
			_, existed := s.objects.Head(ctx, sm.Target.Bucket, sm.Target.Key)
			if info, err = s.PutObject(ctx, sm.Target, sm.Data); err == nil && existed != nil {
				uploaded = append(uploaded, i)
			}
		} else {
			info, err = s.Object(ctx, sm.Target)
		}
		if err != nil {
			results[i].Err = err
			continue
		}
		sm.Input.Size, sm.Input.SampleTime = info.Size, info.ModTime.UnixMilli()
		write = append(write, sm.Input)
		at = append(at, i)
	}
	written, err := s.WriteSamples(ctx, projectID, datasetID, write, opts)
	if err != nil {
		s.removeUploads(samples, uploaded, nil)
		return nil, err
	}
	for j, wr := range written {
		results[at[j]] = wr
	}
	s.removeUploads(samples, uploaded, results)
	return results, nil
}

// removeUploads deletes the files AddSamples uploaded whose sample was not
// written (all of them when results is nil). It runs even when the
// request's context has ended: the upload must not outlive its row.
func (s *Service) removeUploads(samples []NewSample, uploaded []int, results []WriteResult) {
	ctx := context.Background()
	for _, i := range uploaded {
		if results != nil && results[i].Err == nil {
			continue
		}
		p := samples[i].Target
		if err := s.objects.Delete(ctx, p.Bucket, p.Key); err != nil && !errors.Is(err, obs.ErrNotFound) {
			s.log.Warn("remove the file of a sample that was not added", "object", p.String(), "err", err)
		}
	}
}

func (s *Service) PutObject(ctx context.Context, p obs.Path, data []byte) (obs.ObjectInfo, error) {
	info, err := s.objects.Put(ctx, p.Bucket, p.Key, bytes.NewReader(data), obs.PutOptions{})
	if err != nil {
		return obs.ObjectInfo{}, fmt.Errorf("store sample %s: %w", p, err)
	}
	return info, nil
}

// Object reads a stored object's metadata (size and time of a sample
// added by path).
func (s *Service) Object(ctx context.Context, p obs.Path) (obs.ObjectInfo, error) {
	return s.objects.Head(ctx, p.Bucket, p.Key)
}
