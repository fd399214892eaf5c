// Command teamload sets up team labeling over a running Atelier's dataset
// and measures it over HTTP, as issue 11's benchmarks ask: it creates a
// team of 99 labelers and a team administrator, times creating a team
// labeling task over every sample of the dataset, starts it, logs one
// labeler in (its token goes to -token-out, for bench/authload to drive the
// labeler's sample pages), then times batch label updates of 50 of that
// labeler's samples and the acceptance report.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"
)

type account struct {
	DomainName  string `json:"domain_name"`
	UserName    string `json:"user_name"`
	Password    string `json:"password"`
	ProjectName string `json:"project_name"`
	ProjectID   string `json:"project_id"`
	Endpoint    string `json:"endpoint"`
}

type client struct {
	hc       *http.Client
	endpoint string
	token    string
}

// call sends a JSON request and decodes a JSON answer into out; a status
// other than want is an error with the answer.
func (c *client) call(method, path string, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.endpoint+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("X-Auth-Token", c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// login returns a project-scoped token of a user.
func (c *client) login(a account, user, password string) (string, error) {
	body := map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"password"},
		"password": map[string]any{"user": map[string]any{"name": user, "password": password, "domain": map[string]any{"name": a.DomainName}}}},
		"scope": map[string]any{"project": map[string]any{"name": a.ProjectName}}}}
	raw, _ := json.Marshal(body)
	resp, err := c.hc.Post(c.endpoint+"/v3/auth/tokens", "application/json", bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("log %s in: %s: %s", user, resp.Status, b)
	}
	return resp.Header.Get("X-Subject-Token"), nil
}

func main() {
	bootstrap := flag.String("bootstrap", "atelier-data/bootstrap.json", "bootstrap.json of the server")
	datasetID := flag.String("dataset", "", "dataset to label (required)")
	labelers := flag.Int("labelers", 99, "labelers in the team (the team holds at most 100 members)")
	tokenOut := flag.String("token-out", "labeler.token", "where to write the first labeler's token")
	taskOut := flag.String("task-out", "task.id", "where to write the task's ID")
	rounds := flag.Int("rounds", 40, "timed label updates and reports")
	flag.Parse()
	if err := run(*bootstrap, *datasetID, *tokenOut, *taskOut, *labelers, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "teamload:", err)
		os.Exit(1)
	}
}

