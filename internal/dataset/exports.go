package dataset

// Size: over 1,500 lines, because every export format's writer and the
// export task live together here; issue 10 (item 1) moves them into an
// exporter room beside the dataset core.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/dataset/imageprobe"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// Exports, and the engine that writes a manifest for exports and versions
// alike.
//
// An export (TaskExport) writes <path><dataset_name>.manifest (or
// <dataset_name>-<version_name>.manifest for a version's samples) and, as
// export_format asks, copies of the sample files: 1 (tree) puts each file
// in a folder named after each of its classification labels (an unlabeled
// file at the top), the layout an image-classification import reads back;
// 2 (tile) puts each file at its path below the dataset's input directory
// with its label file beside it (<name>.txt listing classification labels,
// <name>.xml for boxes and polygons). Detection and segmentation labels
// always go to Pascal VOC files: beside the copies, else under
// <path>Annotations/ (a version: its annotation/ directory), and the
// manifest's annotation-loc points at them.
//
// Crash safety: the manifest is written in parts of partLines lines under
// the dataset's inner temp path (<inner_work_path>temp/<task_id>/), each
// part one atomic Put, and the task's checkpoint (the last sample written,
// the parts done and, for versions, the counts so far) follows each part.
// A resumed run continues after the checkpoint, overwriting a part that
// was written but not checkpointed; the final manifest is one atomic Put
// of the parts concatenated, so nobody ever sees a partial manifest, and
// the parts are deleted afterwards. Copies and VOC files are idempotent
// Puts: a resumed run writes the same objects again.

// exportTaskHandlers are the handlers of exports and version publishing.
func (s *Service) exportTaskHandlers() map[string]tasks.Handler {
	return map[string]tasks.Handler{TaskExport: s.runExport, TaskPublish: s.runPublish}
}

// Export types (export_type).
const (
	ExportLabeled     = 0
	ExportUnlabeled   = 1
	ExportAll         = 2
	ExportConditional = 3
)

// Export formats (export_format).
const (
	ExportTree = 1
	ExportTile = 2
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
	ClearHardProperty          *bool             `json:"clear_hard_property,omitempty"`
	ExportDatasetVersionFormat string            `json:"export_dataset_version_format,omitempty"`
	ExportDatasetVersionName   string            `json:"export_dataset_version_name,omitempty"`
	ExportDest                 string            `json:"export_dest,omitempty"`
	ExportNewDatasetName       string            `json:"export_new_dataset_name,omitempty"`
	ExportNewDatasetWorkPath   string            `json:"export_new_dataset_work_path,omitempty"`
	RatioSampleUsage           *bool             `json:"ratio_sample_usage,omitempty"`
	SampleState                *string           `json:"sample_state,omitempty"`
	Samples                    []string          `json:"samples,omitempty"`
	SearchConditions           []SearchCondition `json:"search_conditions,omitempty"`
	TrainSampleRatio           *Ratio            `json:"train_sample_ratio,omitempty"`
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
	Requester *Requester `json:"requester,omitempty"`
}

// ExportPlan is a validated export waiting for the caller's object-storage
// authorization (PutObject on Output, GetObject on Reads) and CommitExport.
type ExportPlan struct {
	Output obs.Path
	Reads  []obs.Path
	// Requester is who asks for the export; the caller sets it.
	Requester *Requester
	projectID string
	datasetID string
	params    exportParams
}

