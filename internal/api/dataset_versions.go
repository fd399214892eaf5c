package api

// Dataset versions: /v2/{project_id}/datasets/{dataset_id}/versions.

func (d *datasetAPI) versionHandlers() map[string]HandlerFunc {
	return map[string]HandlerFunc{}
}
