// Package executortest is the contract suite every executor.Executor must
// pass, with helpers for executors' own tests. It runs real tasks: /bin/sh
// scripts and printf, which must exist where the executor runs them, and it
// reads task logs from the paths it gives, so those paths must be visible to
// the test (a shared file system for a cluster executor).
//
// It owns no executor and tests nothing an executor does only on one
// kind of machine (process groups, re-attachment after a restart, /proc):
// those belong to each executor's own tests.
package executortest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// Timeout bounds every wait for a task in the suite.
const Timeout = 15 * time.Second

// Run runs the suite. newExecutor is called once per test, which may run in
// parallel with others.
func Run(t *testing.T, newExecutor func(t *testing.T) executor.Executor) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, executor.Executor)
	}{
		{"two-tasks-topology-env-and-exit-codes", testTopology},
		{"argv-arrives-verbatim", testArgvVerbatim},
		{"log-appends-stdout-and-stderr-interleaved", testLog},
		{"exit-statuses", testExitStatuses},
		{"running-state", testRunning},
		{"terminate-trapping-task-exits-cleanly", testTerminateTrapped},
		{"terminate-default-task-dies-of-sigterm", testTerminateDefault},
		{"terminate-ignoring-task-is-killed-after-grace", testTerminateIgnored},
		{"terminate-is-idempotent", testTerminateIdempotent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newExecutor(t))
		})
	}
}

// Task returns a task that runs argv in a new temporary directory, with its
// log and exit status files in another.
func Task(t *testing.T, index int, argv ...string) executor.Task {
	t.Helper()
	dir, out := t.TempDir(), t.TempDir()
	id := "worker-" + strconv.Itoa(index)
	return executor.Task{
		ID:           id,
		Index:        index,
		Dir:          dir,
		Command:      argv,
		LogPath:      filepath.Join(out, "logs", id+".log"),
		ExitCodePath: filepath.Join(out, "status", id+".exit"),
	}
}

// Sh is the argv that runs script with /bin/sh, with args as $1….
func Sh(script string, args ...string) []string {
	return append([]string{"/bin/sh", "-c", script, "sh"}, args...)
}

