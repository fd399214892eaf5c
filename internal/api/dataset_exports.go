package api

// Export tasks: /v2/{project_id}/datasets/{dataset_id}/export-tasks.

func (d *datasetAPI) exportHandlers() map[string]HandlerFunc {
	return map[string]HandlerFunc{}
}
