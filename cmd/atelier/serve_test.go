package main

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serveProcess is a running `atelier serve` process and its log.
type serveProcess struct {
	cmd     *exec.Cmd
	addr    string
	dataDir string
	mu      sync.Mutex
	log     bytes.Buffer
	lines   chan string // every log line, as it comes
	exited  chan error
}

var servingAddr = regexp.MustCompile(`msg="atelier is serving" listen=(\S+)`)

// startServer runs bin serve (bin is atelierBinary) on a new data
// directory, with any further flags, and returns once it serves.
func startServer(t *testing.T, bin string, flags ...string) *serveProcess {
	t.Helper()
	return startServerEnv(t, bin, nil, flags...)
}

// startServerEnv is startServer with env added to the process's environment.
func startServerEnv(t *testing.T, bin string, env []string, flags ...string) *serveProcess {
	t.Helper()
	dataDir := filepath.Join(t.TempDir(), "data")
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"}, flags...)
	s := &serveProcess{cmd: exec.Command(bin, args...), dataDir: dataDir, lines: make(chan string, 1000), exited: make(chan error, 1)}
	s.cmd.Env = append(append(os.Environ(), "ATELIER_DATABASE=", "ATELIER_OBS_ENDPOINT=", runAsAtelier+"=1"), env...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
	})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			select {
			case s.lines <- sc.Text():
			default:
			}
		}
		s.exited <- s.cmd.Wait()
		close(s.exited)
	}()
	m := s.waitFor(t, servingAddr, 60*time.Second)
	s.addr = m[1]
	return s
}

// waitFor waits for a log line matching re and returns its submatches.
func (s *serveProcess) waitFor(t *testing.T, re *regexp.Regexp, d time.Duration) []string {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l := <-s.lines:
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-timeout:
			t.Fatalf("no log line matching %s within %v; the log:\n%s", re, d, s.text())
		}
	}
}

// wait waits for the process to exit and returns how.
func (s *serveProcess) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-s.exited:
		return err
	case <-time.After(d):
		t.Fatalf("the server did not exit within %v; its log:\n%s", d, s.text())
		return nil
	}
}

func (s *serveProcess) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// TestServeStopsOnSignal runs the real binary, stops it with SIGINT (Ctrl-C)
// or SIGTERM, and holds the shutdown to what an operator should see: a
// graceful stop, a final "atelier stopped" line saying how long it took,
// exit code 0, and no "Hard stop" (River's words for cancelling work); a
// second signal stops it at once.
func TestServeStopsOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the atelier command in child processes")
	}
	bin := atelierBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			s := startServer(t, bin)
			if err := s.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := s.wait(t, 30*time.Second)
			text := s.text()
			if err != nil {
				t.Errorf("after %v the server exited with %v, want code 0; its log:\n%s", sig, err, text)
			}
			lines := strings.Split(strings.TrimSpace(text), "\n")
			last := lines[len(lines)-1]
			if !regexp.MustCompile(`msg="atelier stopped" shutdown=\d+(\.\d+)?m?s$`).MatchString(last) {
				t.Errorf("last log line is %q; want \"atelier stopped\" with the shutdown's duration. Log:\n%s", last, text)
			}
			if !strings.Contains(text, `msg="stopping: `) || !strings.Contains(text, "signal="+sigName(sig)) {
				t.Errorf("the log does not say the server is stopping on %v:\n%s", sig, text)
			}
			if strings.Contains(strings.ToLower(text), "hard stop") {
				t.Errorf("a first %v must stop gracefully, but the log says hard stop:\n%s", sig, text)
			}
		})
	}
	t.Run("second-signal-forces", func(t *testing.T) {
		s := startServer(t, bin)
		// A request whose header never ends keeps the graceful shutdown
		// waiting (for the server's 10 s header timeout).
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the server reads the partial header: the connection is active
		if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		s.waitFor(t, regexp.MustCompile(`msg="stopping: `), 10*time.Second)
		start := time.Now()
		if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		err = s.wait(t, 5*time.Second)
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
			t.Errorf("after a second SIGINT the server exited with %v, want exit code 1; its log:\n%s", err, s.text())
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the second SIGINT took %v to stop the server, want at once", d)
		}
		if !strings.Contains(s.text(), `msg="stopping at once`) {
			t.Errorf("the log does not say the server stops at once:\n%s", s.text())
		}
	})
}

// sigName is how the log names a signal (os.Signal's String).
func sigName(s syscall.Signal) string {
	if strings.Contains(s.String(), " ") {
		return `"` + s.String() + `"`
	}
	return s.String()
}
