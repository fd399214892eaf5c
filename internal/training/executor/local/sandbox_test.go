package local

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
	"github.com/atelier-dev/atelier/internal/training/executor/executortest"
)

// dataDir lays out a server's data directory as the training service
// does, with secrets beside the jobs, and returns it with a task of the
// job "mine" (working directory, log and status in their places) and the
// job's mounts.
func dataDir(t *testing.T, argv ...string) (string, executor.Task, []executor.Mount) {
	t.Helper()
	data := t.TempDir()
	if err := os.Chmod(data, 0o700); err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(data, "jobs", "mine")
	for _, d := range []string{"jobs/other/user-job-dir", "jobs/mine/user-job-dir/code", "jobs/mine/logs", "jobs/mine/status",
		"jobs/mine/inputs/data", "jobs/mine/outputs/model", "obs/bucket"} {
		if err := os.MkdirAll(filepath.Join(data, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{
		"bootstrap.json": `{"password":"SECRET-BOOTSTRAP"}`, "atelier.db": "SECRET-DATABASE", "atelier.db-wal": "SECRET-WAL",
		"atelier.db-shm": "SECRET-SHM", "obs/bucket/object": "SECRET-OBJECT", "jobs/other/user-job-dir/train.py": "SECRET-OTHER-JOB",
		"jobs/mine/inputs/data/x.txt": "input-ok",
	} {
		if err := os.WriteFile(filepath.Join(data, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	task := executor.Task{ID: "worker-0", Dir: filepath.Join(job, "user-job-dir", "code"), Command: argv,
		Env:     map[string]string{"MA_JOB_DIR": filepath.Join(job, "user-job-dir")},
		LogPath: filepath.Join(job, "logs", "worker-0.log"), ExitCodePath: filepath.Join(job, "status", "worker-0.exit")}
	mounts := []executor.Mount{
		{Path: filepath.Join(job, "user-job-dir"), Writable: true},
		{Path: filepath.Join(job, "inputs"), Writable: true},
		{Path: filepath.Join(job, "outputs", "model"), Writable: true},
		{Path: filepath.Join(job, "logs")},
	}
	return data, task, mounts
}

func newSandboxed(t *testing.T, data string) *Executor {
	t.Helper()
	ex, err := New(Options{WorkRoot: filepath.Join(data, "jobs"), Protected: []string{data}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return ex
}

func startJob(t *testing.T, ex *Executor, task executor.Task, mounts []executor.Mount) executor.Handle {
	t.Helper()
	hs, err := ex.Start(context.Background(), executor.JobSpec{JobID: "mine", Tasks: []executor.Task{task}, Mounts: mounts})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = ex.Terminate(context.Background(), hs[0], 0); executortest.WaitEnded(t, ex, hs[0]) })
	return hs[0]
}

// TestSandboxHidesTheServer is the attack of issue 9: a job's code reads
// the data directory by relative and absolute paths, another job's files,
// the server's process and environment. It must read nothing of them, and
// still work in its own directories.
func TestSandboxHidesTheServer(t *testing.T) {
	const script = `try() { if out=$(cat "$2" 2>&1); then echo "READ $1: $out"; else echo "DENIED $1"; fi; }
try relative-bootstrap "$MA_JOB_DIR/../../../bootstrap.json"
try absolute-bootstrap "$1/bootstrap.json"
try database "$1/atelier.db"
try wal "$1/atelier.db-wal"
try shm "$1/atelier.db-shm"
try object "$1/obs/bucket/object"
try other-job "$1/jobs/other/user-job-dir/train.py"
try server-environ "/proc/$2/environ"
try server-cmdline "/proc/$2/cmdline"
try server-root "/proc/$2/root$1/bootstrap.json"
try host-shadow /etc/shadow
try input "$1/jobs/mine/inputs/data/x.txt"
if ls "$1" >/dev/null 2>&1 && ls "$1" | grep -qv '^jobs$'; then echo "LISTED data dir: $(ls "$1")"; fi
if ls "$1/jobs" | grep -q other; then echo "LISTED other job"; fi
echo "UID $(id -u)"
echo out > "$1/jobs/mine/outputs/model/m.bin" && echo "WROTE output"
echo x > "$1/jobs/mine/logs/forged.log" 2>/dev/null && echo "WROTE logs"
echo x > "$1/jobs/mine/status/worker-0.exit" 2>/dev/null && echo "WROTE status"
echo x > cwd.txt && echo "WROTE cwd"
env | grep -c . | sed 's/^/ENVCOUNT /'
env | grep ^ATELIER_ && echo "LEAKED env"
exit 0`
	t.Setenv("ATELIER_SECRET_FOR_TEST", "SECRET-ENV") // the server's environment
	data, task, mounts := dataDir(t)
	task.Command = executortest.Sh(script, data, strconv.Itoa(os.Getpid()))
	ex := newSandboxed(t, data)
	h := startJob(t, ex, task, mounts)
	executortest.WaitExited(t, ex, h, 0, "")
	log := executortest.ReadLog(t, task)
	if strings.Contains(log, "SECRET") || strings.Contains(log, "READ ") && !strings.Contains(log, "READ input: input-ok") ||
		strings.Count(log, "READ ") != 1 || strings.Contains(log, "LISTED") || strings.Contains(log, "LEAKED") {
		t.Errorf("the task read what it must not:\n%s", log)
	}
	for _, want := range []string{"DENIED relative-bootstrap", "DENIED database", "DENIED server-environ", "DENIED other-job",
		"WROTE output", "WROTE cwd"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	for _, bad := range []string{"WROTE logs", "WROTE status"} {
		if strings.Contains(log, bad) {
			t.Errorf("the task could write where it must not (%s):\n%s", bad, log)
		}
	}
	if os.Geteuid() == 0 && !strings.Contains(log, "UID "+strconv.Itoa(NobodyID)) {
		t.Errorf("a root server's task does not run as %d:\n%s", NobodyID, log)
	}
	if b, err := os.ReadFile(filepath.Join(data, "jobs/mine/outputs/model/m.bin")); err != nil || string(b) != "out\n" {
		t.Errorf("output written in the sandbox = %q, %v", b, err)
	}
}

// TestSandboxCheck: New refuses to run tasks when the sandbox cannot work
// or would show a protected path, unless the operator opted out.
func TestSandboxCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		opts    Options
		wantErr []string
	}{
		{"no-bubblewrap", Options{Bwrap: "/nonexistent/bwrap"}, []string{"bubblewrap", "--unsafe-no-job-sandbox"}},
		{"bubblewrap-fails", Options{Bwrap: "/bin/false"}, []string{"sandbox check failed"}},
		{"protected-path-visible", Options{Protected: []string{"/usr/share"}}, []string{"sandbox check failed", "tasks can see /usr/share"}},
		{"opted-out", Options{Bwrap: "/nonexistent/bwrap", Unsandboxed: true}, nil},
		{"works", Options{Protected: []string{t.TempDir()}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.Logger = slog.New(slog.DiscardHandler)
			_, err := New(tc.opts)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New succeeded, want the sandbox check to fail")
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

// TestSandboxRefusesForgeablePaths: a task must not be able to write its
// own exit status or log, nor be shown a protected path through a mount.
func TestSandboxRefusesForgeablePaths(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		change  func(data string, task *executor.Task, mounts *[]executor.Mount)
		wantErr string
	}{
		{"status-in-working-directory", func(_ string, task *executor.Task, _ *[]executor.Mount) {
			task.ExitCodePath = filepath.Join(task.Dir, "worker-0.exit")
		}, "could forge"},
		{"log-in-writable-mount", func(data string, task *executor.Task, _ *[]executor.Mount) {
			task.LogPath = filepath.Join(data, "jobs/mine/outputs/model/worker-0.log")
		}, "could forge"},
		{"mount-shows-data-dir", func(data string, _ *executor.Task, mounts *[]executor.Mount) {
			*mounts = append(*mounts, executor.Mount{Path: filepath.Dir(data)})
		}, "would show tasks"},
		{"working-directory-holds-data-dir", func(data string, task *executor.Task, _ *[]executor.Mount) {
			task.Dir = filepath.Dir(data)
		}, "would show tasks"},
		{"command-in-data-dir", func(data string, task *executor.Task, _ *[]executor.Mount) {
			p := filepath.Join(data, "obs", "tool")
			if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
				panic(err)
			}
			task.Command = []string{p}
		}, "tasks may not see"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data, task, mounts := dataDir(t, "true")
			tc.change(data, &task, &mounts)
			ex := newSandboxed(t, data)
			_, err := ex.Start(context.Background(), executor.JobSpec{JobID: "mine", Tasks: []executor.Task{task}, Mounts: mounts})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Start error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestSandboxShowsTheCommandsInstallation: an interpreter outside /usr
// (pyenv's, a virtualenv) runs, with its installation visible read-only.
func TestSandboxShowsTheCommandsInstallation(t *testing.T) {
	t.Parallel()
	data, task, mounts := dataDir(t)
	prefix := filepath.Join(t.TempDir(), "opt", "tool-1.0")
	if err := os.MkdirAll(filepath.Join(prefix, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(prefix, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(prefix, "lib", "lib.txt"), []byte("library-ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tool := filepath.Join(prefix, "bin", "tool")
	script := "#!/bin/sh\ncat \"$(dirname \"$0\")/../lib/lib.txt\"\necho x > \"$(dirname \"$0\")/../lib/w\" 2>/dev/null && echo WROTE-RUNTIME\nexit 0\n"
	if err := os.WriteFile(tool, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(filepath.Dir(prefix)), filepath.Dir(prefix)} {
		_ = os.Chmod(d, 0o755)
	}
	task.Command = []string{tool}
	ex := newSandboxed(t, data)
	h := startJob(t, ex, task, mounts)
	executortest.WaitExited(t, ex, h, 0, "")
	log := executortest.ReadLog(t, task)
	if !strings.Contains(log, "library-ok") || strings.Contains(log, "WROTE-RUNTIME") {
		t.Errorf("the command's installation is not visible read-only:\n%s", log)
	}
}

// TestSandboxWhenServerIsNotRoot runs this package's tests again as an
// unprivileged server would (uid 65534): bubblewrap then makes a user
// namespace instead of dropping to another uid, and the sandbox must hide
// the same things and keep every property of the executor.
func TestSandboxWhenServerIsNotRoot(t *testing.T) {
	if os.Getenv(unprivilegedEnv) != "" {
		t.Skip("already running unprivileged")
	}
	if os.Geteuid() != 0 {
		t.Skip("the tests run unprivileged already")
	}
	t.Parallel()
	dir, err := os.MkdirTemp("", "atelier-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tmp := filepath.Join(dir, "tmp")
	bin := filepath.Join(dir, "local.test")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(dir, 0o755))
	must(os.WriteFile(bin, self, 0o755))
	must(os.Mkdir(tmp, 0o755))
	must(os.Chown(tmp, NobodyID, NobodyID))
	nobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: NobodyID, Gid: NobodyID}}
	userns := exec.Command("bwrap", "--unshare-user", "--ro-bind", "/", "/", "true")
	userns.SysProcAttr = nobody
	if out, err := userns.CombinedOutput(); err != nil {
		t.Skipf("this machine does not let unprivileged users make user namespaces (%v: %s): a non-root server's jobs cannot run here", err, out)
	}
	cmd := exec.Command(bin, "-test.count=1", "-test.run=^(TestContract|TestSandboxHidesTheServer|TestSandboxRefusesForgeablePaths|TestTerminateKillsTheWholeGroup|TestLeftoversDieWithTheTask|TestLost|TestUsage|TestTasksOutliveTheServer|TestReattachAfterRestart)$")
	cmd.Dir = tmp
	cmd.Env = []string{"PATH=" + DefaultPath, "TMPDIR=" + tmp, "HOME=" + tmp, unprivilegedEnv + "=1"}
	cmd.SysProcAttr = nobody
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the tests as uid %d: %v\n%s", NobodyID, err, out)
	}
	if !strings.Contains(string(out), "PASS") {
		t.Fatalf("the tests as uid %d ran nothing:\n%s", NobodyID, out)
	}
}

// unprivilegedEnv marks the test binary run by TestSandboxWhenServerIsNotRoot.
const unprivilegedEnv = "ATELIER_LOCAL_TEST_UNPRIVILEGED"

// BenchmarkStart measures what the sandbox adds to a task's life: Start
// through the task's end, for a task that does nothing.
func BenchmarkStart(b *testing.B) {
	for _, sandboxed := range []bool{false, true} {
		name := "unsandboxed"
		if sandboxed {
			name = "sandboxed"
		}
		b.Run(name, func(b *testing.B) {
			ex, err := New(Options{Unsandboxed: !sandboxed, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			dir, out := b.TempDir(), b.TempDir()
			ctx := context.Background()
			for b.Loop() {
				hs, err := ex.Start(ctx, executor.JobSpec{JobID: "bench", Tasks: []executor.Task{{ID: "worker-0", Dir: dir, Command: []string{"true"},
					LogPath: filepath.Join(out, "w.log"), ExitCodePath: filepath.Join(out, "w.exit")}}})
				if err != nil {
					b.Fatal(err)
				}
				for {
					st, err := ex.State(ctx, hs[0])
					if err != nil {
						b.Fatal(err)
					}
					if st.Exited {
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	b.Run("probe", func(b *testing.B) {
		for b.Loop() {
			if _, err := New(Options{Logger: slog.New(slog.DiscardHandler)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
