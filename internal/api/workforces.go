package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/atelier-dev/atelier/internal/dataset/teamtask"
	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/workforce"
)

// Labeling teams and their members: /v2/{project_id}/workforces[/{workforce_id}[/workers…]].
// The rows, with these handlers bound, are in modelarts_routes.go; the team
// labeling tasks that use them (issue 11, items 2–6) will get their own
// family file.

// workforceAPI serves the labeling-team routes over a workforce service.
type workforceAPI struct {
	svc *workforce.Service
	// tasks answers which teams a team labeling task uses (the list's
	// workforce_task_id filter); nil in servers built without the room.
	tasks *teamtask.Service
}

// storedWorkforce resolves the workspace of the team the path names.
func (w *workforceAPI) storedWorkforce(r *http.Request, c *Call) (Target, error) {
	ws, err := w.svc.Workspace(r.Context(), c.ProjectID, r.PathValue("workforce_id"))
	return Target{WorkspaceID: ws}, err
}

func workforceScope(c *Call) workforce.Scope {
	sc := workforce.Scope{DomainID: c.Principal.DomainID, ProjectID: c.ProjectID, WorkspaceID: iam.DefaultWorkspaceID, UserID: c.Principal.UserID}
	if c.Workspace != nil {
		sc.WorkspaceID = c.Workspace.ID
	}
	return sc
}

// listOrder reads order (asc or desc, desc by default) and sort_by (one of
// sorts, the first by default).
func listOrder(v url.Values, sorts ...string) (sortBy string, desc bool, err error) {
	switch v.Get("order") {
	case "", "desc":
		desc = true
	case "asc":
	default:
		return "", false, datasetBad("Invalid parameter(order): want asc or desc.")
	}
	sortBy = v.Get("sort_by")
	if sortBy == "" {
		return sorts[0], desc, nil
	}
	for _, s := range sorts {
		if s == sortBy {
			return sortBy, desc, nil
		}
	}
	return "", false, datasetBad("Invalid parameter(sort_by): want %s or %s.", sorts[0], sorts[1])
}

// list answers GET /workforces: search_content (part of the name),
// workforce_task_id, sort_by (create_time or workforce_name), order (desc
// by default), offset (the page index) and limit (1 to 100, default 10).
func (w *workforceAPI) list(rw http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	q := workforce.Query{Search: v.Get("search_content")}
	var err error
	if task := v.Get("workforce_task_id"); task != "" {
		if w.tasks == nil {
			q.IDs = []string{} // no team labeling in this server: no task uses a team
		} else if q.IDs, err = w.tasks.WorkforcesOf(r.Context(), c.ProjectID, task); err != nil {
			return err
		}
		if q.IDs == nil {
			q.IDs = []string{}
		}
	}
	if q.Offset, q.Limit, err = datasetPage(v, 10, 100); err != nil {
		return err
	}
	if q.SortBy, q.Desc, err = listOrder(v, "create_time", "workforce_name"); err != nil {
		return err
	}
	total, items, err := w.svc.List(r.Context(), workforceScope(c), q)
	if err != nil {
		return err
	}
	return WriteJSON(rw, http.StatusOK, map[string]any{"total_number": total, "workforces": items})
}

func (w *workforceAPI) create(rw http.ResponseWriter, r *http.Request, c *Call) error {
	var req workforce.CreateRequest
	if err := decodeDataset(r, &req); err != nil {
		return err
	}
	id, err := w.svc.Create(r.Context(), workforceScope(c), &req)
	if err != nil {
		return err
	}
	return WriteJSON(rw, http.StatusCreated, map[string]any{"workforce_id": id})
}

func (w *workforceAPI) show(rw http.ResponseWriter, r *http.Request, c *Call) error {
	team, err := w.svc.Get(r.Context(), c.ProjectID, r.PathValue("workforce_id"))
	if err != nil {
		return err
	}
	return WriteJSON(rw, http.StatusOK, team)
}

func (w *workforceAPI) update(rw http.ResponseWriter, r *http.Request, c *Call) error {
	var req workforce.UpdateRequest
	if err := decodeDataset(r, &req); err != nil {
		return err
	}
	if err := w.svc.Update(r.Context(), c.ProjectID, r.PathValue("workforce_id"), &req); err != nil {
		return err
	}
	return WriteJSON(rw, http.StatusOK, map[string]any{})
}

func (w *workforceAPI) delete(rw http.ResponseWriter, r *http.Request, c *Call) error {
	if err := w.svc.Delete(r.Context(), workforceScope(c), r.PathValue("workforce_id")); err != nil {
		return err
	}
	return noContent(rw)
}

