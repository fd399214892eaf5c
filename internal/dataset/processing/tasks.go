package processing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/fault"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// The service methods of the APIs: tasks and versions. Creating or
// deleting goes in two steps, plan then commit, so that the API can
// authorize the objects a plan names before anything happens.

// Plan is a checked task or version waiting for the caller's object
// authorization (the route's related actions on Output, GetObject on
// Reads) and its commit.
type Plan struct {
	// Output is where the new version writes (the task's work directory
	// when the task is created without a version).
	Output obs.Path
	// Reads are the inputs the version reads (and the example directories
	// of cleansing).
	Reads []obs.Path
	// Requester is who asks; the caller sets it.
	Requester *dataset.Requester
	task      *taskRow
	version   *versionRow
}

// Workspace is the workspace of a task of the project, for the routes on
// one task.
func (s *Service) Workspace(ctx context.Context, projectID, taskID string) (string, error) {
	return s.repo.workspace(ctx, projectID, taskID)
}

// PlanTask checks a task's request; with create_version its first version
// is planned too.
func (s *Service) PlanTask(ctx context.Context, projectID, workspaceID string, req *TaskRequest) (*Plan, error) {
	if err := checkName("name", req.Name); err != nil {
		return nil, err
	}
	if workspaceID == "" {
		workspaceID = "0"
	}
	sc := scope{projectID: projectID, workspaceID: workspaceID}
	sp, err := s.checkSpec(ctx, sc, *req)
	if err != nil {
		return nil, err
	}
	now := s.now().UnixMilli()
	t := &taskRow{ID: store.NewID(), ProjectID: projectID, WorkspaceID: workspaceID, Name: req.Name, Description: req.Description,
		TemplateID: req.Template.ID, Spec: *sp, CreateTime: now, UpdateTime: now, NextVersion: 1}
	// The list filters by the first input's source as clients give it.
	first := inputsView(sp)[0]
	t.SourceType, t.Source = first.Type, first.Source
	if first.Type == SourceDataset {
		t.SourceVersion = sp.Inputs[0].VersionID
	}
	p := &Plan{Output: sp.workDir(), Reads: sp.reads(), task: t}
	if req.CreateVersion != nil && *req.CreateVersion {
		p.version = s.newVersion(t, sp, "")
		p.Output = p.version.output()
	}
	return p, nil
}

// newVersion is the row of a task's next version.
func (s *Service) newVersion(t *taskRow, sp *spec, desc string) *versionRow {
	now := s.now().UnixMilli()
	v := &versionRow{ID: store.NewID(), TaskID: t.ID, ProjectID: t.ProjectID, Name: fmt.Sprintf("V%03d", t.NextVersion),
		Description: desc, Status: StatusInit, CreateTime: now, UpdateTime: now, Doc: versionDoc{Spec: *sp}}
	dir := sp.workDir()
	v.Doc.Output = "/" + dir.Bucket + "/" + dir.Key + v.ID + "/"
	return v
}

func (v *versionRow) output() obs.Path {
	p, _ := obs.ParsePath(v.Doc.Output)
	return p
}

// CommitTask stores the task, and queues its first version when planned.
func (s *Service) CommitTask(ctx context.Context, p *Plan) (string, error) {
	if p.version != nil && s.tasks == nil {
		return "", errors.New("processing: the background-task manager is not configured")
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.repo.insertTask(ctx, tx, p.task); err != nil {
			return err
		}
		if p.version == nil {
			return nil
		}
		return s.enqueue(ctx, tx, p)
	})
	if err != nil {
		return "", err
	}
	return p.task.ID, nil
}

// enqueue stores a planned version and queues its run in tx.
func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, p *Plan) error {
	if err := s.checkBucket(ctx, p.version.output()); err != nil {
		return err
	}
	job, err := s.tasks.Enqueue(ctx, tx, TaskProcess, p.task.ProjectID, p.task.ID, taskParams{VersionID: p.version.ID, Requester: p.Requester})
	if err != nil {
		return err
	}
	p.version.JobID = job.ID
	return s.repo.insertVersion(ctx, tx, p.version)
}

