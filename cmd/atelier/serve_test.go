package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServeStopsOnSignal runs the real binary, stops it with SIGINT (Ctrl-C)
// or SIGTERM, and holds the shutdown to what an operator should see: a
// graceful stop, a final "atelier stopped" line saying how long it took,
// exit code 0, and no "Hard stop" (River's words for cancelling work).
func TestServeStopsOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "atelier")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "serve", "--data-dir", filepath.Join(t.TempDir(), "data"), "--listen", "127.0.0.1:0")
			cmd.Env = append(os.Environ(), "ATELIER_DATABASE=", "ATELIER_OBS_ENDPOINT=")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var (
				mu      sync.Mutex
				log     bytes.Buffer
				serving = make(chan struct{})
				done    = make(chan struct{})
			)
			go func() {
				defer close(done)
				sc := bufio.NewScanner(stderr)
				once := sync.Once{}
				for sc.Scan() {
					mu.Lock()
					log.WriteString(sc.Text() + "\n")
					mu.Unlock()
					if strings.Contains(sc.Text(), `msg="atelier is serving"`) {
						once.Do(func() { close(serving) })
					}
				}
			}()
			select {
			case <-serving:
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("the server did not start in 60s; its log:\n%s", log.String())
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { <-done; exited <- cmd.Wait() }()
			select {
			case err = <-exited:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
				t.Fatalf("the server did not stop within 30s of %v; its log:\n%s", sig, log.String())
			}
			text := log.String()
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) || err != nil {
				t.Errorf("after %v the server exited with %v, want code 0; its log:\n%s", sig, err, text)
			}
			lines := strings.Split(strings.TrimSpace(text), "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, `msg="atelier stopped"`) || !strings.Contains(last, "shutdown=") {
				t.Errorf("last log line is %q; want \"atelier stopped\" with the shutdown's duration. Log:\n%s", last, text)
			}
			if !strings.Contains(text, "stopping") || !strings.Contains(text, "signal="+sigName(sig)) {
				t.Errorf("the log does not say the server is stopping on %v:\n%s", sig, text)
			}
			if strings.Contains(strings.ToLower(text), "hard stop") {
				t.Errorf("a first %v must stop gracefully, but the log says hard stop:\n%s", sig, text)
			}
		})
	}
}

// sigName is how the log names a signal (os.Signal's String).
func sigName(s syscall.Signal) string {
	if strings.Contains(s.String(), " ") {
		return `"` + s.String() + `"`
	}
	return s.String()
}