// roleValue reads a role: an integer, as the reference types it, or a
// string of one, as its own example sends ("role" : "2").
func roleValue(raw json.RawMessage) (*int, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err == nil {
		return &n, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if n, err := strconv.Atoi(s); err == nil {
			return &n, nil
		}
	}
	return nil, datasetBad("Invalid parameter(role): want an integer: 0 (labeler), 1 (reviewer) or 2 (team administrator).")
}

func (w *workforceAPI) createWorker(rw http.ResponseWriter, r *http.Request, c *Call) error {
	var body struct {
		Emails      string          `json:"emails"`
		Role        json.RawMessage `json:"role"`
		Description string          `json:"description"`
	}
	if err := decodeDataset(r, &body); err != nil {
		return err
	}
	role, err := roleValue(body.Role)
	if err != nil {
		return err
	}
	req := workforce.WorkerRequest{Email: body.Emails, Role: role, Description: body.Description}
	if _, err := w.svc.AddWorker(r.Context(), workforceScope(c), r.PathValue("workforce_id"), &req); err != nil {
		return err
	}
	return WriteJSON(rw, http.StatusCreated, map[string]any{})
}

// workerQuery reads a member list's paging and order.
func workerQuery(v url.Values) (workforce.WorkerQuery, error) {
	var q workforce.WorkerQuery
	var err error
	if q.Offset, q.Limit, err = datasetPage(v, 10, 100); err != nil {
		return q, err
	}
	q.SortBy, q.Desc, err = listOrder(v, "create_time", "email")
	return q, err
}

func (w *workforceAPI) listWorkers(rw http.ResponseWriter, r *http.Request, c *Call) error {
	q, err := workerQuery(r.URL.Query())
	if err != nil {
		return err
	}
	q.WorkforceID = r.PathValue("workforce_id")
	return w.writeWorkers(rw, r, c, q)
}

// listAllWorkers answers GET /workforces/workers: the members of every team
// of the project with one role, labelers (0) unless role says otherwise,
// as the reference defines its default.
func (w *workforceAPI) listAllWorkers(rw http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	q, err := workerQuery(v)
	if err != nil {
		return err
	}
	role, err := datasetInt(v.Get("role"), "role", workforce.RoleLabeler, workforce.RoleLabeler, workforce.RoleTeamAdmin)
	if err != nil {
		return err
	}
	q.Role = &role
	return w.writeWorkers(rw, r, c, q)
}

func (w *workforceAPI) writeWorkers(rw http.ResponseWriter, r *http.Request, c *Call, q workforce.WorkerQuery) error {
	total, items, err := w.svc.ListWorkers(r.Context(), workforceScope(c), q)
	if err != nil {
		return err
	}
	return WriteJSON(rw, http.StatusOK, map[string]any{"total_number": total, "workers": items})
}

func (w *workforceAPI) showWorker(rw http.ResponseWriter, r *http.Request, c *Call) error {
	m, err := w.svc.GetWorker(r.Context(), c.ProjectID, r.PathValue("workforce_id"), r.PathValue("worker_id"))
	if err != nil {
		return err
	}
	return WriteJSON(rw, http.StatusOK, m)
}

func (w *workforceAPI) updateWorker(rw http.ResponseWriter, r *http.Request, c *Call) error {
	var body struct {
		Role        json.RawMessage `json:"role"`
		Description *string         `json:"description"`
	}
	if err := decodeDataset(r, &body); err != nil {
		return err
	}
	role, err := roleValue(body.Role)
	if err != nil {
		return err
	}
	req := workforce.WorkerUpdate{Role: role, Description: body.Description}
	if err := w.svc.UpdateWorker(r.Context(), workforceScope(c), r.PathValue("workforce_id"), r.PathValue("worker_id"), &req); err != nil {
		return err
	}
	return WriteJSON(rw, http.StatusOK, map[string]any{})
}

func (w *workforceAPI) deleteWorker(rw http.ResponseWriter, r *http.Request, c *Call) error {
	if err := w.svc.DeleteWorker(r.Context(), workforceScope(c), r.PathValue("workforce_id"), r.PathValue("worker_id")); err != nil {
		return err
	}
	return noContent(rw)
}

// deleteWorkers answers POST .../workers/batch-delete with each member's
// outcome; success is true when every one was deleted.
func (w *workforceAPI) deleteWorkers(rw http.ResponseWriter, r *http.Request, c *Call) error {
	var body struct {
		Workers []string `json:"workers"`
	}
	if err := decodeDataset(r, &body); err != nil {
		return err
	}
	results, err := w.svc.DeleteWorkers(r.Context(), workforceScope(c), r.PathValue("workforce_id"), body.Workers)
	if err != nil {
		return err
	}
	ok := true
	for _, res := range results {
		ok = ok && res.Success
	}
	return WriteJSON(rw, http.StatusOK, map[string]any{"success": ok, "results": results})
}
