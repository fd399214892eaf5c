package dataset

// Size: over 2,000 lines, because request checks, the pipeline, directory
// scanning and the task views of imports still live together here; issue
// 10 (item 1) moves them into an importer room beside the dataset core.

// Imports and syncs: the domain side of the import-tasks and sync-data APIs.
//
// An import reads samples (and, unless told otherwise, their labels) from
// an OBS directory or a manifest file and writes them into a dataset; a sync
// rescans a dataset's data sources, adds the files that are new and removes
// the samples whose files are gone. Both run as durable background tasks
// (internal/tasks): a producer goroutine lists or reads and parses, and the
// task's goroutine writes batches of samples, each in one transaction with
// the task's checkpoint, so that a run that stops anywhere resumes after
// the last committed batch with neither a duplicate nor a half batch.
//
// Samples reference their files where they are: Atelier does not copy
// imported files into the dataset's directory (a sample's source is the
// imported object), so import_folder is validated and kept but moves
// nothing.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"io"
	"iter"
	"path"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/dataset/imageprobe"
	"github.com/atelier-dev/atelier/internal/dataset/pipeline"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// Error codes of imports and syncs (appendix, error codes).
const (
	CodeOBSPathNotFound = "ModelArts.4312" // the OBS path does not exist
	CodeTaskNotFound    = "ModelArts.4338" // the dataset or task ID does not exist
	CodeSyncRunning     = "ModelArts.4355" // a synchronization task is running for the dataset
	CodeImportRunning   = "ModelArts.4356" // an import task is running for the dataset
	CodeImportFailed    = "ModelArts.4362" // the data could not be imported
	CodeTaskStopped     = "ModelArts.4393" // the dataset task has been stopped
)

// ImportBatch is how many items (samples and failures) an import commits in
// one transaction. The write path reaches its throughput from about 5,000
// samples a batch; larger batches only hold the database's write lock (and
// memory) longer.
const ImportBatch = 5000

// importFetchers bounds how many label files (VOC, label lists, YOLO) one
// batch reads at once: they are small objects, and reading them one after
// the other would make an object-detection import wait on storage latency.
const importFetchers = 8

// maxChunkBytes bounds the manifest bytes one batch holds, whatever its
// line count: lines may be up to formats.MaxLine long.
const maxChunkBytes = 16 << 20

// ImportRequest is the body of POST …/import-tasks.
type ImportRequest struct {
	DataSource        *DataSource  `json:"data_source,omitempty"`
	DifficultOnly     *bool        `json:"difficult_only,omitempty"`
	ExcludedLabels    []LabelRef   `json:"excluded_labels,omitempty"`
	FinalAnnotation   *bool        `json:"final_annotation,omitempty"`
	ImportAnnotations *bool        `json:"import_annotations,omitempty"`
	ImportFolder      string       `json:"import_folder,omitempty"`
	ImportOrigin      string       `json:"import_origin,omitempty"`
	ImportPath        string       `json:"import_path"`
	ImportSamples     *bool        `json:"import_samples,omitempty"`
	ImportType        string       `json:"import_type,omitempty"`
	IncludedLabels    []LabelRef   `json:"included_labels,omitempty"`
	LabelFormat       *LabelFormat `json:"label_format,omitempty"`
	WithColumnHeader  *bool        `json:"with_column_header,omitempty"`
}

// LabelRef names a label of included_labels or excluded_labels: a Label
// object, as the reference's table says, or a bare name, as its example
// sends. A type, when given, must match too.
type LabelRef struct {
	Name string `json:"name"`
	Type *int   `json:"type,omitempty"`
}

// UnmarshalJSON reads a name or a Label object.
func (l *LabelRef) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		*l = LabelRef{Name: name}
		return nil
	}
	var lb Label
	if err := json.Unmarshal(b, &lb); err != nil {
		return fmt.Errorf("a label is a name or a Label object: %w", err)
	}
	*l = LabelRef{Name: lb.Name, Type: lb.Type}
	return nil
}

// importParams is what an import task carries (tasks.Task.Params).
type importParams struct {
	DatasetID   string `json:"dataset_id"`
	Path        string `json:"import_path"` // obs://bucket/key
	Manifest    bool   `json:"manifest,omitempty"`
	Annotations bool   `json:"import_annotations"`
	Samples     bool   `json:"import_samples"`
	// Unconfirmed stores labels as to be confirmed (final_annotation=false).
	Unconfirmed bool `json:"unconfirmed,omitempty"`
	// KeepExisting leaves samples that exist untouched (the import that
	// dataset creation starts, which must not undo labels made meanwhile).
	KeepExisting     bool         `json:"keep_existing,omitempty"`
	DifficultOnly    bool         `json:"difficult_only,omitempty"`
	Included         []LabelRef   `json:"included_labels,omitempty"`
	Excluded         []LabelRef   `json:"excluded_labels,omitempty"`
	Folder           string       `json:"import_folder,omitempty"`
	LabelFormat      *LabelFormat `json:"label_format,omitempty"`
	WithColumnHeader *bool        `json:"with_column_header,omitempty"`
	// Requester is who asked for the import: each object the task reads
	// (the manifest, the sources and annotation files its lines name, the
	// files of a directory) is authorized for them when it is read. A
	// task without one reads nothing.
	Requester *Requester `json:"requester,omitempty"`
	// Origin is "create" for the import a dataset's creation starts.
	Origin string `json:"origin,omitempty"`
	// BatchSize overrides ImportBatch (tests make it small to stop a task
	// between batches).
	BatchSize int `json:"batch_size,omitempty"`
}

// syncParams is what a sync task carries.
type syncParams struct {
	DatasetID   string       `json:"dataset_id"`
	Sources     []string     `json:"sources"` // obs://bucket/dir/
	Annotations bool         `json:"import_annotations"`
	LabelFormat *LabelFormat `json:"label_format,omitempty"`
	BatchSize   int          `json:"batch_size,omitempty"`
	// Requester is who asked for the sync (see importParams).
	Requester *Requester `json:"requester,omitempty"`
}

