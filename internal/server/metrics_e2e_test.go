package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	atelierconfig "github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
)

// TestMetricsEndpoint runs a server with --metrics-listen, makes requests
// that are allowed, denied by no grant, and to no route, and a training
// job, then scrapes /metrics: the requests are counted by route pattern
// (never by a path with IDs), method and status with their latency, the
// decisions by result, and the job by its phase; the API's own listener
// serves no metrics.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite,
		Logger:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Configure: func(c *atelierconfig.Config) { c.MetricsListen = "127.0.0.1:0" }})
	m := regexp.MustCompile(`msg="metrics are served" metrics_listen=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no log line gives the metrics listener's address; the log:\n%s", logs.String())
	}
	a := env.Account
	admin := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	for range 3 {
		if _, err := admin.ListAlgorithms(&model.ListAlgorithmsRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	ak, sk := newUserWithActions(t, env.IAMClient(t, a.AccessKey, a.SecretKey), a.DomainID, a.ProjectID, "nobody-much", "modelarts:dataset:getDataset")
	if _, err := env.ModelArtsClient(t, ak, sk, a.ProjectID).ListAlgorithms(&model.ListAlgorithmsRequest{}); err == nil {
		t.Fatal("a user without modelarts:aiAlgorithm:get listed algorithms")
	}
	// No route: an unknown path under a project asks for credentials first.
	resp, err := env.HTTP.Get(env.URL + "/v2/" + a.ProjectID + "/no-such-thing/123")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	putObject(t, env, "metrics", "code/sleep.py", sleepScript)
	job := createSleeper(t, admin, "metrics", "metrics", 0.1)
	waitPhase(t, admin, job, "Completed", "Failed", "Abnormal")

	scrape := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	status, body := scrape("http://" + m[1] + "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	for _, want := range []string{
		`atelier_http_requests_total{code="200",method="GET",route="GET /v2/{project_id}/algorithms"} 3`,
		`atelier_http_requests_total{code="403",method="GET",route="GET /v2/{project_id}/algorithms"} 1`,
		`atelier_http_requests_total{code="401",method="GET",route="unmatched"} 1`,
		`atelier_http_request_duration_seconds_count{method="GET",route="GET /v2/{project_id}/algorithms"} 4`,
		`atelier_authorization_decisions_total{kind="route",result="deny"}`,
		`atelier_authorization_decisions_total{kind="route",result="allow"}`,
		`atelier_training_jobs{phase="Completed"} 1`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the metrics lack %q", want)
		}
	}
	if strings.Contains(body, a.ProjectID) || strings.Contains(body, a.DomainID) {
		t.Error("the metrics name a project or an account")
	}
	if status, body := scrape(env.URL + "/metrics"); status == http.StatusOK || strings.Contains(body, "atelier_http_requests_total") {
		t.Errorf("the API's listener served metrics: %d", status)
	}
}
