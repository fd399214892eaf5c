package api

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/atelier-dev/atelier/internal/training"
)

// Training jobs: /v2/{project_id}/training-jobs and around.

// createJob validates the job, checks up front that the caller may read its
// code and inputs (obs:bucket:ListBucket, obs:object:GetObject) and write
// its outputs and log path (obs:object:PutObject), then stores it; the
// scheduler runs it.
func (t *trainingAPI) createJob(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req training.JobRequest
	if err := Decode(r, &req); err != nil {
		return err
	}
	plan, err := t.svc.PlanJob(r.Context(), scopeOf(c), &req)
	if err != nil {
		return err
	}
	if err := authorizeReads(c, plan.Reads); err != nil {
		return err
	}
	for _, l := range plan.Writes {
		if err := c.AuthorizeOBS("obs:object:PutObject", l); err != nil {
			return err
		}
	}
	// The job's downloads and uploads are authorized again, object by
	// object, for the caller when the scheduler touches them.
	plan.Requester = requester(c)
	job, err := t.svc.CommitJob(r.Context(), plan)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, job)
}

func (t *trainingAPI) showJob(w http.ResponseWriter, r *http.Request, c *Call) error {
	job, err := t.svc.GetJob(r.Context(), c.ProjectID, r.PathValue("training_job_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, job)
}

func (t *trainingAPI) changeJobDescription(w http.ResponseWriter, r *http.Request, c *Call) error {
	var b struct {
		Description *string `json:"description"`
	}
	if err := Decode(r, &b); err != nil {
		return err
	}
	if err := t.svc.UpdateJobDescription(r.Context(), c.ProjectID, r.PathValue("training_job_id"), deref(b.Description)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (t *trainingAPI) deleteJob(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := t.svc.DeleteJob(r.Context(), c.ProjectID, r.PathValue("training_job_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// jobAction answers POST …/actions: {"action_type":"terminate"} is the one action.
func (t *trainingAPI) jobAction(w http.ResponseWriter, r *http.Request, c *Call) error {
	var b struct {
		ActionType string `json:"action_type"`
	}
	if err := Decode(r, &b); err != nil {
		return err
	}
	if b.ActionType != "terminate" {
		return Errorf(http.StatusBadRequest, training.CodeInvalidParam, "Invalid parameter(action_type): %q is not an action; want terminate.", b.ActionType)
	}
	job, err := t.svc.TerminateJob(r.Context(), c.ProjectID, r.PathValue("training_job_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusAccepted, job)
}

type jobSearch struct {
	Offset      *int   `json:"offset"`
	Limit       *int   `json:"limit"`
	SortBy      string `json:"sort_by"`
	Order       string `json:"order"`
	GroupBy     string `json:"group_by"`
	WorkspaceID string `json:"workspace_id"`
	TrainType   string `json:"train_type"`
	Filters     []struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"`
		Value    []string `json:"value"`
	} `json:"filters"`
}

// searchJobs answers POST /training-job-searches: offset (the page index:
// "Number of pages for querying jobs", 0 first), limit (1 to 50, default 50), sort_by (create_time, name or phase), order
// (desc by default), and filters on name, phase, kind, user_id,
// algorithm_name, create_time with in, not, like and between. total counts
// every job that matches, count the ones on this page.
func (t *trainingAPI) searchJobs(w http.ResponseWriter, r *http.Request, c *Call) error {
	b := jobSearch{}
	if len(c.Body) > 0 {
		if err := Decode(r, &b); err != nil {
			return err
		}
	}
	q := training.JobQuery{Limit: 50, SortBy: b.SortBy, Desc: true}
	if b.Limit != nil {
		if *b.Limit < 1 || *b.Limit > 50 {
			return Errorf(http.StatusBadRequest, training.CodeInvalidParam, "Invalid parameter(limit): want 1 to 50.")
		}
		q.Limit = *b.Limit
	}
	page := 0
	if b.Offset != nil {
		if *b.Offset < 0 || *b.Offset > maxPage {
			return Errorf(http.StatusBadRequest, training.CodeInvalidParam, "Invalid parameter(offset): want a page index from 0 to %d.", maxPage)
		}
		page = *b.Offset
	}
	q.Offset = page * q.Limit
	switch b.Order {
	case "", "desc":
	case "asc":
		q.Desc = false
	default:
		return Errorf(http.StatusBadRequest, training.CodeInvalidParam, "Invalid parameter(order): want asc or desc.")
	}
	for _, f := range b.Filters {
		q.Filters = append(q.Filters, training.Filter{Key: f.Key, Operator: f.Operator, Value: f.Value})
	}
	sc := scopeOf(c)
	total, items, err := t.svc.SearchJobs(r.Context(), sc, q)
	if err != nil {
		return err
	}
	sortBy := q.SortBy
	if sortBy == "" {
		sortBy = "create_time"
	}
	order := "desc"
	if !q.Desc {
		order = "asc"
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"total": total, "count": len(items), "limit": q.Limit, "offset": page,
		"sort_by": sortBy, "order": order, "group_by": b.GroupBy, "workspace_id": sc.WorkspaceID, "ai_project": "default-ai-project",
		"items": items})
}

// jobEvents answers GET …/events: offset, limit (1 to 100, default 50),
// order (desc by default), start_time and end_time (milliseconds, together),
// level, pattern and source.
func (t *trainingAPI) jobEvents(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	q := training.EventQuery{Desc: true, Level: v.Get("level"), Pattern: v.Get("pattern"), Source: v.Get("source")}
	var err error
	if q.Offset, err = intParam(v.Get("offset"), "offset", 0, 0, 1<<31-1); err != nil {
		return err
	}
	if q.Limit, err = intParam(v.Get("limit"), "limit", 50, 1, 100); err != nil {
		return err
	}
	switch v.Get("order") {
	case "", "desc":
	case "asc":
		q.Desc = false
	default:
		return Errorf(http.StatusBadRequest, training.CodeInvalidParam, "Invalid parameter(order): want asc or desc.")
	}
	if (v.Get("start_time") == "") != (v.Get("end_time") == "") {
		return Errorf(http.StatusBadRequest, training.CodeInvalidParam, "Invalid parameter(start_time, end_time): give both or neither.")
	}
	startS, endS := "", ""
	if v.Get("start_time") != "" {
		if q.Start, err = strconv.ParseInt(v.Get("start_time"), 10, 64); err != nil || q.Start < 0 {
			return Errorf(http.StatusBadRequest, training.CodeInvalidParam, "Invalid parameter(start_time): want milliseconds since 1970.")
		}
		if q.End, err = strconv.ParseInt(v.Get("end_time"), 10, 64); err != nil || q.End < q.Start {
			return Errorf(http.StatusBadRequest, training.CodeInvalidParam, "Invalid parameter(end_time): want milliseconds since 1970, not before start_time.")
		}
		startS, endS = training.FormatEventTime(q.Start), training.FormatEventTime(q.End)
	}
	switch q.Level {
	case "", "Info", "Warning", "Error":
	default:
		return Errorf(http.StatusBadRequest, training.CodeInvalidParam, "Invalid parameter(level): want Info, Warning or Error.")
	}
	if utf8.RuneCountInString(q.Pattern) > 256 {
		return Errorf(http.StatusBadRequest, training.CodeInvalidParam, "Invalid parameter(pattern): at most 256 characters.")
	}
	total, events, err := t.svc.JobEvents(r.Context(), c.ProjectID, r.PathValue("training_job_id"), q)
	if err != nil {
		return err
	}
	order := "desc"
	if !q.Desc {
		order = "asc"
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"total": total, "limit": q.Limit, "offset": q.Offset, "order": order,
		"start_time": startS, "end_time": endS, "events": events})
}

func (t *trainingAPI) previewLog(w http.ResponseWriter, r *http.Request, c *Call) error {
	p, err := t.svc.PreviewLog(r.Context(), c.ProjectID, r.PathValue("training_job_id"), r.PathValue("task_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"content": p.Content, "current_size": p.CurrentSize, "full_size": p.FullSize})
}

func (t *trainingAPI) logURL(w http.ResponseWriter, r *http.Request, c *Call) error {
	u, err := t.svc.LogURL(r.Context(), c.ProjectID, r.PathValue("training_job_id"), r.PathValue("task_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"obs_url": u})
}

// taskMetrics answers a task's usage as per-minute averages, or, with
// Atelier's step query parameter (seconds, 1 to 86400), averages over that
// period: the console charts a short job by the second.
func (t *trainingAPI) taskMetrics(w http.ResponseWriter, r *http.Request, c *Call) error {
	step, err := intParam(r.URL.Query().Get("step"), "step", 60, 1, 86400)
	if err != nil {
		return err
	}
	m, err := t.svc.TaskMetrics(r.Context(), c.ProjectID, r.PathValue("training_job_id"), r.PathValue("task_id"), time.Duration(step)*time.Second)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"metrics": m})
}

// flavors answers GET /training-job-flavors: the executor's flavors, which
// fit this machine; flavor_type (CPU or GPU) filters them.
func (t *trainingAPI) flavors(w http.ResponseWriter, r *http.Request, c *Call) error {
	ft := r.URL.Query().Get("flavor_type")
	if ft != "" && ft != "CPU" && ft != "GPU" {
		return Errorf(http.StatusBadRequest, training.CodeInvalidParam, "Invalid parameter(flavor_type): want CPU or GPU.")
	}
	out := []map[string]any{}
	for _, f := range t.svc.Flavors() {
		d := f.Detail(false)
		if ft != "" && d.FlavorType != ft {
			continue
		}
		out = append(out, map[string]any{"flavor_id": f.ID, "flavor_name": f.Name, "max_num": f.MaxNum, "flavor_type": d.FlavorType,
			"billing": d.Billing, "flavor_info": d.FlavorInfo, "attributes": map[string]string{}})
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"total_count": len(out), "flavors": out})
}

// engines answers GET /training-job-engines: the configured engines whose
// launcher exists on this host.
func (t *trainingAPI) engines(w http.ResponseWriter, r *http.Request, c *Call) error {
	items := []map[string]any{}
	for _, e := range t.svc.Engines() {
		items = append(items, map[string]any{"engine_id": e.ID, "engine_name": e.Name, "engine_version": e.Version,
			"v1_compatible": false, "run_user": "", "image_info": map[string]string{"cpu_image_url": "", "gpu_image_url": "", "image_version": ""}})
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"total": len(items), "items": items})
}
