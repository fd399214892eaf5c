package importer

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"path"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/obs"
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
	DataSource        *dataset.DataSource  `json:"data_source,omitempty"`
	DifficultOnly     *bool                `json:"difficult_only,omitempty"`
	ExcludedLabels    []LabelRef           `json:"excluded_labels,omitempty"`
	FinalAnnotation   *bool                `json:"final_annotation,omitempty"`
	ImportAnnotations *bool                `json:"import_annotations,omitempty"`
	ImportFolder      string               `json:"import_folder,omitempty"`
	ImportOrigin      string               `json:"import_origin,omitempty"`
	ImportPath        string               `json:"import_path"`
	ImportSamples     *bool                `json:"import_samples,omitempty"`
	ImportType        string               `json:"import_type,omitempty"`
	IncludedLabels    []LabelRef           `json:"included_labels,omitempty"`
	LabelFormat       *dataset.LabelFormat `json:"label_format,omitempty"`
	WithColumnHeader  *bool                `json:"with_column_header,omitempty"`
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
	var lb dataset.Label
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
	KeepExisting     bool                 `json:"keep_existing,omitempty"`
	DifficultOnly    bool                 `json:"difficult_only,omitempty"`
	Included         []LabelRef           `json:"included_labels,omitempty"`
	Excluded         []LabelRef           `json:"excluded_labels,omitempty"`
	Folder           string               `json:"import_folder,omitempty"`
	LabelFormat      *dataset.LabelFormat `json:"label_format,omitempty"`
	WithColumnHeader *bool                `json:"with_column_header,omitempty"`
	// Requester is who asked for the import: each object the task reads
	// (the manifest, the sources and annotation files its lines name, the
	// files of a directory) is authorized for them when it is read. A
	// task without one reads nothing.
	Requester *dataset.Requester `json:"requester,omitempty"`
	// Origin is "create" for the import a dataset's creation starts.
	Origin string `json:"origin,omitempty"`
	// BatchSize overrides ImportBatch (tests make it small to stop a task
	// between batches).
	BatchSize int `json:"batch_size,omitempty"`
}

