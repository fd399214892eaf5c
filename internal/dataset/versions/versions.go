package versions

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// Version statuses (DatasetVersion.status).
const (
	VersionCreating = 0
	VersionNormal   = 1
	VersionDeleting = 2
	VersionError    = 4
)

// Error codes of versions (appendix, error codes).
const (
	CodePublishing       = "ModelArts.4343" // a version is being published
	CodeVersionExists    = "ModelArts.4371" // version_name is taken
	CodeSplitRules       = "ModelArts.4711" // the labeled samples cannot be split
	CodeVersionNotNormal = "ModelArts.4824" // the version is not in the normal state
	CodeVersionEmpty     = "ModelArts.4825" // nothing to publish
	CodeVersionState     = "ModelArts.4828" // the version cannot be deleted in its state
)

// lineStride is how many manifest lines one entry of a version's line
// index covers: a page of a version's sample list reads at most this many
// lines before its first one.
const lineStride = 1000

var versionNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// versionDescForbidden are the characters the reference forbids in a
// version's description.
const versionDescForbidden = `!<>=&"'`

// Ratio is a split ratio of the reference (train_evaluate_sample_ratio,
// train_sample_ratio): a string such as "0.8", which clients also send as a
// JSON number. It keeps the text it was given.
type Ratio string

// UnmarshalJSON accepts a JSON string or number.
func (r *Ratio) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*r = Ratio(s)
		return nil
	}
	if _, err := strconv.ParseFloat(string(b), 64); err != nil {
		// A type error, so that the decoder names the field.
		kind := map[byte]string{'t': "bool", 'f': "bool", '{': "object", '[': "array"}[b[0]]
		return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[string]()}
	}
	*r = Ratio(b)
	return nil
}

// parseRatio reads an optional ratio: default 1 (everything in training),
// given as "1.00" as the reference writes its default.
func ParseRatio(field string, r *Ratio) (float64, string, error) {
	if r == nil || *r == "" {
		return 1, "1.00", nil
	}
	s := strings.TrimSpace(string(*r))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1 {
		return 0, "", dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(%s): %q must be a decimal from 0 to 1, such as 0.8.", field, string(*r))
	}
	return v, s, nil
}

// splitUsage assigns a labeled sample to training or evaluation by a hash
// of its ID: the same sample lands on the same side in every version and
// export with the same ratio, and the proportion follows the ratio.
func splitUsage(sampleID string, ratio float64) string {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(sampleID); i++ {
		h ^= uint64(sampleID[i])
		h *= prime
	}
	// FNV-1a mixes its last bytes weakly into the high bits; one round of
	// a finaliser spreads them before the value is read as a fraction.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	if float64(h>>11)/float64(1<<53) < ratio {
		return formats.UsageTrain
	}
	return formats.UsageEval
}

// VersionRequest is the body of POST …/versions (CreateDatasetVersion).
type VersionRequest struct {
	ClearHardProperty        *bool  `json:"clear_hard_property,omitempty"`
	Description              string `json:"description,omitempty"`
	ExportImages             *bool  `json:"export_images,omitempty"`
	LabelTaskType            *int   `json:"label_task_type,omitempty"`
	RemoveSampleUsage        *bool  `json:"remove_sample_usage,omitempty"`
	TrainEvaluateSampleRatio *Ratio `json:"train_evaluate_sample_ratio,omitempty"`
	VersionFormat            string `json:"version_format,omitempty"`
	VersionName              string `json:"version_name,omitempty"`
	WithColumnHeader         *bool  `json:"with_column_header,omitempty"`
}