// PlanExport validates an export request against the dataset.
func (s *Service) PlanExport(ctx context.Context, projectID, datasetID string, req *ExportRequest) (*ExportPlan, error) {
	r, err := s.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return nil, err
	}
	if r.Type == TypeTable {
		return nil, badRequest("Invalid parameter(dataset_id): exporting table datasets is not supported by Atelier.")
	}
	ep := ExportParams{}
	if req.ExportParams != nil {
		ep = *req.ExportParams
	}
	switch ep.ExportDest {
	case "", "DIR":
		ep.ExportDest = "DIR"
	case "NEW_DATASET":
		return nil, badRequest("Invalid parameter(export_params.export_dest): NEW_DATASET is not supported by Atelier; export to OBS (DIR) and create a dataset from that directory.")
	default:
		return nil, badRequest("Invalid parameter(export_params.export_dest): %q: want DIR.", ep.ExportDest)
	}
	for _, f := range []struct{ name, v string }{
		{"export_new_dataset_name", ep.ExportNewDatasetName}, {"export_new_dataset_work_path", ep.ExportNewDatasetWorkPath},
		{"export_dataset_version_name", ep.ExportDatasetVersionName}, {"export_dataset_version_format", ep.ExportDatasetVersionFormat},
	} {
		if f.v != "" {
			return nil, badRequest("Invalid parameter(export_params.%s): used only when exporting to a new dataset (NEW_DATASET), which Atelier does not support.", f.name)
		}
	}
	if req.Path == "" {
		return nil, badRequest("Invalid parameter(path): required: the OBS directory to export to.")
	}
	out, err := parseDir("path", req.Path)
	if err != nil {
		return nil, err
	}
	for _, in := range r.inputs() {
		if within(out, in) {
			return nil, Invalid(CodeExportPath, "Invalid export path (path): %s is inside the dataset's input path, where exported files would become samples.", req.Path)
		}
	}
	switch req.SourceTypeHeader {
	case "":
		req.SourceTypeHeader = "obs://"
	case "obs://", "s3://":
	default:
		return nil, badRequest("Invalid parameter(source_type_header): %q: want obs:// or s3://.", req.SourceTypeHeader)
	}
	switch req.AnnotationFormat {
	case "", "VOC":
	case "COCO":
		return nil, badRequest("Invalid parameter(annotation_format): COCO is not supported by Atelier; labels are exported as the manifest and Pascal VOC (VOC).")
	default:
		return nil, badRequest("Invalid parameter(annotation_format): %q: want VOC.", req.AnnotationFormat)
	}
	if req.ExportFormat != nil {
		switch *req.ExportFormat {
		case ExportTree, ExportTile:
		default:
			return nil, badRequest("Invalid parameter(export_format): %d: want 1 (tree) or 2 (tile).", *req.ExportFormat)
		}
		if annotation.SampleTypeOf(r.Type) == annotation.SampleText {
			return nil, badRequest("Invalid parameter(export_format): a text dataset's samples are inline text, not files to copy; export the manifest alone.")
		}
	}
	switch req.VersionFormat {
	case "":
		req.VersionFormat = "Default"
	case "Default":
	case "CarbonData", "CSV":
		return nil, badRequest("Invalid parameter(version_format): %s is a format of table datasets.", req.VersionFormat)
	default:
		return nil, badRequest("Invalid parameter(version_format): %q: want Default.", req.VersionFormat)
	}
	if req.WithColumnHeader != nil {
		return nil, badRequest("Invalid parameter(with_column_header): valid only for table datasets.")
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
	ratio, text, err := parseRatio("export_params.train_sample_ratio", ep.TrainSampleRatio)
	if err != nil {
		return nil, err
	}
	ep.TrainSampleRatio = (*Ratio)(&text)
	if *ep.RatioSampleUsage {
		p.params.Ratio = &ratio
	}
	if ep.SampleState == nil {
		ep.SampleState = new(string)
	}
	req.ExportParams = &ep
	req.Status, req.TaskID = nil, ""
	p.params.Request = *req
	p.Reads = r.inputs()
	if inner, err := obs.ParsePath(r.InnerWorkPath); err == nil && req.VersionID != "" {
		p.Reads = append(p.Reads, inner)
	}
	return p, nil
}

