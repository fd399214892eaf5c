package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/obs/s3store"
	"github.com/atelier-dev/atelier/internal/server"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// replicaSet is several `atelier serve` processes sharing one PostgreSQL
// database, one S3 object store and one key-encryption key file: the
// scaled-out deployment of docs/deploy.md, on loopback ports.
type replicaSet struct {
	t        *testing.T
	replicas []*serveProcess
	db       *store.DB // the test's own connection to the shared database
	s3       *s3store.Store
	account  iam.Account
	token    string
}

// startReplicas starts n replicas with the given lease; the first one
// bootstraps the shared database, the others join it.
func startReplicas(t *testing.T, n int, lease time.Duration) *replicaSet {
	t.Helper()
	if !slices.Contains(storetest.Engines(), store.Postgres) {
		t.Skipf("%s is not set: replicas share PostgreSQL", storetest.EnvPostgres)
	}
	dsn := storetest.Migrated(t, store.Postgres)
	fake := httptest.NewUnstartedServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	fake.Config.ErrorLog = log.New(io.Discard, "", 0)
	fake.Start()
	t.Cleanup(fake.Close)
	const ak, sk = "replicas-ak", "replicas-sk"
	s3, err := s3store.New(t.Context(), s3store.Config{Endpoint: fake.URL, AccessKey: ak, SecretKey: sk, Region: "us-east-1", PathStyle: true})
	if err != nil {
		t.Fatalf("connect to the test's S3 server: %v", err)
	}
	kek := filepath.Join(t.TempDir(), "secrets.key")
	// The secret key goes through the environment, as an operator's
	// unit file would pass it, not on the command line.
	env := []string{"ATELIER_OBS_SECRET_KEY=" + sk}
	flags := []string{"--database", dsn, "--obs-endpoint", fake.URL, "--obs-access-key", ak, "--obs-region", "us-east-1",
		"--secrets-key-file", kek, "--lease-ttl", lease.String()}
	rs := &replicaSet{t: t, s3: s3}
	bin := atelierBinary(t)
	rs.replicas = append(rs.replicas, startServerEnv(t, bin, env, flags...))
	for range n - 1 {
		rs.replicas = append(rs.replicas, startServerEnv(t, bin, env, flags...))
	}
	data, err := os.ReadFile(filepath.Join(rs.replicas[0].dataDir, server.BootstrapFile))
	if err != nil {
		t.Fatalf("the first replica wrote no bootstrap file: %v", err)
	}
	if err := json.Unmarshal(data, &rs.account); err != nil {
		t.Fatalf("bootstrap file: %v", err)
	}
	if rs.db, err = store.Open(t.Context(), dsn, t.TempDir()); err != nil {
		t.Fatalf("open the shared database: %v", err)
	}
	t.Cleanup(func() { rs.db.Close() })
	a := rs.account
	// A token is signed with a key every replica shares: one from replica
	// one is good on all of them.
	st, hdr, body := rs.call(0, http.MethodPost, "/v3/auth/tokens", servertest.TokenRequest(a.DomainName, a.UserName, a.Password, a.ProjectName), nil)
	if st != http.StatusCreated {
		t.Fatalf("sign in through replica 0: %d %s", st, body)
	}
	rs.token = hdr.Get("X-Subject-Token")
	return rs
}

