package api

import (
	"net/http"
	"strconv"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/teamtask"
	"github.com/atelier-dev/atelier/internal/iam"
)

// Team labeling tasks: /v2/{project_id}/datasets/{dataset_id}/workforce-tasks[…]
// and the member's own list, /v2/{project_id}/workforces/worker-tasks. The
// rows, with these handlers bound, are in modelarts_routes.go (the seed's)
// and teamTaskRoutes below (Atelier's and the reference's rows the seed
// lacks). Every one of them is a team route (Route.Team): the labeling
// system policies count there, and the room scopes each call to who the
// caller is in the task.

// teamTaskAPI serves the team labeling routes over the team task room.
type teamTaskAPI struct {
	svc      *teamtask.Service
	datasets *dataset.Service
}

// teamRoute makes a row a team labeling route served by the room.
func (r Route) team() Route {
	r.Needs, r.Team = NeedsTeamTasks, true
	return r
}

func teamCaller(c *Call) teamtask.Caller {
	tc := teamtask.Caller{DomainID: c.Principal.DomainID, ProjectID: c.ProjectID, WorkspaceID: iam.DefaultWorkspaceID,
		UserID: c.Principal.UserID, UserName: c.Principal.UserName, Owner: c.Owner}
	if c.Workspace != nil {
		tc.WorkspaceID = c.Workspace.ID
	}
	return tc
}

// teamTaskRoutes are the team labeling APIs the seed tables lack: the
// reference's review and member task list, and Atelier's history of a
// sample. Their actions are the closest seed actions of the same resource:
// reviewing changes a task (updateWorkforceTask), a member's task list
// lists tasks (listWorkforceTasks), a history reads one (getWorkforceTask).
func (tt *teamTaskAPI) teamTaskRoutes(dataset Resolver) []Route {
	r := func(name, method, path, action string) Route {
		return Route{Name: name, Method: method, Path: path, Action: action, Family: "data", Service: ServiceModelArts}.team()
	}
	return []Route{
		r("Reviewing Team Labeling Results", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/data-annotations/review", "modelarts:dataset:updateWorkforceTask").
			serve(tt.review, dataset),
		r("Querying the Team Labeling Task List by a Team Member", http.MethodGet, "/v2/{project_id}/workforces/worker-tasks", "modelarts:dataset:listWorkforceTasks").
			serve(tt.workerTasks, nil),
		r("Querying the History of a Team Labeling Sample (Atelier)", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/samples/{sample_id}/history", "modelarts:dataset:getWorkforceTask").
			serve(tt.history, dataset),
	}
}

func (tt *teamTaskAPI) list(w http.ResponseWriter, r *http.Request, c *Call) error {
	var q teamtask.ListQuery
	var err error
	if q.Offset, q.Limit, err = datasetPage(r.URL.Query(), 1000, 1000); err != nil {
		return err
	}
	total, list, err := tt.svc.List(r.Context(), teamCaller(c), r.PathValue("dataset_id"), q)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"count": total, "tasks": list})
}

func (tt *teamTaskAPI) create(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req teamtask.CreateRequest
	if err := decodeDataset(r, &req); err != nil {
		return err
	}
	id, err := tt.svc.Create(r.Context(), teamCaller(c), r.PathValue("dataset_id"), &req)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"task_id": id})
}

func (tt *teamTaskAPI) show(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	var opts teamtask.GetOptions
	for _, p := range []struct {
		name string
		dst  *bool
	}{{"sample_stats", &opts.SampleStats}, {"workforce_stats", &opts.WorkforceStats}, {"label_stats", &opts.LabelStats}} {
		b, err := boolParam(v.Get(p.name), p.name)
		if err != nil {
			return err
		}
		*p.dst = b
	}
	t, err := tt.svc.Get(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"), opts)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, t)
}

func (tt *teamTaskAPI) start(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req teamtask.UpdateRequest
	if len(c.Body) > 0 {
		if err := decodeDataset(r, &req); err != nil {
			return err
		}
	}
	if err := tt.svc.Start(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"), &req); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{})
}

func (tt *teamTaskAPI) update(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req teamtask.UpdateRequest
	if err := decodeDataset(r, &req); err != nil {
		return err
	}
	if err := tt.svc.Update(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"), &req); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{})
}

func (tt *teamTaskAPI) delete(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := tt.svc.Delete(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id")); err != nil {
		return err
	}
	return noContent(w)
}

func (tt *teamTaskAPI) workerTasks(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	q := teamtask.WorkerTaskQuery{Search: v.Get("search_content")}
	var err error
	if q.Offset, q.Limit, err = datasetPage(v, 10, 100); err != nil {
		return err
	}
	if q.SortBy, q.Desc, err = listOrder(v, "create_time", "workforce_task_name"); err != nil {
		return err
	}
	total, list, err := tt.svc.WorkerTasks(r.Context(), teamCaller(c), q)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"count": total, "worker_tasks": list})
}

// teamSampleRefs are the objects of a page of team samples.
func teamSampleRefs(samples []*teamtask.TeamSample) []ObjectRef {
	refs := make([]ObjectRef, 0, len(samples))
	for _, s := range samples {
		if p, ok := dataset.ObjectOf(s.Stored); ok {
			refs = append(refs, p)
		}
	}
	return refs
}

// withPreviews authorizes the samples' objects for the caller and gives
// each a presigned URL as its source.
func (tt *teamTaskAPI) withPreviews(r *http.Request, c *Call, samples []*teamtask.TeamSample) error {
	refs := teamSampleRefs(samples)
	authorize := c.AuthorizeObjects // the seed's related action: GetObject
	if len(c.Route.Related) == 0 {
		// A row without related actions that still hands samples out
		// (an acceptance's conflict list): their objects are read all the same.
		authorize = func(refs ...ObjectRef) error { return c.AuthorizeOBS("obs:object:GetObject", refs...) }
	}
	if err := authorize(refs...); err != nil {
		return err
	}
	for _, s := range samples {
		var err error
		if s.Source, s.SourceError, err = tt.datasets.PreviewURL(r.Context(), s.Stored); err != nil {
			return err
		}
	}
	return nil
}

func (tt *teamTaskAPI) samples(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	q := teamtask.SampleQuery{State: v.Get("sample_state"), LabelName: v.Get("label_name"), WorkerID: v.Get("worker_id")}
	var err error
	if q.Offset, q.Limit, err = datasetPage(v, 10, 100); err != nil {
		return err
	}
	if s := v.Get("label_type"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return datasetBad("Invalid parameter(label_type): %q is not an integer.", s)
		}
		q.LabelType = &n
	}
	total, list, err := tt.svc.Samples(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"), q)
	if err != nil {
		return err
	}
	if err := tt.withPreviews(r, c, list); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"sample_count": total, "samples": list})
}