// planExportSelection decides which samples an export takes: export_type,
// sample_state (top level or in export_params, which must agree),
// search_conditions (ORed) and samples; or a version's.
func (s *Service) planExportSelection(ctx context.Context, r *Row, req *ExportRequest, ep *ExportParams, p *ExportPlan) error {
	state := req.SampleState
	if ep.SampleState != nil && *ep.SampleState != "" {
		if state != "" && state != *ep.SampleState {
			return badRequest("Invalid parameter(sample_state): %q differs from export_params.sample_state %q.", state, *ep.SampleState)
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
			return badRequest("Invalid parameter(export_type): sample_state, search_conditions and samples select samples only with export_type 3 (conditional search).")
		}
	case ExportConditional:
	default:
		return badRequest("Invalid parameter(export_type): %d: want 0 (labeled), 1 (unlabeled), 2 (all) or 3 (conditional search).", typ)
	}
	req.ExportType = &typ
	switch typ {
	case ExportLabeled:
		p.params.State = new(int)
		*p.params.State = StateLabeled
	case ExportUnlabeled:
		p.params.State = new(int)
		*p.params.State = StateUnlabeled
	}
	if state != "" {
		st, team, err := ParseSampleState("sample_state", state)
		if err != nil {
			return err
		}
		p.params.State, p.params.Team = &st, team
	}
	if len(ep.Samples) > MaxExportSamples {
		return badRequest("Invalid parameter(export_params.samples): at most %d sample IDs.", MaxExportSamples)
	}
	name := r.Name
	if req.VersionID != "" {
		if len(ep.SearchConditions) > 0 || len(ep.Samples) > 0 {
			return badRequest("Invalid parameter(version_id): a version's samples are selected by export_type and sample_state only; search_conditions and samples apply to the dataset's samples.")
		}
		v, err := s.loadVersion(ctx, s.db, r.ID, req.VersionID)
		if err != nil {
			return err
		}
		if v.Status != VersionNormal {
			return Invalid(CodeVersionNotNormal, "Dataset version status must be normal: version %s is not.", v.Name)
		}
		name += "-" + v.Name
	} else {
		ix, err := s.loadLabelIndex(ctx, s.db, r)
		if err != nil {
			return err
		}
		// Validates the conditions now: a bad one is the request's fault.
		if _, err := buildSampleFilter(r, ix, exportQuery(p.params, ep)); err != nil {
			return err
		}
	}
	p.params.Manifest = p.Output.Key + name + ".manifest"
	return nil
}

// exportQuery is the sample selection of an export of the dataset's
// samples.
func exportQuery(params exportParams, ep *ExportParams) SampleQuery {
	return SampleQuery{State: params.State, TeamState: params.Team, Conditions: ep.SearchConditions, Any: true, IDs: ep.Samples}
}

