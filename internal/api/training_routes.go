package api

import (
	"encoding/json"
	"net/http"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/training"
)

// extraRoutes are the training APIs a real client needs around the seed
// rows. Their actions are not in the seed table; they are chosen from the
// closest seed action of the same resource (Huawei documents no separate action for them in the
// reference we follow):
//
//   - terminate (POST …/actions) changes a job's state: modelarts:trainJob:update;
//   - events and task metrics read one job: modelarts:trainJob:get;
//   - flavors and engines list what jobs may use: modelarts:trainJob:list.
func (t *trainingAPI) extraRoutes() []Route {
	r := func(name, method, path, action string) Route {
		return Route{Name: name, Method: method, Path: path, Action: action, Family: "training", Service: ServiceModelArts, Needs: NeedsTraining}
	}
	return []Route{
		r("Terminating a training job", http.MethodPost, "/v2/{project_id}/training-jobs/{training_job_id}/actions", "modelarts:trainJob:update").
			serve(t.jobAction, t.jobWorkspace),
		r("Obtaining the events of a training job", http.MethodGet, "/v2/{project_id}/training-jobs/{training_job_id}/events", "modelarts:trainJob:get").
			serve(t.jobEvents, t.jobWorkspace),
		r("Querying the running metrics of a task of a training job", http.MethodGet, "/v2/{project_id}/training-jobs/{training_job_id}/metrics/{task_id}", "modelarts:trainJob:get").
			serve(t.taskMetrics, t.jobWorkspace),
		r("Obtaining the flavors of training jobs", http.MethodGet, "/v2/{project_id}/training-job-flavors", "modelarts:trainJob:list").
			serve(t.flavors, nil),
		r("Obtaining the engines of training jobs", http.MethodGet, "/v2/{project_id}/training-job-engines", "modelarts:trainJob:list").
			serve(t.engines, nil),
	}
}

// trainingAPI serves the training routes over a training service.
type trainingAPI struct {
	svc *training.Service
}

// The resolvers of the training routes find the workspace each request
// targets, so that workspace and enterprise-project grants apply: the
// stored resource's for routes on one job or algorithm, the body's for
// creation and search, the query's (workspace_id, default "0") otherwise.

// jobWorkspace is the workspace of the stored training job the path names.
func (t *trainingAPI) jobWorkspace(r *http.Request, c *Call) (Target, error) {
	ws, err := t.svc.JobWorkspace(r.Context(), c.ProjectID, r.PathValue("training_job_id"))
	return Target{WorkspaceID: ws}, err
}

// algorithmWorkspace is the workspace of the stored algorithm the path names.
func (t *trainingAPI) algorithmWorkspace(r *http.Request, c *Call) (Target, error) {
	ws, err := t.svc.AlgorithmWorkspace(r.Context(), c.ProjectID, r.PathValue("algorithm_id"))
	return Target{WorkspaceID: ws}, err
}

// metadataWorkspace is the workspace a new job or algorithm is created
// into: the body's metadata.workspace_id.
func metadataWorkspace(r *http.Request, c *Call) (Target, error) {
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

// searchWorkspace is the workspace a job search names in its body.
func searchWorkspace(r *http.Request, c *Call) (Target, error) {
	var b struct {
		WorkspaceID string `json:"workspace_id"`
	}
	return bodyWorkspace(c, &b, func() string { return b.WorkspaceID })
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
