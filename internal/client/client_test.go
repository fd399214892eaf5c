package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEngineFor(t *testing.T) {
	engines := []Engine{{ID: "python3", Name: "Python", Version: "python3.11"}, {ID: "bash", Name: "Bash", Version: "bash"}}
	tests := []struct{ boot, want, err string }{
		{"train.py", "python3", ""},
		{"sub/Run.PY", "python3", ""},
		{"run.sh", "bash", ""},
		{"main.go", "", `no engine runs ".go" files`},
	}
	for _, tc := range tests {
		t.Run(tc.boot, func(t *testing.T) {
			e, err := EngineFor(engines, tc.boot)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("EngineFor(%s) = %v, %v; want error %q", tc.boot, e, err, tc.err)
				}
				return
			}
			if err != nil || e.ID != tc.want {
				t.Fatalf("EngineFor(%s) = %v, %v; want %s", tc.boot, e, err, tc.want)
			}
		})
	}
	if _, err := EngineFor(engines[1:], "x.py"); err == nil || !strings.Contains(err.Error(), "Bash (bash)") {
		t.Fatalf("no Python engine: %v; want an error listing the engines", err)
	}
}

// FollowLog prints each byte of the log once, marks what it could not see
// (more growth between two polls than one preview holds), and stops at a
// final phase.
func TestFollowLog(t *testing.T) {
	var mu sync.Mutex
	step := 0
	logs := []string{"", "a\n", "a\nb\n", "a\nb\nc\nd\ne\n", "a\nb\nc\nd\ne\n"}
	phases := []string{"Pending", "Running", "Running", "Running", "Completed"}
	const window = 4 // the fake preview keeps the last 4 bytes
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/logs/preview") {
			l := logs[step]
			tail := l[max(0, len(l)-window):]
			_ = json.NewEncoder(w).Encode(LogPreview{Content: tail, CurrentSize: int64(len(tail)), FullSize: int64(len(l))})
			step = min(step+1, len(logs)-1)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"metadata": map[string]any{"id": "j1"}, "status": map[string]any{"phase": phases[step]}})
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, ProjectID: "p1", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	job, err := c.FollowLog(context.Background(), "j1", "worker-0", &out, time.Millisecond)
	if err != nil || job.Status.Phase != "Completed" {
		t.Fatalf("FollowLog = %+v, %v", job, err)
	}
	if want := "a\nb\n[… 2 bytes of log skipped …]\nd\ne\n"; out.String() != want {
		t.Fatalf("followed log %q; want %q", out.String(), want)
	}
}

func TestErrorEnvelope(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sdk-Content-Sha256") != "UNSIGNED-PAYLOAD" || !strings.HasPrefix(r.Header.Get("Authorization"), "SDK-HMAC-SHA256 ") {
			t.Errorf("upload not signed with an unsigned payload: %v", r.Header)
		}
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error_code":"ModelArts.0108","error_msg":"You are not authorized."}`))
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, ProjectID: "p1", AccessKey: "AK", SecretKey: "SK"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PutObject(context.Background(), "b", "k", strings.NewReader("x"), 1)
	if !IsCode(err, "ModelArts.0108") || err.Error() != "ModelArts.0108: You are not authorized. (HTTP 403)" {
		t.Fatalf("err = %v", err)
	}
}
