package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/versions"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// Error codes of exports (appendix, error codes).
const (
	CodeExportPath     = "ModelArts.4358" // invalid export path
	CodeExportNotFound = "ModelArts.4359" // the export task does not exist
	CodeExportFailed   = "ModelArts.4710" // publishing or exporting failed
)

// Export types (export_type).
const (
	ExportLabeled     = 0
	ExportUnlabeled   = 1
	ExportAll         = 2
	ExportConditional = 3
)

// Export formats (export_format): the engine's layouts.
const (
	ExportTree = versions.LayoutTree
	ExportTile = versions.LayoutTile
)

// MaxExportSamples bounds the sample IDs of one export request.
const MaxExportSamples = 10000

// ExportRequest is the body of POST …/export-tasks (ExportTaskReq).
type ExportRequest struct {
	AnnotationFormat string        `json:"annotation_format,omitempty"`
	ExportFormat     *int          `json:"export_format,omitempty"`
	ExportParams     *ExportParams `json:"export_params,omitempty"`
	ExportType       *int          `json:"export_type,omitempty"`
	Path             string        `json:"path,omitempty"`
	SampleState      string        `json:"sample_state,omitempty"`
	SourceTypeHeader string        `json:"source_type_header,omitempty"`
	// Status and TaskID are response fields that the reference also lists
	// among the request's; they are ignored.
	Status           *int   `json:"status,omitempty"`
	TaskID           string `json:"task_id,omitempty"`
	VersionFormat    string `json:"version_format,omitempty"`
	VersionID        string `json:"version_id,omitempty"`
	WithColumnHeader *bool  `json:"with_column_header,omitempty"`
}

// ExportParams are the parameters of an export (ExportParams).
type ExportParams struct {
	ClearHardProperty          *bool                     `json:"clear_hard_property,omitempty"`
	ExportDatasetVersionFormat string                    `json:"export_dataset_version_format,omitempty"`
	ExportDatasetVersionName   string                    `json:"export_dataset_version_name,omitempty"`
	ExportDest                 string                    `json:"export_dest,omitempty"`
	ExportNewDatasetName       string                    `json:"export_new_dataset_name,omitempty"`
	ExportNewDatasetWorkPath   string                    `json:"export_new_dataset_work_path,omitempty"`
	RatioSampleUsage           *bool                     `json:"ratio_sample_usage,omitempty"`
	SampleState                *string                   `json:"sample_state,omitempty"`
	Samples                    []string                  `json:"samples,omitempty"`
	SearchConditions           []dataset.SearchCondition `json:"search_conditions,omitempty"`
	TrainSampleRatio           *versions.Ratio           `json:"train_sample_ratio,omitempty"`
}

// ExportTask is an export as the list and status APIs return it
// (ExportTaskStatusResp). FailedSampleCount is Atelier's: the samples the
// export could not write (a missing file, a label the manifest cannot
// carry); finished_sample_count counts those it wrote.
type ExportTask struct {
	CreateTime          int64        `json:"create_time"`
	ErrorCode           string       `json:"error_code,omitempty"`
	ErrorMsg            string       `json:"error_msg,omitempty"`
	ExportFormat        *int         `json:"export_format,omitempty"`
	ExportParams        ExportParams `json:"export_params"`
	ExportType          int          `json:"export_type"`
	FailedSampleCount   int64        `json:"failed_sample_count"`
	FinishedSampleCount int64        `json:"finished_sample_count"`
	Path                string       `json:"path"`
	Progress            float64      `json:"progress"`
	Status              string       `json:"status"`
	TaskID              string       `json:"task_id"`
	TotalSampleCount    int64        `json:"total_sample_count"`
	UpdateTime          int64        `json:"update_time"`
	VersionFormat       string       `json:"version_format"`
	VersionID           string       `json:"version_id,omitempty"`
}

// exportParams are an export task's parameters: the request as the APIs
// echo it, and what planning decided.
type exportParams struct {
	Request ExportRequest `json:"request"`
	// Output is the export directory, "/bucket/key/"; Manifest the
	// manifest's key in its bucket.
	Output   string   `json:"output"`
	Manifest string   `json:"manifest"`
	MaxSeq   int64    `json:"max_seq"`
	State    *int     `json:"state,omitempty"`
	Team     bool     `json:"team,omitempty"`
	Ratio    *float64 `json:"ratio,omitempty"`
	// Requester is who asked for the export: each object it reads or
	// writes is authorized for them when it is touched.
	Requester *dataset.Requester `json:"requester,omitempty"`
}

