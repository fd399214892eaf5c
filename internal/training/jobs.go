package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/training/executor"
)

// Phases and secondary phases of the reference.
const (
	PhaseCreating    = "Creating"
	PhasePending     = "Pending"
	PhaseRunning     = "Running"
	PhaseCompleted   = "Completed"
	PhaseFailed      = "Failed"
	PhaseTerminating = "Terminating"
	PhaseTerminated  = "Terminated"
	PhaseAbnormal    = "Abnormal"

	SecondaryQueuing      = "Queuing"
	SecondaryCreateFailed = "CreateFailed"
	SecondaryLost         = "Lost"
)

// Final reports whether a phase is final.
func Final(phase string) bool {
	switch phase {
	case PhaseCompleted, PhaseFailed, PhaseTerminated, PhaseAbnormal:
		return true
	}
	return false
}

// storedDoc is a job's stored document: the answer's static parts and what
// the scheduler needs to run it.
type storedDoc struct {
	Kind      string          `json:"kind"`
	Metadata  JobMetadata     `json:"metadata"`
	Algorithm JobAlgorithm    `json:"algorithm"`
	Spec      JobSpec         `json:"spec"`
	Endpoints json.RawMessage `json:"endpoints,omitempty"`
	// Run describes how tasks are started.
	Run runSpec `json:"run"`
	// Requester is who created the job: the objects it downloads and
	// uploads are authorized for them when they are touched.
	Requester *obs.Requester `json:"requester,omitempty"`
}