// Start starts a job with the executor's first flavor and returns its
// handles, failing the test on error. When the test ends the tasks are
// terminated and waited for, so that nothing writes into the test's
// temporary directories while they are removed.
func Start(t *testing.T, ex executor.Executor, tasks ...executor.Task) []executor.Handle {
	t.Helper()
	spec := executor.JobSpec{JobID: "job-" + strings.ReplaceAll(t.Name(), "/", "-"), Tasks: tasks}
	if fs := ex.Flavors(); len(fs) > 0 {
		spec.Flavor = fs[0]
	}
	hs, err := ex.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if len(hs) != len(tasks) {
		t.Fatalf("Start returned %d handles for %d tasks", len(hs), len(tasks))
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for _, h := range hs {
			if err := ex.Terminate(ctx, h, 0); err != nil {
				t.Errorf("terminate at cleanup: %v", err)
			}
		}
		deadline := time.Now().Add(Timeout)
		for _, h := range hs {
			for {
				st, err := ex.State(ctx, h)
				if err != nil || !st.Running {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("task still running %v after Terminate", Timeout)
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
	return hs
}

// WaitEnded polls until the task has ended (exited or lost) and returns
// its state. A task still waiting for resources (a cluster executor's
// pending job: neither running, exited nor lost) has not ended.
func WaitEnded(t *testing.T, ex executor.Executor, h executor.Handle) executor.State {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		st, err := ex.State(context.Background(), h)
		if err != nil {
			t.Fatalf("State: %v", err)
		}
		if st.Exited || st.Lost {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("task still running or pending after %v: %+v", Timeout, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitExited waits for the task to end and checks that it exited with code
// and, when signal is not "", of that signal.
func WaitExited(t *testing.T, ex executor.Executor, h executor.Handle, code int, signal string) executor.State {
	t.Helper()
	st := WaitEnded(t, ex, h)
	if !st.Exited || st.Lost || st.ExitCode != code || st.Signal != signal {
		t.Fatalf("state = %+v, want exited with code %d, signal %q", st, code, signal)
	}
	return st
}

// WaitLog polls until the file at path contains s and returns its content.
func WaitLog(t *testing.T, path, s string) string {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), s) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %s does not contain %q after %v; it holds:\n%s", path, s, Timeout, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReadLog returns a task's log.
func ReadLog(t *testing.T, task executor.Task) string {
	t.Helper()
	b, err := os.ReadFile(task.LogPath)
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	return string(b)
}

// EnvLines parses "KEY=value" lines.
func EnvLines(log string) map[string]string {
	m := make(map[string]string)
	for _, line := range strings.Split(log, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

const printEnv = `for k in VC_TASK_INDEX VC_WORKER_NUM VC_WORKER_HOSTS MA_NUM_HOSTS MA_CURRENT_IP RANK WORLD_SIZE MASTER_ADDR MASTER_PORT CUSTOM; do
	eval "printf '%s=%s\n' $k \"\$$k\""
done
exit "$VC_TASK_INDEX"`

func testTopology(t *testing.T, ex executor.Executor) {
	const custom = `a b;$(echo no)'"` + "`x`"
	tasks := []executor.Task{Task(t, 0, Sh(printEnv)...), Task(t, 1, Sh(printEnv)...)}
	// A job's tasks share their working directory, as the training service
	// gives it to them (and Kubernetes' one pod template needs).
	tasks[1].Dir = tasks[0].Dir
	for i := range tasks {
		tasks[i].Env = map[string]string{"CUSTOM": custom}
	}
	hs := Start(t, ex, tasks...)
	var hosts, port string
	for i, h := range hs {
		st := WaitExited(t, ex, h, i, "")
		if st.StartedAt.IsZero() || st.EndedAt.IsZero() {
			t.Errorf("task %d: StartedAt %v, EndedAt %v: want both set", i, st.StartedAt, st.EndedAt)
		}
		env := EnvLines(ReadLog(t, tasks[i]))
		want := map[string]string{
			"VC_TASK_INDEX": strconv.Itoa(i),
			"RANK":          strconv.Itoa(i),
			"VC_WORKER_NUM": "2",
			"WORLD_SIZE":    "2",
			"MA_NUM_HOSTS":  "2",
			"CUSTOM":        custom,
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("task %d: %s=%q, want %q", i, k, env[k], v)
			}
		}
		hs := strings.Split(env["VC_WORKER_HOSTS"], ",")
		if len(hs) != 2 || slices.Contains(hs, "") {
			t.Errorf("task %d: VC_WORKER_HOSTS=%q, want two hosts", i, env["VC_WORKER_HOSTS"])
		}
		if env["MASTER_ADDR"] != hs[0] {
			t.Errorf("task %d: MASTER_ADDR=%q, want the first of VC_WORKER_HOSTS %q", i, env["MASTER_ADDR"], env["VC_WORKER_HOSTS"])
		}
		if env["MA_CURRENT_IP"] == "" {
			t.Errorf("task %d: MA_CURRENT_IP is empty", i)
		}
		if p, err := strconv.Atoi(env["MASTER_PORT"]); err != nil || p <= 0 || p > 65535 {
			t.Errorf("task %d: MASTER_PORT=%q, want a port", i, env["MASTER_PORT"])
		}
		if i == 0 {
			hosts, port = env["VC_WORKER_HOSTS"], env["MASTER_PORT"]
		} else if env["VC_WORKER_HOSTS"] != hosts || env["MASTER_PORT"] != port {
			t.Errorf("tasks disagree: VC_WORKER_HOSTS %q and %q, MASTER_PORT %q and %q", hosts, env["VC_WORKER_HOSTS"], port, env["MASTER_PORT"])
		}
	}
}

func testArgvVerbatim(t *testing.T, ex executor.Executor) {
	args := []string{
		"a;b", "$(touch pwned)", "`touch pwned2`", "$HOME", "${PATH}", "*", "'single'", `"double"`,
		`back\slash`, "new\nline", "", "  spaced  out ", "-n", "--lr=0.1; rm -rf /", "|", "&&", ">out", "ünïcødé",
	}
	task := Task(t, 0, append([]string{"printf", `[%s]\n`}, args...)...)
	h := Start(t, ex, task)[0]
	WaitExited(t, ex, h, 0, "")
	var want strings.Builder
	for _, a := range args {
		fmt.Fprintf(&want, "[%s]\n", a)
	}
	if got := ReadLog(t, task); got != want.String() {
		t.Errorf("arguments arrived as\n%s\nwant\n%s", got, want.String())
	}
	for _, f := range []string{"pwned", "pwned2", "out"} {
		if _, err := os.Stat(filepath.Join(task.Dir, f)); err == nil {
			t.Errorf("an argument was run by a shell: %s exists", f)
		}
	}
}

func testLog(t *testing.T, ex executor.Executor) {
	task := Task(t, 0, Sh(`echo out1; echo err1 >&2; echo out2; echo err2 >&2`)...)
	if err := os.MkdirAll(filepath.Dir(task.LogPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(task.LogPath, []byte("earlier run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := Start(t, ex, task)[0]
	WaitExited(t, ex, h, 0, "")
	if got, want := ReadLog(t, task), "earlier run\nout1\nerr1\nout2\nerr2\n"; got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
}

func testExitStatuses(t *testing.T, ex executor.Executor) {
	for _, tc := range []struct {
		name   string
		script string
		code   int
		signal string
	}{
		{"zero", "exit 0", 0, ""},
		{"three", "exit 3", 3, ""},
		{"max", "exit 255", 255, ""},
		{"own-sigkill", "kill -KILL $$", 137, "SIGKILL"},
		{"own-sigsegv", "kill -SEGV $$", 139, "SIGSEGV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := Start(t, ex, Task(t, 0, Sh(tc.script)...))[0]
			WaitExited(t, ex, h, tc.code, tc.signal)
		})
	}
}

func testRunning(t *testing.T, ex executor.Executor) {
	task := Task(t, 0, Sh(`echo ready; exec sleep 60`)...)
	h := Start(t, ex, task)[0]
	WaitLog(t, task.LogPath, "ready")
	st, err := ex.State(context.Background(), h)
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	if !st.Running || st.Exited || st.Lost || st.StartedAt.IsZero() {
		t.Errorf("state = %+v, want running with a start time", st)
	}
}

func testTerminateTrapped(t *testing.T, ex executor.Executor) {
	task := Task(t, 0, Sh(`trap 'echo cleanup; exit 0' TERM; echo ready; while :; do sleep 0.05; done`)...)
	h := Start(t, ex, task)[0]
	WaitLog(t, task.LogPath, "ready")
	if err := ex.Terminate(context.Background(), h, 10*time.Second); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	WaitExited(t, ex, h, 0, "")
	if log := ReadLog(t, task); !strings.Contains(log, "cleanup") {
		t.Errorf("log %q lacks the TERM trap's output", log)
	}
}

func testTerminateDefault(t *testing.T, ex executor.Executor) {
	task := Task(t, 0, Sh(`echo ready; exec sleep 60`)...)
	h := Start(t, ex, task)[0]
	WaitLog(t, task.LogPath, "ready")
	if err := ex.Terminate(context.Background(), h, 10*time.Second); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	WaitExited(t, ex, h, 143, "SIGTERM")
}

func testTerminateIgnored(t *testing.T, ex executor.Executor) {
	task := Task(t, 0, Sh(`trap '' TERM; echo ready; while :; do sleep 0.05; done`)...)
	h := Start(t, ex, task)[0]
	WaitLog(t, task.LogPath, "ready")
	// Long enough that a cluster executor's API round trips (two, on a
	// loaded machine: well over 150 ms) are told apart from waiting for
	// the grace period; whole seconds, as Kubernetes counts them.
	const grace = 2 * time.Second
	start := time.Now()
	if err := ex.Terminate(context.Background(), h, grace); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if d := time.Since(start); d > grace/2 {
		t.Errorf("Terminate took %v: it must return once SIGTERM is sent", d)
	}
	WaitExited(t, ex, h, 137, "SIGKILL")
	if d := time.Since(start); d < grace {
		t.Errorf("task killed after %v, before the %v grace period", d, grace)
	}
}

func testTerminateIdempotent(t *testing.T, ex executor.Executor) {
	task := Task(t, 0, Sh(`echo ready; exec sleep 60`)...)
	h := Start(t, ex, task)[0]
	WaitLog(t, task.LogPath, "ready")
	ctx := context.Background()
	for i := range 2 {
		if err := ex.Terminate(ctx, h, time.Second); err != nil {
			t.Fatalf("Terminate %d: %v", i+1, err)
		}
	}
	WaitExited(t, ex, h, 143, "SIGTERM")
	if err := ex.Terminate(ctx, h, 0); err != nil {
		t.Errorf("Terminate of an ended task: %v", err)
	}
	WaitExited(t, ex, h, 143, "SIGTERM")
}
