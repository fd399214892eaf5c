package api

// Import tasks and synchronisation: /v2/{project_id}/datasets/{dataset_id}/{import-tasks,sync-data}.

func (d *datasetAPI) importHandlers() map[string]HandlerFunc {
	return map[string]HandlerFunc{}
}