// checkBucket refuses an output whose bucket does not exist.
func (s *Service) checkBucket(ctx context.Context, out obs.Path) error {
	if err := s.objects.HeadBucket(ctx, out.Bucket); err != nil {
		if errors.Is(err, obs.ErrBucketNotFound) {
			return dataset.Invalid(dataset.CodeBucketNotExist, "OBS bucket does not exist: %s.", out.Bucket)
		}
		return fmt.Errorf("check bucket %s: %w", out.Bucket, err)
	}
	return nil
}

// ListTasks pages the tasks of a project's workspace.
func (s *Service) ListTasks(ctx context.Context, projectID string, q TaskQuery) (int, []*Task, error) {
	if err := s.reconcileProject(ctx, projectID); err != nil {
		return 0, nil, err
	}
	if q.WorkspaceID == "" {
		q.WorkspaceID = "0"
	}
	q.nowMillis = s.now().UnixMilli()
	total, rows, current, err := s.repo.listTasks(ctx, projectID, q)
	if err != nil {
		return 0, nil, err
	}
	out := make([]*Task, len(rows))
	for i, t := range rows {
		out[i] = t.view(current[i], q.nowMillis)
	}
	return total, out, nil
}

// loadTask loads a task with its newest version, reconciled.
func (s *Service) loadTask(ctx context.Context, projectID, id string) (*taskRow, error) {
	t, err := s.repo.task(ctx, s.db, projectID, id)
	if err != nil {
		return nil, err
	}
	if t.LatestVersion != "" {
		if t.Latest, err = s.repo.version(ctx, s.db, projectID, t.ID, t.LatestVersion); err != nil {
			return nil, err
		}
		if err := s.reconcile(ctx, t.Latest); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// GetTask returns one task.
func (s *Service) GetTask(ctx context.Context, projectID, id string) (*Task, error) {
	t, err := s.loadTask(ctx, projectID, id)
	if err != nil {
		return nil, err
	}
	cur, err := s.repo.isCurrent(ctx, t)
	if err != nil {
		return nil, err
	}
	return t.view(cur, s.now().UnixMilli()), nil
}

// UpdateTask changes a task's description, the one thing the reference
// lets change.
func (s *Service) UpdateTask(ctx context.Context, projectID, id, description string) error {
	if err := checkDescription(description); err != nil {
		return err
	}
	return s.repo.updateDescription(ctx, projectID, id, description, s.now().UnixMilli())
}

// DeletePlan is a task or version about to be deleted with its output
// files.
type DeletePlan struct {
	// Files are the output directories deleted with it.
	Files     []obs.Path
	projectID string
	taskID    string
	versionID string // "" for the whole task
}

// PlanDeleteTask finds what deleting a task removes; a task with a version
// still running cannot be deleted.
func (s *Service) PlanDeleteTask(ctx context.Context, projectID, id string) (*DeletePlan, error) {
	t, err := s.repo.task(ctx, s.db, projectID, id)
	if err != nil {
		return nil, err
	}
	vs, err := s.repo.allVersions(ctx, s.db, t.ID)
	if err != nil {
		return nil, err
	}
	p := &DeletePlan{projectID: projectID, taskID: t.ID}
	for _, v := range vs {
		if err := s.reconcile(ctx, v); err != nil {
			return nil, err
		}
		if v.active() {
			return nil, errActive(v)
		}
		p.Files = append(p.Files, v.output())
	}
	return p, nil
}

func (v *versionRow) active() bool { return v.Status == StatusInit || v.Status == StatusRunning }

func errActive(v *versionRow) *fault.Error {
	return fault.New(fault.Forbidden, CodeTaskActive, "Process task is running, the operation is forbidden: stop version %s first.", v.Name)
}

// CommitDeleteTask deletes the output files, then the task with its
// versions and results. A dataset version made of a version's output
// belongs to its dataset and stays.
func (s *Service) CommitDeleteTask(ctx context.Context, p *DeletePlan) error {
	for _, dir := range p.Files {
		if err := s.ds.DeletePrefix(ctx, dir); err != nil {
			return err
		}
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.repo.loadTask(ctx, tx, p.projectID, p.taskID, true); err != nil {
			return err
		}
		vs, err := s.repo.allVersions(ctx, tx, p.taskID)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.active() {
				return errActive(v) // a version started meanwhile
			}
		}
		return s.repo.deleteTask(ctx, tx, p.projectID, p.taskID)
	})
}