// Version is a dataset version as the list and details APIs return it
// (DatasetVersion). The preprocessing fields (crop, rotate, analysis) are
// those of a version that had none.
type Version struct {
	AddSampleCount               int64                `json:"add_sample_count"`
	AnalysisStatus               int                  `json:"analysis_status"`
	AnnotatedSampleCount         int64                `json:"annotated_sample_count"`
	AnnotatedSubSampleCount      int64                `json:"annotated_sub_sample_count"`
	ClearHardProperty            bool                 `json:"clear_hard_property"`
	CreateTime                   int64                `json:"create_time"`
	Crop                         bool                 `json:"crop"`
	DataPath                     string               `json:"data_path"`
	DataStatistics               map[string]any       `json:"data_statistics"`
	DataValidate                 bool                 `json:"data_validate"`
	DeletedSampleCount           int64                `json:"deleted_sample_count"`
	DeletionStats                map[string]int64     `json:"deletion_stats"`
	Description                  string               `json:"description"`
	ExportImages                 bool                 `json:"export_images"`
	ExtractSerialNumber          bool                 `json:"extract_serial_number"`
	IncludeDatasetData           bool                 `json:"include_dataset_data"`
	IsCurrent                    bool                 `json:"is_current"`
	LabelStats                   []dataset.LabelStats `json:"label_stats"`
	LabelType                    string               `json:"label_type"`
	ManifestPath                 string               `json:"manifest_path"`
	Message                      string               `json:"message"`
	ModifiedSampleCount          int64                `json:"modified_sample_count"`
	PreviousAnnotatedSampleCount int64                `json:"previous_annotated_sample_count"`
	PreviousTotalSampleCount     int64                `json:"previous_total_sample_count"`
	PreviousVersionID            string               `json:"previous_version_id,omitempty"`
	RemoveSampleUsage            bool                 `json:"remove_sample_usage"`
	Rotate                       bool                 `json:"rotate"`
	StartProcessorTask           bool                 `json:"start_processor_task"`
	Status                       int                  `json:"status"`
	Tags                         []string             `json:"tags"`
	TaskType                     int                  `json:"task_type"`
	TotalSampleCount             int64                `json:"total_sample_count"`
	TotalSubSampleCount          int64                `json:"total_sub_sample_count"`
	TrainEvaluateSampleRatio     string               `json:"train_evaluate_sample_ratio"`
	UpdateTime                   int64                `json:"update_time"`
	VersionFormat                string               `json:"version_format"`
	VersionID                    string               `json:"version_id"`
	VersionName                  string               `json:"version_name"`
	WithColumnHeader             bool                 `json:"with_column_header"`
}

// versionDoc is the stored document of a version: what it was published
// with and what publishing found.
type versionDoc struct {
	Description       string `json:"description"`
	ClearHardProperty bool   `json:"clear_hard_property"`
	ExportImages      bool   `json:"export_images"`
	RemoveSampleUsage bool   `json:"remove_sample_usage"`
	Ratio             string `json:"ratio"`
	VersionFormat     string `json:"version_format"`
	TaskType          int    `json:"task_type"`
	// Dir is the version's directory, "/bucket/key/".
	Dir string `json:"dir"`
	// MaxSeq bounds the samples: those added after the request are not
	// part of the version.
	MaxSeq            int64  `json:"max_seq"`
	PreviousVersionID string `json:"previous_version_id,omitempty"`
	PreviousTotal     int64  `json:"previous_total"`
	PreviousAnnotated int64  `json:"previous_annotated"`
	PreviousMaxSeq    int64  `json:"previous_max_seq"`
	PreviousTime      int64  `json:"previous_time"`
	Message           string `json:"message,omitempty"`
	// Source, for a version made of a manifest (manifest_version.go), is
	// that manifest, "/bucket/key", and SourceLines its line count; the
	// version's added, modified and deleted counts are then given.
	Source      string `json:"source,omitempty"`
	SourceLines int64  `json:"source_lines,omitempty"`
	// Set when publishing ends.
	Added      int64                `json:"added"`
	Modified   int64                `json:"modified"`
	Deleted    int64                `json:"deleted"`
	LabelStats []dataset.LabelStats `json:"label_stats,omitempty"`
	Multi      bool                 `json:"multi"`
	Usage      map[string]int64     `json:"usage,omitempty"`
	ManifestSz int64                `json:"manifest_size"`
}

