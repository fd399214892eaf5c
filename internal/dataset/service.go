// Package dataset is the core of the dataset domain: datasets, their
// labels and samples. It owns validation of the reference's fields, the
// stored rows (indexed columns for what lists filter and sort on, counters
// that sample writes maintain in the same transaction, a JSON document for
// the rest), the label set's rules (unique names and shortcuts, label types
// of the dataset type, triplet relationships between existing entity
// labels) and sample queries and statistics. It knows neither HTTP nor IAM:
// the API layer authorizes the object-storage locations a plan names, then
// commits it with the requester, for whom background tasks have each object
// they touch decided by the ObjectAuthorizer the service is given.
//
// Long work lives in rooms beside the core, each a sub-package with its own
// service and task kinds: importer (imports and syncs), versions (versions,
// publishing and the manifest engine) and exporter (exports). They attach
// to the core through the seams of rooms.go; the core imports none of them.
package dataset

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
)

// Options configure a Service.
type Options struct {
	DB      *store.DB
	Objects obs.Store
	Logger  *slog.Logger
	Now     func() time.Time
	// Authorize decides, for the user who asked for a task of a room
	// (imports, exports, publishing), each object the task reads or
	// writes; without it ObjectAccess refuses (tests of the synchronous
	// parts).
	Authorize ObjectAuthorizer
}

// Scope is where a request acts: every query filters by project, and
// datasets live in a workspace of it.
type Scope struct {
	ProjectID           string
	WorkspaceID         string
	EnterpriseProjectID string
}

// Service is the dataset domain.
type Service struct {
	db      *store.DB
	repo    *repo
	objects obs.Store
	log     *slog.Logger
	now     func() time.Time
	// authorize decides the objects tasks touch (see objauth.go).
	authorize ObjectAuthorizer
	// workspaces and labelCache spare the dataset routes a read each (see
	// cache.go).
	workspaces boundedMap[datasetKey, string]
	labelCache boundedMap[string, cachedLabels]
	indexCache boundedMap[string, cachedIndex]
}

