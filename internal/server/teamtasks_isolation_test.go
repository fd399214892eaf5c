package server_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/api"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// TestTeamMemberIsolation: team A's labeler, reviewer and team
// administrator, with their own tokens, call every project route of the
// table with team B's task, dataset, samples, team and member in the path
// and plausible bodies. Each answers 403 or 404 with none of B's data;
// only a member's own task list answers, without B's tasks.
func TestTeamMemberIsolation(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		type side struct {
			ds, team, task, sample, taskName string
			labeler, reviewer, admin         *member
		}
		mk := func(name string) *side {
			s := &side{}
			s.ds = c.create(name, 0, map[string]any{"labels": []any{map[string]any{"name": "cat", "type": 0}}})
			var samples []any
			for i := 0; i < 3; i++ {
				samples = append(samples, map[string]any{"name": name + string(rune('a'+i)) + ".jpg", "data": base64.StdEncoding.EncodeToString([]byte(name + string(rune('a'+i))))})
			}
			if st, out := c.do("POST", "/datasets/"+s.ds+"/data-annotations/samples", map[string]any{"samples": samples}); st != http.StatusOK {
				t.Fatalf("samples: %d %v", st, out)
			}
			_, out := c.do("POST", "/workforces", map[string]any{"workforce_name": name + "-team"})
			s.team = out["workforce_id"].(string)
			s.admin = addMember(t, env, c, s.team, name+"-admin@example.com", 2)
			s.labeler = addMember(t, env, c, s.team, name+"-labeler@example.com", 0)
			s.reviewer = addMember(t, env, c, s.team, name+"-reviewer@example.com", 1)
			s.taskName = name + "-secret-task"
			st, out := c.do("POST", "/datasets/"+s.ds+"/workforce-tasks", map[string]any{"task_name": s.taskName,
				"workforces_config": map[string]any{"workforces": []any{map[string]any{"workforce_id": s.team}}}})
			if st != http.StatusOK {
				t.Fatalf("task: %d %v", st, out)
			}
			s.task = out["task_id"].(string)
			s.admin.must(t, env, "POST", "/datasets/"+s.ds+"/workforce-tasks/"+s.task, map[string]any{})
			page := s.labeler.must(t, env, "GET", "/datasets/"+s.ds+"/workforce-tasks/"+s.task+"/data-annotations/samples", nil)
			s.sample = page["samples"].([]any)[0].(map[string]any)["sample_id"].(string)
			s.labeler.must(t, env, "PUT", "/datasets/"+s.ds+"/workforce-tasks/"+s.task+"/data-annotations/samples", map[string]any{
				"samples": []any{map[string]any{"sample_id": s.sample, "labels": []any{map[string]any{"name": "cat", "type": 0}}}}})
			return s
		}
		a, b := mk("alpha"), mk("beta")
		secrets := []string{b.taskName, b.sample, b.labeler.email, b.reviewer.email, b.admin.email, "beta-team", b.labeler.workerID}

		params := strings.NewReplacer("{project_id}", env.Account.ProjectID, "{dataset_id}", b.ds, "{workforce_task_id}", b.task,
			"{sample_id}", b.sample, "{workforce_id}", b.team, "{worker_id}", b.labeler.workerID)
		comment := map[string]any{"comments": []any{map[string]any{"sample_id": b.sample, "worker_id": b.labeler.workerID, "accept": true, "score": "A"}}}
		bodies := map[string]any{
			"PUT /v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/data-annotations/samples": map[string]any{
				"samples": []any{map[string]any{"sample_id": b.sample, "labels": []any{map[string]any{"name": "cat", "type": 0}}}}},
			"POST /v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/data-annotations/review":  comment,
			"POST /v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/acceptance/batch-comment": comment,
			"POST /v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/acceptance":               map[string]any{"sampling_rate": 1},
			"PUT /v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/acceptance/status":         map[string]any{"action": 0},
			"POST /v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/notify":                   map[string]any{"emails": []string{b.labeler.email}},
			"PUT /v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}":                           map[string]any{"task_name": "stolen"},
			"POST /v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}":                          map[string]any{"workforces_config": map[string]any{"workforces": []any{map[string]any{"workforce_id": a.team}}}},
			"POST /v2/{project_id}/datasets/{dataset_id}/workforce-tasks":                                              map[string]any{"task_name": "stolen", "workforces_config": map[string]any{"workforces": []any{map[string]any{"workforce_id": a.team}}}},
		}
		ownList := "GET /v2/{project_id}/workforces/worker-tasks"
		for _, caller := range []*member{a.labeler, a.reviewer, a.admin} {
			for _, rt := range api.Table() {
				if !rt.Implemented() || rt.Public || !strings.HasPrefix(rt.Path, "/v1/{project_id}") && !strings.HasPrefix(rt.Path, "/v2/{project_id}") {
					continue
				}
				path := strings.TrimPrefix(params.Replace(rt.Path), "/v2/"+env.Account.ProjectID)
				if strings.HasPrefix(rt.Path, "/v1/") {
					path = "/../v1/" + env.Account.ProjectID + strings.TrimPrefix(params.Replace(rt.Path), "/v1/"+env.Account.ProjectID)
				}
				t.Run(caller.email+" "+rt.Pattern(), func(t *testing.T) {
					resp, data := env.Do(t, rt.Method, "/v2/"+env.Account.ProjectID+path, bodies[rt.Pattern()], map[string]string{"X-Auth-Token": caller.token})
					if rt.Pattern() == ownList {
						if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), a.taskName) {
							t.Errorf("own task list: %d %s", resp.StatusCode, data)
						}
					} else if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
						t.Errorf("%s %s: %d %s, want 403 or 404", rt.Method, path, resp.StatusCode, data)
					}
					for _, s := range secrets {
						if strings.Contains(string(data), s) {
							t.Errorf("%s %s leaked %q: %s", rt.Method, path, s, data)
						}
					}
				})
			}
		}
		// Nothing of B's task changed: its sample keeps its labeler's work.
		got := b.labeler.must(t, env, "GET", "/datasets/"+b.ds+"/workforce-tasks/"+b.task+"/data-annotations/samples/"+b.sample, nil)
		if got["sample_status"] != "__UNREVIEWED__" {
			t.Errorf("B's sample after A's attempts: %v", got)
		}
	})
}