// versionRow is a version as stored.
type versionRow struct {
	ID, DatasetID, Name, TaskID string
	Status                      int
	CreateTime, UpdateTime      int64
	Total, Annotated            int64
	Doc                         versionDoc
}

func (v *versionRow) dir() obs.Path {
	p, _ := obs.ParsePath(v.Doc.Dir)
	return p
}

func (v *versionRow) manifest() obs.Path {
	d := v.dir()
	return obs.Path{Bucket: d.Bucket, Key: d.Key + v.Name + ".manifest"}
}

func errVersionNotFound(id string) *dataset.Error {
	return dataset.Invalid(dataset.CodeVersionNotFound, "Dataset version does not exist: %s.", id)
}

func (s *Service) loadVersion(ctx context.Context, q querier, datasetID, versionID string) (*versionRow, error) {
	return s.repo.loadVersion(ctx, q, datasetID, versionID)
}

// VersionPlan is a validated version request waiting for the caller's
// object-storage authorization and CommitVersion.
type VersionPlan struct {
	// Output is the version's directory, where publishing writes.
	Output obs.Path
	// Reads are the dataset's input directories when the version copies
	// the sample files (export_images), else nil.
	Reads []obs.Path
	// Requester is who asks for the version; the caller sets it.
	Requester *dataset.Requester
	projectID string
	datasetID string
	name      string
	doc       versionDoc
	ratio     float64
}

// PlanVersion validates a version request against the dataset.
func (s *Service) PlanVersion(ctx context.Context, projectID, datasetID string, req *VersionRequest) (*VersionPlan, error) {
	r, err := s.ds.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return nil, err
	}
	if err := dataset.CheckDescription("description", req.Description, versionDescForbidden); err != nil {
		return nil, err
	}
	ratio, ratioText, err := ParseRatio("train_evaluate_sample_ratio", req.TrainEvaluateSampleRatio)
	if err != nil {
		return nil, err
	}
	switch req.VersionFormat {
	case "", "Default":
	case "CarbonData", "CSV":
		if r.Type != dataset.TypeTable {
			return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(version_format): %s is a format of table datasets; this dataset's versions are Default.", req.VersionFormat)
		}
	default:
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(version_format): %q: want Default, CarbonData or CSV.", req.VersionFormat)
	}
	if req.WithColumnHeader != nil && r.Type != dataset.TypeTable {
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(with_column_header): valid only for table datasets.")
	}
	if r.Type == dataset.TypeTable {
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(dataset_id): publishing table datasets (CSV, CarbonData) is not supported by Atelier.")
	}
	if req.LabelTaskType != nil && *req.LabelTaskType != r.Type {
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(label_task_type): %d: a version's labeling task type is the dataset's type, %d.", *req.LabelTaskType, r.Type)
	}
	if ratio != 1 {
		switch r.Type {
		case dataset.TypeImageClassification, dataset.TypeObjectDetection, dataset.TypeTextClassification, dataset.TypeSoundClassification:
		default:
			return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(train_evaluate_sample_ratio): splitting is supported by image classification, object detection, text classification and sound classification datasets only.")
		}
		if ratio > 0 && r.Annotated < 2 {
			return nil, dataset.Invalid(CodeSplitRules, "Publishing requires splitting but annotated samples do not satisfy splitting rules: %d labeled sample(s), at least 2 are needed to split.", r.Annotated)
		}
	}
	if r.Total == 0 {
		return nil, dataset.Invalid(CodeVersionEmpty, "Dataset version is empty: the dataset has no sample to publish.")
	}
	name := req.VersionName
	if name == "" {
		name = fmt.Sprintf("V%03d", r.NextVersion)
	} else if !versionNameRe.MatchString(name) {
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(version_name): %q must be 1 to 32 letters, digits, underscores (_) and hyphens (-).", name)
	}
	inner, err := obs.ParsePath(r.InnerWorkPath)
	if err != nil {
		return nil, fmt.Errorf("dataset %s inner work path: %w", r.ID, err)
	}
	out := obs.Path{Bucket: inner.Bucket, Key: inner.Key + "annotation/" + name + "/"}
	p := &VersionPlan{Output: out, projectID: projectID, datasetID: r.ID, name: name, ratio: ratio, doc: versionDoc{
		Description: req.Description, ClearHardProperty: req.ClearHardProperty == nil || *req.ClearHardProperty,
		ExportImages: req.ExportImages != nil && *req.ExportImages, RemoveSampleUsage: req.RemoveSampleUsage == nil || *req.RemoveSampleUsage,
		Ratio: ratioText, VersionFormat: "Default", TaskType: r.Type, Dir: "/" + out.Bucket + "/" + out.Key,
	}}
	if p.doc.ExportImages {
		p.Reads = r.Inputs()
	}
	return p, nil
}

