package api

import (
	"net/http"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset/processing"
	"github.com/atelier-dev/atelier/internal/obs"
)

// Data processing tasks: /v2/{project_id}/processor-tasks. The rows, with
// these handlers bound, are in modelarts_routes.go.
type processingAPI struct {
	svc *processing.Service
}

// storedTask resolves the workspace of the task {task_id}, for the routes
// on one task.
func (p *processingAPI) storedTask(r *http.Request, c *Call) (Target, error) {
	ws, err := p.svc.Workspace(r.Context(), c.ProjectID, r.PathValue("task_id"))
	return Target{WorkspaceID: ws}, err
}

// newTaskWorkspace is the workspace a new task is created into: the body's
// workspace_id (default "0").
func (p *processingAPI) newTaskWorkspace(r *http.Request, c *Call) (Target, error) {
	var b struct {
		WorkspaceID string `json:"workspace_id"`
	}
	return bodyWorkspace(c, &b, func() string { return b.WorkspaceID })
}

func callWorkspace(c *Call) string {
	if c.Workspace != nil {
		return c.Workspace.ID
	}
	return "0"
}

// items answers the catalogue: offset (the page index) and limit (1 to
// 1000, default 1000).
func (p *processingAPI) items(w http.ResponseWriter, r *http.Request, c *Call) error {
	offset, limit, err := datasetPage(r.URL.Query(), 1000, 1000)
	if err != nil {
		return err
	}
	total, items := processing.Items(offset/limit, limit)
	return WriteJSON(w, http.StatusOK, map[string]any{"total": total, "items": items})
}

// authorizePlan checks the route's related actions on what a plan writes
// and GetObject on what it reads, before anything is stored; the run
// decides again, for the caller, each object it touches.
func authorizePlan(c *Call, plan *processing.Plan) error {
	if err := c.AuthorizeObjects(plan.Output); err != nil {
		return err
	}
	if len(plan.Reads) > 0 {
		if err := c.AuthorizeOBS("obs:object:GetObject", plan.Reads...); err != nil {
			return err
		}
	}
	plan.Requester = requester(c)
	return nil
}

func (p *processingAPI) createTask(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req processing.TaskRequest
	if err := decodeDataset(r, &req); err != nil {
		return err
	}
	plan, err := p.svc.PlanTask(r.Context(), c.ProjectID, callWorkspace(c), &req)
	if err != nil {
		return err
	}
	if err := authorizePlan(c, plan); err != nil {
		return err
	}
	id, err := p.svc.CommitTask(r.Context(), plan)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"task_id": id})
}

// listTasks pages the tasks of the workspace with the reference's filters.
func (p *processingAPI) listTasks(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	q := processing.TaskQuery{WorkspaceID: callWorkspace(c), TaskType: v.Get("task_type"), Name: v.Get("task_name"),
		SourceType: v.Get("source_type"), Source: v.Get("source")}
	var err error
	if q.Offset, q.Limit, err = datasetPage(v, 10, 100); err != nil {
		return err
	}
	switch v.Get("order") {
	case "", "desc":
	case "asc":
		q.Asc = true
	default:
		return datasetBad("Invalid parameter(order): want asc or desc.")
	}
	switch q.SortBy = v.Get("sort_by"); q.SortBy {
	case "", "create_time", "name", "duration_seconds":
	default:
		return datasetBad("Invalid parameter(sort_by): want create_time, name or duration_seconds.")
	}
	switch q.SourceType {
	case "", processing.SourceOBS, processing.SourceTask, processing.SourceDataset, processing.SourceCustom:
	default:
		return datasetBad("Invalid parameter(source_type): want OBS, TASK, DATASET or CUSTOM.")
	}
	if s := v.Get("status"); s != "" {
		n, err := datasetInt(s, "status", 0, 0, 4)
		if err != nil {
			return err
		}
		q.Status = &n
	}
	if q.CurrentOnly, err = boolParam(v.Get("query_current"), "query_current"); err != nil {
		return err
	}
	// return_result asks for feature analysis results, which processing
	// tasks do not have; it is checked and has nothing to add.
	if s := v.Get("return_result"); s != "" {
		if _, err := boolParam(s, "return_result"); err != nil {
			return err
		}
	}
	for _, s := range v["version_id"] {
		for _, id := range strings.Split(s, ",") {
			if id = strings.TrimSpace(id); id != "" {
				q.VersionIDs = append(q.VersionIDs, id)
			}
		}
	}
	if len(q.VersionIDs) > 100 {
		return datasetBad("Invalid parameter(version_id): at most 100 versions.")
	}
	total, tasks, err := p.svc.ListTasks(r.Context(), c.ProjectID, q)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"count": total, "tasks": tasks})
}

