package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeDebugListener runs the binary with --debug-listen and holds the
// profiling listener to what an operator relies on: the profiles answer on
// the loopback address it logs, the command line (which may hold secrets)
// is not among them, the API's own listener serves no profile, and the
// server still stops cleanly (exit code 0) on SIGTERM.
func TestServeDebugListener(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the atelier command in a child process")
	}
	s := startServer(t, atelierBinary(t), "--debug-listen", "127.0.0.1:0")
	m := regexp.MustCompile(`msg="profiles are served \(loopback only\)" debug_listen=(\S+)`).FindStringSubmatch(s.text())
	if m == nil {
		t.Fatalf("no log line gives the profiling listener's address; the log:\n%s", s.text())
	}
	debug := "http://" + m[1]
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: read the body: %v", url, err)
		}
		return resp.StatusCode, string(body)
	}
	for _, tc := range []struct {
		path   string
		status int
		holds  string
	}{
		{"/debug/pprof/", http.StatusOK, "goroutine"},
		{"/debug/pprof/heap?debug=1", http.StatusOK, "heap profile:"},
		{"/debug/pprof/goroutine?debug=1", http.StatusOK, "goroutine profile:"},
		{"/debug/pprof/mutex?debug=1", http.StatusOK, "sampling period=10"},
		{"/debug/pprof/profile?seconds=1", http.StatusOK, ""},
		{"/debug/pprof/cmdline", http.StatusNotFound, ""},
		{"/v3/auth/projects", http.StatusNotFound, ""},
	} {
		status, body := get(debug + tc.path)
		if status != tc.status || !strings.Contains(body, tc.holds) {
			t.Errorf("profiling listener GET %s: %d %.200q; want %d holding %q", tc.path, status, body, tc.status, tc.holds)
		}
	}
	if status, body := get("http://" + s.addr + "/debug/pprof/heap?debug=1"); status == http.StatusOK || strings.Contains(body, "heap profile:") {
		t.Errorf("the API's listener served a profile: %d %.200q", status, body)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.wait(t, 30*time.Second); err != nil {
		t.Errorf("with the profiling listener on, SIGTERM ended the server with %v, want exit code 0; its log:\n%.3000s", err, s.text())
	}
}