// publishParams are a publishing task's parameters.
type publishParams struct {
	VersionID string `json:"version_id"`
	// Requester is who asked for the version: each object publishing
	// reads or writes is authorized for them when it is touched.
	Requester *dataset.Requester `json:"requester,omitempty"`
}

// CommitVersion records the version (status creating) and queues its
// publishing in one transaction; it refuses while another version of the
// dataset is being published and when the name is taken.
func (s *Service) CommitVersion(ctx context.Context, p *VersionPlan) (string, error) {
	var id string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = s.CommitVersionTx(ctx, tx, p)
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// CommitVersionTx is CommitVersion in the caller's transaction, so that a
// room can record the version it asked for together with its own rows.
func (s *Service) CommitVersionTx(ctx context.Context, tx *sql.Tx, p *VersionPlan) (string, error) {
	if s.tasks == nil {
		return "", errors.New("publish version: the background-task manager is not configured")
	}
	id := store.NewID()
	r, err := s.ds.LoadRow(ctx, tx, p.projectID, p.datasetID, true)
	if err != nil {
		return "", err
	}
	busy, err := s.repo.versionInStatus(ctx, tx, r.ID, VersionCreating)
	if err != nil {
		return "", err
	}
	if busy != "" {
		return "", dataset.Invalid(CodePublishing, "Dataset is publishing, the operation is forbidden: version %s is being published.", busy)
	}
	doc := p.doc
	doc.MaxSeq = r.SampleSeq
	prev, err := s.repo.newestVersion(ctx, tx, r.ID)
	if err != nil {
		return "", err
	}
	if prev != nil {
		doc.PreviousVersionID, doc.PreviousTotal, doc.PreviousAnnotated = prev.ID, prev.Total, prev.Annotated
		doc.PreviousMaxSeq, doc.PreviousTime = prev.Doc.MaxSeq, prev.CreateTime
	}
	t, err := s.tasks.Enqueue(ctx, tx, TaskPublish, p.projectID, r.ID, publishParams{VersionID: id, Requester: p.Requester})
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encode version: %w", err)
	}
	now := s.now().UnixMilli()
	if err := s.repo.insertVersion(ctx, tx, id, r.ID, p.name, t.ID, p.ratio, string(data), now); err != nil {
		return "", err
	}
	// A name given by the caller in the default form moves the counter
	// past it, so that the next default name is free.
	next := 0
	if n, err := strconv.Atoi(strings.TrimPrefix(p.name, "V")); err == nil && strings.HasPrefix(p.name, "V") {
		next = n + 1
	}
	if err := s.ds.CountVersionTx(ctx, tx, r.ID, true, next); err != nil {
		return "", err
	}
	return id, nil
}