// syncParams is what a sync task carries.
type syncParams struct {
	DatasetID   string               `json:"dataset_id"`
	Sources     []string             `json:"sources"` // obs://bucket/dir/
	Annotations bool                 `json:"import_annotations"`
	LabelFormat *dataset.LabelFormat `json:"label_format,omitempty"`
	BatchSize   int                  `json:"batch_size,omitempty"`
	// Requester is who asked for the sync (see importParams).
	Requester *dataset.Requester `json:"requester,omitempty"`
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
	// Sorted, with Line and Offset at the start of a window of chunks,
	// says that the window's samples up to this sort key are written
	// (see window).
	Sorted string `json:"sorted,omitempty"`
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
	Requester *dataset.Requester
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
	r, err := s.ds.LoadRow(ctx, s.db, projectID, datasetID, false)
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
func checkImport(r *dataset.Row, req *ImportRequest) (importParams, obs.Path, error) {
	prm := importParams{DatasetID: r.ID}
	fail := func(format string, args ...any) (importParams, obs.Path, error) {
		return prm, obs.Path{}, dataset.Invalid(dataset.CodeInvalid, format, args...)
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
		if len(ds.SchemaMaps) > 0 && r.Type != dataset.TypeTable {
			return fail("Invalid parameter(data_source.schema_maps): used only for table datasets.")
		}
		if ds.WithColumnHeader != nil && r.Type != dataset.TypeTable {
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
	if prm.Manifest && (r.Type == dataset.TypeTable || r.Type == dataset.TypeCustom) {
		return fail("Invalid parameter(import_type): a %s dataset imports from a directory, not a manifest.", map[int]string{dataset.TypeTable: "table", dataset.TypeCustom: "free-format"}[r.Type])
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
		if r.Type != dataset.TypeTextClassification {
			return fail("Invalid parameter(label_format): used only for text classification datasets.")
		}
		if err := dataset.CheckLabelFormat(req.LabelFormat); err != nil {
			return prm, obs.Path{}, err
		}
		prm.LabelFormat = req.LabelFormat
	} else {
		prm.LabelFormat = r.Doc.LabelFormat
	}
	if req.WithColumnHeader != nil && r.Type != dataset.TypeTable {
		return fail("Invalid parameter(with_column_header): used only for table datasets.")
	}
	prm.WithColumnHeader = req.WithColumnHeader
	if f := req.ImportFolder; f != "" {
		if r.Type == dataset.TypeTable {
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
			if l.Type != nil && !dataset.ValidLabelType(*l.Type) {
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
		return obs.Path{}, dataset.Invalid(dataset.CodeOBSPathDoubleSlash, "Invalid OBS path (%s): %q must not contain //.", field, s)
	}
	p, err := obs.ParsePath(s)
	if err != nil {
		if errors.Is(err, obs.ErrInvalidBucket) || errors.Is(err, obs.ErrInvalidKey) {
			return obs.Path{}, dataset.Invalid(dataset.CodeOBSPathInvalid, "OBS path is invalid (%s): %q.", field, s)
		}
		return obs.Path{}, dataset.Invalid(dataset.CodeInvalidPath, "Invalid path (%s): %q: want /bucket/path, obs://bucket/path or s3://bucket/path.", field, s)
	}
	if manifest {
		if p.IsDir() {
			return obs.Path{}, dataset.Invalid(dataset.CodeInvalidPath, "Invalid path (%s): %q: a manifest import names the manifest file, not a directory.", field, s)
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
			return "", dataset.Invalid(dataset.CodeBucketNotExist, "OBS bucket does not exist: %s.", p.Path.Bucket)
		}
		return "", fmt.Errorf("check bucket %s: %w", p.Path.Bucket, err)
	}
	if p.Manifest {
		if _, err := s.objects.Head(ctx, p.Path.Bucket, p.Path.Key); err != nil {
			if errors.Is(err, obs.ErrNotFound) {
				return "", dataset.Invalid(CodeOBSPathNotFound, "OBS path does not exist (import_path): %s.", p.Path)
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
		if _, err := s.ds.LoadRow(ctx, tx, projectID, datasetID, true); err != nil {
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
					return dataset.Invalid(CodeSyncRunning, "Sync data source task exist: task %s is synchronizing the dataset.", t.ID)
				}
				return dataset.Invalid(CodeImportRunning, "Dataset already has running import task: %s.", t.ID)
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
func (s *Service) EnqueueCreateImport(ctx context.Context, tx *sql.Tx, p *dataset.CreatePlan) (string, error) {
	if s.tasks == nil || len(p.Inputs) == 0 || p.Row.Type == dataset.TypeTable && !p.Row.Doc.ImportData {
		return "", nil
	}
	prm := importParams{DatasetID: p.Row.ID, Path: p.Inputs[0].String(), Annotations: p.Row.Doc.ImportAnnotations,
		Samples: true, KeepExisting: true, LabelFormat: p.Row.Doc.LabelFormat, Origin: "create", Requester: p.Requester}
	t, err := s.tasks.Enqueue(ctx, tx, TaskImport, p.Row.ProjectID, p.Row.ID, prm)
	if err != nil {
		return "", fmt.Errorf("queue the import of dataset %s: %w", p.Row.ID, err)
	}
	return t.ID, nil
}

// SyncPlan is a sync waiting for the caller's object-storage authorization.
type SyncPlan struct {
	// Sources are the dataset's data-source directories it rescans.
	Sources []obs.Path
	// Requester is who asks for the sync; the caller sets it.
	Requester *dataset.Requester
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
	r, err := s.ds.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return nil, err
	}
	if r.Type == dataset.TypeTextClassification || r.Type == dataset.TypeNamedEntity || r.Type == dataset.TypeTextTriplet {
		return nil, dataset.Invalid(dataset.CodeInvalid, "Text datasets do not support synchronizing the data source (dataset type %d).", r.Type)
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
		return nil, dataset.Invalid(dataset.CodeInvalid, "The dataset has no OBS data source to synchronize.")
	}
	return p, nil
}

// CommitSync queues the sync unless an import or sync of the dataset runs.
func (s *Service) CommitSync(ctx context.Context, p *SyncPlan) (string, error) {
	for _, src := range p.Sources {
		if err := s.objects.HeadBucket(ctx, src.Bucket); err != nil {
			if errors.Is(err, obs.ErrBucketNotFound) {
				return "", dataset.Invalid(dataset.CodeBucketNotExist, "OBS bucket does not exist: %s.", src.Bucket)
			}
			return "", fmt.Errorf("check bucket %s: %w", src.Bucket, err)
		}
	}
	prm := p.params
	prm.Requester = p.Requester
	return s.enqueueExclusive(ctx, TaskSync, p.projectID, prm.DatasetID, prm)
}