// importStats are the figures of an import or sync: kept in its cursor, so
// that they cover exactly what the checkpoint covers, and in its result.
type importStats struct {
	Imported    int64 `json:"imported"`    // samples written (or kept by a sync)
	Added       int64 `json:"added"`       // of which new samples
	Annotated   int64 `json:"annotated"`   // samples written with labels, final
	Unconfirmed int64 `json:"unconfirmed"` // samples written with labels to confirm
	Failed      int64 `json:"failed"`      // lines, files or samples that failed
	Skipped     int64 `json:"skipped"`     // samples a filter left out
	Deleted     int64 `json:"deleted"`     // samples a sync removed
	Files       int64 `json:"files"`       // objects examined (directories), manifests read
	Bytes       int64 `json:"bytes"`       // their bytes
	Total       int64 `json:"total,omitempty"`
}

// importCursor is a task's checkpoint: where to resume and the figures up
// to there.
type importCursor struct {
	// Manifests: lines and bytes consumed, and the manifest's ETag, which
	// must not change under a resumed run.
	Line   int64  `json:"line,omitempty"`
	Offset int64  `json:"offset,omitempty"`
	ETag   string `json:"etag,omitempty"`
	// Directories: the data source being scanned (syncs have several),
	// every listed key up to After done, and the keys after it done too
	// (those the listing order let through before an older one was
	// complete, such as a text waiting for its _result file).
	Source int      `json:"source,omitempty"`
	After  string   `json:"after,omitempty"`
	Done   []string `json:"done,omitempty"`
	// Partial is a text file whose first PartialN lines (samples and
	// failures) are written.
	Partial  string `json:"partial,omitempty"`
	PartialN int64  `json:"partial_n,omitempty"`
	// Syncs: in the removal phase, every sample up to seq Seq is examined.
	Removing bool        `json:"removing,omitempty"`
	Seq      int64       `json:"seq,omitempty"`
	Stats    importStats `json:"stats"`
}

// ImportPlan is a validated import waiting for the caller's object-storage
// authorization and for CommitImport.
type ImportPlan struct {
	// Path is the directory or the manifest file to import.
	Path obs.Path
	// Manifest reports a manifest import.
	Manifest bool
	// Requester is who asks for the import; the caller sets it. The task
	// authorizes every object it reads for them.
	Requester *Requester
	projectID string
	params    importParams
}

// ManifestDir is the directory of a manifest import's file, against which
// its relative sources resolve.
func (p *ImportPlan) ManifestDir() obs.Path {
	dir := path.Dir(p.Path.Key)
	if dir == "." {
		return obs.Path{Bucket: p.Path.Bucket}
	}
	return obs.Path{Bucket: p.Path.Bucket, Key: dir + "/"}
}

// PlanImport validates an import request against the dataset.
func (s *Service) PlanImport(ctx context.Context, projectID, datasetID string, req *ImportRequest) (*ImportPlan, error) {
	if s.tasks == nil {
		return nil, errors.New("dataset: imports need a tasks manager")
	}
	r, err := s.load(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return nil, err
	}
	prm, p, err := checkImport(r, req)
	if err != nil {
		return nil, err
	}
	return &ImportPlan{Path: p, Manifest: prm.Manifest, projectID: projectID, params: prm}, nil
}

// checkImport validates every field of an import request.
func checkImport(r *row, req *ImportRequest) (importParams, obs.Path, error) {
	prm := importParams{DatasetID: r.ID}
	fail := func(format string, args ...any) (importParams, obs.Path, error) {
		return prm, obs.Path{}, badRequest(format, args...)
	}
	if req.ImportOrigin != "" && req.ImportOrigin != "obs" {
		return fail("Invalid parameter(import_origin): %q: only obs is supported by Atelier.", req.ImportOrigin)
	}
	switch req.ImportType {
	case "", "dir", "manifest":
	default:
		return fail("Invalid parameter(import_type): %q: want dir or manifest.", req.ImportType)
	}
	given := req.ImportPath
	if given == "" {
		return fail("Invalid parameter(import_path): required.")
	}
	prm.Manifest = req.ImportType == "manifest" ||
		req.ImportType == "" && !strings.HasSuffix(given, "/") && strings.HasSuffix(strings.ToLower(given), ".manifest")
	p, err := parseImportPath("import_path", given, prm.Manifest)
	if err != nil {
		return prm, obs.Path{}, err
	}
	if ds := req.DataSource; ds != nil {
		if ds.DataType != 0 {
			return fail("Invalid parameter(data_source.data_type): %d: only 0 (OBS) is supported by Atelier.", ds.DataType)
		}
		if len(ds.SourceInfo) > 0 && string(ds.SourceInfo) != "null" {
			return fail("Invalid parameter(data_source.source_info): only OBS data sources are supported.")
		}
		if len(ds.SchemaMaps) > 0 && r.Type != TypeTable {
			return fail("Invalid parameter(data_source.schema_maps): used only for table datasets.")
		}
		if ds.WithColumnHeader != nil && r.Type != TypeTable {
			return fail("Invalid parameter(data_source.with_column_header): used only for table datasets.")
		}
		if ds.DataPath != "" {
			dp, err := parseImportPath("data_source.data_path", ds.DataPath, prm.Manifest)
			if err != nil {
				return prm, obs.Path{}, err
			}
			if dp != p {
				return fail("Invalid parameter(data_source.data_path): %q differs from import_path %q.", ds.DataPath, given)
			}
		}
	}
	if prm.Manifest && (r.Type == TypeTable || r.Type == TypeCustom) {
		return fail("Invalid parameter(import_type): a %s dataset imports from a directory, not a manifest.", map[int]string{TypeTable: "table", TypeCustom: "free-format"}[r.Type])
	}
	prm.Annotations = req.ImportAnnotations == nil || *req.ImportAnnotations
	prm.Samples = req.ImportSamples == nil || *req.ImportSamples
	if !prm.Samples && !prm.Annotations {
		return fail("Invalid parameter(import_samples): false with import_annotations false leaves nothing to import.")
	}
	prm.Unconfirmed = req.FinalAnnotation != nil && !*req.FinalAnnotation
	prm.DifficultOnly = req.DifficultOnly != nil && *req.DifficultOnly
	if prm.DifficultOnly && !prm.Manifest {
		return fail("Invalid parameter(difficult_only): hard examples are marked in a manifest; a directory import has none.")
	}
	if req.LabelFormat != nil {
		if r.Type != TypeTextClassification {
			return fail("Invalid parameter(label_format): used only for text classification datasets.")
		}
		if err := checkLabelFormat(req.LabelFormat); err != nil {
			return prm, obs.Path{}, err
		}
		prm.LabelFormat = req.LabelFormat
	} else {
		prm.LabelFormat = r.Doc.LabelFormat
	}
	if req.WithColumnHeader != nil && r.Type != TypeTable {
		return fail("Invalid parameter(with_column_header): used only for table datasets.")
	}
	prm.WithColumnHeader = req.WithColumnHeader
	if f := req.ImportFolder; f != "" {
		if r.Type == TypeTable {
			return fail("Invalid parameter(import_folder): not used for table datasets.")
		}
		if err := obs.ValidateKey(f); err != nil {
			return fail("Invalid parameter(import_folder): %q is not a relative folder name (no leading /, no empty, . or .. segment).", f)
		}
		prm.Folder = f
	}
	for _, set := range []struct {
		field string
		refs  []LabelRef
		dst   *[]LabelRef
	}{{"included_labels", req.IncludedLabels, &prm.Included}, {"excluded_labels", req.ExcludedLabels, &prm.Excluded}} {
		for i, l := range set.refs {
			if l.Name == "" {
				return fail("Invalid parameter(%s[%d].name): required.", set.field, i)
			}
			if l.Type != nil && !ValidLabelType(*l.Type) {
				return fail("Invalid parameter(%s[%d].type): %d is not a label type.", set.field, i, *l.Type)
			}
		}
		*set.dst = set.refs
	}
	for i, ex := range prm.Excluded {
		for _, in := range prm.Included {
			if in.Name == ex.Name && (in.Type == nil || ex.Type == nil || *in.Type == *ex.Type) {
				return fail("Invalid parameter(excluded_labels[%d]): %q is also an included label.", i, ex.Name)
			}
		}
	}
	prm.Path = p.String()
	return prm, p, nil
}