// VersionQuery filters the version list.
type VersionQuery struct {
	Status *int
	// RatioMin and RatioMax bound the split ratio when RatioSet.
	RatioSet           bool
	RatioMin, RatioMax float64
	// Format is 0 Default, 1 CarbonData, 2 CSV when not nil.
	Format        *int
	Offset, Limit int
}

// ListVersions lists a dataset's versions, newest first.
func (s *Service) ListVersions(ctx context.Context, projectID, datasetID string, q VersionQuery) (int, []*Version, error) {
	r, err := s.ds.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return 0, nil, err
	}
	current, err := s.ds.CurrentVersion(ctx, s.db, r.ID)
	if err != nil {
		return 0, nil, err
	}
	total, vs, err := s.repo.listVersions(ctx, r.ID, q)
	if err != nil {
		return 0, nil, err
	}
	out := make([]*Version, 0, len(vs))
	for _, v := range vs {
		if err := s.reconcile(ctx, v); err != nil {
			return 0, nil, err
		}
		out = append(out, v.version(r, current))
	}
	return total, out, nil
}

// GetVersion returns one version of a dataset.
func (s *Service) GetVersion(ctx context.Context, projectID, datasetID, versionID string) (*Version, error) {
	r, err := s.ds.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return nil, err
	}
	v, err := s.loadVersion(ctx, s.db, r.ID, versionID)
	if err != nil {
		return nil, err
	}
	if err := s.reconcile(ctx, v); err != nil {
		return nil, err
	}
	current, err := s.ds.CurrentVersion(ctx, s.db, r.ID)
	if err != nil {
		return nil, err
	}
	return v.version(r, current), nil
}

// reconcile marks a version whose publishing task ended without
// publishing it (failed, cancelled, or interrupted too often, when the
// handler had no chance to say so) as in error.
func (s *Service) reconcile(ctx context.Context, v *versionRow) error {
	if v.Status != VersionCreating || s.tasks == nil {
		return nil
	}
	t, err := s.tasks.Get(ctx, v.TaskID)
	if errors.Is(err, tasks.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !t.Status.Final() || t.Status == tasks.Succeeded {
		return nil
	}
	msg := t.ErrorMessage
	if msg == "" {
		msg = "publishing was " + strings.ToLower(string(t.Status))
	}
	return s.failVersion(ctx, v, msg)
}

// failVersion records that publishing v failed, unless it is no longer
// being published.
func (s *Service) failVersion(ctx context.Context, v *versionRow, msg string) error {
	v.Doc.Message = msg
	data, err := json.Marshal(v.Doc)
	if err != nil {
		return fmt.Errorf("encode version: %w", err)
	}
	now := s.now().UnixMilli()
	if err := s.repo.failVersion(ctx, v.DatasetID, v.ID, string(data), now); err != nil {
		return err
	}
	v.Status, v.UpdateTime = VersionError, now
	return nil
}

func (v *versionRow) version(r *dataset.Row, current string) *Version {
	d := v.Doc
	out := &Version{AnnotatedSampleCount: v.Annotated, ClearHardProperty: d.ClearHardProperty, CreateTime: v.CreateTime,
		DataPath: d.Dir + "data/", DataStatistics: map[string]any{}, DeletionStats: map[string]int64{}, Description: d.Description,
		ExportImages: d.ExportImages, IsCurrent: v.ID == current, LabelStats: d.LabelStats, LabelType: "single",
		ManifestPath: d.Dir + v.Name + ".manifest", Message: d.Message, AddSampleCount: d.Added, ModifiedSampleCount: d.Modified,
		DeletedSampleCount: d.Deleted, PreviousAnnotatedSampleCount: d.PreviousAnnotated, PreviousTotalSampleCount: d.PreviousTotal,
		PreviousVersionID: d.PreviousVersionID, RemoveSampleUsage: d.RemoveSampleUsage, Status: v.Status, Tags: dataset.TypeTags(d.TaskType),
		TaskType: d.TaskType, TotalSampleCount: v.Total, TrainEvaluateSampleRatio: d.Ratio, UpdateTime: v.UpdateTime,
		VersionFormat: d.VersionFormat, VersionID: v.ID, VersionName: v.Name, AnalysisStatus: 0}
	if out.Tags == nil {
		out.Tags = dataset.TypeTags(r.Type)
	}
	if out.LabelStats == nil {
		out.LabelStats = []dataset.LabelStats{}
	}
	if d.Multi {
		out.LabelType = "multi"
	}
	if len(d.Usage) > 0 {
		out.DataStatistics["sample_usage"] = d.Usage
	}
	return out
}

// VersionDeletePlan is a version about to be deleted with its files.
type VersionDeletePlan struct {
	// Files is the version's directory.
	Files     obs.Path
	datasetID string
	versionID string
}

// PlanDeleteVersion finds what deleting a version removes. A version being
// published cannot be deleted.
func (s *Service) PlanDeleteVersion(ctx context.Context, projectID, datasetID, versionID string) (*VersionDeletePlan, error) {
	r, err := s.ds.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return nil, err
	}
	v, err := s.loadVersion(ctx, s.db, r.ID, versionID)
	if err != nil {
		return nil, err
	}
	if err := s.reconcile(ctx, v); err != nil {
		return nil, err
	}
	if v.Status == VersionCreating {
		return nil, dataset.Invalid(CodeVersionState, "Failed to delete the version: version %s is being published.", v.Name)
	}
	return &VersionDeletePlan{Files: v.dir(), datasetID: r.ID, versionID: v.ID}, nil
}