// CommitExport checks the output bucket and queues the export.
func (s *Service) CommitExport(ctx context.Context, p *ExportPlan) (string, error) {
	if s.tasks == nil {
		return "", errors.New("export: the background-task manager is not configured")
	}
	if err := s.objects.HeadBucket(ctx, p.Output.Bucket); err != nil {
		if errors.Is(err, obs.ErrBucketNotFound) {
			return "", Invalid(CodeBucketNotExist, "OBS bucket does not exist: %s.", p.Output.Bucket)
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
	if _, err := s.Workspace(ctx, projectID, datasetID); err != nil {
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
	if _, err := s.Workspace(ctx, projectID, datasetID); err != nil {
		return nil, err
	}
	notFound := Invalid(CodeExportNotFound, "Export task does not exist: %s.", taskID)
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
		return errors.New(s.taskMessage(ctx, "export", err))
	}
	return nil
}

func (s *Service) export(ctx context.Context, t *tasks.Task, p tasks.Progress, params exportParams) error {
	r, err := s.LoadRow(ctx, s.db, t.ProjectID, t.ResourceID, false)
	if err != nil {
		return err
	}
	req := params.Request
	out, err := obs.ParsePath(params.Output)
	if err != nil {
		return fmt.Errorf("export directory %q: %w", params.Output, err)
	}
	j := &manifestJob{s: s, task: t, p: p, r: r, requester: params.Requester, manifest: obs.Path{Bucket: out.Bucket, Key: params.Manifest}, opts: lineOptions{
		header: req.SourceTypeHeader, split: params.Ratio, clearHard: *req.ExportParams.ClearHardProperty,
		out: out, inputs: r.inputs(), datasetType: r.Type, vocDir: obs.Path{Bucket: out.Bucket, Key: out.Key + "Annotations/"},
	}}
	if req.ExportFormat != nil {
		j.opts.layout = *req.ExportFormat
	}
	var src sampleSource
	if req.VersionID != "" {
		v, err := s.loadVersion(ctx, s.db, r.ID, req.VersionID)
		if err != nil {
			return err
		}
		if v.Status != VersionNormal {
			return Invalid(CodeVersionNotNormal, "Dataset version status must be normal: version %s is not.", v.Name)
		}
		if err := j.may(ctx, actionGet, v.manifest()); err != nil {
			return err
		}
		total := v.Total
		if params.State != nil {
			switch *params.State {
			case StateLabeled:
				total = v.Annotated
			case StateUnlabeled:
				total = v.Total - v.Annotated
			default:
				total = 0
			}
		}
		p.SetTotal(total)
		if src, err = s.versionSource(ctx, v, params.State); err != nil {
			return err
		}
	} else {
		ix, err := s.loadLabelIndex(ctx, s.db, r)
		if err != nil {
			return err
		}
		q := exportQuery(params, req.ExportParams)
		f, err := buildSampleFilter(r, ix, q)
		if err != nil {
			return err
		}
		if q.TeamState {
			f.none = true
		}
		total, err := s.countUpTo(ctx, r, ix, q, f, params.MaxSeq)
		if err != nil {
			return err
		}
		p.SetTotal(total)
		src = s.dbSource(f, params.MaxSeq)
	}
	_, err = j.run(ctx, src)
	return err
}

// countUpTo counts the samples of a filter among the first maxSeq: from
// the counters when no sample was added since, else by an index scan.
func (s *Service) countUpTo(ctx context.Context, r *Row, ix *labelIndex, q SampleQuery, f *sampleFilter, maxSeq int64) (int64, error) {
	if f.none {
		return 0, nil
	}
	if r.SampleSeq == maxSeq {
		return s.countSamples(ctx, r, ix, q, f)
	}
	args := append(append([]any(nil), f.args...), maxSeq)
	var n int64
	err := s.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) FROM dataset_samples s %s WHERE %s AND s.seq <= $%d`,
		f.join, f.where, len(args)), args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count samples to export: %w", err)
	}
	return n, nil
}

// taskMessage is what a failed task tells its client: the step and a
// domain error's message; other causes (the database, object storage) are
// logged with their detail and not shown.
func (s *Service) taskMessage(ctx context.Context, step string, err error) string {
	if de, ok := AsError(err); ok {
		return step + ": " + de.Msg
	}
	s.log.ErrorContext(ctx, "dataset task failed", "step", step, "err", err)
	return step + " failed: internal error, see the server log"
}

// The engine.

// Layouts of the files written beside a manifest.
const (
	layoutManifest = 0          // the manifest and VOC files only
	layoutTree     = ExportTree // a folder per classification label
	layoutTile     = ExportTile // each file with its label file beside it
	layoutData     = 3          // a version's copies under its data/ directory
)

// Sizes of the engine's work: samples read per query and concurrent
// object writes per page.
const (
	exportPageSize = 2000
	ioWorkers      = 8
)

// partLines is how many lines a part holds, and so how much a resumed run
// may redo; a variable so that tests can make parts small.
var partLines = 100_000

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

// sampleSource returns at most limit samples whose position follows
// after, in order: last is the position read up to (samples a filter left
// out included) and done reports the end.
type sampleSource func(ctx context.Context, after int64, limit int) (items []outSample, last int64, done bool, err error)

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
	r        *Row
	manifest obs.Path
	opts     lineOptions
	// stats, for versions, count what was written.
	stats *versionStats
	// requester is who asked for the job; acc decides for them while a
	// page is written (read again for every page, so that a changed
	// grant applies from the next page on).
	requester *Requester
	acc       ObjectAccess
}

// may checks an action the whole job depends on (reading a version's
// manifest, writing the manifest), before the job starts: a denial fails
// the job with the action and the resource named.
func (j *manifestJob) may(ctx context.Context, action string, p obs.Path) error {
	acc, err := j.s.ObjectAccess(ctx, j.requester)
	if err != nil {
		return err
	}
	reason, err := Denied(ctx, acc, action, p)
	if err != nil {
		return err
	}
	if reason != "" {
		return Invalid(CodeInvalid, "%s", reason)
	}
	return nil
}

// check decides an action on one object of a sample: a denial fails the
// sample, with the action and the resource named.
func (j *manifestJob) check(ctx context.Context, action string, p obs.Path) error {
	reason, err := Denied(ctx, j.acc, action, p)
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
func (j *manifestJob) run(ctx context.Context, next sampleSource) (*manifestIndex, error) {
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
	if err := j.may(ctx, actionPut, j.manifest); err != nil {
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
	if err := j.s.deletePrefix(ctx, temp); err != nil {
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
// parts of partLines lines, checkpointing after each.
func (j *manifestJob) writeParts(ctx context.Context, next sampleSource, cur *jobCursor, temp obs.Path) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan samplePage, 2)
	go func() {
		defer close(pages)
		after := cur.After
		for {
			// A page never spans two parts' worth of lines.
			items, last, done, err := next(rctx, after, min(exportPageSize, partLines))
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
		for n < partLines {
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
	if o.layout != layoutManifest || o.datasetType == TypeObjectDetection || o.datasetType == TypeImageSegmentation || o.datasetType == TypeCustom {
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
	acc, err := j.s.ObjectAccess(ctx, j.requester)
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
	if o.dropUnconfirmed && it.state == StateUnconfirmed {
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
	obj, isObject := ObjectOf(it.source)
	if !isObject && !strings.HasPrefix(it.source, ContentScheme) {
		return rec, sampleFailuref("the sample's source %q is not a valid object path", it.source)
	}
	if isObject {
		// A sample stored before imports checked keys as the object
		// store does may name one that can never be read.
		if reason := j.s.CheckObjectKey(obj); reason != "" {
			return rec, sampleFailuref("the sample's file %s", reason)
		}
	}
	var copies []obs.Path
	if isObject && o.layout != layoutManifest {
		copies = j.copyTargets(obj, rec.Labels)
		for _, c := range copies {
			if err := j.copyObject(ctx, obj, c); err != nil {
				return rec, err
			}
		}
		rec.Source = copies[0].String()
	}
	if o.layout == layoutTile && len(copies) > 0 {
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
	case layoutTree:
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
	if err := j.check(ctx, actionGet, from); err != nil {
		return err
	}
	if err := j.check(ctx, actionPut, to); err != nil {
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
	if err := j.check(ctx, actionPut, p); err != nil {
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
	if reason, err := Denied(ctx, j.acc, actionGet, obj); err != nil || reason != "" {
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

// partWriter streams one part into an object.
type partWriter struct {
	pw   *io.PipeWriter
	bw   *bufio.Writer
	done chan error
}

func (j *manifestJob) openPart(ctx context.Context, temp obs.Path, n int) *partWriter {
	pr, pw := io.Pipe()
	w := &partWriter{pw: pw, bw: bufio.NewWriterSize(pw, 256<<10), done: make(chan error, 1)}
	key := temp.Key + fmt.Sprintf("part-%06d", n)
	go func() {
		_, err := j.s.objects.Put(ctx, temp.Bucket, key, pr, obs.PutOptions{ContentType: "application/json"})
		// A Put that failed early must not leave the writer blocked.
		pr.CloseWithError(err)
		w.done <- err
	}()
	return w
}

func (w *partWriter) write(b []byte) error {
	_, err := w.bw.Write(b)
	return err
}

func (w *partWriter) close() error {
	if err := w.bw.Flush(); err != nil {
		w.pw.CloseWithError(err)
		<-w.done
		return err
	}
	w.pw.Close()
	return <-w.done
}

// abort ends the part without storing it: a Put that reads an error keeps
// the previous object, if any.
func (w *partWriter) abort(err error) {
	w.pw.CloseWithError(err)
	<-w.done
}

// concat publishes the manifest: the parts one after the other, in one
// atomic Put, indexing where lines start on the way.
func (j *manifestJob) concat(ctx context.Context, temp obs.Path, parts int) (*manifestIndex, error) {
	pr := &partsReader{ctx: ctx, objects: j.s.objects, dir: temp, n: parts}
	defer pr.close()
	ir := &indexingReader{r: pr, stride: lineStride}
	if _, err := j.s.objects.Put(ctx, j.manifest.Bucket, j.manifest.Key, ir, obs.PutOptions{ContentType: "application/json"}); err != nil {
		return nil, fmt.Errorf("write manifest %s: %w", j.manifest, err)
	}
	return &manifestIndex{offsets: ir.index, size: ir.off}, nil
}

// partsReader reads parts 1..n in order.
type partsReader struct {
	ctx     context.Context
	objects obs.Store
	dir     obs.Path
	n, i    int
	cur     io.ReadCloser
}

func (r *partsReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if r.i >= r.n {
				return 0, io.EOF
			}
			r.i++
			key := r.dir.Key + fmt.Sprintf("part-%06d", r.i)
			rc, _, err := r.objects.Get(r.ctx, r.dir.Bucket, key, nil)
			if err != nil {
				return 0, fmt.Errorf("read manifest part %d: %w", r.i, err)
			}
			r.cur = rc
		}
		n, err := r.cur.Read(p)
		if errors.Is(err, io.EOF) {
			r.cur.Close()
			r.cur = nil
			err = nil
			if n == 0 {
				continue
			}
		}
		return n, err
	}
}

func (r *partsReader) close() {
	if r.cur != nil {
		r.cur.Close()
	}
}

// indexingReader records the byte offset of every stride-th line start.
type indexingReader struct {
	r      io.Reader
	stride int64
	off    int64
	lines  int64
	index  []int64
}

func (r *indexingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	b := p[:n]
	base := r.off
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		base += int64(i) + 1
		b = b[i+1:]
		r.lines++
		if r.lines%r.stride == 0 {
			r.index = append(r.index, base)
		}
	}
	r.off += int64(n)
	return n, err
}

// dbSource reads stored samples in seq order up to maxSeq.
func (s *Service) dbSource(f *sampleFilter, maxSeq int64) sampleSource {
	return func(ctx context.Context, after int64, limit int) ([]outSample, int64, bool, error) {
		if f.none {
			return nil, after, true, nil
		}
		args := append(append([]any(nil), f.args...), after, maxSeq, limit)
		n := len(f.args)
		rows, err := s.db.QueryContext(ctx, fmt.Sprintf(`SELECT s.seq, s.id, s.source, s.sample_type, s.state, s.usage,
			s.update_time, s.doc FROM dataset_samples s %s WHERE %s AND s.seq > $%d AND s.seq <= $%d ORDER BY s.seq LIMIT $%d`,
			f.join, f.where, n+1, n+2, n+3), args...)
		if err != nil {
			return nil, 0, false, fmt.Errorf("read samples after %d: %w", after, err)
		}
		defer rows.Close()
		items := make([]outSample, 0, limit)
		var doc []byte
		for rows.Next() {
			var it outSample
			if err := rows.Scan(&it.pos, &it.id, &it.source, &it.sampleType, &it.state, &it.usage, &it.updateTime, &doc); err != nil {
				return nil, 0, false, fmt.Errorf("read samples after %d: %w", after, err)
			}
			var d sampleDoc
			if err := json.Unmarshal(doc, &d); err != nil {
				return nil, 0, false, fmt.Errorf("decode sample %s: %w", it.id, err)
			}
			it.labels, it.metadata = d.Labels, d.Metadata
			items = append(items, it)
		}
		if err := rows.Err(); err != nil {
			return nil, 0, false, fmt.Errorf("read samples after %d: %w", after, err)
		}
		last := after
		if len(items) > 0 {
			last = items[len(items)-1].pos
		}
		return items, last, len(items) < limit, nil
	}
}

// versionSource reads a version's manifest by line number (pos is the
// 1-based line), seeking through its line index, keeping the lines of the
// state when state is set.
func (s *Service) versionSource(ctx context.Context, v *versionRow, state *int) (sampleSource, error) {
	var index []int64
	var data string
	if err := s.db.QueryRowContext(ctx, `SELECT line_index FROM dataset_versions WHERE id=$1`, v.ID).Scan(&data); err != nil {
		return nil, fmt.Errorf("load version index: %w", err)
	}
	if err := json.Unmarshal([]byte(data), &index); err != nil {
		return nil, fmt.Errorf("decode version index: %w", err)
	}
	m := v.manifest()
	return func(ctx context.Context, after int64, limit int) ([]outSample, int64, bool, error) {
		k := min(after/lineStride, int64(len(index)))
		var off int64
		line := int64(0)
		if k > 0 {
			off, line = index[k-1], k*lineStride
		}
		if off >= v.Doc.ManifestSz {
			return nil, after, true, nil
		}
		rc, _, err := s.objects.Get(ctx, m.Bucket, m.Key, &obs.Range{Offset: off, Length: -1})
		if err != nil {
			return nil, 0, false, fmt.Errorf("read version manifest %s: %w", m, err)
		}
		defer rc.Close()
		rd := formats.NewReader(rc)
		var items []outSample
		for read := 0; read < limit; {
			rec, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return items, line, true, nil
			}
			if err != nil {
				return nil, 0, false, fmt.Errorf("read version manifest %s line %d: %w", m, line+1, err)
			}
			line++
			if line <= after {
				continue
			}
			read++
			src := rec.Source
			if p, err := obs.ParsePath(src); err == nil {
				src = p.String()
			}
			it := outSample{pos: line, id: rec.ID, source: src, sampleType: rec.SampleType, usage: rec.Usage,
				labels: rec.Labels, vocLocs: rec.AnnotationLocs, metadata: rec.Metadata, state: StateUnlabeled}
			if len(rec.Labels) > 0 || len(rec.AnnotationLocs) > 0 {
				it.state = StateLabeled
			}
			if state == nil || *state == it.state {
				items = append(items, it)
			}
		}
		return items, line, line >= v.Total, nil
	}, nil
}