// ExportPlan is a validated export waiting for the caller's object-storage
// authorization (PutObject on Output, GetObject on Reads) and CommitExport.
type ExportPlan struct {
	Output obs.Path
	Reads  []obs.Path
	// Requester is who asks for the export; the caller sets it.
	Requester *dataset.Requester
	projectID string
	datasetID string
	params    exportParams
}

// PlanExport validates an export request against the dataset.
func (s *Service) PlanExport(ctx context.Context, projectID, datasetID string, req *ExportRequest) (*ExportPlan, error) {
	r, err := s.ds.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return nil, err
	}
	if r.Type == dataset.TypeTable {
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(dataset_id): exporting table datasets is not supported by Atelier.")
	}
	ep := ExportParams{}
	if req.ExportParams != nil {
		ep = *req.ExportParams
	}
	switch ep.ExportDest {
	case "", "DIR":
		ep.ExportDest = "DIR"
	case "NEW_DATASET":
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(export_params.export_dest): NEW_DATASET is not supported by Atelier; export to OBS (DIR) and create a dataset from that directory.")
	default:
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(export_params.export_dest): %q: want DIR.", ep.ExportDest)
	}
	for _, f := range []struct{ name, v string }{
		{"export_new_dataset_name", ep.ExportNewDatasetName}, {"export_new_dataset_work_path", ep.ExportNewDatasetWorkPath},
		{"export_dataset_version_name", ep.ExportDatasetVersionName}, {"export_dataset_version_format", ep.ExportDatasetVersionFormat},
	} {
		if f.v != "" {
			return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(export_params.%s): used only when exporting to a new dataset (NEW_DATASET), which Atelier does not support.", f.name)
		}
	}
	if req.Path == "" {
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(path): required: the OBS directory to export to.")
	}
	out, err := dataset.ParseDir("path", req.Path)
	if err != nil {
		return nil, err
	}
	for _, in := range r.Inputs() {
		if dataset.Within(out, in) {
			return nil, dataset.Invalid(CodeExportPath, "Invalid export path (path): %s is inside the dataset's input path, where exported files would become samples.", req.Path)
		}
	}
	switch req.SourceTypeHeader {
	case "":
		req.SourceTypeHeader = "obs://"
	case "obs://", "s3://":
	default:
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(source_type_header): %q: want obs:// or s3://.", req.SourceTypeHeader)
	}
	switch req.AnnotationFormat {
	case "", "VOC":
	case "COCO":
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(annotation_format): COCO is not supported by Atelier; labels are exported as the manifest and Pascal VOC (VOC).")
	default:
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(annotation_format): %q: want VOC.", req.AnnotationFormat)
	}
	if req.ExportFormat != nil {
		switch *req.ExportFormat {
		case ExportTree, ExportTile:
		default:
			return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(export_format): %d: want 1 (tree) or 2 (tile).", *req.ExportFormat)
		}
		if annotation.SampleTypeOf(r.Type) == annotation.SampleText {
			return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(export_format): a text dataset's samples are inline text, not files to copy; export the manifest alone.")
		}
	}
	switch req.VersionFormat {
	case "":
		req.VersionFormat = "Default"
	case "Default":
	case "CarbonData", "CSV":
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(version_format): %s is a format of table datasets.", req.VersionFormat)
	default:
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(version_format): %q: want Default.", req.VersionFormat)
	}
	if req.WithColumnHeader != nil {
		return nil, dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(with_column_header): valid only for table datasets.")
	}
	p := &ExportPlan{Output: out, projectID: projectID, datasetID: r.ID,
		params: exportParams{Output: "/" + out.Bucket + "/" + out.Key, MaxSeq: r.SampleSeq}}
	if err := s.planExportSelection(ctx, r, req, &ep, p); err != nil {
		return nil, err
	}
	if ep.ClearHardProperty == nil {
		ep.ClearHardProperty = new(bool)
		*ep.ClearHardProperty = true
	}
	if ep.RatioSampleUsage == nil {
		ep.RatioSampleUsage = new(bool)
	}
	ratio, text, err := versions.ParseRatio("export_params.train_sample_ratio", ep.TrainSampleRatio)
	if err != nil {
		return nil, err
	}
	ep.TrainSampleRatio = (*versions.Ratio)(&text)
	if *ep.RatioSampleUsage {
		p.params.Ratio = &ratio
	}
	if ep.SampleState == nil {
		ep.SampleState = new(string)
	}
	req.ExportParams = &ep
	req.Status, req.TaskID = nil, ""
	p.params.Request = *req
	p.Reads = r.Inputs()
	if inner, err := obs.ParsePath(r.InnerWorkPath); err == nil && req.VersionID != "" {
		p.Reads = append(p.Reads, inner)
	}
	return p, nil
}

