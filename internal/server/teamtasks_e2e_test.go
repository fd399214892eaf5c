package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	atelierconfig "github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/mail/mailtest"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// member is a team member who logged in with its own token.
type member struct {
	email, name, workerID, token string
}

// call sends as the member and decodes the answer.
func (m *member) call(t *testing.T, env *servertest.Env, method, path string, body any) (int, map[string]any) {
	t.Helper()
	resp, data := env.Do(t, method, "/v2/"+env.Account.ProjectID+path, body, map[string]string{"X-Auth-Token": m.token})
	var out map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s as %s: %d, not JSON: %s", method, path, m.email, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, out
}

func (m *member) must(t *testing.T, env *servertest.Env, method, path string, body any) map[string]any {
	t.Helper()
	st, out := m.call(t, env, method, path, body)
	if st != http.StatusOK && st != http.StatusNoContent {
		t.Fatalf("%s %s as %s: %d %v", method, path, m.email, st, out)
	}
	return out
}

// addMember adds a team member and logs it in: the administrator sets the
// password of the IAM user Atelier created for the address.
func addMember(t *testing.T, env *servertest.Env, c *dsClient, team, email string, role int) *member {
	t.Helper()
	st, out := c.do("POST", "/workforces/"+team+"/workers", map[string]any{"emails": email, "role": role})
	if st != http.StatusCreated && st != http.StatusOK {
		t.Fatalf("add %s: %d %v", email, st, out)
	}
	name := strings.NewReplacer("@", "_").Replace(email)
	resp, data := env.Do(t, "GET", "/v3/users?name="+url.QueryEscape(name), nil, map[string]string{"X-Auth-Token": c.token})
	var users struct {
		Users []struct {
			ID string `json:"id"`
		} `json:"users"`
	}
	if err := json.Unmarshal(data, &users); resp.StatusCode != http.StatusOK || err != nil || len(users.Users) != 1 {
		t.Fatalf("the user of %s: %d %s", email, resp.StatusCode, data)
	}
	pass := "Member-pass-" + fmt.Sprint(len(email)) + "x"
	resp, data = env.Do(t, "PUT", "/v3.0/OS-USER/users/"+users.Users[0].ID, map[string]any{"user": map[string]any{"password": pass}},
		map[string]string{"X-Auth-Token": c.token})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set the password of %s: %d %s", email, resp.StatusCode, data)
	}
	a := env.Account
	m := &member{email: email, name: name, token: env.Token(t, a.DomainName, name, pass, a.ProjectName)}
	_, list := c.do("GET", "/workforces/"+team+"/workers?limit=100", nil)
	for _, w := range list["workers"].([]any) {
		if w := w.(map[string]any); w["email"] == email {
			m.workerID = w["worker_id"].(string)
		}
	}
	return m
}

func idsOf(samples []any) []string {
	var out []string
	for _, s := range samples {
		out = append(out, s.(map[string]any)["sample_id"].(string))
	}
	return out
}

// TestTeamLabelingEndToEnd is issue 11's "done when": a team with a team
// administrator, two labelers and a reviewer; the dataset's owner creates a
// task, the team administrator starts it and notifies everyone; each
// labeler labels only its own samples with its own token; the reviewer
// rejects one and the labeler fixes it; an acceptance by 50% sampling
// passes; the dataset's annotations and stats then show the team's labels,
// and every member got the e-mail.
func TestTeamLabelingEndToEnd(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			smtp := mailtest.Start(t, mailtest.Options{})
			env := servertest.StartWith(t, servertest.Options{Engine: engine, Configure: func(cfg *atelierconfig.Config) {
				cfg.SMTPAddr, cfg.SMTPFrom = smtp.Addr(), "atelier@example.com"
			}})
			teamLabelingFlow(t, env, smtp)
		})
	}
}