func run(bootstrap, datasetID, tokenOut, taskOut string, labelers, rounds int) error {
	if datasetID == "" {
		return errors.New("-dataset is required")
	}
	raw, err := os.ReadFile(bootstrap)
	if err != nil {
		return err
	}
	var a account
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("parse %s: %w", bootstrap, err)
	}
	admin := &client{hc: &http.Client{Timeout: 5 * time.Minute}, endpoint: a.Endpoint}
	if admin.token, err = admin.login(a, a.UserName, a.Password); err != nil {
		return err
	}
	base := "/v2/" + a.ProjectID
	var team struct {
		WorkforceID string `json:"workforce_id"`
	}
	if err := admin.call("POST", base+"/workforces", map[string]any{"workforce_name": fmt.Sprintf("bench-%d", time.Now().Unix())}, &team, http.StatusCreated); err != nil {
		return err
	}
	emails := []string{}
	for i := range labelers {
		emails = append(emails, fmt.Sprintf("labeler%03d@bench.example", i))
	}
	if err := admin.call("POST", base+"/workforces/"+team.WorkforceID+"/workers", map[string]any{"emails": "admin@bench.example", "role": 2}, nil, http.StatusCreated); err != nil {
		return err
	}
	for _, e := range emails {
		if err := admin.call("POST", base+"/workforces/"+team.WorkforceID+"/workers", map[string]any{"emails": e, "role": 0}, nil, http.StatusCreated); err != nil {
			return err
		}
	}
	// Create the task over every sample of the dataset ("[]": no condition).
	var created struct {
		TaskID string `json:"task_id"`
	}
	t0 := time.Now()
	if err := admin.call("POST", base+"/datasets/"+datasetID+"/workforce-tasks", map[string]any{"task_name": "bench", "sample_conditions": "[]",
		"workforces_config": map[string]any{"workforces": []any{map[string]any{"workforce_id": team.WorkforceID}}}}, &created, http.StatusOK); err != nil {
		return err
	}
	createTime := time.Since(t0)
	task := base + "/datasets/" + datasetID + "/workforce-tasks/" + created.TaskID
	if err := admin.call("POST", task, map[string]any{}, nil, http.StatusOK); err != nil {
		return err
	}
	var detail struct {
		SampleStats struct {
			Total int64 `json:"total_sample_count"`
		} `json:"sample_stats"`
	}
	if err := admin.call("GET", task+"?sample_stats=true", nil, &detail, http.StatusOK); err != nil {
		return err
	}
	fmt.Printf("create team task over %d allocations for %d labelers: %s\n", detail.SampleStats.Total, labelers, createTime.Round(time.Millisecond))

	// Log the first labeler in: the administrator sets its password.
	name := "labeler000_bench.example"
	var users struct {
		Users []struct {
			ID string `json:"id"`
		} `json:"users"`
	}
	if err := admin.call("GET", "/v3/users?name="+url.QueryEscape(name), nil, &users, http.StatusOK); err != nil || len(users.Users) != 1 {
		return fmt.Errorf("find the labeler's user: %v (%d found)", err, len(users.Users))
	}
	const pass = "Bench-labeler-1"
	if err := admin.call("PUT", "/v3.0/OS-USER/users/"+users.Users[0].ID, map[string]any{"user": map[string]any{"password": pass}}, nil, http.StatusOK); err != nil {
		return err
	}
	lab := &client{hc: admin.hc, endpoint: a.Endpoint}
	if lab.token, err = lab.login(a, name, pass); err != nil {
		return err
	}
	if err := os.WriteFile(tokenOut, []byte(lab.token), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(taskOut, []byte(created.TaskID), 0o600); err != nil {
		return err
	}

	// Batch label updates of 50 of the labeler's samples, page by page.
	var page struct {
		Count   int64 `json:"sample_count"`
		Samples []struct {
			SampleID string `json:"sample_id"`
		} `json:"samples"`
	}
	var updates, reports []time.Duration
	for r := range rounds {
		if err := lab.call("GET", fmt.Sprintf("%s/data-annotations/samples?sample_state=__NONE__&limit=50&offset=%d", task, r%5), nil, &page, http.StatusOK); err != nil {
			return err
		}
		items := []any{}
		for _, s := range page.Samples {
			items = append(items, map[string]any{"sample_id": s.SampleID, "labels": []any{map[string]any{"name": "label-00", "type": 0}}})
		}
		if len(items) == 0 {
			break
		}
		t0 := time.Now()
		if err := lab.call("PUT", task+"/data-annotations/samples", map[string]any{"samples": items}, nil, http.StatusOK); err != nil {
			return err
		}
		updates = append(updates, time.Since(t0))
		t0 = time.Now()
		if err := admin.call("GET", task+"/acceptance/report", nil, nil, http.StatusOK); err != nil {
			return err
		}
		reports = append(reports, time.Since(t0))
	}
	fmt.Printf("batch label update of 50 samples (%d rounds): %s\n", len(updates), percentiles(updates))
	fmt.Printf("acceptance report over the task (%d rounds): %s\n", len(reports), percentiles(reports))
	return nil
}

func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "no rounds"
	}
	slices.Sort(d)
	at := func(p float64) time.Duration {
		return d[min(len(d)-1, int(float64(len(d))*p))].Round(10 * time.Microsecond)
	}
	return fmt.Sprintf("p50 %s p99 %s max %s", at(0.5), at(0.99), d[len(d)-1].Round(10*time.Microsecond))
}