// PlanVersion checks a new version of a task: the task's request with the
// fields req gives in their place.
func (s *Service) PlanVersion(ctx context.Context, projectID, taskID string, req *TaskRequest) (*Plan, error) {
	t, err := s.repo.task(ctx, s.db, projectID, taskID)
	if err != nil {
		return nil, err
	}
	merged, err := merge(t.Spec.Request, req)
	if err != nil {
		return nil, err
	}
	sp, err := s.checkSpec(ctx, scope{projectID: projectID, workspaceID: t.WorkspaceID}, merged)
	if err != nil {
		return nil, err
	}
	desc := ""
	if req != nil {
		desc = req.Description
	}
	v := s.newVersion(t, sp, desc)
	return &Plan{Output: v.output(), Reads: sp.reads(), task: t, version: v}, nil
}

// CommitVersion stores the planned version and queues its run.
func (s *Service) CommitVersion(ctx context.Context, p *Plan) (string, error) {
	if s.tasks == nil {
		return "", errors.New("processing: the background-task manager is not configured")
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		t, err := s.repo.loadTask(ctx, tx, p.task.ProjectID, p.task.ID, true)
		if err != nil {
			return err
		}
		// The name follows the versions made since the plan.
		p.version.Name = fmt.Sprintf("V%03d", t.NextVersion)
		p.task = t
		return s.enqueue(ctx, tx, p)
	})
	if err != nil {
		return "", err
	}
	return p.version.ID, nil
}

// VersionQuery pages a task's versions.
type VersionQuery struct {
	SortBy        string // create_time or version_name
	Asc           bool
	Offset, Limit int
}

// ListVersions pages a task's versions.
func (s *Service) ListVersions(ctx context.Context, projectID, taskID string, q VersionQuery) (int, []*Version, error) {
	if _, err := s.repo.task(ctx, s.db, projectID, taskID); err != nil {
		return 0, nil, err
	}
	total, vs, err := s.repo.versions(ctx, taskID, q.SortBy, q.Asc, q.Offset, q.Limit)
	if err != nil {
		return 0, nil, err
	}
	now := s.now().UnixMilli()
	out := make([]*Version, len(vs))
	for i, v := range vs {
		if err := s.reconcile(ctx, v); err != nil {
			return 0, nil, err
		}
		out[i] = v.view(now)
	}
	return total, out, nil
}

// TaskOutput is a task's work directory, on which the version list's
// related object actions are decided.
func (s *Service) TaskOutput(ctx context.Context, projectID, taskID string) (obs.Path, error) {
	t, err := s.repo.task(ctx, s.db, projectID, taskID)
	if err != nil {
		return obs.Path{}, err
	}
	return t.Spec.workDir(), nil
}

func (s *Service) loadVersion(ctx context.Context, projectID, taskID, id string) (*versionRow, error) {
	if _, err := s.repo.task(ctx, s.db, projectID, taskID); err != nil {
		return nil, err
	}
	v, err := s.repo.version(ctx, s.db, projectID, taskID, id)
	if err != nil {
		return nil, err
	}
	return v, s.reconcile(ctx, v)
}

// GetVersion returns one version of a task.
func (s *Service) GetVersion(ctx context.Context, projectID, taskID, id string) (*Version, error) {
	v, err := s.loadVersion(ctx, projectID, taskID, id)
	if err != nil {
		return nil, err
	}
	return v.view(s.now().UnixMilli()), nil
}