func teamLabelingFlow(t *testing.T, env *servertest.Env, smtp *mailtest.Server) {
	c := newDSClient(t, env)
	ds := c.create("pets", 0, map[string]any{"labels": []any{map[string]any{"name": "cat", "type": 0}, map[string]any{"name": "dog", "type": 0}}})
	var samples []any
	for i := 0; i < 8; i++ {
		samples = append(samples, map[string]any{"name": fmt.Sprintf("p%d.jpg", i), "data": base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("image %d", i)))})
	}
	if st, out := c.do("POST", "/datasets/"+ds+"/data-annotations/samples", map[string]any{"samples": samples}); st != http.StatusOK || out["success"] != true {
		t.Fatalf("add samples: %d %v", st, out)
	}
	st, out := c.do("POST", "/workforces", map[string]any{"workforce_name": "pets-team"})
	if st != http.StatusCreated {
		t.Fatalf("create team: %d %v", st, out)
	}
	team := out["workforce_id"].(string)
	boss := addMember(t, env, c, team, "boss@example.com", 2)
	ann := addMember(t, env, c, team, "ann@example.com", 0)
	bob := addMember(t, env, c, team, "bob@example.com", 0)
	rita := addMember(t, env, c, team, "rita@example.com", 1)
	// Carl, a second reviewer, gets no password from the administrator: he
	// sets his own with the link of his notification.
	if st, out := c.do("POST", "/workforces/"+team+"/workers", map[string]any{"emails": "carl@example.com", "role": 1}); st != http.StatusCreated {
		t.Fatalf("add carl: %d %v", st, out)
	}

	// The dataset's owner creates the task; it is not started, so the
	// labelers do not see it yet, the team administrator does.
	tasks := "/datasets/" + ds + "/workforce-tasks"
	st, out = c.do("POST", tasks, map[string]any{"task_name": "pets-labeling", "workforces_config": map[string]any{
		"workforces": []any{map[string]any{"workforce_id": team}}}})
	if st != http.StatusOK {
		t.Fatalf("create task: %d %v", st, out)
	}
	taskID := out["task_id"].(string)
	task := tasks + "/" + taskID
	for id, want := range map[string]float64{taskID: 1, "00000000000000000000000000000000": 0} {
		if _, teams := c.do("GET", "/workforces?workforce_task_id="+id, nil); teams["total_number"] != want {
			t.Errorf("teams of task %s: %v, want %v", id, teams, want)
		}
	}
	if st, out := ann.call(t, env, "GET", task, nil); st != http.StatusNotFound {
		t.Fatalf("a labeler reads a task not started: %d %v", st, out)
	}
	boss.must(t, env, "POST", task, map[string]any{})
	res := boss.must(t, env, "POST", task+"/notify", map[string]any{"emails": []string{boss.email, ann.email, bob.email, rita.email, "carl@example.com"}})
	if res["success"] != true {
		t.Fatalf("notify: %v", res)
	}

	// Each labeler labels exactly its own samples, with its own token.
	mine := map[*member][]string{}
	for _, m := range []*member{ann, bob} {
		out := m.must(t, env, "GET", task+"/data-annotations/samples?limit=100", nil)
		items := out["samples"].([]any)
		if len(items) != 4 || out["sample_count"].(float64) != 4 {
			t.Fatalf("%s sees %d samples (count %v), want its 4", m.email, len(items), out["sample_count"])
		}
		for _, it := range items {
			if w := it.(map[string]any)["worker_id"]; w != m.workerID {
				t.Fatalf("%s sees a sample of %v", m.email, w)
			}
		}
		mine[m] = idsOf(items)
		var upd []any
		for _, id := range mine[m] {
			upd = append(upd, map[string]any{"sample_id": id, "labels": []any{map[string]any{"name": "cat", "type": 0}}})
		}
		m.must(t, env, "PUT", task+"/data-annotations/samples", map[string]any{"samples": upd})
	}
	// Ann cannot touch Bob's samples, nor read them, nor the dataset's own list.
	if st, out := ann.call(t, env, "PUT", task+"/data-annotations/samples", map[string]any{"samples": []any{
		map[string]any{"sample_id": mine[bob][0], "labels": []any{map[string]any{"name": "dog", "type": 0}}}}}); st != http.StatusNotFound {
		t.Errorf("ann labels bob's sample: %d %v", st, out)
	}
	if st, out := ann.call(t, env, "GET", task+"/data-annotations/samples/"+mine[bob][0], nil); st != http.StatusNotFound {
		t.Errorf("ann reads bob's sample: %d %v", st, out)
	}
	if st, out := ann.call(t, env, "GET", "/datasets/"+ds+"/data-annotations/samples", nil); st != http.StatusForbidden {
		t.Errorf("ann lists the dataset's samples: %d %v", st, out)
	}
	// The reviewer cannot relabel; it rejects one of Bob's and passes the rest.
	if st, out := rita.call(t, env, "PUT", task+"/data-annotations/samples", map[string]any{"samples": []any{
		map[string]any{"sample_id": mine[ann][0], "labels": []any{}}}}); st != http.StatusForbidden {
		t.Errorf("the reviewer relabels: %d %v", st, out)
	}
	toReview := rita.must(t, env, "GET", task+"/data-annotations/samples?sample_state=__UNREVIEWED__&limit=100", nil)
	if n := toReview["sample_count"].(float64); n != 8 {
		t.Fatalf("reviewer sees %v samples to review, want 8", n)
	}
	var comments []any
	for _, it := range toReview["samples"].([]any) {
		s := it.(map[string]any)
		accept := s["sample_id"] != mine[bob][0]
		comments = append(comments, map[string]any{"sample_id": s["sample_id"], "worker_id": s["worker_id"], "accept": accept,
			"comment": map[bool]string{true: "", false: "this is a dog"}[accept], "score": map[bool]string{true: "A", false: ""}[accept]})
	}
	rita.must(t, env, "POST", task+"/data-annotations/review", map[string]any{"comments": comments})

	// Bob sees the rejection with its comment and fixes the sample.
	rej := bob.must(t, env, "GET", task+"/data-annotations/samples?sample_state=__REJECTED__", nil)
	if items := rej["samples"].([]any); len(items) != 1 || items[0].(map[string]any)["review_comment"] != "this is a dog" {
		t.Fatalf("bob's rejected samples: %v", rej)
	}
	bob.must(t, env, "PUT", task+"/data-annotations/samples", map[string]any{"samples": []any{
		map[string]any{"sample_id": mine[bob][0], "labels": []any{map[string]any{"name": "dog", "type": 0}}}}})
	rita.must(t, env, "POST", task+"/data-annotations/review", map[string]any{"comments": []any{
		map[string]any{"sample_id": mine[bob][0], "accept": true, "score": "B"}}})
	hist := bob.must(t, env, "GET", task+"/samples/"+mine[bob][0]+"/history", nil)
	var actions []string
	for _, e := range hist["events"].([]any) {
		actions = append(actions, e.(map[string]any)["action"].(string))
	}
	if got := strings.Join(actions, ","); got != "label,review_reject,fix,review_pass" {
		t.Errorf("history of the fixed sample: %s", got)
	}

	// Acceptance by 50% sampling: the owner passes what it sampled.
	if st, out := boss.call(t, env, "POST", task+"/acceptance", map[string]any{"sampling_rate": 0.5}); st != http.StatusForbidden {
		t.Errorf("a team administrator starts the acceptance: %d %v", st, out)
	}
	st, out = c.do("POST", task+"/acceptance", map[string]any{"sampling_rate": 0.5})
	if st != http.StatusOK {
		t.Fatalf("start acceptance: %d %v", st, out)
	}
	check := out["task_id"].(string)
	_, sampled := c.do("GET", task+"/data-annotations/samples?sample_state=__WORKFORCE_SAMPLED__&limit=100", nil)
	if n := sampled["sample_count"].(float64); n != 4 {
		t.Fatalf("50%% of 8 sampled %v", n)
	}
	comments = nil
	for _, it := range sampled["samples"].([]any) {
		s := it.(map[string]any)
		comments = append(comments, map[string]any{"sample_id": s["sample_id"], "worker_id": s["worker_id"], "accept": true, "score": "A"})
	}
	if st, out := c.do("POST", task+"/acceptance/batch-comment", map[string]any{"comments": comments}); st != http.StatusOK {
		t.Fatalf("comment: %d %v", st, out)
	}
	_, rep := c.do("GET", task+"/acceptance/report?checking_task_id="+check, nil)
	cs := rep["checking_stats"].(map[string]any)
	if cs["sampled_sample_count"] != 4.0 || cs["accepted_sample_count"] != 4.0 || cs["pass_rate"] != 1.0 || cs["score"] != "A" {
		t.Errorf("report: %v", rep)
	}
	if ms := rep["member_stats"].([]any); len(ms) != 2 {
		t.Errorf("member figures: %v", ms)
	}
	if st, out := c.do("PUT", task+"/acceptance/status", map[string]any{"action": 0}); st != http.StatusOK || out["sample_count"] != 8.0 {
		t.Fatalf("pass the acceptance: %d %v", st, out)
	}
	_, got := c.do("GET", task, nil)
	if got["status"] != 3.0 {
		t.Errorf("task status after passing everything: %v", got["status"])
	}

	// The dataset now carries the team's labels.
	_, stats := c.do("GET", "/datasets/"+ds+"/data-annotations/stats", nil)
	ss := stats["sample_stats"].(map[string]any)
	if ss["manual_annotation"] != 8.0 || ss["un_annotation"] != 0.0 {
		t.Errorf("dataset sample_stats after the acceptance: %v, want 8 labeled and none unlabeled", ss)
	}
	dsLabels := map[string]float64{}
	for _, l := range stats["label_stats"].([]any) {
		l := l.(map[string]any)
		dsLabels[l["name"].(string)] = l["sample_count"].(float64)
	}
	if dsLabels["cat"] != 7 || dsLabels["dog"] != 1 {
		t.Errorf("dataset label_stats after the acceptance: %v, want cat 7 and dog 1", stats["label_stats"])
	}
	_, list := c.do("GET", "/datasets/"+ds+"/data-annotations/samples?sample_state=__ALL__&limit=100", nil)
	if n := list["sample_count"].(float64); n != 8 {
		t.Fatalf("labeled samples in the dataset: %v (%v)", n, stats)
	}
	byID := map[string]string{}
	for _, it := range list["samples"].([]any) {
		s := it.(map[string]any)
		byID[s["sample_id"].(string)] = s["labels"].([]any)[0].(map[string]any)["name"].(string)
	}
	if byID[mine[bob][0]] != "dog" || byID[mine[ann][0]] != "cat" {
		t.Errorf("dataset labels: %v", byID)
	}

	// The task's label statistics are counters of what the team labeled.
	_, detail := c.do("GET", task+"?label_stats=true&workforce_stats=true&sample_stats=true", nil)
	counts := map[string]float64{}
	for _, l := range detail["label_stats"].([]any) {
		l := l.(map[string]any)
		counts[l["name"].(string)] = l["sample_count"].(float64)
	}
	if counts["cat"] != 7 || counts["dog"] != 1 {
		t.Errorf("label_stats: %v", detail["label_stats"])
	}
	if st := detail["sample_stats"].(map[string]any); st["accepted_sample_count"] != 8.0 || st["total_sample_count"] != 8.0 {
		t.Errorf("sample_stats: %v", st)
	}

	// Every member got the notification, and its status says so.
	msgs := smtp.WaitFor(t, 5, 20*time.Second)
	to := map[string]bool{}
	for _, m := range msgs {
		to[m.HeaderTo] = true
		if !strings.Contains(m.Subject, "pets-labeling") {
			t.Errorf("subject %q names no task", m.Subject)
		}
	}
	for _, m := range []*member{boss, ann, bob, rita, {email: "carl@example.com"}} {
		if !to[m.email] && !to["<"+m.email+">"] {
			t.Errorf("%s got no e-mail (%v)", m.email, to)
		}
	}
	// Carl's message (and only his) links to a one-time password setup.
	var token string
	for _, m := range msgs {
		i := strings.Index(m.Text, "password-setup?token=")
		switch {
		case strings.Contains(m.HeaderTo, "carl@") && i >= 0:
			token = strings.Fields(m.Text[i+len("password-setup?token="):])[0]
		case i >= 0:
			t.Errorf("%s, who has a password, got a setup link", m.HeaderTo)
		}
	}
	if token == "" {
		t.Fatal("carl's notification has no password setup link")
	}
	setup := map[string]any{"token": token, "password": "Carl-chose-this-1"}
	if resp, body := env.Do(t, "POST", "/v3.0/OS-USER/password-setup", setup, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("set carl's password with the link: %d %s", resp.StatusCode, body)
	}
	if resp, body := env.Do(t, "POST", "/v3.0/OS-USER/password-setup", map[string]any{"token": token, "password": "Another-one-2"}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the link used twice: %d %s", resp.StatusCode, body)
	}
	carl := &member{email: "carl@example.com", token: env.Token(t, env.Account.DomainName, "carl_example.com", "Carl-chose-this-1", env.Account.ProjectName)}
	if mine := carl.must(t, env, "GET", "/workforces/worker-tasks", nil); mine["count"] != 1.0 {
		t.Errorf("carl's tasks after setting his password: %v", mine)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, detail = c.do("GET", task+"?workforce_stats=true", nil)
		sent := 0
		for _, w := range detail["worker_stats"].([]any) {
			if w.(map[string]any)["email_status"] == 3.0 {
				sent++
			}
		}
		if sent == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker_stats after the e-mails: %v", detail["worker_stats"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Members who used their tasks show as logged in (status 2).
	_, ws := c.do("GET", "/workforces/"+team+"/workers?limit=100", nil)
	for _, w := range ws["workers"].([]any) {
		if w := w.(map[string]any); w["status"] != 2.0 {
			t.Errorf("member %v has status %v after using its task, want 2", w["email"], w["status"])
		}
	}
}
