package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"
)

// ModelArts training jobs: /v2/{project_id}/training-jobs and around.

// Engine is one entry of GET /training-job-engines.
type Engine struct {
	ID      string `json:"engine_id"`
	Name    string `json:"engine_name"`
	Version string `json:"engine_version"`
}

// Job is the part of a training job the CLI shows; Raw is the whole
// response.
type Job struct {
	Kind     string `json:"kind"`
	Metadata struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
		CreateTime  int64  `json:"create_time"`
		UserName    string `json:"user_name"`
	} `json:"metadata"`
	Status struct {
		Phase          string   `json:"phase"`
		SecondaryPhase string   `json:"secondary_phase"`
		Duration       int64    `json:"duration"`
		Tasks          []string `json:"tasks"`
		StartTime      int64    `json:"start_time"`
		TaskStatuses   []struct {
			Task     string `json:"task"`
			ExitCode int    `json:"exit_code"`
			Message  string `json:"message"`
		} `json:"task_statuses"`
	} `json:"status"`
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a job and keeps the whole response in Raw.
func (j *Job) UnmarshalJSON(b []byte) error {
	type plain Job
	if err := json.Unmarshal(b, (*plain)(j)); err != nil {
		return err
	}
	j.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// Final reports whether a job phase is final.
func Final(phase string) bool {
	switch phase {
	case "Completed", "Failed", "Terminated", "Abnormal":
		return true
	}
	return false
}

func (c *Client) v2(p string) string { return "/v2/" + c.cfg.ProjectID + p }

// Engines lists the engines the server can run.
func (c *Client) Engines(ctx context.Context) ([]Engine, error) {
	var out struct {
		Items []Engine `json:"items"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: c.v2("/training-job-engines")}, &out)
	return out.Items, err
}

// EngineFor picks the engine that runs a boot file, by its extension:
// .py a Python engine, .sh a Bash or shell engine.
func EngineFor(engines []Engine, bootFile string) (Engine, error) {
	ext := strings.ToLower(path.Ext(bootFile))
	var want []string
	switch ext {
	case ".py":
		want = []string{"python"}
	case ".sh":
		want = []string{"bash", "shell", "sh"}
	default:
		return Engine{}, fmt.Errorf("no engine runs %q files: the boot file must be a .py or .sh file", ext)
	}
	for _, w := range want {
		for _, e := range engines {
			if strings.EqualFold(e.Name, w) || strings.HasPrefix(strings.ToLower(e.ID), w) {
				return e, nil
			}
		}
	}
	var names []string
	for _, e := range engines {
		names = append(names, e.Name+" ("+e.ID+")")
	}
	return Engine{}, fmt.Errorf("the server has no engine for %s files; it has: %s", ext, strings.Join(names, ", "))
}

// CreateJob creates a training job from a request body of the reference
// (POST /v2/{project_id}/training-jobs).
func (c *Client) CreateJob(ctx context.Context, body any) (*Job, error) {
	var j Job
	if err := c.do(ctx, call{method: http.MethodPost, path: c.v2("/training-jobs"), json: body}, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// GetJob returns one job.
func (c *Client) GetJob(ctx context.Context, id string) (*Job, error) {
	var j Job
	if err := c.do(ctx, call{method: http.MethodGet, path: c.v2("/training-jobs/" + id)}, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// TerminateJob asks the server to stop a job.
func (c *Client) TerminateJob(ctx context.Context, id string) (*Job, error) {
	var j Job
	err := c.do(ctx, call{method: http.MethodPost, path: c.v2("/training-jobs/" + id + "/actions"),
		json: map[string]string{"action_type": "terminate"}}, &j)
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// JobList is a page of POST /training-job-searches.
type JobList struct {
	Total int   `json:"total"`
	Count int   `json:"count"`
	Items []Job `json:"items"`
}

// SearchJobs lists jobs, newest first, optionally only those in phase.
func (c *Client) SearchJobs(ctx context.Context, phase string, limit int) (*JobList, error) {
	body := map[string]any{"limit": limit}
	if phase != "" {
		body["filters"] = []map[string]any{{"key": "phase", "operator": "in", "value": []string{phase}}}
	}
	var out JobList
	if err := c.do(ctx, call{method: http.MethodPost, path: c.v2("/training-job-searches"), json: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LogPreview is the tail of a task's log.
type LogPreview struct {
	Content     string `json:"content"`
	CurrentSize int64  `json:"current_size"`
	FullSize    int64  `json:"full_size"`
}

// PreviewLog returns the tail of a task's log.
func (c *Client) PreviewLog(ctx context.Context, id, task string) (*LogPreview, error) {
	var p LogPreview
	if err := c.do(ctx, call{method: http.MethodGet, path: c.v2("/training-jobs/" + id + "/tasks/" + task + "/logs/preview")}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// FollowLog writes a task's log to w as it grows, polling the preview API
// every interval, until the job reaches a final phase; it returns the job
// as last seen. Text that grew by more than one preview between two polls
// is marked as skipped.
func (c *Client) FollowLog(ctx context.Context, id, task string, w io.Writer, interval time.Duration) (*Job, error) {
	var printed int64
	for {
		// The job first: when it is final, the preview read after it is complete.
		job, err := c.GetJob(ctx, id)
		if err != nil {
			return nil, err
		}
		p, err := c.PreviewLog(ctx, id, task)
		if err != nil {
			return nil, err
		}
		if p.FullSize < printed { // the log started over (a restarted task)
			printed = 0
		}
		if n := p.FullSize - printed; n > 0 {
			text := p.Content
			if n <= int64(len(text)) {
				text = text[int64(len(text))-n:]
			} else {
				fmt.Fprintf(w, "[… %d bytes of log skipped …]\n", n-int64(len(text)))
			}
			if _, err := io.WriteString(w, text); err != nil {
				return nil, err
			}
			printed = p.FullSize
		}
		if Final(job.Status.Phase) {
			return job, nil
		}
		if err := sleep(ctx, interval); err != nil {
			return nil, err
		}
	}
}