type runSpec struct {
	Flavor   executor.Flavor   `json:"flavor"`
	Launch   []string          `json:"launch"`
	Image    string            `json:"image,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	CodeDir  string            `json:"code_dir,omitempty"`
	BootFile string            `json:"boot_file,omitempty"`
	LogDir   string            `json:"log_dir"` // obs://… where logs are exported
}

// runState is a job's runtime state.
type runState struct {
	Tasks         []taskRun       `json:"tasks,omitempty"`
	Records       []RunningRecord `json:"records,omitempty"`
	TerminateSent bool            `json:"terminate_sent,omitempty"`
}

type taskRun struct {
	ID       string          `json:"id"`
	Handle   executor.Handle `json:"handle"`
	Exited   bool            `json:"exited,omitempty"`
	ExitCode int             `json:"exit_code,omitempty"`
	Lost     bool            `json:"lost,omitempty"`
	Message  string          `json:"message,omitempty"`
	EndedAt  int64           `json:"ended_at,omitempty"`
}

// jobRow is a job as stored.
type jobRow struct {
	ID, ProjectID, WorkspaceID string
	Phase, Secondary           string
	Priority                   int
	CreateTime                 int64
	StartTime, EndTime         int64
	Deleted                    bool
	Description                string
	Doc                        storedDoc
	Run                        runState
}

// tasks lists a job's task names.
func (j *jobRow) tasks() []string {
	n := max(1, j.Doc.Spec.Resource.NodeCount)
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("worker-%d", i)
	}
	return out
}

// view is the job as the API answers it.
func (j *jobRow) view(now time.Time) *Job {
	d := j.Doc
	out := &Job{Kind: d.Kind, Metadata: d.Metadata, Algorithm: d.Algorithm, Spec: d.Spec, Endpoints: d.Endpoints}
	out.Metadata.Description = j.Description
	st := JobStatus{Phase: j.Phase, SecondaryPhase: j.Secondary, Tasks: j.tasks(), StartTime: j.StartTime}
	switch {
	case j.StartTime > 0 && j.EndTime > 0:
		st.Duration = j.EndTime - j.StartTime
	case j.StartTime > 0:
		st.Duration = max(0, now.UnixMilli()-j.StartTime)
	}
	for _, t := range j.Run.Tasks {
		if t.Exited || t.Lost {
			st.TaskStatuses = append(st.TaskStatuses, TaskStatus{Task: t.ID, ExitCode: t.ExitCode, Message: t.Message})
		}
	}
	st.RunningRecords = j.Run.Records
	out.Status = st
	return out
}

// CommitJob checks the code and inputs in object storage and stores the job
// (phase Creating); the scheduler takes it from there.
func (s *Service) CommitJob(ctx context.Context, p *JobPlan) (*Job, error) {
	if p.code != nil {
		if _, err := s.checkCodeExists(ctx, *p.code, p.boot); err != nil {
			return nil, err
		}
	}
	for i, in := range p.inputs {
		if err := s.checkExists(ctx, fmt.Sprintf("algorithm.inputs[%d]", i), in); err != nil {
			return nil, err
		}
	}
	for i, out := range p.outputs {
		if err := s.checkBucket(ctx, fmt.Sprintf("algorithm.outputs[%d]", i), out); err != nil {
			return nil, err
		}
	}
	if p.logPath != nil {
		if err := s.checkBucket(ctx, "spec.log_export_path", *p.logPath); err != nil {
			return nil, err
		}
	}
	row := p.row
	row.Doc.Requester = p.Requester
	if row.Doc.Run.LogDir == "" {
		row.Doc.Run.LogDir = obs.Path{Bucket: s.opts.LogBucket, Key: p.scope.ProjectID + "/" + row.ID + "/"}.String()
	}
	created := event{At: row.CreateTime, Level: "Info", Source: "Job", Message: "Training job is created."}
	if err := s.repo.createJob(ctx, &row, p.scope.UserID, p.scope.UserName, created); err != nil {
		return nil, err
	}
	s.Wake()
	return row.view(s.now()), nil
}

// event is an event to record.
type event struct {
	At      int64
	Level   string
	Source  string
	Message string
}

// loadJob loads a visible job of the project.
func (s *Service) loadJob(ctx context.Context, projectID, id string) (*jobRow, error) {
	return s.repo.job(ctx, projectID, id)
}

// GetJob returns a job of the project.
func (s *Service) GetJob(ctx context.Context, projectID, id string) (*Job, error) {
	j, err := s.loadJob(ctx, projectID, id)
	if err != nil {
		return nil, err
	}
	return j.view(s.now()), nil
}

// JobWorkspace returns the workspace a job lives in.
func (s *Service) JobWorkspace(ctx context.Context, projectID, id string) (string, error) {
	return s.repo.jobWorkspace(ctx, projectID, id)
}

// transition changes a job in one transaction: fn sees the current row,
// changes it and returns the events to record, or returns errSkip to leave
// it unchanged. It returns the row as written (or as read, on errSkip).
func (s *Service) transition(ctx context.Context, id string, fn func(j *jobRow) ([]event, error)) (*jobRow, error) {
	return s.repo.changeJob(ctx, id, false, fn)
}

// errSkip makes transition leave the job unchanged.
var errSkip = errors.New("no change")

// UpdateJobDescription changes a job's description.
func (s *Service) UpdateJobDescription(ctx context.Context, projectID, id, description string) error {
	if err := checkDescription("description", description); err != nil {
		return err
	}
	return s.repo.setJobDescription(ctx, projectID, id, description)
}

// TerminateJob stops a job: a job whose tasks have not started ends
// Terminated at once; a running one becomes Terminating and the scheduler
// signals its tasks. Jobs in a final phase cannot be terminated.
func (s *Service) TerminateJob(ctx context.Context, projectID, id string) (*Job, error) {
	if _, err := s.loadJob(ctx, projectID, id); err != nil {
		return nil, err
	}
	j, err := s.transition(ctx, id, func(j *jobRow) ([]event, error) {
		if j.Deleted {
			return nil, errJobNotFound(id)
		}
		return s.terminate(j, "Training job is terminated by the user.")
	})
	if err != nil {
		return nil, err
	}
	s.Wake()
	return j.view(s.now()), nil
}

// terminate moves j towards Terminated.
func (s *Service) terminate(j *jobRow, why string) ([]event, error) {
	now := s.now().UnixMilli()
	switch j.Phase {
	case PhaseCreating, PhasePending:
		if len(j.Run.Tasks) > 0 {
			// Started by an admission that has not recorded Running yet.
			j.Phase, j.Secondary = PhaseTerminating, PhaseTerminating
			return []event{{now, "Info", "Job", why}, {now, "Info", "Job", "Training job is terminating."}}, nil
		}
		j.Phase, j.Secondary, j.EndTime = PhaseTerminated, PhaseTerminated, now
		return []event{{now, "Info", "Job", why}, {now, "Info", "Job", "Training job is terminated."}}, nil
	case PhaseRunning:
		j.Phase, j.Secondary = PhaseTerminating, PhaseTerminating
		return []event{{now, "Info", "Job", why}, {now, "Info", "Job", "Training job is terminating."}}, nil
	case PhaseTerminating:
		return nil, nil
	}
	return nil, &Error{Kind: KindConflict, Code: CodeInvalidParam,
		Msg: fmt.Sprintf("Invalid parameter(action_type): training job %s is %s; only Creating, Pending and Running jobs can be terminated.", j.ID, j.Phase)}
}

// DeleteJob deletes a job. A job with running tasks is terminated first:
// it disappears from the API at once and its records and working directory
// go when its tasks have ended. Outputs in object storage stay.
func (s *Service) DeleteJob(ctx context.Context, projectID, id string) error {
	if _, err := s.loadJob(ctx, projectID, id); err != nil {
		return err
	}
	j, err := s.transition(ctx, id, func(j *jobRow) ([]event, error) {
		if j.Deleted {
			return nil, errJobNotFound(id)
		}
		j.Deleted = true
		if Final(j.Phase) {
			return nil, nil
		}
		return s.terminate(j, "Training job is deleted by the user.")
	})
	if err != nil {
		return err
	}
	if Final(j.Phase) {
		return s.purge(ctx, j)
	}
	s.Wake()
	return nil
}

// JobQuery selects a page of jobs.
type JobQuery struct {
	Offset, Limit int
	SortBy        string // create_time (default), name, phase
	Desc          bool
	Filters       []Filter
}

// Filter is one search filter of POST /training-job-searches.
type Filter struct {
	Key      string
	Operator string // in, not, like, between
	Value    []string
}

// SearchJobs lists a workspace's jobs matching the filters: the count of all
// matches and one page.
func (s *Service) SearchJobs(ctx context.Context, sc Scope, q JobQuery) (int, []*Job, error) {
	var conds []jobCond
	for i, f := range q.Filters {
		var vals []any
		for _, v := range f.Value {
			if v != "" {
				vals = append(vals, v)
			}
		}
		if len(vals) == 0 {
			continue // the reference's examples send empty filters
		}
		col := map[string]string{"name": "name", "phase": "phase", "kind": "kind", "user_id": "user_id", "user_name": "user_name",
			"algorithm_name": "algorithm_name", "algorithm_id": "algorithm_id", "create_time": "create_time",
			"secondary_phase": "secondary_phase"}[f.Key]
		if f.Key == "runtime_type" || f.Key == "train_type" {
			continue // every local job is a plain training job
		}
		if col == "" {
			return 0, nil, invalid(CodeInvalidParam, "Invalid parameter(filters[%d].key): %q cannot be filtered on.", i, f.Key)
		}
		switch f.Operator {
		case "in", "":
			conds = append(conds, jobCond{col, "IN", vals})
		case "not":
			conds = append(conds, jobCond{col, "NOT IN", vals})
		case "like":
			for k, v := range vals {
				vals[k] = "%" + escapeLike(strings.ToLower(v.(string))) + "%"
			}
			conds = append(conds, jobCond{col, "LIKE", vals})
		case "between":
			if col != "create_time" || len(f.Value) != 2 {
				return 0, nil, invalid(CodeInvalidParam, "Invalid parameter(filters[%d]): between takes create_time and two values (milliseconds).", i)
			}
			for k, op := range []string{">=", "<="} {
				if f.Value[k] == "" {
					continue
				}
				var ms int64
				if _, err := fmt.Sscan(f.Value[k], &ms); err != nil {
					return 0, nil, invalid(CodeInvalidParam, "Invalid parameter(filters[%d].value): %q is not a time in milliseconds.", i, f.Value[k])
				}
				conds = append(conds, jobCond{"create_time", op, []any{ms}})
			}
		default:
			return 0, nil, invalid(CodeInvalidParam, "Invalid parameter(filters[%d].operator): want in, not, like or between.", i)
		}
	}
	col := map[string]string{"": "create_time", "create_time": "create_time", "name": "name", "phase": "phase"}[q.SortBy]
	if col == "" {
		return 0, nil, invalid(CodeInvalidParam, "Invalid parameter(sort_by): want create_time, name or phase.")
	}
	total, rows, err := s.repo.searchJobs(ctx, sc, conds, col, q.Desc, q.Limit, q.Offset)
	if err != nil {
		return 0, nil, err
	}
	now := s.now()
	out := make([]*Job, len(rows))
	for i, j := range rows {
		out[i] = j.view(now)
	}
	return total, out, nil
}

// EventQuery selects a job's events.
type EventQuery struct {
	Offset, Limit int
	Desc          bool
	Start, End    int64 // milliseconds; 0 = unbounded
	Level         string
	Pattern       string
	Source        string
}

// JobEvents lists a job's events: the count of all that match and one page.
func (s *Service) JobEvents(ctx context.Context, projectID, id string, q EventQuery) (int, []Event, error) {
	if _, err := s.loadJob(ctx, projectID, id); err != nil {
		return 0, nil, err
	}
	return s.repo.jobEvents(ctx, id, q)
}

// FormatEventTime formats an event time as the reference does (RFC 3339, seconds).
func FormatEventTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}
