package api

import "net/http"

// modelArtsRoutes returns the ModelArts APIs of the product, one route per row
// of the seed permission tables (shared/seeds), in seed order. Name, method,
// path, action and related object-storage actions are the seed's; where the
// API reference contradicts a seed's path, the path is the reference's and the
// action stays the seed's (seed_test.go lists those corrections).
//
// A row this build implements names its handler and resolver right here,
// with serve; the handlers live in the family's files (training_*.go,
// algorithms.go, datasets.go, samples.go, dataset_*.go, workforces.go,
// processing.go). A row without serve
// is listed by `atelier routes` and answers ModelArts.4204 (not built yet).
func modelArtsRoutes(t *trainingAPI, d *datasetAPI, a *autoLabelAPI, w *workforceAPI, tt *teamTaskAPI, p *processingAPI) []Route {
	// The resolvers of routes on one stored dataset: enterprise-project
	// grants apply to the workspace the dataset lives in.
	dataset, exported := d.storedDataset("dataset_id"), d.storedDataset("resource_id")
	// Routes on one stored team: the team's workspace.
	team := w.storedWorkforce
	return []Route{
		// Seed 000, Table 1: training jobs (new version) and algorithms.
		trainingRoute("Creating a training job", http.MethodPost, "/v2/{project_id}/training-jobs", "modelarts:trainJob:create").
			serve(t.createJob, metadataWorkspace),
		trainingRoute("Modifying a training job", http.MethodPut, "/v2/{project_id}/training-jobs/{training_job_id}", "modelarts:trainJob:update").
			serve(t.changeJobDescription, t.jobWorkspace),
		trainingRoute("Deleting a training job", http.MethodDelete, "/v2/{project_id}/training-jobs/{training_job_id}", "modelarts:trainJob:delete").
			serve(t.deleteJob, t.jobWorkspace),
		trainingRoute("Obtaining details about a training job", http.MethodGet, "/v2/{project_id}/training-jobs/{training_job_id}", "modelarts:trainJob:get").
			serve(t.showJob, t.jobWorkspace),
		trainingRoute("Obtaining training jobs", http.MethodPost, "/v2/{project_id}/training-job-searches", "modelarts:trainJob:list").
			serve(t.searchJobs, searchWorkspace),
		trainingRoute("Previewing training job logs", http.MethodGet, "/v2/{project_id}/training-jobs/{training_job_id}/tasks/{task_id}/logs/preview", "modelarts:trainJob:previewLog").
			serve(t.previewLog, t.jobWorkspace),
		trainingRoute("Downloading training job logs", http.MethodGet, "/v2/{project_id}/training-jobs/{training_job_id}/tasks/{task_id}/logs/url", "modelarts:trainJob:logExport").
			serve(t.logURL, t.jobWorkspace),
		trainingRoute("Creating an algorithm", http.MethodPost, "/v2/{project_id}/algorithms", "modelarts:aiAlgorithm:create").
			serve(t.createAlgorithm, metadataWorkspace),
		trainingRoute("Modifying an algorithm", http.MethodPut, "/v2/{project_id}/algorithms/{algorithm_id}", "modelarts:aiAlgorithm:update").
			serve(t.changeAlgorithm, t.algorithmWorkspace),
		trainingRoute("Deleting an algorithm", http.MethodDelete, "/v2/{project_id}/algorithms/{algorithm_id}", "modelarts:aiAlgorithm:delete").
			serve(t.deleteAlgorithm, t.algorithmWorkspace),
		trainingRoute("Obtaining algorithms", http.MethodGet, "/v2/{project_id}/algorithms", "modelarts:aiAlgorithm:get").
			serve(t.listAlgorithms, nil),
		trainingRoute("Obtaining details about an algorithm", http.MethodGet, "/v2/{project_id}/algorithms/{algorithm_id}", "modelarts:aiAlgorithm:get").
			serve(t.showAlgorithm, t.algorithmWorkspace),

		// Seed 001, Table 1: dataset management.
		dataRoute("Querying the Dataset List", http.MethodGet, "/v2/{project_id}/datasets", "modelarts:dataset:listDatasets").
			serve(d.list, nil),
		// The seed lists obs:object:PutObject twice, here and for creating a processing task.
		dataRoute("Creating a Dataset", http.MethodPost, "/v2/{project_id}/datasets", "modelarts:dataset:createDataset",
			"obs:bucket:HeadBucket",
			"obs:bucket:ListBucket",
			"obs:object:PutObject",
			"obs:bucket:ListAllMyBuckets").
			serve(d.create, d.newDatasetWorkspace),
		dataRoute("Querying Details About a Dataset", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}", "modelarts:dataset:getDataset").
			serve(d.show, dataset),
		dataRoute("Modifying a Dataset", http.MethodPut, "/v2/{project_id}/datasets/{dataset_id}", "modelarts:dataset:updateDataset").
			serve(d.update, dataset),
		dataRoute("Deleting a Dataset", http.MethodDelete, "/v2/{project_id}/datasets/{dataset_id}", "modelarts:dataset:deleteDataset",
			"obs:bucket:ListAllMyBuckets",
			"obs:bucket:ListBucket",
			"obs:object:DeleteObject").
			serve(d.delete, dataset),
		dataRoute("Querying Dataset Statistics", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/data-annotations/stats", "modelarts:dataset:getDataset").
			serve(d.stats, dataset),
		dataRoute("Querying the Monitoring Data of a Dataset", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/metrics", "modelarts:dataset:getDataset").
			serve(d.metrics, dataset),
		dataRoute("Querying Statistics for a Team Labeling Task", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/data-annotations/stats", "modelarts:dataset:getWorkforceTask").
			team().serve(tt.stats, dataset),
		dataRoute("Querying Statistics for the Member Labeling Progresses in a Team Labeling Task", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/metrics", "modelarts:dataset:getWorkforceTask").
			team().serve(tt.metrics, dataset),

		// Seed 001, Table 2: dataset version management.
		dataRoute("Querying the Dataset Version List", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/versions", "modelarts:dataset:getDataset").
			serve(d.listVersions, dataset),
		dataRoute("Creating a Dataset Labeling Version", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/versions", "modelarts:dataset:createDatasetVersion",
			"obs:object:PutObject").
			serve(d.createVersion, dataset),
		dataRoute("Querying Details About a Dataset Version", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/versions/{version_id}", "modelarts:dataset:getDataset").
			serve(d.showVersion, dataset),
		dataRoute("Deleting a Dataset Labeling Version", http.MethodDelete, "/v2/{project_id}/datasets/{dataset_id}/versions/{version_id}", "modelarts:dataset:deleteDatasetVersion",
			"obs:bucket:ListAllMyBuckets",
			"obs:bucket:ListBucket",
			"obs:object:DeleteObject").
			serve(d.deleteVersion, dataset),

		// Seed 001, Table 3: sample management.
		dataRoute("Querying the Sample List", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/data-annotations/samples", "modelarts:sample:listSamples",
			"obs:object:GetObject").
			serve(d.listSamples, dataset),
		dataRoute("Adding Samples in Batches", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/data-annotations/samples", "modelarts:sample:addSamples",
			"obs:object:PutObject").
			serve(d.addSamples, dataset),
		dataRoute("Deleting Samples in Batches", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/data-annotations/samples/delete", "modelarts:sample:deleteSamples",
			"obs:object:DeleteObject").
			serve(d.deleteSamples, dataset),
		dataRoute("Querying Details About a Sample", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/data-annotations/samples/{sample_id}", "modelarts:sample:getSample",
			"obs:object:GetObject").
			serve(d.showSample, dataset),
		dataRoute("Querying Sample Search Criteria", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/data-annotations/search-condition", "modelarts:sample:listSamples").
			serve(d.searchCondition, dataset),
		dataRoute("Querying the Sample List of a Team Labeling Task by Page", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/data-annotations/samples", "modelarts:sample:listSamples",
			"obs:object:GetObject").
			team().serve(tt.samples, dataset),
		dataRoute("Querying Details About a Team Labeling Sample", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/data-annotations/samples/{sample_id}", "modelarts:sample:getSample",
			"obs:object:GetObject").
			team().serve(tt.sample, dataset),

		// Seed 001, Table 4: label management.
		dataRoute("Querying the Dataset Label List", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/data-annotations/labels", "modelarts:dataset:getDataset").
			serve(d.listLabels, dataset),
		dataRoute("Creating a Dataset Label", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/data-annotations/labels", "modelarts:dataset:updateDataset").
			serve(d.createLabels, dataset),
		dataRoute("Modifying Labels in Batches", http.MethodPut, "/v2/{project_id}/datasets/{dataset_id}/data-annotations/labels", "modelarts:dataset:updateDataset").
			serve(d.updateLabels, dataset),
		dataRoute("Deleting Labels in Batches", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/data-annotations/labels/delete", "modelarts:dataset:updateDataset").
			serve(d.deleteLabels, dataset),
		dataRoute("Updating a Label by Label Name", http.MethodPut, "/v2/{project_id}/datasets/{dataset_id}/data-annotations/labels/{label_name}", "modelarts:dataset:updateDataset").
			serve(d.updateLabel, dataset),
		dataRoute("Deleting a Label and the Files with This Label Only", http.MethodDelete, "/v2/{project_id}/datasets/{dataset_id}/data-annotations/labels/{label_name}", "modelarts:dataset:updateDataset",
			"obs:object:DeleteObject").
			serve(d.deleteLabelWithSamples, dataset),

		// Seed 001, Table 5: manual labeling.
		dataRoute("Updating Sample Labels in Batches", http.MethodPut, "/v2/{project_id}/datasets/{dataset_id}/data-annotations/samples", "modelarts:dataset:updateDataset",
			"obs:object:GetObject").
			serve(d.updateSamples, dataset),

		// Seed 001, Table 6: labeling task management.
		dataRoute("Querying the Team Labeling Task List of a Dataset", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks", "modelarts:dataset:listWorkforceTasks").
			team().serve(tt.list, dataset),
		dataRoute("Creating a Team Labeling Task", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks", "modelarts:dataset:createWorkforceTask").
			team().serve(tt.create, dataset),
		dataRoute("Querying Details About a Team Labeling Task", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}", "modelarts:dataset:getWorkforceTask").
			team().serve(tt.show, dataset),
		// Path from the API reference; the seed says .../workforce-tasks/{workforce_task_id}/acceptance, the acceptance-task path.
		dataRoute("Starting a Team Labeling Task", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}", "modelarts:dataset:updateWorkforceTask").
			team().serve(tt.start, dataset),
		dataRoute("Updating a Team Labeling Task", http.MethodPut, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}", "modelarts:dataset:updateWorkforceTask").
			team().serve(tt.update, dataset),
		dataRoute("Deleting a Team Labeling Task", http.MethodDelete, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}", "modelarts:dataset:deleteWorkforceTask").
			team().serve(tt.delete, dataset),
		dataRoute("Creating a Team Labeling Acceptance Task", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/acceptance", "modelarts:dataset:updateWorkforceTask").
			team().serve(tt.startAcceptance, dataset),
		dataRoute("Querying the Acceptance Report of a Team Labeling Task", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/acceptance/report", "modelarts:dataset:getWorkforceTask").
			team().serve(tt.report, dataset),
		dataRoute("Updating the Status of a Team Labeling Acceptance Task", http.MethodPut, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/acceptance/status", "modelarts:dataset:updateWorkforceTask").
			team().serve(tt.closeAcceptance, dataset),

		// Seed 001, Table 7: team labeling flow management.
		dataRoute("Submitting Sample Review Comments for Acceptance", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/acceptance/batch-comment", "modelarts:dataset:updateWorkforceTask").
			team().serve(tt.comment, dataset),
		dataRoute("Updating Labels of Team Labeling Samples in Batches", http.MethodPut, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/data-annotations/samples", "modelarts:dataset:updateWorkforceTask").
			team().serve(tt.updateSamples, dataset),

		// Seed 001, Table 8: labeling team management.
		workforceRoute("Querying the Labeling Team List", http.MethodGet, "/v2/{project_id}/workforces", "modelarts:processTask:listWorkforce").
			serve(w.list, nil),
		workforceRoute("Creating a Labeling Team", http.MethodPost, "/v2/{project_id}/workforces", "modelarts:processTask:createWorkforce").
			serve(w.create, nil),
		workforceRoute("Querying Details About a Labeling Team", http.MethodGet, "/v2/{project_id}/workforces/{workforce_id}", "modelarts:processTask:getWorkforce").
			serve(w.show, team),
		workforceRoute("Updating a Labeling Team", http.MethodPut, "/v2/{project_id}/workforces/{workforce_id}", "modelarts:processTask:updateWorkforce").
			serve(w.update, team),
		// Path from the API reference; the seed says .../workforces/{workforce_id}/workers/{worker_id}, the member-deletion path.
		workforceRoute("Deleting a Labeling Team", http.MethodDelete, "/v2/{project_id}/workforces/{workforce_id}", "modelarts:processTask:updateWorkforce").
			serve(w.delete, team),

		// Seed 001, Table 9: labeling team member management.
		dataRoute("Sending an Email to Labeling Team Members", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/notify", "modelarts:dataset:updateWorkforceTask").
			team().serve(tt.notify, dataset),
		workforceRoute("Querying All Labeling Team Members", http.MethodGet, "/v2/{project_id}/workforces/workers", "modelarts:processTask:getWorkforce").
			serve(w.listAllWorkers, nil),
		workforceRoute("Querying Members in a Labeling Team", http.MethodGet, "/v2/{project_id}/workforces/{workforce_id}/workers", "modelarts:processTask:getWorkforce").
			serve(w.listWorkers, team),
		workforceRoute("Creating a Labeling Team Member", http.MethodPost, "/v2/{project_id}/workforces/{workforce_id}/workers", "modelarts:processTask:updateWorkforce").
			serve(w.createWorker, team),
		workforceRoute("Deleting Labeling Team Members in Batches", http.MethodPost, "/v2/{project_id}/workforces/{workforce_id}/workers/batch-delete", "modelarts:processTask:updateWorkforce").
			serve(w.deleteWorkers, team),
		workforceRoute("Querying Details About a Labeling Team Member", http.MethodGet, "/v2/{project_id}/workforces/{workforce_id}/workers/{worker_id}", "modelarts:processTask:getWorkforce").
			serve(w.showWorker, team),
		workforceRoute("Updating Labeling Team Members", http.MethodPut, "/v2/{project_id}/workforces/{workforce_id}/workers/{worker_id}", "modelarts:processTask:updateWorkforce").
			serve(w.updateWorker, team),
		workforceRoute("Deleting a Labeling Team Member", http.MethodDelete, "/v2/{project_id}/workforces/{workforce_id}/workers/{worker_id}", "modelarts:processTask:updateWorkforce").
			serve(w.deleteWorker, team),

		// Seed 001, Table 10: data import tasks.
		dataRoute("Querying the Dataset Import Task List", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/import-tasks", "modelarts:dataset:getDataset").
			serve(d.listImportTasks, dataset),
		dataRoute("Creating a Dataset Import Task", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/import-tasks", "modelarts:dataset:createImportTask").
			serve(d.createImportTask, dataset),
		dataRoute("Querying Details About a Dataset Import Task", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/import-tasks/{task_id}", "modelarts:dataset:getDataset").
			serve(d.showImportTask, dataset),

		// Seed 001, Table 11: data export tasks.
		dataRoute("Querying the Dataset Export Task List", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/export-tasks", "modelarts:dataset:getDataset").
			serve(d.listExports, dataset),
		dataRoute("Creating a Dataset Export Task", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/export-tasks", "modelarts:dataset:createExportTask").
			serve(d.createExport, dataset),
		dataRoute("Querying the Status of a Dataset Export Task", http.MethodGet, "/v2/{project_id}/datasets/{resource_id}/export-tasks/{task_id}", "modelarts:dataset:getDataset").
			serve(d.showExport, exported),

		// Seed 001, Table 12: data synchronization tasks.
		dataRoute("Synchronizing a Dataset", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/sync-data", "modelarts:dataset:updateDataset",
			"obs:bucket:ListBucket",
			"obs:bucket:ListAllMyBuckets").
			serve(d.syncData, dataset),
		dataRoute("Querying the Status of a Dataset Synchronization Task", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/sync-data/status", "modelarts:dataset:getDataset").
			serve(d.syncStatus, dataset),

		// Seed 001, Table 13: auto labeling tasks.
		autoLabelRoute("Querying the Auto Labeling Sample List", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/auto-annotations/samples", "modelarts:sample:listSamples",
			"obs:object:GetObject").
			serve(a.listAutoSamples, dataset),
		autoLabelRoute("Querying Details About an Auto Labeling Sample", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/auto-annotations/samples/{sample_id}", "modelarts:sample:getSample",
			"obs:object:GetObject").
			serve(a.showAutoSample, dataset),
		autoLabelRoute("Querying Auto Labeling Tasks by Page", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/tasks", "modelarts:dataset:getDataset").
			serve(a.listSmartTasks, dataset),
		autoLabelRoute("Starting an Auto Labeling Task", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/tasks", "modelarts:dataset:updateDataset",
			"obs:bucket:PutBucketAcl",
			"obs:bucket:GetBucketAcl",
			"obs:bucket:GetBucketPolicy",
			"obs:bucket:DeleteBucketPolicy",
			"obs:bucket:ListBucket",
			"obs:bucket:ListAllMyBuckets",
			"obs:object:DeleteObject",
			"obs:bucket:ListBucketVersions").
			serve(a.startSmartTask, dataset),
		autoLabelRoute("Querying Details About an Auto Labeling Task", http.MethodGet, "/v2/{project_id}/datasets/{dataset_id}/tasks/{task_id}", "modelarts:dataset:getDataset").
			serve(a.showSmartTask, dataset),
		autoLabelRoute("Stopping an Auto Labeling Task", http.MethodPost, "/v2/{project_id}/datasets/{dataset_id}/tasks/{task_id}/stop", "modelarts:dataset:updateDataset").
			serve(a.stopSmartTask, dataset),

		// Seed 001, Table 14: data processing tasks.
		processingRoute("Querying the Data Processing Task List", http.MethodGet, "/v2/{project_id}/processor-tasks", "modelarts:processTask:listProcessTasks").
			serve(p.listTasks, nil),
		processingRoute("Creating a Data Processing Task", http.MethodPost, "/v2/{project_id}/processor-tasks", "modelarts:processTask:createProcessTask",
			"obs:bucket:HeadBucket",
			"obs:bucket:ListBucket",
			"obs:object:PutObject",
			"obs:bucket:ListAllMyBuckets",
			"obs:bucket:PutBucketAcl",
			"obs:bucket:GetBucketAcl",
			"obs:bucket:GetBucketPolicy",
			"obs:bucket:DeleteBucketPolicy").
			serve(p.createTask, p.newTaskWorkspace),
		processingRoute("Querying the Algorithms for a Data Processing Type", http.MethodGet, "/v2/{project_id}/processor-tasks/items", "modelarts:processTask:getProcessTask").
			serve(p.items, nil),
		// Path from the API reference; the seed says .../processor-tasks/{task_id}/versions/{version_id}, the version-details path.
		processingRoute("Querying Details About a Data Processing Task", http.MethodGet, "/v2/{project_id}/processor-tasks/{task_id}", "modelarts:processTask:getProcessTask").
			serve(p.showTask, p.storedTask),
		processingRoute("Updating a Data Processing Task", http.MethodPut, "/v2/{project_id}/processor-tasks/{task_id}", "modelarts:processTask:updateProcessTask").
			serve(p.updateTask, p.storedTask),
		processingRoute("Deleting a Data Processing Task", http.MethodDelete, "/v2/{project_id}/processor-tasks/{task_id}", "modelarts:processTask:deleteProcessTask",
			"obs:bucket:PutBucketAcl",
			"obs:bucket:GetBucketAcl",
			"obs:bucket:GetBucketPolicy",
			"obs:bucket:DeleteBucketPolicy",
			"obs:bucket:ListBucket",
			"obs:bucket:ListAllMyBuckets",
			"obs:object:DeleteObject").
			serve(p.deleteTask, p.storedTask),
		processingRoute("Querying the Versions of a Data Processing Task", http.MethodGet, "/v2/{project_id}/processor-tasks/{task_id}/versions", "modelarts:processTask:getProcessTask",
			"obs:bucket:HeadBucket",
			"obs:bucket:ListBucket",
			"obs:object:PutObject",
			"obs:bucket:ListAllMyBuckets",
			"obs:bucket:PutBucketAcl",
			"obs:bucket:GetBucketAcl",
			"obs:bucket:GetBucketPolicy",
			"obs:bucket:DeleteBucketPolicy").
			serve(p.listVersions, p.storedTask),
		processingRoute("Creating a Data Processing Task Version", http.MethodPost, "/v2/{project_id}/processor-tasks/{task_id}/versions", "modelarts:processTask:createProcessTask").
			serve(p.createVersion, p.storedTask),
		// Path from the API reference; the seed says .../processor-tasks/{task_id}/versions, the version-list path.
		processingRoute("Querying Details About a Data Processing Task Version", http.MethodGet, "/v2/{project_id}/processor-tasks/{task_id}/versions/{version_id}", "modelarts:processTask:getProcessTask").
			serve(p.showVersion, p.storedTask),
		processingRoute("Deleting a Data Processing Task Version", http.MethodDelete, "/v2/{project_id}/processor-tasks/{task_id}/versions/{version_id}", "modelarts:processTask:deleteProcessTask",
			"obs:bucket:PutBucketAcl",
			"obs:bucket:GetBucketAcl",
			"obs:bucket:GetBucketPolicy",
			"obs:bucket:DeleteBucketPolicy",
			"obs:bucket:ListBucket",
			"obs:bucket:ListAllMyBuckets",
			"obs:object:DeleteObject").
			serve(p.deleteVersion, p.storedTask),
		processingRoute("Querying the Result of a Data Processing Task Version", http.MethodGet, "/v2/{project_id}/processor-tasks/{task_id}/versions/{version_id}/results", "modelarts:processTask:getProcessTask",
			"obs:object:GetObject").
			serve(p.results, p.storedTask),
		processingRoute("Stopping a Data Processing Task Version", http.MethodPost, "/v2/{project_id}/processor-tasks/{task_id}/versions/{version_id}/stop", "modelarts:processTask:updateProcessTask").
			serve(p.stopVersion, p.storedTask),
	}
}

// processingRoute is a route of seed 001's data processing table (14),
// served by the processing room.
func processingRoute(name, method, path, action string, related ...string) Route {
	return modelArtsRoute("data", NeedsProcessing, name, method, path, action, related)
}

// workforceRoute is a route of seed 001's labeling-team tables (8 and 9),
// which have no related actions, served by the workforce service.
func workforceRoute(name, method, path, action string) Route {
	return modelArtsRoute("data", NeedsWorkforces, name, method, path, action, nil)
}

// trainingRoute is a route of seed 000, which has no related actions,
// served by the training service.
func trainingRoute(name, method, path, action string) Route {
	return modelArtsRoute("training", NeedsTraining, name, method, path, action, nil)
}

// dataRoute is a route of seed 001, served by the dataset service; related
// lists its object-storage actions, none for the seed's N/A.
func dataRoute(name, method, path, action string, related ...string) Route {
	return modelArtsRoute("data", NeedsDatasets, name, method, path, action, related)
}

// autoLabelRoute is a row of intelligent tasks (served by the autolabel
// room).
func autoLabelRoute(name, method, path, action string, related ...string) Route {
	return modelArtsRoute("data", NeedsAutoLabel, name, method, path, action, related)
}

func modelArtsRoute(family string, needs Needs, name, method, path, action string, related []string) Route {
	return Route{
		Name:    name,
		Method:  method,
		Path:    path,
		Action:  action,
		Related: related,
		Family:  family,
		Service: ServiceModelArts,
		Needs:   needs,
	}
}