// PlanDeleteVersion finds what deleting a version removes; a running
// version must be stopped first.
func (s *Service) PlanDeleteVersion(ctx context.Context, projectID, taskID, id string) (*DeletePlan, error) {
	v, err := s.loadVersion(ctx, projectID, taskID, id)
	if err != nil {
		return nil, err
	}
	if v.active() {
		return nil, errActive(v)
	}
	return &DeletePlan{Files: []obs.Path{v.output()}, projectID: projectID, taskID: taskID, versionID: v.ID}, nil
}

// CommitDeleteVersion deletes a version's output files, then the version
// and its results.
func (s *Service) CommitDeleteVersion(ctx context.Context, p *DeletePlan) error {
	for _, dir := range p.Files {
		if err := s.ds.DeletePrefix(ctx, dir); err != nil {
			return err
		}
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.repo.loadTask(ctx, tx, p.projectID, p.taskID, true); err != nil {
			return err
		}
		return s.repo.deleteVersion(ctx, tx, p.taskID, p.versionID, s.now().UnixMilli())
	})
}

// StopVersion stops a version: its run is cancelled and it ends stopped,
// with the results committed so far. Stopping a stopped version changes
// nothing; a completed or failed one cannot be stopped.
func (s *Service) StopVersion(ctx context.Context, projectID, taskID, id string) error {
	v, err := s.loadVersion(ctx, projectID, taskID, id)
	if err != nil {
		return err
	}
	switch v.Status {
	case StatusStopped:
		return nil
	case StatusCompleted, StatusFailed:
		return invalid("Invalid parameter(version_id): version %s has ended (%s); only a running version can be stopped.", v.Name, statusName(v.Status))
	}
	if s.tasks == nil {
		return errors.New("processing: the background-task manager is not configured")
	}
	if _, err := s.tasks.Cancel(ctx, v.JobID); err != nil && !errors.Is(err, tasks.ErrNotFound) {
		return err
	}
	return s.repo.finish(ctx, v.ID, StatusStopped, "", s.now().UnixMilli())
}

func statusName(st int) string {
	return [...]string{"initialized", "running", "completed", "failed", "stopped"}[st]
}

// Results pages a version's per-sample results (property < 0: all).
func (s *Service) Results(ctx context.Context, projectID, taskID, id string, property, offset, limit int) (int, []*Result, error) {
	v, err := s.loadVersion(ctx, projectID, taskID, id)
	if err != nil {
		return 0, nil, err
	}
	total, rows, err := s.repo.results(ctx, v.ID, property, offset, limit)
	if err != nil {
		return 0, nil, err
	}
	out := make([]*Result, len(rows))
	for i, r := range rows {
		out[i] = r.view(v.ID)
	}
	return total, out, nil
}

// SignedURL is a presigned URL of an obs:// source (one hour), "" for
// one that names no object.
func (s *Service) SignedURL(ctx context.Context, source string) (string, error) {
	if !strings.HasPrefix(source, "obs://") {
		return "", nil
	}
	u, _, err := s.ds.PreviewURL(ctx, source)
	return u, err
}

// reconcile ends a version whose run ended without ending it (the run
// failed before it could say so, or was interrupted too often).
func (s *Service) reconcile(ctx context.Context, v *versionRow) error {
	if !v.active() || s.tasks == nil {
		return nil
	}
	t, err := s.tasks.Get(ctx, v.JobID)
	if errors.Is(err, tasks.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	status, msg := StatusRunning, ""
	switch t.Status {
	case tasks.Succeeded:
		status = StatusCompleted
	case tasks.Failed:
		status, msg = StatusFailed, t.ErrorMessage
	case tasks.Cancelled:
		status = StatusStopped
	default:
		return nil
	}
	now := s.now().UnixMilli()
	if err := s.repo.finish(ctx, v.ID, status, msg, now); err != nil {
		return err
	}
	v.Status, v.ErrorMsg, v.EndTime = status, msg, now
	return nil
}

// reconcileProject reconciles the project's active versions.
func (s *Service) reconcileProject(ctx context.Context, projectID string) error {
	vs, err := s.repo.activeVersions(ctx, projectID)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if err := s.reconcile(ctx, v); err != nil {
			return err
		}
	}
	return nil
}
