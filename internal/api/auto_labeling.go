package api

import (
	"net/http"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/autolabel"
)

// autoLabelAPI serves intelligent tasks
// (/v2/{project_id}/datasets/{dataset_id}/tasks) and the samples they labeled
// (…/auto-annotations/samples). Its rows, with these handlers bound, are in
// modelarts_routes.go; they are mounted only when the server has an
// auto-labeling service (NeedsAutoLabel). The sample rows read through the
// dataset room, whose page and detail writers they share.
type autoLabelAPI struct {
	svc      *autolabel.Service
	datasets *datasetAPI
}

// startSmartTask starts auto-label, pre-label or auto-grouping.
func (a *autoLabelAPI) startSmartTask(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req autolabel.StartRequest
	if err := decodeDataset(r, &req); err != nil {
		return err
	}
	plan, err := a.svc.PlanStart(r.Context(), c.ProjectID, r.PathValue("dataset_id"), &req)
	if err != nil {
		return err
	}
	if err := c.AuthorizeObjects(plan.Locations...); err != nil {
		return err
	}
	// These checks refuse early; the task reads the samples' files (and
	// auto-grouping may write a file) and decides each object for the
	// caller as it touches it.
	plan.Requester = requester(c)
	id, err := a.svc.CommitStart(r.Context(), plan)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"task_id": id})
}

// listSmartTasks pages a dataset's intelligent tasks: type (auto-label and
// pre-label when absent), task_name, offset (the page index) and limit (1
// to 100, default 10).
func (a *autoLabelAPI) listSmartTasks(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	skip, limit, err := datasetPage(v, 10, 100)
	if err != nil {
		return err
	}
	total, items, err := a.svc.ListTasks(r.Context(), c.ProjectID, r.PathValue("dataset_id"), v.Get("type"), v.Get("task_name"), skip, limit)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"total_count": total, "tasks": items, "exist_running_deploy_task": false})
}

func (a *autoLabelAPI) showSmartTask(w http.ResponseWriter, r *http.Request, c *Call) error {
	t, err := a.svc.GetTask(r.Context(), c.ProjectID, r.PathValue("dataset_id"), r.PathValue("task_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, t)
}

func (a *autoLabelAPI) stopSmartTask(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := a.svc.StopTask(r.Context(), c.ProjectID, r.PathValue("dataset_id"), r.PathValue("task_id")); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{})
}

// listAutoSamples pages the samples whose labels await confirmation, with
// the sample list's filters.
func (a *autoLabelAPI) listAutoSamples(w http.ResponseWriter, r *http.Request, c *Call) error {
	q, preview, err := parseSampleQuery(r)
	if err != nil {
		return err
	}
	st := dataset.StateUnconfirmed
	q.State, q.TeamState = &st, false
	return a.datasets.writeDatasetSamples(w, r, c, q, preview)
}

// showAutoSample is one sample whose labels await confirmation.
func (a *autoLabelAPI) showAutoSample(w http.ResponseWriter, r *http.Request, c *Call) error {
	st := dataset.StateUnconfirmed
	return a.datasets.writeSample(w, r, c, &st)
}
