package api

import (
	"net/http"

	"github.com/atelier-dev/atelier/internal/dataset/importer"
)

// Import tasks and synchronisation: /v2/{project_id}/datasets/{dataset_id}/{import-tasks,sync-data}.
// The rows, with these handlers bound, are in modelarts_routes.go.

// createImportTask validates the request, checks that the caller may read
// the import path, and queues the import.
func (d *datasetAPI) createImportTask(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req importer.ImportRequest
	if err := decodeDataset(r, &req); err != nil {
		return err
	}
	plan, err := d.imports.PlanImport(r.Context(), c.ProjectID, r.PathValue("dataset_id"), &req)
	if err != nil {
		return err
	}
	// The seed names no related action for this route, but an import
	// lists the import path's bucket and reads what is under the path.
	if err := c.AuthorizeOBS("obs:bucket:ListBucket", ObjectRef{Bucket: plan.Path.Bucket}); err != nil {
		return err
	}
	if err := c.AuthorizeOBS("obs:object:GetObject", ObjectRef{Bucket: plan.Path.Bucket, Key: plan.Path.Key}); err != nil {
		return err
	}
	// Every object the task reads (the manifest's lines may name any)
	// is authorized for the caller when it is read.
	plan.Requester = requester(c)
	id, err := d.imports.CommitImport(r.Context(), plan)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"task_id": id})
}

// listImportTasks pages a dataset's import tasks, newest first: offset
// (the page index) and limit (1 to 100, 10).
func (d *datasetAPI) listImportTasks(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	offset, limit, err := datasetPage(v, 10, 100)
	if err != nil {
		return err
	}
	total, list, err := d.imports.ImportTasks(r.Context(), c.ProjectID, r.PathValue("dataset_id"), offset, limit)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"total_count": total, "import_tasks": list})
}

// showImportTask answers one import task with its failed lines and files.
func (d *datasetAPI) showImportTask(w http.ResponseWriter, r *http.Request, c *Call) error {
	t, err := d.imports.ImportTask(r.Context(), c.ProjectID, r.PathValue("dataset_id"), r.PathValue("task_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, t)
}

// syncData queues the rescan of the dataset's data sources. The reference
// answers without a body; Atelier returns the task's ID.
func (d *datasetAPI) syncData(w http.ResponseWriter, r *http.Request, c *Call) error {
	plan, err := d.imports.PlanSync(r.Context(), c.ProjectID, r.PathValue("dataset_id"))
	if err != nil {
		return err
	}
	// The seed's related actions (ListBucket, ListAllMyBuckets) on the data
	// source directories.
	if err := c.AuthorizeObjects(plan.Sources...); err != nil {
		return err
	}
	plan.Requester = requester(c)
	id, err := d.imports.CommitSync(r.Context(), plan)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"task_id": id})
}

func (d *datasetAPI) syncStatus(w http.ResponseWriter, r *http.Request, c *Call) error {
	st, err := d.imports.SyncStatus(r.Context(), c.ProjectID, r.PathValue("dataset_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, st)
}
