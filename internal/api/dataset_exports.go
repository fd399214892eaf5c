package api

import (
	"net/http"

	"github.com/atelier-dev/atelier/internal/dataset/exporter"
)

// Export tasks: /v2/{project_id}/datasets/{dataset_id}/export-tasks.
// The rows, with these handlers bound, are in modelarts_routes.go.

// createExport queues an export to OBS once the caller may write the
// output directory and read the dataset's data (the seed lists no related
// action for this route, so both are checked here).
func (d *datasetAPI) createExport(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req exporter.ExportRequest
	if err := decodeDataset(r, &req); err != nil {
		return err
	}
	plan, err := d.exports.PlanExport(r.Context(), c.ProjectID, r.PathValue("dataset_id"), &req)
	if err != nil {
		return err
	}
	if err := c.AuthorizeOBS("obs:object:PutObject", plan.Output); err != nil {
		return err
	}
	if err := c.AuthorizeOBS("obs:object:GetObject", plan.Reads...); err != nil {
		return err
	}
	// These checks refuse early; the task decides again, for the caller,
	// each object it reads or writes (a Deny on part of a directory, a
	// grant revoked meanwhile).
	plan.Requester = requester(c)
	id, err := d.exports.CommitExport(r.Context(), plan)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"task_id": id})
}

// listExports pages a dataset's exports, newest first: export_type
// filters, offset (the page index) and limit (1 to 100, default 10).
func (d *datasetAPI) listExports(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	offset, limit, err := datasetPage(v, 10, 100)
	if err != nil {
		return err
	}
	var exportType *int
	if s := v.Get("export_type"); s != "" {
		n, err := datasetInt(s, "export_type", 0, 0, 3)
		if err != nil {
			return err
		}
		exportType = &n
	}
	total, items, err := d.exports.ListExports(r.Context(), c.ProjectID, r.PathValue("dataset_id"), exportType, offset, limit)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"total_count": total, "export_tasks": items})
}

// showExport answers the status of one export; the reference names the
// dataset {resource_id} in this path.
func (d *datasetAPI) showExport(w http.ResponseWriter, r *http.Request, c *Call) error {
	e, err := d.exports.GetExport(r.Context(), c.ProjectID, r.PathValue("resource_id"), r.PathValue("task_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, e)
}