// parseImportPath parses import_path: a directory (a whole bucket too) or,
// for a manifest import, an object.
func parseImportPath(field, s string, manifest bool) (obs.Path, error) {
	if strings.Contains(strings.TrimPrefix(strings.TrimPrefix(s, "obs://"), "s3://"), "//") {
		return obs.Path{}, invalid(CodeOBSPathDoubleSlash, "Invalid OBS path (%s): %q must not contain //.", field, s)
	}
	p, err := obs.ParsePath(s)
	if err != nil {
		if errors.Is(err, obs.ErrInvalidBucket) || errors.Is(err, obs.ErrInvalidKey) {
			return obs.Path{}, invalid(CodeOBSPathInvalid, "OBS path is invalid (%s): %q.", field, s)
		}
		return obs.Path{}, invalid(CodeInvalidPath, "Invalid path (%s): %q: want /bucket/path, obs://bucket/path or s3://bucket/path.", field, s)
	}
	if manifest {
		if p.IsDir() {
			return obs.Path{}, invalid(CodeInvalidPath, "Invalid path (%s): %q: a manifest import names the manifest file, not a directory.", field, s)
		}
		return p, nil
	}
	if p.Key != "" && !strings.HasSuffix(p.Key, "/") {
		p.Key += "/"
	}
	return p, nil
}

// CommitImport checks that the import path exists and queues the import,
// unless an import or a sync of the dataset is still running.
func (s *Service) CommitImport(ctx context.Context, p *ImportPlan) (string, error) {
	if err := s.objects.HeadBucket(ctx, p.Path.Bucket); err != nil {
		if errors.Is(err, obs.ErrBucketNotFound) {
			return "", invalid(CodeBucketNotExist, "OBS bucket does not exist: %s.", p.Path.Bucket)
		}
		return "", fmt.Errorf("check bucket %s: %w", p.Path.Bucket, err)
	}
	if p.Manifest {
		if _, err := s.objects.Head(ctx, p.Path.Bucket, p.Path.Key); err != nil {
			if errors.Is(err, obs.ErrNotFound) {
				return "", invalid(CodeOBSPathNotFound, "OBS path does not exist (import_path): %s.", p.Path)
			}
			return "", fmt.Errorf("check manifest %s: %w", p.Path, err)
		}
	}
	prm := p.params
	prm.Requester = p.Requester
	return s.enqueueExclusive(ctx, TaskImport, p.projectID, prm.DatasetID, prm)
}

// enqueueExclusive queues a task of a dataset unless an import or sync of
// it is active (an import does not wait for the one creation started). The
// dataset row is locked first (PostgreSQL; SQLite serialises writing
// transactions), so two requests cannot both pass.
func (s *Service) enqueueExclusive(ctx context.Context, kind, projectID, datasetID string, params any) (string, error) {
	var id string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.load(ctx, tx, projectID, datasetID, true); err != nil {
			return err
		}
		for _, k := range []string{TaskImport, TaskSync} {
			list, err := s.tasks.List(ctx, datasetID, k)
			if err != nil {
				return err
			}
			for _, t := range list {
				if t.Status.Final() || kind == TaskImport && createdImport(t) {
					continue
				}
				if k == TaskSync {
					return invalid(CodeSyncRunning, "Sync data source task exist: task %s is synchronizing the dataset.", t.ID)
				}
				return invalid(CodeImportRunning, "Dataset already has running import task: %s.", t.ID)
			}
		}
		t, err := s.tasks.Enqueue(ctx, tx, kind, projectID, datasetID, params)
		if err != nil {
			return err
		}
		id = t.ID
		return nil
	})
	return id, err
}

// createdImport reports the import a dataset's creation started. An
// explicit import may run beside it: the user did not ask for it, both only
// add samples, and each batch is written whole under the dataset's lock.
func createdImport(t *tasks.Task) bool {
	var prm importParams
	return t.Kind == TaskImport && json.Unmarshal(t.Params, &prm) == nil && prm.Origin == "create"
}

// EnqueueCreateImport queues, in the transaction that stores a new
// dataset, the import of its data source: always for file datasets (the
// reference's data_sources are "synchronized to the dataset"), for a table
// dataset only with import_data. It returns the task ID, or "" when
// nothing is imported (or the service runs without a tasks manager). Labels
// are imported as import_annotations said; samples that exist by the time
// the task runs are left alone.
func (s *Service) EnqueueCreateImport(ctx context.Context, tx *sql.Tx, p *CreatePlan) (string, error) {
	if s.tasks == nil || len(p.Inputs) == 0 || p.row.Type == TypeTable && !p.row.Doc.ImportData {
		return "", nil
	}
	prm := importParams{DatasetID: p.row.ID, Path: p.Inputs[0].String(), Annotations: p.row.Doc.ImportAnnotations,
		Samples: true, KeepExisting: true, LabelFormat: p.row.Doc.LabelFormat, Origin: "create", Requester: p.Requester}
	t, err := s.tasks.Enqueue(ctx, tx, TaskImport, p.row.ProjectID, p.row.ID, prm)
	if err != nil {
		return "", fmt.Errorf("queue the import of dataset %s: %w", p.row.ID, err)
	}
	return t.ID, nil
}