// planExportSelection decides which samples an export takes: export_type,
// sample_state (top level or in export_params, which must agree),
// search_conditions (ORed) and samples; or a version's.
func (s *Service) planExportSelection(ctx context.Context, r *dataset.Row, req *ExportRequest, ep *ExportParams, p *ExportPlan) error {
	state := req.SampleState
	if ep.SampleState != nil && *ep.SampleState != "" {
		if state != "" && state != *ep.SampleState {
			return dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(sample_state): %q differs from export_params.sample_state %q.", state, *ep.SampleState)
		}
		state = *ep.SampleState
	}
	conditional := state != "" || len(ep.SearchConditions) > 0 || len(ep.Samples) > 0
	typ := ExportAll
	if conditional {
		typ = ExportConditional
	}
	if req.ExportType != nil {
		typ = *req.ExportType
	}
	switch typ {
	case ExportLabeled, ExportUnlabeled, ExportAll:
		if conditional {
			return dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(export_type): sample_state, search_conditions and samples select samples only with export_type 3 (conditional search).")
		}
	case ExportConditional:
	default:
		return dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(export_type): %d: want 0 (labeled), 1 (unlabeled), 2 (all) or 3 (conditional search).", typ)
	}
	req.ExportType = &typ
	switch typ {
	case ExportLabeled:
		p.params.State = new(int)
		*p.params.State = dataset.StateLabeled
	case ExportUnlabeled:
		p.params.State = new(int)
		*p.params.State = dataset.StateUnlabeled
	}
	if state != "" {
		st, team, err := dataset.ParseSampleState("sample_state", state)
		if err != nil {
			return err
		}
		p.params.State, p.params.Team = &st, team
	}
	if len(ep.Samples) > MaxExportSamples {
		return dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(export_params.samples): at most %d sample IDs.", MaxExportSamples)
	}
	name := r.Name
	if req.VersionID != "" {
		if len(ep.SearchConditions) > 0 || len(ep.Samples) > 0 {
			return dataset.Invalid(dataset.CodeInvalid, "Invalid parameter(version_id): a version's samples are selected by export_type and sample_state only; search_conditions and samples apply to the dataset's samples.")
		}
		v, err := s.versions.Published(ctx, r.ID, req.VersionID)
		if err != nil {
			return err
		}
		name += "-" + v.Name
	} else {
		// Validates the conditions now: a bad one is the request's fault.
		if _, err := s.ds.Select(ctx, r, exportQuery(p.params, ep), r.SampleSeq); err != nil {
			return err
		}
	}
	p.params.Manifest = p.Output.Key + name + ".manifest"
	return nil
}

// exportQuery is the sample selection of an export of the dataset's
// samples.
func exportQuery(params exportParams, ep *ExportParams) dataset.SampleQuery {
	return dataset.SampleQuery{State: params.State, TeamState: params.Team, Conditions: ep.SearchConditions, Any: true, IDs: ep.Samples}
}