func (p *processingAPI) showTask(w http.ResponseWriter, r *http.Request, c *Call) error {
	t, err := p.svc.GetTask(r.Context(), c.ProjectID, r.PathValue("task_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, t)
}

// updateTask changes the description, the one field the reference lets
// change.
func (p *processingAPI) updateTask(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req struct {
		Description *string `json:"description"`
	}
	if err := decodeDataset(r, &req); err != nil {
		return err
	}
	if req.Description != nil {
		if err := p.svc.UpdateTask(r.Context(), c.ProjectID, r.PathValue("task_id"), *req.Description); err != nil {
			return err
		}
	} else if _, err := p.svc.GetTask(r.Context(), c.ProjectID, r.PathValue("task_id")); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{})
}

// deleteTask deletes a task, its versions and their output files, once
// the caller may delete those (the seed's related actions).
func (p *processingAPI) deleteTask(w http.ResponseWriter, r *http.Request, c *Call) error {
	plan, err := p.svc.PlanDeleteTask(r.Context(), c.ProjectID, r.PathValue("task_id"))
	if err != nil {
		return err
	}
	if err := c.AuthorizeObjects(plan.Files...); err != nil {
		return err
	}
	if err := p.svc.CommitDeleteTask(r.Context(), plan); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{})
}

func (p *processingAPI) createVersion(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req processing.TaskRequest
	if err := decodeDataset(r, &req); err != nil {
		return err
	}
	plan, err := p.svc.PlanVersion(r.Context(), c.ProjectID, r.PathValue("task_id"), &req)
	if err != nil {
		return err
	}
	// The seed lists no related action here: the version's output and
	// inputs are checked as creating the task checks them.
	if err := c.AuthorizeOBS("obs:object:PutObject", plan.Output); err != nil {
		return err
	}
	if len(plan.Reads) > 0 {
		if err := c.AuthorizeOBS("obs:object:GetObject", plan.Reads...); err != nil {
			return err
		}
	}
	plan.Requester = requester(c)
	id, err := p.svc.CommitVersion(r.Context(), plan)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"version_id": id})
}

// listVersions pages a task's versions: offset (the page index), limit (1
// to 100, default 100), order and sort_by.
func (p *processingAPI) listVersions(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	var q processing.VersionQuery
	var err error
	if q.Offset, q.Limit, err = datasetPage(v, 100, 100); err != nil {
		return err
	}
	switch v.Get("order") {
	case "", "desc":
	case "asc":
		q.Asc = true
	default:
		return datasetBad("Invalid parameter(order): want asc or desc.")
	}
	switch q.SortBy = v.Get("sort_by"); q.SortBy {
	case "", "create_time", "version_name":
	default:
		return datasetBad("Invalid parameter(sort_by): want create_time or version_name.")
	}
	// The seed's related actions, on the task's work directory.
	out, err := p.svc.TaskOutput(r.Context(), c.ProjectID, r.PathValue("task_id"))
	if err != nil {
		return err
	}
	if err := c.AuthorizeObjects(out); err != nil {
		return err
	}
	total, list, err := p.svc.ListVersions(r.Context(), c.ProjectID, r.PathValue("task_id"), q)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"count": total, "versions": list})
}

func (p *processingAPI) showVersion(w http.ResponseWriter, r *http.Request, c *Call) error {
	v, err := p.svc.GetVersion(r.Context(), c.ProjectID, r.PathValue("task_id"), r.PathValue("version_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, v)
}

// deleteVersion deletes a version, its results and its output files.
func (p *processingAPI) deleteVersion(w http.ResponseWriter, r *http.Request, c *Call) error {
	plan, err := p.svc.PlanDeleteVersion(r.Context(), c.ProjectID, r.PathValue("task_id"), r.PathValue("version_id"))
	if err != nil {
		return err
	}
	if err := c.AuthorizeObjects(plan.Files...); err != nil {
		return err
	}
	if err := p.svc.CommitDeleteVersion(r.Context(), plan); err != nil {
		return err
	}
	return noContent(w)
}

func (p *processingAPI) stopVersion(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := p.svc.StopVersion(r.Context(), c.ProjectID, r.PathValue("task_id"), r.PathValue("version_id")); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{})
}

// results pages a version's per-sample results: offset (the page index),
// limit (1 to 100, default 10), result_property (-1 all, 0 reserved, 1
// modified, 2 deleted, 3 added). The signed URLs are handed out for the
// objects the caller may read (the route's related GetObject); the others
// are left empty. process_parameter (OBS image processing) is accepted
// and not applied: the URLs are of the files as they are.
func (p *processingAPI) results(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	offset, limit, err := datasetPage(v, 10, 100)
	if err != nil {
		return err
	}
	prop, err := datasetInt(v.Get("result_property"), "result_property", -1, -1, 3)
	if err != nil {
		return err
	}
	total, list, err := p.svc.Results(r.Context(), c.ProjectID, r.PathValue("task_id"), r.PathValue("version_id"), prop, offset, limit)
	if err != nil {
		return err
	}
	var allowed []ObjectRef
	sign := func(source string) (string, error) {
		o, err := obs.ParsePath(source)
		if err != nil || o.Key == "" || !strings.HasPrefix(source, "obs://") {
			return "", nil
		}
		if c.AuthorizeOBS("obs:object:GetObject", o) != nil {
			return "", nil
		}
		allowed = append(allowed, o)
		return p.svc.SignedURL(r.Context(), source)
	}
	for _, res := range list {
		if res.SignedOriginSource, err = sign(res.OriginSource); err != nil {
			return err
		}
		if res.SignedNewSource, err = sign(res.NewSource); err != nil {
			return err
		}
	}
	if err := c.AuthorizeObjects(allowed...); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"count": total, "has_more": offset+len(list) < total, "results": list})
}