// New builds the service.
func New(opts Options) (*Service, error) {
	if opts.DB == nil || opts.Objects == nil {
		return nil, errors.New("dataset: a database and an object store are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{db: opts.DB, repo: &repo{db: opts.DB}, objects: opts.Objects, log: opts.Logger, now: opts.Now, authorize: opts.Authorize}, nil
}

// CreatePlan is a validated dataset waiting for the caller's object-storage
// authorization and for CommitCreate.
type CreatePlan struct {
	// Inputs are the data sources' directories; Work is the work path.
	Inputs []obs.Path
	Work   obs.Path
	// Requester is who creates the dataset, for whom the import of its
	// data source reads objects; the caller sets it.
	Requester *Requester
	// ImportTaskID is the import of the data source that CommitCreate
	// queued ("" when none).
	ImportTaskID string
	// Row is the dataset about to be stored.
	Row    Row
	scope  Scope
	labels []Label
}

// row is a dataset as stored.
type Row struct {
	ID, ProjectID, WorkspaceID, Name, Description string
	Type, Status                                  int
	CreateTime, UpdateTime, DataUpdateTime        int64
	Total, Annotated, Unconfirmed, Deleted        int64
	Loading, TotalSub, AnnotatedSub               int64
	Versions, NextVersion                         int
	CurrentVersionID, CurrentVersionName          string
	LabelSeq, SampleSeq, Hard                     int64
	// LabelsRev moves with every change of the dataset's labels (see
	// labelCache).
	LabelsRev     int64
	InnerWorkPath string
	Doc           doc
}

// storedDoc is the JSON column: the document and the inner work path fixed
// at creation (a later rename does not move the dataset's files).
type storedDoc struct {
	doc
	InnerWorkPath string `json:"inner_work_path"`
}

// PlanCreate validates a create request.
func (s *Service) PlanCreate(sc Scope, req *CreateRequest) (*CreatePlan, error) {
	if err := checkName("dataset_name", req.DatasetName); err != nil {
		return nil, err
	}
	if err := CheckDescription("description", req.Description, createDescForbidden); err != nil {
		return nil, err
	}
	typ := TypeImageClassification
	if req.DatasetType != nil {
		typ = *req.DatasetType
	}
	if !ValidType(typ) {
		return nil, badRequest("Invalid parameter(dataset_type): %d is not a dataset type.", typ)
	}
	format := "Default"
	if req.DataFormat != "" {
		switch req.DataFormat {
		case "Default":
		case "CarbonData":
			if typ != TypeTable {
				return nil, badRequest("Invalid parameter(data_format): CarbonData is supported only by table datasets.")
			}
		default:
			return nil, badRequest("Invalid parameter(data_format): %q: want Default or CarbonData.", req.DataFormat)
		}
		format = req.DataFormat
	}
	if req.WorkPathType == nil {
		return nil, badRequest("Invalid parameter(work_path_type): required; 0 is an OBS bucket.")
	}
	if *req.WorkPathType != 0 {
		return nil, badRequest("Invalid parameter(work_path_type): %d: only 0 (OBS) is supported.", *req.WorkPathType)
	}
	switch n := len(req.WorkPath); {
	case n == 0:
		return nil, badRequest("Invalid parameter(work_path): required.")
	case n < MinWorkPathLen:
		return nil, badRequest("Invalid parameter(work_path): %d to %d characters.", MinWorkPathLen, MaxWorkPathLen)
	case n > MaxWorkPathLen:
		return nil, Invalid(CodeWorkPathTooLong, "The work_path is too long, please select shorter folder (at most %d characters).", MaxWorkPathLen)
	}
	work, err := ParseDir("work_path", req.WorkPath)
	if err != nil {
		return nil, err
	}
	if len(req.DataSources) == 0 {
		return nil, badRequest("Invalid parameter(data_sources): one data source is required.")
	}
	if len(req.DataSources) > 1 {
		return nil, badRequest("Invalid parameter(data_sources): only one data source can be imported at a time.")
	}
	p := &CreatePlan{Work: work, scope: sc}
	sources := make([]DataSource, 0, len(req.DataSources))
	for i, ds := range req.DataSources {
		field := fmt.Sprintf("data_sources[%d]", i)
		if ds.DataType != 0 {
			return nil, badRequest("Invalid parameter(%s.data_type): %d: only 0 (OBS) data sources are supported.", field, ds.DataType)
		}
		if ds.DataPath == "" {
			return nil, badRequest("Invalid parameter(%s.data_path): required for an OBS data source.", field)
		}
		in, err := ParseDir(field+".data_path", ds.DataPath)
		if err != nil {
			return nil, err
		}
		if Within(work, in) {
			return nil, Invalid(CodeInvalidPath, "Invalid path (work_path): the output dataset path must differ from the input dataset path %s and its subdirectories.", ds.DataPath)
		}
		if ds.WithColumnHeader != nil && typ != TypeTable {
			return nil, badRequest("Invalid parameter(%s.with_column_header): valid only for table datasets.", field)
		}
		if len(ds.SourceInfo) > 0 && string(ds.SourceInfo) != "null" {
			return nil, badRequest("Invalid parameter(%s.source_info): only OBS data sources are supported.", field)
		}
		ds.DataPath = "/" + in.Bucket + "/" + in.Key
		sources = append(sources, ds)
		p.Inputs = append(p.Inputs, in)
	}
	if req.LabelFormat != nil {
		if typ != TypeTextClassification {
			return nil, badRequest("Invalid parameter(label_format): used only for text classification datasets.")
		}
		if err := CheckLabelFormat(req.LabelFormat); err != nil {
			return nil, err
		}
	}
	if len(req.Schema) > 0 && typ != TypeTable {
		return nil, badRequest("Invalid parameter(schema): used only for table datasets.")
	}
	if req.ImportData != nil && *req.ImportData && typ != TypeTable {
		return nil, badRequest("Invalid parameter(import_data): used only for table datasets.")
	}
	if len(req.WorkforceInformation) > 0 && string(req.WorkforceInformation) != "null" {
		return nil, badRequest("Invalid parameter(workforce_information): team labeling is not available yet.")
	}
	set := newLabelSet(labelRules{datasetType: typ}, nil)
	if len(req.Labels) > MaxLabels {
		return nil, badRequest("Invalid parameter(labels): at most %d labels.", MaxLabels)
	}
	for i := range req.Labels {
		if err := set.add(fmt.Sprintf("labels[%d]", i), req.Labels[i]); err != nil {
			return nil, err
		}
	}
	p.labels = set.list()
	now := s.now().UnixMilli()
	id := store.NewID()
	d := doc{DataFormat: format, DataSources: sources, WorkPath: "/" + work.Bucket + "/" + work.Key, WorkPathType: 0,
		ImportAnnotations: req.ImportAnnotations == nil || *req.ImportAnnotations,
		ImportData:        req.ImportData != nil && *req.ImportData, LabelFormat: req.LabelFormat,
		Managed: req.Managed != nil && *req.Managed, Schema: req.Schema, EnterpriseProject: sc.EnterpriseProjectID,
		ContentLabeling: true}
	p.Row = Row{ID: id, ProjectID: sc.ProjectID, WorkspaceID: sc.WorkspaceID, Name: req.DatasetName, Description: req.Description,
		Type: typ, Status: StatusNormal, CreateTime: now, UpdateTime: now, DataUpdateTime: now,
		InnerWorkPath: d.WorkPath + req.DatasetName + "-" + id + "/", Doc: d}
	return p, nil
}

// CheckLabelFormat checks a label_format (of a create request or an
// import): the label type and the separators of text files.
func CheckLabelFormat(f *LabelFormat) error {
	if f.LabelType != "" && f.LabelType != "0" && f.LabelType != "1" {
		return badRequest("Invalid parameter(label_format.label_type): %q: want 0 or 1.", f.LabelType)
	}
	const allowed = `!@#$%^&*_=|?/':.;,`
	for _, sep := range []struct{ field, v string }{
		{"label_format.text_label_separator", f.TextLabelSeparator},
		{"label_format.text_sample_separator", f.TextSampleSeparator},
	} {
		if sep.v == "" || sep.v == "\t" && sep.field == "label_format.text_sample_separator" {
			continue
		}
		r := []rune(sep.v)
		if len(r) != 1 || !(r[0] < 128 && (r[0] >= 'a' && r[0] <= 'z' || r[0] >= 'A' && r[0] <= 'Z' || r[0] >= '0' && r[0] <= '9' || strings.ContainsRune(allowed, r[0]))) {
			return badRequest("Invalid parameter(%s): %q: one letter, digit or one of %s.", sep.field, sep.v, allowed)
		}
	}
	return nil
}

// CreateHook runs in the transaction that stores a new dataset and
// returns the ID of the task it queued there ("" for none): the importer's
// EnqueueCreateImport queues the import of the data source, which commits
// with the dataset or not at all.
type CreateHook func(ctx context.Context, tx *sql.Tx, p *CreatePlan) (string, error)

// CommitCreate checks that the buckets exist and stores the dataset, its
// labels and what then (nil: nothing) queues in one transaction.
func (s *Service) CommitCreate(ctx context.Context, p *CreatePlan, then CreateHook) (string, error) {
	for _, b := range append(append([]obs.Path{}, p.Inputs...), p.Work) {
		if err := s.objects.HeadBucket(ctx, b.Bucket); err != nil {
			if errors.Is(err, obs.ErrBucketNotFound) {
				return "", Invalid(CodeBucketNotExist, "OBS bucket does not exist: %s.", b.Bucket)
			}
			return "", fmt.Errorf("check bucket %s: %w", b.Bucket, err)
		}
	}
	r := p.Row
	r.LabelSeq = int64(len(p.labels))
	data, err := json.Marshal(storedDoc{doc: r.Doc, InnerWorkPath: r.InnerWorkPath})
	if err != nil {
		return "", err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.repo.insertDataset(ctx, tx, &r, string(data)); err != nil {
			return err
		}
		for i, l := range p.labels {
			if err := s.repo.insertLabel(ctx, tx, r.ID, int64(i+1), l); err != nil {
				return err
			}
		}
		if then != nil {
			p.ImportTaskID, err = then(ctx, tx, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

func (r *Row) dataset() *Dataset {
	inner := r.InnerWorkPath
	return &Dataset{AnnotatedSampleCount: r.Annotated, AnnotatedSubSampleCount: r.AnnotatedSub, ContentLabeling: r.Doc.ContentLabeling,
		CreateTime: r.CreateTime, CurrentVersionID: r.CurrentVersionID, CurrentVersionName: r.CurrentVersionName, DataFormat: r.Doc.DataFormat, DataSources: r.Doc.DataSources, DataUpdateTime: r.DataUpdateTime,
		DatasetFormat: datasetFormat(r.Type), DatasetID: r.ID, DatasetName: r.Name, DatasetTags: TypeTags(r.Type), DatasetType: r.Type,
		DatasetVersionCount: r.Versions, DeletedSampleCount: r.Deleted, Description: r.Description,
		EnterpriseProjectID: r.Doc.EnterpriseProject, FeatureSupports: []string{"0"}, ImportData: r.Doc.ImportData,
		InnerAnnotationPath: inner + "annotation/", InnerDataPath: inner + "data/", InnerLogPath: inner + "logs/",
		InnerTaskPath: inner + "task/", InnerTempPath: inner + "temp/", InnerWorkPath: inner, LabelFormat: r.Doc.LabelFormat,
		LoadingSampleCount: r.Loading, Managed: r.Doc.Managed, NextVersionNum: r.NextVersion, RunningTasksID: []string{},
		Schema: r.Doc.Schema, Status: r.Status, TotalSampleCount: r.Total, TotalSubSampleCount: r.TotalSub,
		UnconfirmedSampleCount: r.Unconfirmed, UpdateTime: r.UpdateTime, WorkPath: r.Doc.WorkPath, WorkPathType: r.Doc.WorkPathType,
		WorkspaceID: r.WorkspaceID}
}

func datasetFormat(t int) int {
	if t == TypeTable {
		return 1
	}
	return 0
}

// typeTags are the key identifiers of each dataset type.
var typeTags = map[int][]string{
	TypeImageClassification: {"Image", "Image classification"},
	TypeObjectDetection:     {"Image", "Object detection"},
	TypeImageSegmentation:   {"Image", "Image segmentation"},
	TypeTextClassification:  {"Text", "Text classification"},
	TypeNamedEntity:         {"Text", "Named entity recognition"},
	TypeTextTriplet:         {"Text", "Text triplet"},
	TypeSoundClassification: {"Audio", "Sound classification"},
	TypeSpeechContent:       {"Audio", "Speech content"},
	TypeSpeechParagraph:     {"Audio", "Speech paragraph labeling"},
	TypeTable:               {"Table"},
	TypeVideo:               {"Video", "Video labeling"},
	TypeCustom:              {"Custom format"},
}

// TypeTags are the key identifiers of a dataset type, as the console shows
// them. The slice is shared: read it, do not change it.
func TypeTags(t int) []string { return typeTags[t] }

// LoadRow loads a dataset of the project through q (the database or the
// caller's transaction), locked for update when lock is set.
func (s *Service) LoadRow(ctx context.Context, q rowQuerier, projectID, id string, lock bool) (*Row, error) {
	return s.repo.loadRow(ctx, q, projectID, id, lock)
}

// Get returns a dataset of the project with its labels.
func (s *Service) Get(ctx context.Context, projectID, id string) (*Dataset, error) {
	r, err := s.LoadRow(ctx, s.db, projectID, id, false)
	if err != nil {
		return nil, err
	}
	d := r.dataset()
	if d.Labels, err = s.labelsAt(ctx, r); err != nil {
		return nil, err
	}
	return d, nil
}

// Workspace returns the workspace a dataset lives in. A dataset never
// moves, so the answer is kept; after the dataset is deleted through
// another replica, this one may still name its workspace (until evicted),
// and the route's lookup of the dataset then finds nothing.
func (s *Service) Workspace(ctx context.Context, projectID, id string) (string, error) {
	key := datasetKey{projectID, id}
	if ws, ok := s.workspaces.get(key); ok {
		return ws, nil
	}
	ws, err := s.repo.workspace(ctx, projectID, id)
	if err != nil {
		return "", err
	}
	s.workspaces.put(key, ws)
	return ws, nil
}

// Query selects a page of datasets.
type Query struct {
	Offset, Limit int
	// SortBy is create_time (default) or dataset_name.
	SortBy string
	Desc   bool
	// Search is a case-insensitive substring of the name.
	Search string
	// Type filters by dataset type when not nil.
	Type *int
	// SupportExport keeps only datasets that can be exported (image
	// classification, object detection and custom format).
	SupportExport bool
	// ContainVersions keeps only datasets with at least one version.
	ContainVersions bool
	// TrainRatio, when set, keeps datasets with a version whose
	// train_evaluate_sample_ratio lies within [TrainRatio[0], TrainRatio[1]]
	// (train_evaluate_ratio).
	TrainRatio *[2]float64
	// VersionFormat, when set, keeps datasets with a version of that format
	// (0 Default, 1 CarbonData, 2 CSV).
	VersionFormat *int
	// WithLabels returns each dataset's labels.
	WithLabels bool
	// FilePreview returns up to four files of each dataset.
	FilePreview bool
}

// List lists a workspace's datasets and counts all that match.
func (s *Service) List(ctx context.Context, sc Scope, q Query) (int, []*Dataset, error) {
	total, found, err := s.repo.listDatasets(ctx, sc, q)
	if err != nil {
		return 0, nil, err
	}
	out := make([]*Dataset, 0, len(found))
	for _, r := range found {
		out = append(out, r.dataset())
	}
	if q.FilePreview {
		for _, d := range out {
			if d.Samples, err = s.repo.filePreview(ctx, d.DatasetID); err != nil {
				return 0, nil, err
			}
		}
	}
	if q.WithLabels {
		for i, d := range out {
			if d.Labels, err = s.labelsAt(ctx, found[i]); err != nil {
				return 0, nil, err
			}
		}
	}
	return total, out, nil
}

// FilePreviewSize is how many files a dataset list's file preview shows
// per dataset.
const FilePreviewSize = 4

// VersionSwitch makes a published version the dataset's current one in
// the caller's transaction (versions.Service.SwitchVersionTx).
type VersionSwitch func(ctx context.Context, tx *sql.Tx, datasetID, versionID string) error

// Update applies a modify request: name, description, current version
// (through switchVersion) and the label changes (add, update, delete), all
// or nothing.
func (s *Service) Update(ctx context.Context, projectID, id string, req *UpdateRequest, switchVersion VersionSwitch) error {
	if req.DatasetName != nil {
		if err := checkName("dataset_name", *req.DatasetName); err != nil {
			return err
		}
	}
	if req.Description != nil {
		if err := CheckDescription("description", *req.Description, updateDescForbidden); err != nil {
			return err
		}
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		r, err := s.LoadRow(ctx, tx, projectID, id, true)
		if err != nil {
			return err
		}
		if req.CurrentVersionID != nil && *req.CurrentVersionID != "" {
			if switchVersion == nil {
				return errors.New("switch the current version: no versions service")
			}
			if err := switchVersion(ctx, tx, r.ID, *req.CurrentVersionID); err != nil {
				return err
			}
		}
		now := s.now().UnixMilli()
		if len(req.AddLabels)+len(req.UpdateLabels)+len(req.DeleteLabels) > 0 {
			set, err := s.loadSet(ctx, tx, r)
			if err != nil {
				return err
			}
			for i := range req.AddLabels {
				if err := set.add(fmt.Sprintf("add_labels[%d]", i), req.AddLabels[i]); err != nil {
					return err
				}
			}
			for i := range req.UpdateLabels {
				if err := set.update(fmt.Sprintf("update_labels[%d]", i), req.UpdateLabels[i]); err != nil {
					return err
				}
			}
			for i, l := range req.DeleteLabels {
				if err := set.remove(fmt.Sprintf("delete_labels[%d]", i), l.Name); err != nil {
					return err
				}
			}
			if err := s.repo.saveLabelSet(ctx, tx, r, set, now); err != nil {
				return err
			}
		}
		name, desc := r.Name, r.Description
		if req.DatasetName != nil {
			name = *req.DatasetName
		}
		if req.Description != nil {
			desc = *req.Description
		}
		return s.repo.renameDataset(ctx, tx, projectID, id, name, desc, now)
	})
}

// DeletePlan is a dataset about to be deleted: its files under the inner
// work path go with it, once the caller may delete them.
type DeletePlan struct {
	// Files is the dataset's inner work directory.
	Files     obs.Path
	projectID string
	id        string
}

// PlanDelete finds what deleting a dataset removes.
func (s *Service) PlanDelete(ctx context.Context, projectID, id string) (*DeletePlan, error) {
	r, err := s.LoadRow(ctx, s.db, projectID, id, false)
	if err != nil {
		return nil, err
	}
	files, err := obs.ParsePath(r.InnerWorkPath)
	if err != nil {
		return nil, fmt.Errorf("dataset %s inner work path: %w", id, err)
	}
	return &DeletePlan{Files: files, projectID: projectID, id: id}, nil
}

// CommitDelete deletes the dataset's files under its inner work path, then
// the dataset and its labels. The data sources are never touched.
func (s *Service) CommitDelete(ctx context.Context, p *DeletePlan) error {
	if err := s.DeletePrefix(ctx, p.Files); err != nil {
		return err
	}
	if err := s.repo.deleteDataset(ctx, p.projectID, p.id); err != nil {
		return err
	}
	s.workspaces.delete(datasetKey{p.projectID, p.id})
	s.labelCache.delete(p.id)
	s.indexCache.delete(p.id)
	return nil
}

// DeletePrefix deletes every object under dir (a dataset's work files).
func (s *Service) DeletePrefix(ctx context.Context, dir obs.Path) error {
	after := ""
	for {
		page, err := s.objects.List(ctx, dir.Bucket, obs.ListOptions{Prefix: dir.Key, StartAfter: after})
		if errors.Is(err, obs.ErrBucketNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list dataset files %s: %w", dir, err)
		}
		for _, o := range page.Objects {
			if err := s.objects.Delete(ctx, dir.Bucket, o.Key); err != nil && !errors.Is(err, obs.ErrNotFound) {
				return fmt.Errorf("delete dataset file %s/%s: %w", dir.Bucket, o.Key, err)
			}
		}
		if !page.Truncated {
			return nil
		}
		after = page.NextStartAfter
	}
}