// SyncPlan is a sync waiting for the caller's object-storage authorization.
type SyncPlan struct {
	// Sources are the dataset's data-source directories it rescans.
	Sources []obs.Path
	// Requester is who asks for the sync; the caller sets it.
	Requester *Requester
	projectID string
	params    syncParams
}

// PlanSync prepares the sync of a dataset's data sources. The reference
// does not synchronize text datasets: their files hold many samples each,
// which a rescan cannot tell apart from edits.
func (s *Service) PlanSync(ctx context.Context, projectID, datasetID string) (*SyncPlan, error) {
	if s.tasks == nil {
		return nil, errors.New("dataset: syncs need a tasks manager")
	}
	r, err := s.load(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return nil, err
	}
	if r.Type == TypeTextClassification || r.Type == TypeNamedEntity || r.Type == TypeTextTriplet {
		return nil, badRequest("Text datasets do not support synchronizing the data source (dataset type %d).", r.Type)
	}
	p := &SyncPlan{projectID: projectID, params: syncParams{DatasetID: r.ID, Annotations: r.Doc.ImportAnnotations,
		LabelFormat: r.Doc.LabelFormat}}
	for _, src := range r.Doc.DataSources {
		dir, err := obs.ParsePath(src.DataPath)
		if err != nil || src.DataPath == "" {
			continue
		}
		p.Sources = append(p.Sources, dir)
		p.params.Sources = append(p.params.Sources, dir.String())
	}
	if len(p.Sources) == 0 {
		return nil, badRequest("The dataset has no OBS data source to synchronize.")
	}
	return p, nil
}

// CommitSync queues the sync unless an import or sync of the dataset runs.
func (s *Service) CommitSync(ctx context.Context, p *SyncPlan) (string, error) {
	for _, src := range p.Sources {
		if err := s.objects.HeadBucket(ctx, src.Bucket); err != nil {
			if errors.Is(err, obs.ErrBucketNotFound) {
				return "", invalid(CodeBucketNotExist, "OBS bucket does not exist: %s.", src.Bucket)
			}
			return "", fmt.Errorf("check bucket %s: %w", src.Bucket, err)
		}
	}
	prm := p.params
	prm.Requester = p.Requester
	return s.enqueueExclusive(ctx, TaskSync, p.projectID, prm.DatasetID, prm)
}

// importTaskHandlers are the handlers of imports and syncs.
func (s *Service) importTaskHandlers() map[string]tasks.Handler {
	return map[string]tasks.Handler{
		TaskImport: func(ctx context.Context, t *tasks.Task, p tasks.Progress) error {
			return s.taskError(ctx, t, s.runImport(ctx, t, p))
		},
		TaskSync: func(ctx context.Context, t *tasks.Task, p tasks.Progress) error {
			return s.taskError(ctx, t, s.runSync(ctx, t, p))
		},
	}
}

// taskError is what a failed task tells its clients: a domain error's
// message; anything else (store or storage trouble) is logged here and
// reported without detail, since task messages reach API callers.
func (s *Service) taskError(ctx context.Context, t *tasks.Task, err error) error {
	if err == nil || ctx.Err() != nil || errors.Is(err, tasks.ErrLeaseLost) {
		return err
	}
	if de, ok := AsError(err); ok {
		return errors.New(de.Msg)
	}
	s.log.ErrorContext(ctx, "dataset task failed", "task", t.ID, "kind", t.Kind, "err", err)
	return errors.New("internal error; the server log has the details")
}

// importFailed is a task error the caller can act on.
func importFailed(format string, args ...any) *Error {
	return invalid(CodeImportFailed, format, args...)
}

// runImport imports a directory or a manifest, from the checkpoint on.
func (s *Service) runImport(ctx context.Context, t *tasks.Task, p tasks.Progress) error {
	var prm importParams
	if err := json.Unmarshal(t.Params, &prm); err != nil {
		return fmt.Errorf("decode import task %s: %w", t.ID, err)
	}
	src, err := obs.ParsePath(prm.Path)
	if err != nil {
		return fmt.Errorf("import task %s path: %w", t.ID, err)
	}
	im, err := s.newImporter(ctx, t, p, prm.DatasetID, prm.BatchSize)
	if err != nil {
		return err
	}
	defer im.close()
	im.annotations, im.onlyExisting, im.difficultOnly = prm.Annotations, !prm.Samples, prm.DifficultOnly
	im.opts = WriteOptions{Unconfirmed: prm.Unconfirmed, KeepExisting: prm.KeepExisting}
	im.included, im.excluded, im.requester = prm.Included, prm.Excluded, prm.Requester
	im.labelFormat = prm.LabelFormat
	if prm.Manifest {
		err = im.importManifest(ctx, src)
	} else {
		err = im.importDir(ctx, 0, src)
	}
	if err != nil {
		return err
	}
	return im.finish(ctx)
}

// runSync scans each data source for new files, then removes the samples
// whose files are gone; a resumed run goes on with the phase and source
// its checkpoint names.
func (s *Service) runSync(ctx context.Context, t *tasks.Task, p tasks.Progress) error {
	var prm syncParams
	if err := json.Unmarshal(t.Params, &prm); err != nil {
		return fmt.Errorf("decode sync task %s: %w", t.ID, err)
	}
	im, err := s.newImporter(ctx, t, p, prm.DatasetID, prm.BatchSize)
	if err != nil {
		return err
	}
	defer im.close()
	// Files already in the dataset keep their samples and labels; new ones
	// bring the labels their layout gives.
	im.annotations, im.labelFormat, im.requester = prm.Annotations, prm.LabelFormat, prm.Requester
	im.opts = WriteOptions{KeepExisting: true}
	sources := make([]obs.Path, len(prm.Sources))
	for i, src := range prm.Sources {
		if sources[i], err = obs.ParsePath(src); err != nil {
			return fmt.Errorf("sync task %s source: %w", t.ID, err)
		}
	}
	if !im.cur.Removing {
		for i := im.cur.Source; i < len(sources); i++ {
			if i > im.cur.Source {
				// A new source: its listing starts from the beginning.
				im.cur = importCursor{Source: i, Stats: im.cur.Stats}
			}
			if err := im.importDir(ctx, i, sources[i]); err != nil {
				return err
			}
		}
	}
	if err := im.removeMissing(ctx, sources); err != nil {
		return err
	}
	return im.finish(ctx)
}