// CommitExport checks the output bucket and queues the export.
func (s *Service) CommitExport(ctx context.Context, p *ExportPlan) (string, error) {
	if s.tasks == nil {
		return "", errors.New("export: the background-task manager is not configured")
	}
	if err := s.objects.HeadBucket(ctx, p.Output.Bucket); err != nil {
		if errors.Is(err, obs.ErrBucketNotFound) {
			return "", dataset.Invalid(dataset.CodeBucketNotExist, "OBS bucket does not exist: %s.", p.Output.Bucket)
		}
		return "", fmt.Errorf("check bucket %s: %w", p.Output.Bucket, err)
	}
	params := p.params
	params.Requester = p.Requester
	t, err := s.tasks.Enqueue(ctx, nil, TaskExport, p.projectID, p.datasetID, params)
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// ListExports lists a dataset's exports, newest first; exportType filters
// when not nil.
func (s *Service) ListExports(ctx context.Context, projectID, datasetID string, exportType *int, offset, limit int) (int, []*ExportTask, error) {
	if _, err := s.ds.Workspace(ctx, projectID, datasetID); err != nil {
		return 0, nil, err
	}
	if s.tasks == nil {
		return 0, []*ExportTask{}, nil
	}
	ts, err := s.tasks.List(ctx, datasetID, TaskExport)
	if err != nil {
		return 0, nil, err
	}
	var all []*ExportTask
	for _, t := range ts {
		e, err := exportTask(t)
		if err != nil {
			return 0, nil, err
		}
		if exportType == nil || e.ExportType == *exportType {
			all = append(all, e)
		}
	}
	total := len(all)
	page := all[min(offset, total):min(offset+limit, total)]
	if page == nil {
		page = []*ExportTask{}
	}
	return total, page, nil
}

// GetExport returns one export of a dataset.
func (s *Service) GetExport(ctx context.Context, projectID, datasetID, taskID string) (*ExportTask, error) {
	if _, err := s.ds.Workspace(ctx, projectID, datasetID); err != nil {
		return nil, err
	}
	notFound := dataset.Invalid(CodeExportNotFound, "Export task does not exist: %s.", taskID)
	if s.tasks == nil {
		return nil, notFound
	}
	t, err := s.tasks.Get(ctx, taskID)
	if errors.Is(err, tasks.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if t.Kind != TaskExport || t.ResourceID != datasetID || t.ProjectID != projectID {
		return nil, notFound
	}
	return exportTask(t)
}

func exportTask(t *tasks.Task) (*ExportTask, error) {
	var params exportParams
	if err := json.Unmarshal(t.Params, &params); err != nil {
		return nil, fmt.Errorf("decode export %s: %w", t.ID, err)
	}
	req := params.Request
	e := &ExportTask{CreateTime: t.Created.UnixMilli(), ExportFormat: req.ExportFormat, ExportType: ExportAll,
		FinishedSampleCount: t.Succeeded, FailedSampleCount: t.Failed, Path: req.Path, TaskID: t.ID,
		TotalSampleCount: t.Total, VersionFormat: req.VersionFormat, VersionID: req.VersionID}
	if req.ExportType != nil {
		e.ExportType = *req.ExportType
	}
	if req.ExportParams != nil {
		e.ExportParams = *req.ExportParams
	}
	e.UpdateTime = e.CreateTime
	for _, at := range []time.Time{t.Started, t.Finished} {
		if !at.IsZero() {
			e.UpdateTime = at.UnixMilli()
		}
	}
	if t.Total > 0 {
		e.Progress = math.Round(float64(t.Succeeded+t.Failed)/float64(t.Total)*10000) / 100
	}
	switch t.Status {
	case tasks.Queued:
		e.Status = "INIT"
	case tasks.Running:
		e.Status = "RUNNING"
		e.Progress = min(e.Progress, 99.99)
	case tasks.Succeeded:
		e.Status, e.Progress = "SUCCESSED", 100
	default:
		e.Status, e.ErrorCode = "FAILED", CodeExportFailed
		e.ErrorMsg = t.ErrorMessage
		if t.Status == tasks.Cancelled && e.ErrorMsg == "" {
			e.ErrorMsg = "The export was cancelled."
		}
	}
	return e, nil
}

// runExport is the handler of TaskExport.
func (s *Service) runExport(ctx context.Context, t *tasks.Task, p tasks.Progress) error {
	var params exportParams
	if err := json.Unmarshal(t.Params, &params); err != nil {
		return fmt.Errorf("decode export parameters: %w", err)
	}
	if err := s.export(ctx, t, p, params); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return errors.New(s.ds.TaskMessage(ctx, "export", err))
	}
	return nil
}

func (s *Service) export(ctx context.Context, t *tasks.Task, p tasks.Progress, params exportParams) error {
	r, err := s.ds.LoadRow(ctx, s.db, t.ProjectID, t.ResourceID, false)
	if err != nil {
		return err
	}
	req := params.Request
	out, err := obs.ParsePath(params.Output)
	if err != nil {
		return fmt.Errorf("export directory %q: %w", params.Output, err)
	}
	spec := versions.ManifestSpec{Manifest: obs.Path{Bucket: out.Bucket, Key: params.Manifest}, Header: req.SourceTypeHeader,
		Split: params.Ratio, ClearHard: *req.ExportParams.ClearHardProperty, Out: out,
		VOCDir: obs.Path{Bucket: out.Bucket, Key: out.Key + "Annotations/"}, Requester: params.Requester}
	if req.ExportFormat != nil {
		spec.Layout = *req.ExportFormat
	}
	var src versions.SampleSource
	if req.VersionID != "" {
		v, err := s.versions.Published(ctx, r.ID, req.VersionID)
		if err != nil {
			return err
		}
		spec.Reads = []obs.Path{v.Manifest}
		total := v.Total
		if params.State != nil {
			switch *params.State {
			case dataset.StateLabeled:
				total = v.Annotated
			case dataset.StateUnlabeled:
				total = v.Total - v.Annotated
			default:
				total = 0
			}
		}
		p.SetTotal(total)
		if src, err = s.versions.Source(ctx, v, params.State); err != nil {
			return err
		}
	} else {
		sel, err := s.ds.Select(ctx, r, exportQuery(params, req.ExportParams), params.MaxSeq)
		if err != nil {
			return err
		}
		total, err := sel.Count(ctx)
		if err != nil {
			return err
		}
		p.SetTotal(total)
		src = versions.SelectionSource(sel)
	}
	return s.versions.WriteManifest(ctx, t, p, r, spec, src)
}