// CommitDeleteVersion marks the version deleting, deletes its directory,
// then its row; the dataset's current version moves to the newest normal
// version left. A failure while deleting files leaves it deleting, and
// deleting it again finishes the job.
func (s *Service) CommitDeleteVersion(ctx context.Context, p *VersionDeletePlan) error {
	now := s.now().UnixMilli()
	marked, err := s.repo.markDeleting(ctx, p.datasetID, p.versionID, now)
	if err != nil {
		return err
	}
	if !marked {
		return dataset.Invalid(CodeVersionState, "Failed to delete the version: version %s is being published or is gone.", p.versionID)
	}
	if err := s.ds.DeletePrefix(ctx, p.Files); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		deleted, err := s.repo.deleteVersion(ctx, tx, p.datasetID, p.versionID)
		if err != nil || !deleted {
			return err // !deleted: deleted meanwhile by another request
		}
		if err := s.ds.CountVersionTx(ctx, tx, p.datasetID, false, 0); err != nil {
			return err
		}
		cur, err := s.ds.CurrentVersion(ctx, tx, p.datasetID)
		if err != nil || cur != p.versionID {
			return err
		}
		return s.pointCurrentAtNewest(ctx, tx, p.datasetID)
	})
}

// pointCurrentAtNewest makes the newest normal version current, or none.
func (s *Service) pointCurrentAtNewest(ctx context.Context, tx *sql.Tx, datasetID string) error {
	id, name, err := s.repo.newestNormal(ctx, tx, datasetID)
	if err != nil {
		return err
	}
	return s.ds.SetCurrentVersionTx(ctx, tx, datasetID, id, name, false)
}

// SwitchVersionTx makes a normal version the dataset's current one, in the
// caller's transaction (modifying a dataset's current_version_id).
func (s *Service) SwitchVersionTx(ctx context.Context, tx *sql.Tx, datasetID, versionID string) error {
	v, err := s.loadVersion(ctx, tx, datasetID, versionID)
	if err != nil {
		return err
	}
	if v.Status != VersionNormal {
		return dataset.Invalid(CodeVersionNotNormal, "Dataset version status must be normal: version %s is not.", v.Name)
	}
	return s.ds.SetCurrentVersionTx(ctx, tx, datasetID, v.ID, v.Name, false)
}