// importer runs one import or one sync into one dataset.
type importer struct {
	s         *Service
	p         tasks.Progress
	projectID string
	ds        *row
	batchSize int
	now       int64
	// What to import.
	annotations   bool
	onlyExisting  bool // import_samples=false: update samples that exist
	difficultOnly bool
	included      []LabelRef
	excluded      []LabelRef
	requester     *Requester
	labelFormat   *LabelFormat
	opts          WriteOptions
	// cur is the last committed checkpoint.
	cur importCursor
	// bulk writes every batch on one connection (see inTx).
	bulk *store.BulkWriter
}

// inTx runs fn in a transaction on the importer's bulk writer, which holds
// one connection for the whole task (see store.BulkWriter).
func (im *importer) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return im.bulk.InTx(ctx, fn)
}

// close gives the importer's connection back to the pool as it was.
func (im *importer) close() { im.bulk.Close() }

func (s *Service) newImporter(ctx context.Context, t *tasks.Task, p tasks.Progress, datasetID string, batchSize int) (*importer, error) {
	r, err := s.load(ctx, s.db, t.ProjectID, datasetID, false)
	if err != nil {
		if de, ok := AsError(err); ok && de.Kind == KindNotFound {
			return nil, importFailed("The dataset %s no longer exists.", datasetID)
		}
		return nil, err
	}
	if batchSize <= 0 {
		batchSize = ImportBatch
	}
	im := &importer{s: s, p: p, projectID: t.ProjectID, ds: r, batchSize: batchSize, now: s.now().UnixMilli(), bulk: s.db.BulkWriter(s.log)}
	if t.Cursor != "" {
		if err := json.Unmarshal([]byte(t.Cursor), &im.cur); err != nil {
			return nil, fmt.Errorf("decode the checkpoint of task %s: %w", t.ID, err)
		}
	}
	im.publish()
	return im, nil
}

// publish makes the figures visible while the task runs.
func (im *importer) publish() {
	data, err := json.Marshal(im.cur.Stats)
	if err == nil {
		im.p.SetResult(data)
	}
}

// finish records the final figures.
func (im *importer) finish(ctx context.Context) error {
	st := &im.cur.Stats
	var total int64
	if err := im.s.db.QueryRowContext(ctx, `SELECT total_sample_count FROM datasets WHERE id=$1`, im.ds.ID).Scan(&total); err != nil {
		return fmt.Errorf("read the dataset's sample count: %w", err)
	}
	st.Total = total
	im.p.SetTotal(st.Imported + st.Failed + st.Skipped)
	im.publish()
	return nil
}

// batch is what the producer hands the writer: samples, the failures met
// on the way, and the position after them.
type batch struct {
	inputs  []SampleInput
	where   []string // the item each input came from ("line 12", "obs://b/k")
	fails   []tasks.Failure
	skipped int64 // samples a filter left out
	files   int64 // objects examined
	bytes   int64
	cursor  importCursor // position after the batch; the writer adds the figures
	// err, set by a producer's worker, ends the task: a decision that
	// could not be made, not a line's fault.
	err error
}

func (b *batch) fail(item, reason string) {
	b.fails = append(b.fails, tasks.Failure{Item: item, Reason: reason})
}

func (b *batch) items() int { return len(b.inputs) + len(b.fails) }

