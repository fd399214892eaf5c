package autolabel

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/tasks"
)

// The reference's task statuses.
const (
	statusQueuing   = -1
	statusRunning   = 1
	statusFailed    = 2
	statusSucceeded = 3
	statusStopped   = 5
)

// TaskView is a task as the list and detail APIs show it.
type TaskView struct {
	AnnotatedSampleCount   int64           `json:"annotated_sample_count"`
	Code                   string          `json:"code,omitempty"`
	Config                 SmartConfig     `json:"config"`
	CreateTime             string          `json:"create_time"`
	DatasetID              string          `json:"dataset_id"`
	ElapsedTime            int64           `json:"elapsed_time"`
	ErrorCode              string          `json:"error_code,omitempty"`
	ErrorDetail            string          `json:"error_detail,omitempty"`
	ErrorMsg               string          `json:"error_msg,omitempty"`
	Message                string          `json:"message,omitempty"`
	ModelID                string          `json:"model_id,omitempty"`
	ModelName              string          `json:"model_name,omitempty"`
	Progress               float64         `json:"progress"`
	ResourceID             string          `json:"resource_id"`
	Result                 *Result         `json:"result,omitempty"`
	Status                 int             `json:"status"`
	TaskID                 string          `json:"task_id"`
	TaskName               string          `json:"task_name"`
	TaskType               string          `json:"task_type"`
	TotalSampleCount       int64           `json:"total_sample_count"`
	UnconfirmedSampleCount int64           `json:"unconfirmed_sample_count"`
	Failures               []tasks.Failure `json:"-"`
}

// Result is the task's result (Result of the reference), with Atelier's
// measured figures of the learning.
type Result struct {
	AnnotatedSampleCount   int64  `json:"annotated_sample_count"`
	ConfidenceScope        string `json:"confidence_scope,omitempty"`
	DatasetName            string `json:"dataset_name,omitempty"`
	DatasetType            string `json:"dataset_type,omitempty"`
	Description            string `json:"description,omitempty"`
	HardExamplePath        string `json:"hard_example_path,omitempty"`
	ModelName              string `json:"model_name,omitempty"`
	TotalSampleCount       int64  `json:"total_sample_count"`
	UnconfirmedSampleCount int64  `json:"unconfirmed_sample_count"`
	// Atelier's own: what the learner measured and decided.
	Algorithm    string   `json:"algorithm,omitempty"`
	Classes      []string `json:"classes,omitempty"`
	CVAccuracy   *float64 `json:"cv_accuracy,omitempty"`
	KeySamples   int64    `json:"key_sample_count"`
	PseudoLabels int      `json:"pseudo_label_count,omitempty"`
	SelfTrained  bool     `json:"self_trained,omitempty"`
	Groups       []int64  `json:"group_sizes,omitempty"`
	FailedCount  int64    `json:"failed_sample_count"`
}

// view turns a stored task into its view.
func view(t *tasks.Task) (*TaskView, error) {
	var p params
	if err := json.Unmarshal(t.Params, &p); err != nil {
		return nil, fmt.Errorf("decode intelligent task %s: %w", t.ID, err)
	}
	v := &TaskView{TaskID: t.ID, TaskName: p.TaskName, TaskType: p.Type, DatasetID: t.ResourceID, ResourceID: t.ResourceID,
		CreateTime: t.Created.UTC().Format(time.RFC3339), ModelID: p.Model, ModelName: p.Model, TotalSampleCount: t.Total}
	if p.Request.Config != nil {
		v.Config = *p.Request.Config
	}
	if len(t.Result) > 0 {
		var r Result
		if err := json.Unmarshal(t.Result, &r); err != nil {
			return nil, fmt.Errorf("decode the result of intelligent task %s: %w", t.ID, err)
		}
		// The samples that failed are counted by the task, page by page,
		// as they fail; the stored result is written once at the end.
		r.FailedCount = t.Failed
		v.Result = &r
		v.AnnotatedSampleCount, v.UnconfirmedSampleCount = r.AnnotatedSampleCount, r.UnconfirmedSampleCount
		if r.TotalSampleCount > 0 {
			v.TotalSampleCount = r.TotalSampleCount
		}
	}
	if !t.Started.IsZero() {
		end := time.Now()
		if !t.Finished.IsZero() {
			end = t.Finished
		}
		v.ElapsedTime = int64(end.Sub(t.Started).Seconds())
	}
	if t.Total > 0 {
		v.Progress = math.Round(float64(t.Succeeded+t.Failed)/float64(t.Total)*10000) / 100
	}
	switch t.Status {
	case tasks.Queued:
		v.Status = statusQueuing
	case tasks.Running:
		v.Status = statusRunning
		v.Progress = min(v.Progress, 99.99)
	case tasks.Succeeded:
		v.Status, v.Progress = statusSucceeded, 100
		if t.Failed > 0 {
			v.Message = fmt.Sprintf("%d samples could not be processed", t.Failed)
		}
	case tasks.Cancelled:
		v.Status = statusStopped
		v.Message = "The task was stopped."
	default:
		v.Status, v.ErrorCode, v.Code = statusFailed, CodeTaskFailed, CodeTaskFailed
		v.ErrorMsg = t.ErrorMessage
	}
	return v, nil
}

