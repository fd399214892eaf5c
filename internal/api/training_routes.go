package api

import (
	"encoding/json"
	"net/http"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/training"
)

// Training APIs a real client needs around the seed rows. Their actions are
// not in the seed table; they are chosen from the closest seed action of
// the same resource (Huawei documents no separate action for them in the
// reference we follow):
//
//   - terminate (POST …/actions) changes a job's state: modelarts:trainJob:update;
//   - events and task metrics read one job: modelarts:trainJob:get;
//   - flavors and engines list what jobs may use: modelarts:trainJob:list.
func trainingExtraRoutes() []Route {
	r := func(name, method, path, action string) Route {
		return Route{Name: name, Method: method, Path: path, Action: action, Family: "training", Service: ServiceModelArts}
	}
	return []Route{
		r("Terminating a training job", http.MethodPost, "/v2/{project_id}/training-jobs/{training_job_id}/actions", "modelarts:trainJob:update"),
		r("Obtaining the events of a training job", http.MethodGet, "/v2/{project_id}/training-jobs/{training_job_id}/events", "modelarts:trainJob:get"),
		r("Querying the running metrics of a task of a training job", http.MethodGet, "/v2/{project_id}/training-jobs/{training_job_id}/metrics/{task_id}", "modelarts:trainJob:get"),
		r("Obtaining the flavors of training jobs", http.MethodGet, "/v2/{project_id}/training-job-flavors", "modelarts:trainJob:list"),
		r("Obtaining the engines of training jobs", http.MethodGet, "/v2/{project_id}/training-job-engines", "modelarts:trainJob:list"),
	}
}

// trainingAPI serves the training routes over a training service.
type trainingAPI struct {
	svc *training.Service
}

// handlers maps each training pattern to its handler.
func (t *trainingAPI) handlers() map[string]HandlerFunc {
	return map[string]HandlerFunc{
		"POST /v2/{project_id}/algorithms":                                                  t.createAlgorithm,
		"GET /v2/{project_id}/algorithms":                                                   t.listAlgorithms,
		"GET /v2/{project_id}/algorithms/{algorithm_id}":                                    t.showAlgorithm,
		"PUT /v2/{project_id}/algorithms/{algorithm_id}":                                    t.changeAlgorithm,
		"DELETE /v2/{project_id}/algorithms/{algorithm_id}":                                 t.deleteAlgorithm,
		"POST /v2/{project_id}/training-jobs":                                               t.createJob,
		"GET /v2/{project_id}/training-jobs/{training_job_id}":                              t.showJob,
		"PUT /v2/{project_id}/training-jobs/{training_job_id}":                              t.changeJobDescription,
		"DELETE /v2/{project_id}/training-jobs/{training_job_id}":                           t.deleteJob,
		"POST /v2/{project_id}/training-job-searches":                                       t.searchJobs,
		"POST /v2/{project_id}/training-jobs/{training_job_id}/actions":                     t.jobAction,
		"GET /v2/{project_id}/training-jobs/{training_job_id}/events":                       t.jobEvents,
		"GET /v2/{project_id}/training-jobs/{training_job_id}/tasks/{task_id}/logs/preview": t.previewLog,
		"GET /v2/{project_id}/training-jobs/{training_job_id}/tasks/{task_id}/logs/url":     t.logURL,
		"GET /v2/{project_id}/training-jobs/{training_job_id}/metrics/{task_id}":            t.taskMetrics,
		"GET /v2/{project_id}/training-job-flavors":                                         t.flavors,
		"GET /v2/{project_id}/training-job-engines":                                         t.engines,
	}
}

// resolvers find the workspace each request targets, so that workspace and
// enterprise-project grants apply: the stored resource's for routes on one
// job or algorithm, the body's for creation and search, the query's
// (workspace_id, default "0") otherwise.
func (t *trainingAPI) resolvers() map[string]Resolver {
	job := func(r *http.Request, c *Call) (Target, error) {
		ws, err := t.svc.JobWorkspace(r.Context(), c.ProjectID, r.PathValue("training_job_id"))
		return Target{WorkspaceID: ws}, err
	}
	alg := func(r *http.Request, c *Call) (Target, error) {
		ws, err := t.svc.AlgorithmWorkspace(r.Context(), c.ProjectID, r.PathValue("algorithm_id"))
		return Target{WorkspaceID: ws}, err
	}
	metadataWS := func(r *http.Request, c *Call) (Target, error) {
		var b struct {
			Metadata *struct {
				WorkspaceID string `json:"workspace_id"`
			} `json:"metadata"`
		}
		return bodyWorkspace(c, &b, func() string {
			if b.Metadata == nil {
				return ""
			}
			return b.Metadata.WorkspaceID
		})
	}
	searchWS := func(r *http.Request, c *Call) (Target, error) {
		var b struct {
			WorkspaceID string `json:"workspace_id"`
		}
		return bodyWorkspace(c, &b, func() string { return b.WorkspaceID })
	}
	return map[string]Resolver{
		"POST /v2/{project_id}/algorithms":                                                  metadataWS,
		"GET /v2/{project_id}/algorithms/{algorithm_id}":                                    alg,
		"PUT /v2/{project_id}/algorithms/{algorithm_id}":                                    alg,
		"DELETE /v2/{project_id}/algorithms/{algorithm_id}":                                 alg,
		"POST /v2/{project_id}/training-jobs":                                               metadataWS,
		"GET /v2/{project_id}/training-jobs/{training_job_id}":                              job,
		"PUT /v2/{project_id}/training-jobs/{training_job_id}":                              job,
		"DELETE /v2/{project_id}/training-jobs/{training_job_id}":                           job,
		"POST /v2/{project_id}/training-job-searches":                                       searchWS,
		"POST /v2/{project_id}/training-jobs/{training_job_id}/actions":                     job,
		"GET /v2/{project_id}/training-jobs/{training_job_id}/events":                       job,
		"GET /v2/{project_id}/training-jobs/{training_job_id}/tasks/{task_id}/logs/preview": job,
		"GET /v2/{project_id}/training-jobs/{training_job_id}/tasks/{task_id}/logs/url":     job,
		"GET /v2/{project_id}/training-jobs/{training_job_id}/metrics/{task_id}":            job,
	}
}

// bodyWorkspace reads the workspace a request body names ("0" when none).
// A malformed body is left for the handler's Decode to report.
func bodyWorkspace(c *Call, v any, ws func() string) (Target, error) {
	if len(c.Body) > 0 {
		if err := json.Unmarshal(c.Body, v); err != nil {
			return Target{WorkspaceID: iam.DefaultWorkspaceID}, nil
		}
	}
	id := ws()
	if id == "" {
		id = iam.DefaultWorkspaceID
	}
	return Target{WorkspaceID: id}, nil
}

// scopeOf is the training scope of a call.
func scopeOf(c *Call) training.Scope {
	sc := training.Scope{DomainID: c.Principal.DomainID, ProjectID: c.ProjectID, UserID: c.Principal.UserID,
		UserName: c.Principal.UserName, WorkspaceID: iam.DefaultWorkspaceID}
	if c.Workspace != nil {
		sc.WorkspaceID = c.Workspace.ID
	}
	return sc
}