// write commits one batch: its samples with the counters they change, its
// failures, and the checkpoint after it, in one transaction.
func (im *importer) write(ctx context.Context, b *batch) error {
	if b.err != nil {
		return b.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var st importStats
	err := im.inTx(ctx, func(tx *sql.Tx) error {
		st = im.cur.Stats
		st.Skipped += b.skipped
		st.Files += b.files
		st.Bytes += b.bytes
		in, where := b.inputs, b.where
		if im.onlyExisting && len(in) > 0 {
			var left int64
			var err error
			if in, where, left, err = im.existingOnly(ctx, tx, in, where); err != nil {
				return err
			}
			st.Skipped += left
		}
		var fails []tasks.Failure
		var ok int64
		if len(in) > 0 {
			res, err := im.s.WriteSamplesTx(ctx, tx, im.projectID, im.ds.ID, in, im.opts)
			if err != nil {
				return fmt.Errorf("write %d samples: %w", len(in), err)
			}
			for i, wr := range res {
				if wr.Err != nil {
					fails = append(fails, tasks.Failure{Item: where[i], Reason: itemReason(wr.Err, i, where)})
					continue
				}
				ok++
				if wr.Created {
					st.Added++
				}
				if len(in[i].Labels) > 0 && (wr.Created || !im.opts.KeepExisting) {
					if im.opts.Unconfirmed {
						st.Unconfirmed++
					} else {
						st.Annotated++
					}
				}
			}
		}
		st.Imported += ok
		st.Failed += int64(len(b.fails) + len(fails))
		cur := b.cursor
		cur.Stats = st
		data, err := json.Marshal(cur)
		if err != nil {
			return fmt.Errorf("encode checkpoint: %w", err)
		}
		// The batch's counts go to the task before the checkpoint that
		// covers them.
		for _, f := range b.fails {
			im.p.Fail(f.Item, f.Reason)
		}
		for _, f := range fails {
			im.p.Fail(f.Item, f.Reason)
		}
		im.p.Succeed(ok)
		return im.p.CheckpointTx(ctx, tx, string(data))
	})
	if err != nil {
		return err
	}
	im.cur = b.cursor
	im.cur.Stats = st
	im.publish()
	return nil
}

// existingOnly keeps the inputs whose samples exist (import_samples=false
// updates labels, adds nothing) and counts the others.
func (im *importer) existingOnly(ctx context.Context, tx *sql.Tx, in []SampleInput, where []string) ([]SampleInput, []string, int64, error) {
	ids := make([]string, len(in))
	for i := range in {
		ids[i] = SampleID(in[i].Source)
	}
	found, err := loadExisting(ctx, im.s.db, tx, im.ds.ID, ids)
	if err != nil {
		return nil, nil, 0, err
	}
	var keep []SampleInput
	var keepWhere []string
	for i := range in {
		if found[ids[i]] != nil {
			keep = append(keep, in[i])
			keepWhere = append(keepWhere, where[i])
		}
	}
	return keep, keepWhere, int64(len(in) - len(keep)), nil
}

var samplesRef = regexp.MustCompile(`samples\[(\d+)\]`)

// itemReason turns WriteSamples' message about input i, which names inputs
// by their index in the batch, into one that names lines and files.
func itemReason(err error, i int, where []string) string {
	msg := err.Error()
	if de, ok := AsError(err); ok {
		msg = de.Msg
	}
	msg = strings.TrimLeft(strings.TrimPrefix(msg, fmt.Sprintf("samples[%d]", i)), ".: ")
	return samplesRef.ReplaceAllStringFunc(msg, func(m string) string {
		j, err := strconv.Atoi(m[len("samples[") : len(m)-1])
		if err != nil || j >= len(where) {
			return m
		}
		return where[j]
	})
}

// keepLabels applies the label filters (included_labels, excluded_labels)
// to a sample's labels.
func (im *importer) keepLabels(labels []annotation.Label) bool {
	match := func(refs []LabelRef) bool {
		for _, l := range labels {
			for _, r := range refs {
				if l.Name == r.Name && (r.Type == nil || *r.Type == l.Type) {
					return true
				}
			}
		}
		return false
	}
	if match(im.excluded) {
		return false
	}
	return len(im.included) == 0 || match(im.included)
}

// needLabels reports whether labels must be read: to import them or to
// filter on them.
func (im *importer) needLabels() bool {
	return im.annotations || len(im.included) > 0 || len(im.excluded) > 0
}

// admit decides a sample's fate by its labels: left out by a filter, or
// kept with its labels (none without import_annotations).
func (im *importer) admit(labels []annotation.Label) ([]annotation.Label, bool) {
	if !im.keepLabels(labels) {
		return nil, false
	}
	if !im.annotations {
		return nil, true
	}
	return labels, true
}

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
	acc, err := im.s.objectAccess(ctx, im.requester)
	if err != nil {
		return err
	}
	if reason, err := denied(ctx, acc, actionGet, file); err != nil || reason != "" {
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
	err = pipeline.Ordered(ctx, workers,
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
		im.write)
	if err != nil {
		return err
	}
	return im.write(ctx, finalBatch(end, start.Stats.Files > 0))
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
	b := &batch{cursor: c.end}
	// The requester's permissions as they are now decide this chunk's
	// objects: a change applies from the next chunk on.
	acc, err := im.s.objectAccess(ctx, im.requester)
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
	b.inputs = make([]SampleInput, 0, len(items))
	b.where = make([]string, 0, len(items))
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
		b.inputs = append(b.inputs, SampleInput{Source: it.source, SampleType: it.rec.SampleType, SampleTime: im.now,
			Usage: it.rec.Usage, Labels: labels, Metadata: it.rec.Metadata})
		b.where = append(b.where, "line "+strconv.FormatInt(it.line, 10))
	}
	sort.SliceStable(fails, func(i, j int) bool { return fails[i].line < fails[j].line })
	for _, f := range fails {
		b.fail("line "+strconv.FormatInt(f.line, 10), f.reason)
	}
	return b
}