// CodeTaskFailed is the code of a failed intelligent task ("Import AI
// annotation error" in the reference: the auto labeling result could not
// be made).
const CodeTaskFailed = "ModelArts.4361"

// ListTasks lists a dataset's intelligent tasks of one type ("" lists
// auto-label and pre-label, as the reference says), newest first, limit
// of them after skip, filtered by task_name (a substring).
func (s *Service) ListTasks(ctx context.Context, projectID, datasetID, typ, name string, skip, limit int) (int, []*TaskView, error) {
	if _, err := s.ds.Workspace(ctx, projectID, datasetID); err != nil {
		return 0, nil, err
	}
	switch typ {
	case "", TypeAutoLabel, TypePreLabel, TypeAutoGrouping:
	default:
		return 0, nil, bad("Invalid parameter(type): %q: want auto-label, pre-label or auto-grouping.", typ)
	}
	if s.tasks == nil {
		return 0, []*TaskView{}, nil
	}
	ts, err := s.tasks.List(ctx, datasetID, TaskSmart)
	if err != nil {
		return 0, nil, err
	}
	var all []*TaskView
	for _, t := range ts {
		if t.ProjectID != projectID {
			continue
		}
		v, err := view(t)
		if err != nil {
			return 0, nil, err
		}
		if typ == "" && v.TaskType == TypeAutoGrouping || typ != "" && v.TaskType != typ || name != "" && !strings.Contains(v.TaskName, name) {
			continue
		}
		all = append(all, v)
	}
	total := len(all)
	from := min(skip, total)
	out := all[from:min(from+limit, total)]
	if out == nil {
		out = []*TaskView{}
	}
	return total, out, nil
}

// GetTask returns one intelligent task of a dataset.
func (s *Service) GetTask(ctx context.Context, projectID, datasetID, taskID string) (*TaskView, error) {
	t, err := s.taskOf(ctx, projectID, datasetID, taskID)
	if err != nil {
		return nil, err
	}
	v, err := view(t)
	if err != nil {
		return nil, err
	}
	if t.Failed > 0 {
		fs, err := s.tasks.Failures(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		for i, f := range fs {
			if i == 20 {
				b.WriteString("…")
				break
			}
			fmt.Fprintf(&b, "%s: %s\n", f.Item, f.Reason)
		}
		v.ErrorDetail = strings.TrimSpace(b.String())
		v.Failures = fs
	}
	return v, nil
}

// StopTask stops an intelligent task; stopping one that ended changes
// nothing. Predictions already written stay, to be confirmed or not.
func (s *Service) StopTask(ctx context.Context, projectID, datasetID, taskID string) error {
	t, err := s.taskOf(ctx, projectID, datasetID, taskID)
	if err != nil {
		return err
	}
	if t.Status.Final() {
		return nil
	}
	_, err = s.tasks.Cancel(ctx, t.ID)
	return err
}

func itoa(n int) string { return strconv.Itoa(n) }