// call sends a request to replica i and returns its status, headers and body.
func (rs *replicaSet) call(i int, method, path string, body any, headers map[string]string) (int, http.Header, []byte) {
	rs.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			rs.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(rs.t.Context(), method, "http://"+rs.replicas[i].addr+path, r)
	if err != nil {
		rs.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if rs.token != "" {
		req.Header.Set("X-Auth-Token", rs.token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rs.t.Fatalf("%s %s on replica %d: %v", method, path, i, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		rs.t.Fatalf("%s %s on replica %d: read the answer: %v", method, path, i, err)
	}
	return resp.StatusCode, resp.Header, data
}

// api sends a ModelArts request under /v2/{project_id} to replica i and
// decodes the JSON answer, failing the test on another status than want.
func (rs *replicaSet) api(i int, want int, method, path string, body any, headers map[string]string) map[string]any {
	rs.t.Helper()
	st, _, data := rs.call(i, method, "/v2/"+rs.account.ProjectID+path, body, headers)
	if st != want {
		rs.t.Fatalf("%s %s on replica %d: %d %s, want %d", method, path, i, st, data, want)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		rs.t.Fatalf("%s %s on replica %d: the answer is not JSON: %s", method, path, i, data)
	}
	return out
}

// startedOn returns the index of the live replica (other than skip) whose
// log says it started the task, or -1.
func (rs *replicaSet) startedOn(taskID string, skip int) (int, string) {
	re := regexp.MustCompile(`msg="task started" .*task=` + taskID + `\b.*`)
	for i, r := range rs.replicas {
		if i == skip {
			continue
		}
		if line := re.FindString(r.text()); line != "" {
			return i, line
		}
	}
	return -1, ""
}

func (rs *replicaSet) count(query string, args ...any) int64 {
	rs.t.Helper()
	var n int64
	if err := rs.db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		rs.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestReplicasTakeOverAnImport: three replicas on one PostgreSQL database
// and one S3 store. An import of 50,000 samples is requested through one
// replica; the replica that runs it is killed with SIGKILL mid-way (no
// shutdown, its lease left to lapse); another replica takes the import over
// within the lease and about a second, resumes after the last committed
// batch, and the dataset ends with exactly 50,000 samples, none twice. The
// task's log lines name the request that asked for it on both replicas.
func TestReplicasTakeOverAnImport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three atelier processes")
	}
	t.Parallel()
	const lease = 3 * time.Second
	rs := startReplicas(t, 3, lease)
	ctx := context.Background()
	for _, b := range []string{"data-in", "data-out"} {
		if err := rs.s3.CreateBucket(ctx, b); err != nil {
			t.Fatalf("create bucket %s: %v", b, err)
		}
	}
	const samples = 50_000
	var manifest strings.Builder
	for i := range samples {
		fmt.Fprintf(&manifest, `{"source":"obs://data-in/img/%06d.jpg","annotation":[{"type":"modelarts/image_classification","name":"l%d"}]}`+"\n", i, i%5)
	}
	if _, err := rs.s3.Put(ctx, "data-in", "big/in.manifest", strings.NewReader(manifest.String()), obs.PutOptions{}); err != nil {
		t.Fatalf("put the manifest: %v", err)
	}

	// The dataset is created through replica 1, the import asked of
	// replica 2, with a request id of the caller's.
	ds := rs.api(1, http.StatusCreated, http.MethodPost, "/datasets", map[string]any{
		"dataset_name": "replicated", "dataset_type": 0, "work_path_type": 0, "work_path": "/data-out/replicated/",
		"data_sources": []any{map[string]any{"data_type": 0, "data_path": "/data-in/replicated/"}},
	}, nil)
	dsID, _ := ds["dataset_id"].(string)
	const requestID = "replicas-import-0001"
	imp := rs.api(2, http.StatusOK, http.MethodPost, "/datasets/"+dsID+"/import-tasks",
		map[string]any{"import_path": "/data-in/big/in.manifest"}, map[string]string{"X-Request-Id": requestID})
	taskID, _ := imp["task_id"].(string)
	if taskID == "" {
		t.Fatalf("no task_id in %v", imp)
	}

	// Wait until the replica running it has committed part of it.
	var victim int
	deadline := time.Now().Add(2 * time.Minute)
	for {
		victim, _ = rs.startedOn(taskID, -1)
		if victim >= 0 && rs.count(`SELECT cp_succeeded FROM tasks WHERE id = $1`, taskID) > 0 {
			break
		}
		if rs.count(`SELECT count(*) FROM tasks WHERE id = $1 AND status NOT IN ('QUEUED', 'RUNNING')`, taskID) > 0 {
			t.Fatalf("the import ended before any replica was killed: %s", rs.api(0, http.StatusOK, http.MethodGet, "/datasets/"+dsID+"/import-tasks/"+taskID, nil, nil))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replica committed part of the import within 2 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := rs.replicas[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rs.replicas[victim].wait(t, 10*time.Second)
	killed := time.Now()
	done := rs.count(`SELECT cp_succeeded FROM tasks WHERE id = $1`, taskID)
	t.Logf("replica %d killed with %d of %d samples committed", victim, done, samples)
	if done >= samples {
		t.Fatalf("the import had committed all %d samples before the kill", done)
	}

	// Another replica takes it over once the lease lapses.
	var heir int
	var line string
	for {
		if heir, line = rs.startedOn(taskID, victim); heir >= 0 {
			break
		}
		if time.Since(killed) > lease+30*time.Second {
			t.Fatalf("no other replica took the import over %v after the kill", time.Since(killed))
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(killed)
	t.Logf("replica %d took the import over %v after the kill", heir, took)
	if took > lease+2*time.Second {
		t.Errorf("the import was taken over %v after its replica was killed, want within the lease (%v) + 2 s", took, lease)
	}
	if !strings.Contains(line, "request_id="+requestID) {
		t.Errorf("the taking-over replica's line does not name the request that queued the import (%s): %s", requestID, line)
	}
	if _, first := rs.startedOn(taskID, heir); !strings.Contains(first, "request_id="+requestID) {
		t.Errorf("the first replica's line does not name the request that queued the import (%s): %s", requestID, first)
	}

	// It finishes there, with every sample exactly once.
	var out map[string]any
	for {
		out = rs.api(heir, http.StatusOK, http.MethodGet, "/datasets/"+dsID+"/import-tasks/"+taskID, nil, nil)
		if s := out["status"]; s == "COMPLETED" || s == "FAILED" {
			break
		}
		if time.Since(killed) > 2*time.Minute {
			t.Fatalf("the import did not end within 2 minutes of the kill: %v", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out["status"] != "COMPLETED" || out["imported_sample_count"] != float64(samples) || out["failed_sample_count"] != 0.0 {
		t.Errorf("after the take-over the import is %v", out)
	}
	if n := rs.count(`SELECT count(*) FROM dataset_samples WHERE dataset_id = $1`, dsID); n != samples {
		t.Errorf("the dataset holds %d samples, want %d", n, samples)
	}
	if n := rs.count(`SELECT count(DISTINCT source) FROM dataset_samples WHERE dataset_id = $1`, dsID); n != samples {
		t.Errorf("the dataset holds %d distinct sources, want %d (a sample was imported twice)", n, samples)
	}
	if n := rs.count(`SELECT count(*) FROM dataset_sample_labels WHERE dataset_id = $1`, dsID); n != samples {
		t.Errorf("the dataset holds %d sample labels, want %d", n, samples)
	}
	stats := rs.api(heir, http.StatusOK, http.MethodGet, "/datasets/"+dsID+"/data-annotations/stats", nil, nil)
	if ss, _ := stats["sample_stats"].(map[string]any); ss["total"] != float64(samples) {
		t.Errorf("the stats every replica serves count %v samples, want %d", ss, samples)
	}
	if runs := rs.count(`SELECT runs FROM tasks WHERE id = $1`, taskID); runs != 2 {
		t.Errorf("the task ran %d times, want 2 (the killed run and the take-over)", runs)
	}
}