// mapEntities reads text_entity annotations as the dataset's kind of
// entity: the manifest reader cannot tell a named entity from a triplet
// entity on a line without relations.
func (im *importer) mapEntities(labels []annotation.Label) []annotation.Label {
	from, to := -1, -1
	switch im.ds.Type {
	case TypeNamedEntity:
		from, to = annotation.TypeTripletEntity, annotation.TypeNamedEntity
	case TypeTextTriplet:
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
func (im *importer) manifestSource(ctx context.Context, acc ObjectAccess, bucket, dir, loc string) (string, string, error) {
	if strings.HasPrefix(loc, ContentScheme) {
		switch im.ds.Type {
		case TypeTextClassification, TypeNamedEntity, TypeTextTriplet:
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
func (im *importer) manifestObject(ctx context.Context, acc ObjectAccess, bucket, dir, loc, field string) (obs.Path, string, error) {
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
	if reason := im.s.checkObjectKey(p); reason != "" {
		return obs.Path{}, field + " " + reason, nil
	}
	reason, err := denied(ctx, acc, actionGet, p)
	if err != nil {
		return obs.Path{}, "", err
	}
	if reason != "" {
		return obs.Path{}, field + " " + p.String() + ": " + reason, nil
	}
	return p, "", nil
}

// addVOCs reads the VOC files a record points at and adds their labels.
func (im *importer) addVOCs(ctx context.Context, acc ObjectAccess, bucket, dir string, rec *formats.Record) (string, error) {
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
	acc ObjectAccess
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
	if lf := im.labelFormat; lf != nil && im.ds.Type == TypeTextClassification {
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
		acc, err := im.s.objectAccess(ctx, im.requester)
		if err != nil {
			return err
		}
		if reason, err := denied(ctx, acc, actionList, obs.Path{Bucket: dir.Bucket}); err != nil || reason != "" {
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
			reason, err := denied(ctx, acc, actionGet, obs.Path{Bucket: dir.Bucket, Key: o.Key})
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
		if reason, err := denied(ctx, ds.acc, actionGet, obs.Path{Bucket: ds.dir.Bucket, Key: key}); err != nil || reason != "" {
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
			if !(ds.im.ds.Type == TypeObjectDetection && slices.Contains(yoloFiles, rel)) {
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
	return t == TypeTextClassification || t == TypeNamedEntity || t == TypeTextTriplet
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
	in := SampleInput{Source: src, SampleType: s.SampleType, Size: s.Size, SampleTime: ds.keys.info[s.Key].mod, Labels: labels}
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
	lf := LabelFormat{}
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
			ds.b.inputs = append(ds.b.inputs, SampleInput{Source: ContentScheme + ts.Text, SampleType: annotation.SampleText,
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
	if err := ds.emit(ds.b); err != nil {
		return err
	}
	ds.b = &batch{}
	return nil
}

// ---- Sync removals ----

// removeMissing deletes the samples under the sync's sources whose objects
// are gone: it lists the sources (the listing after the add phase, or again
// after a restart) and walks the dataset's samples in seq order from the
// checkpoint, a page per transaction.
func (im *importer) removeMissing(ctx context.Context, sources []obs.Path) error {
	var present [][16]byte
	prefixes := make([]string, len(sources))
	for i, src := range sources {
		prefixes[i] = "obs://" + src.Bucket + "/" + src.Key
		after := ""
		for {
			page, err := im.s.objects.List(ctx, src.Bucket, obs.ListOptions{Prefix: src.Key, StartAfter: after})
			if errors.Is(err, obs.ErrBucketNotFound) {
				return importFailed("OBS bucket does not exist: %s.", src.Bucket)
			}
			if err != nil {
				return fmt.Errorf("list %s: %w", src, err)
			}
			for _, o := range page.Objects {
				id, _ := hex.DecodeString(SampleID("obs://" + src.Bucket + "/" + o.Key))
				present = append(present, [16]byte(id))
			}
			if !page.Truncated {
				break
			}
			after = page.NextStartAfter
		}
	}
	slices.SortFunc(present, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	under := func(src string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(src, p) {
				return true
			}
		}
		return false
	}
	seq := int64(0)
	if im.cur.Removing {
		seq = im.cur.Seq
	}
	for {
		rows, err := im.s.db.QueryContext(ctx, `SELECT seq, id, source FROM dataset_samples WHERE dataset_id=$1 AND seq>$2
			ORDER BY seq LIMIT $3`, im.ds.ID, seq, im.batchSize)
		if err != nil {
			return fmt.Errorf("list samples to check: %w", err)
		}
		var gone []int64
		n := 0
		for rows.Next() {
			var s int64
			var id, src string
			if err := rows.Scan(&s, &id, &src); err != nil {
				rows.Close()
				return fmt.Errorf("list samples to check: %w", err)
			}
			n++
			seq = s
			if !under(src) {
				continue
			}
			raw, err := hex.DecodeString(id)
			if err != nil || len(raw) != 16 {
				continue
			}
			if _, found := slices.BinarySearchFunc(present, [16]byte(raw), func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) }); !found {
				gone = append(gone, s)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list samples to check: %w", err)
		}
		if n == 0 {
			return nil
		}
		st := im.cur.Stats
		st.Deleted += int64(len(gone))
		cur := importCursor{Removing: true, Seq: seq, Source: len(sources), Stats: st}
		if err := ctx.Err(); err != nil {
			return err
		}
		err = im.inTx(ctx, func(tx *sql.Tx) error {
			if len(gone) > 0 {
				r, err := im.s.load(ctx, tx, im.projectID, im.ds.ID, true)
				if err != nil {
					return err
				}
				if err := deleteSampleSeqs(ctx, im.s.db, tx, r, gone, im.s.now().UnixMilli()); err != nil {
					return err
				}
			}
			data, err := json.Marshal(cur)
			if err != nil {
				return fmt.Errorf("encode checkpoint: %w", err)
			}
			return im.p.CheckpointTx(ctx, tx, string(data))
		})
		if err != nil {
			return err
		}
		im.cur = cur
		im.publish()
	}
}

// ---- Views ----

// ImportTask is an import task as the list and details APIs return it
// (ImportTaskStatusResp). FailedSampleCount, FailedFiles and
// FailedFilesOmitted are Atelier's: the lines and files that were not
// imported and why (the first ones; the others are only counted).
type ImportTask struct {
	AnnotatedSampleCount   int64            `json:"annotated_sample_count"`
	CreateTime             int64            `json:"create_time"`
	DataSource             DataSource       `json:"data_source"`
	DatasetID              string           `json:"dataset_id"`
	ElapsedTime            int64            `json:"elapsed_time"`
	ErrorCode              string           `json:"error_code,omitempty"`
	ErrorMsg               string           `json:"error_msg,omitempty"`
	FileStatistics         FileCopyProgress `json:"file_statistics"`
	FinishedFileCount      int64            `json:"finished_file_count"`
	FinishedFileSize       int64            `json:"finished_file_size"`
	ImportPath             string           `json:"import_path"`
	ImportType             int              `json:"import_type"`
	ImportedSampleCount    int64            `json:"imported_sample_count"`
	ImportedSubSampleCount int64            `json:"imported_sub_sample_count"`
	Status                 string           `json:"status"`
	TaskID                 string           `json:"task_id"`
	TotalFileCount         int64            `json:"total_file_count"`
	TotalFileSize          int64            `json:"total_file_size"`
	TotalSampleCount       int64            `json:"total_sample_count"`
	TotalSubSampleCount    int64            `json:"total_sub_sample_count"`
	UnconfirmedSampleCount int64            `json:"unconfirmed_sample_count"`
	UpdateMs               int64            `json:"update_ms"`
	FailedSampleCount      int64            `json:"failed_sample_count"`
	FailedFiles            []FailedFile     `json:"failed_files,omitempty"`
	FailedFilesOmitted     int64            `json:"failed_files_omitted,omitempty"`
}

// FileCopyProgress is the reference's file replication progress. Atelier
// copies nothing: it counts the objects an import examined.
type FileCopyProgress struct {
	FileNumFinished  int64 `json:"file_num_finished"`
	FileNumTotal     int64 `json:"file_num_total"`
	FileSizeFinished int64 `json:"file_size_finished"`
	FileSizeTotal    int64 `json:"file_size_total"`
}

// FailedFile is one line, file or sample an import could not take.
type FailedFile struct {
	Item   string `json:"item"`
	Reason string `json:"reason"`
}

// taskStats reads a task's figures: its result, written with its progress,
// or else its checkpoint.
func taskStats(t *tasks.Task) importStats {
	var st importStats
	if len(t.Result) > 0 && json.Unmarshal(t.Result, &st) == nil {
		return st
	}
	var cur importCursor
	if t.Cursor != "" && json.Unmarshal([]byte(t.Cursor), &cur) == nil {
		return cur.Stats
	}
	return st
}

// taskStatus is the reference's status of a task.
func taskStatus(t *tasks.Task) string {
	switch t.Status {
	case tasks.Queued:
		return "QUEUING"
	case tasks.Running:
		if t.Started.IsZero() {
			return "STARTING"
		}
		return "RUNNING"
	case tasks.Succeeded:
		return "COMPLETED"
	}
	return "FAILED"
}

// taskError is the error code and message of a task that did not succeed.
func taskErrorOf(t *tasks.Task) (string, string) {
	switch t.Status {
	case tasks.Failed:
		return CodeImportFailed, t.ErrorMessage
	case tasks.Cancelled:
		return CodeTaskStopped, "The task was cancelled."
	}
	return "", ""
}

// taskTimes are a task's running time and the time it last changed.
func (s *Service) taskTimes(t *tasks.Task) (elapsed time.Duration, updated time.Time) {
	end := t.Finished
	if end.IsZero() {
		end = s.now()
	}
	updated = t.Created
	if !t.Started.IsZero() {
		elapsed = end.Sub(t.Started)
		updated = end
	}
	return max(elapsed, 0), updated
}

// importTask looks up an import task of the dataset.
func (s *Service) importTask(ctx context.Context, projectID, datasetID, taskID string) (*tasks.Task, error) {
	if s.tasks == nil {
		return nil, errors.New("dataset: imports need a tasks manager")
	}
	t, err := s.tasks.Get(ctx, taskID)
	if errors.Is(err, tasks.ErrNotFound) || err == nil && (t.Kind != TaskImport || t.ProjectID != projectID || t.ResourceID != datasetID) {
		return nil, &Error{Kind: KindNotFound, Code: CodeTaskNotFound, Msg: fmt.Sprintf("The resource not exists: import task %s of dataset %s.", taskID, datasetID)}
	}
	return t, err
}

// ImportTask returns one import task of a dataset with the failures kept.
func (s *Service) ImportTask(ctx context.Context, projectID, datasetID, taskID string) (*ImportTask, error) {
	if _, err := s.Workspace(ctx, projectID, datasetID); err != nil {
		return nil, err
	}
	t, err := s.importTask(ctx, projectID, datasetID, taskID)
	if err != nil {
		return nil, err
	}
	v := s.importView(t)
	fails, err := s.tasks.Failures(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	v.FailedFiles = make([]FailedFile, len(fails))
	for i, f := range fails {
		v.FailedFiles[i] = FailedFile{Item: f.Item, Reason: f.Reason}
	}
	v.FailedFilesOmitted = t.FailuresOmitted
	return v, nil
}

// ImportTasks lists a dataset's import tasks, newest first: the page from
// offset and the number of all.
func (s *Service) ImportTasks(ctx context.Context, projectID, datasetID string, offset, limit int) (int, []*ImportTask, error) {
	if s.tasks == nil {
		return 0, nil, errors.New("dataset: imports need a tasks manager")
	}
	if _, err := s.Workspace(ctx, projectID, datasetID); err != nil {
		return 0, nil, err
	}
	list, err := s.tasks.List(ctx, datasetID, TaskImport)
	if err != nil {
		return 0, nil, err
	}
	out := []*ImportTask{}
	for i := offset; i < len(list) && len(out) < limit; i++ {
		out = append(out, s.importView(list[i]))
	}
	return len(list), out, nil
}

// importView maps a task record to the reference's fields.
func (s *Service) importView(t *tasks.Task) *ImportTask {
	var prm importParams
	_ = json.Unmarshal(t.Params, &prm)
	st := taskStats(t)
	elapsed, updated := s.taskTimes(t)
	v := &ImportTask{AnnotatedSampleCount: st.Annotated, CreateTime: t.Created.UnixMilli(),
		DataSource: DataSource{DataPath: prm.Path, DataType: 0}, DatasetID: t.ResourceID,
		ElapsedTime: int64(elapsed / time.Second), ImportPath: prm.Path, ImportedSampleCount: st.Imported,
		Status: taskStatus(t), TaskID: t.ID, TotalSampleCount: st.Imported + st.Failed + st.Skipped,
		UnconfirmedSampleCount: st.Unconfirmed, UpdateMs: updated.UnixMilli(), FailedSampleCount: st.Failed}
	if prm.Manifest {
		v.ImportType = 1
	}
	v.ErrorCode, v.ErrorMsg = taskErrorOf(t)
	// Examined objects: those a directory listing gave, or the manifest.
	v.FinishedFileCount, v.FinishedFileSize = st.Files, st.Bytes
	v.TotalFileCount, v.TotalFileSize = st.Files, st.Bytes
	v.FileStatistics = FileCopyProgress{FileNumFinished: st.Files, FileNumTotal: st.Files, FileSizeFinished: st.Bytes, FileSizeTotal: st.Bytes}
	return v
}

// SyncStatus is the latest sync of a dataset (SyncDataSourceState).
// DurationTime is in milliseconds.
type SyncStatus struct {
	AddSampleCount     int64  `json:"add_sample_count"`
	CreateTime         int64  `json:"create_time,omitempty"`
	DatasetID          string `json:"dataset_id"`
	DeletedSampleCount int64  `json:"deleted_sample_count"`
	DurationTime       int64  `json:"duration_time"`
	ErrorCode          string `json:"error_code,omitempty"`
	ErrorMsg           string `json:"error_msg,omitempty"`
	Status             string `json:"status"`
	TaskID             string `json:"task_id,omitempty"`
	TotalSampleCount   int64  `json:"total_sample_count"`
}

// SyncStatus answers the status of the dataset's latest sync; NOT_EXIST
// when it never synced.
func (s *Service) SyncStatus(ctx context.Context, projectID, datasetID string) (*SyncStatus, error) {
	if s.tasks == nil {
		return nil, errors.New("dataset: syncs need a tasks manager")
	}
	r, err := s.load(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return nil, err
	}
	list, err := s.tasks.List(ctx, datasetID, TaskSync)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return &SyncStatus{DatasetID: datasetID, Status: "NOT_EXIST", TotalSampleCount: r.Total}, nil
	}
	t := list[0]
	st := taskStats(t)
	elapsed, _ := s.taskTimes(t)
	out := &SyncStatus{AddSampleCount: st.Added, CreateTime: t.Created.UnixMilli(), DatasetID: datasetID,
		DeletedSampleCount: st.Deleted, DurationTime: elapsed.Milliseconds(), Status: taskStatus(t), TaskID: t.ID,
		TotalSampleCount: r.Total}
	out.ErrorCode, out.ErrorMsg = taskErrorOf(t)
	return out, nil
}