func (tt *teamTaskAPI) sample(w http.ResponseWriter, r *http.Request, c *Call) error {
	s, err := tt.svc.Sample(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"),
		r.PathValue("sample_id"), r.URL.Query().Get("worker_id"))
	if err != nil {
		return err
	}
	if err := tt.withPreviews(r, c, []*teamtask.TeamSample{s}); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, s)
}

func (tt *teamTaskAPI) updateSamples(w http.ResponseWriter, r *http.Request, c *Call) error {
	var body struct {
		Email   string                  `json:"email"`
		Samples []teamtask.SampleLabels `json:"samples"`
	}
	if err := decodeDataset(r, &body); err != nil {
		return err
	}
	if err := tt.svc.UpdateLabels(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"), body.Samples); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"success": true})
}

type commentsBody struct {
	Comments []teamtask.Comment `json:"comments"`
}

func (tt *teamTaskAPI) review(w http.ResponseWriter, r *http.Request, c *Call) error {
	var body commentsBody
	if err := decodeDataset(r, &body); err != nil {
		return err
	}
	if err := tt.svc.Review(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"), body.Comments); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{})
}

func (tt *teamTaskAPI) history(w http.ResponseWriter, r *http.Request, c *Call) error {
	events, err := tt.svc.History(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"), r.PathValue("sample_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"sample_id": r.PathValue("sample_id"), "events": events})
}

func (tt *teamTaskAPI) stats(w http.ResponseWriter, r *http.Request, c *Call) error {
	if st := r.URL.Query().Get("sample_state"); st != "" {
		if _, _, err := dataset.ParseSampleState("sample_state", st); err != nil {
			return err
		}
	}
	st, err := tt.svc.Stats(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, st)
}

func (tt *teamTaskAPI) metrics(w http.ResponseWriter, r *http.Request, c *Call) error {
	m, err := tt.svc.Metrics(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"sample_stats": m})
}

func (tt *teamTaskAPI) startAcceptance(w http.ResponseWriter, r *http.Request, c *Call) error {
	var body struct {
		SamplingNum  *int     `json:"sampling_num"`
		SamplingRate *float64 `json:"sampling_rate"`
	}
	if err := decodeDataset(r, &body); err != nil {
		return err
	}
	id, err := tt.svc.StartAcceptance(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"), body.SamplingNum, body.SamplingRate)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"task_id": id})
}

func (tt *teamTaskAPI) comment(w http.ResponseWriter, r *http.Request, c *Call) error {
	var body commentsBody
	if err := decodeDataset(r, &body); err != nil {
		return err
	}
	if err := tt.svc.Comment(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"), body.Comments); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{})
}

func (tt *teamTaskAPI) report(w http.ResponseWriter, r *http.Request, c *Call) error {
	rep, err := tt.svc.Report(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"), r.URL.Query().Get("checking_task_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, rep)
}

func (tt *teamTaskAPI) closeAcceptance(w http.ResponseWriter, r *http.Request, c *Call) error {
	var body struct {
		Action    *int `json:"action"`
		Overwrite bool `json:"overwrite_last_result"`
	}
	if err := decodeDataset(r, &body); err != nil {
		return err
	}
	if body.Action == nil {
		return datasetBad("Invalid parameter(action): required.")
	}
	n, samples, err := tt.svc.Close(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"), *body.Action, body.Overwrite)
	if err != nil {
		return err
	}
	if samples == nil {
		samples = []*teamtask.TeamSample{}
	} else if err := tt.withPreviews(r, c, samples); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"sample_count": n, "samples": samples})
}

func (tt *teamTaskAPI) notify(w http.ResponseWriter, r *http.Request, c *Call) error {
	var body struct {
		Emails []string `json:"emails"`
	}
	if err := decodeDataset(r, &body); err != nil {
		return err
	}
	results, taskID, err := tt.svc.Notify(r.Context(), teamCaller(c), r.PathValue("dataset_id"), r.PathValue("workforce_task_id"), body.Emails)
	if err != nil {
		return err
	}
	ok := true
	for _, res := range results {
		ok = ok && res.Success
	}
	out := map[string]any{"success": ok, "results": results}
	if taskID != "" {
		out["notify_task_id"] = taskID // Atelier's: the background task sending them
	}
	return WriteJSON(w, http.StatusOK, out)
}
