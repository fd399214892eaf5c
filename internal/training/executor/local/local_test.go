package local

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
	"github.com/atelier-dev/atelier/internal/training/executor/executortest"
)

func newTestExecutor(t *testing.T) *Executor {
	t.Helper()
	ex, err := New(Options{
		WorkRoot: t.TempDir(),
		// The log outlives the test: grace timers fire after it ends.
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return ex
}

func TestContract(t *testing.T) {
	t.Parallel()
	executortest.Run(t, func(t *testing.T) executor.Executor { return newTestExecutor(t) })
}

func decode(t *testing.T, h executor.Handle) handleData {
	t.Helper()
	d, err := decodeHandle(h)
	if err != nil {
		t.Fatalf("decode handle: %v", err)
	}
	return d
}

// gone reports whether pid has ended; a zombie has (it waits for PID 1,
// which on some machines reaps slowly).
func gone(pid int) bool {
	s, err := readProcStat(pid)
	return err != nil || s.zombie()
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(executortest.Timeout)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readPID reads a pid a task wrote to a file and returns it as the host
// sees it: a sandboxed task sees its own PID namespace, whose processes
// are found on the host by the namespace of the task's group leader.
func readPID(t *testing.T, h executor.Handle, path string) int {
	t.Helper()
	executortest.WaitLog(t, path, "\n")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %v", path, err)
	}
	leader := decode(t, h).PGID
	ns, err := os.Readlink("/proc/" + strconv.Itoa(leader) + "/ns/pid")
	if err != nil {
		t.Fatalf("pid namespace of the task: %v", err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink("/proc/" + ent.Name() + "/ns/pid"); err != nil || l != ns {
			continue
		}
		if ids, err := nsPIDs(pid); err == nil && ids[len(ids)-1] == inner {
			return pid
		}
	}
	t.Fatalf("no process is %d in the task's PID namespace", inner)
	return 0
}

func TestLocalEnvironment(t *testing.T) {
	t.Parallel()
	ex := newTestExecutor(t)
	const script = `env; [ -d "$TMPDIR" ] && echo TMPDIR_EXISTS=yes; exit 0`
	var tasks []executor.Task
	for i := range 3 {
		task := executortest.Task(t, i, executortest.Sh(script)...)
		// Lower-case names a shell script might use for itself arrive intact.
		task.Env = map[string]string{"RANK": "99", "MY_SETTING": "x=y", "code": "c", "pgid": "p", "mv": "m"}
		tasks = append(tasks, task)
	}
	tasks[2].Env["PATH"] = "/bin:/usr/bin:/opt/custom"
	hs := executortest.Start(t, ex, tasks...)
	for i, h := range hs {
		executortest.WaitExited(t, ex, h, 0, "")
		env := executortest.EnvLines(executortest.ReadLog(t, tasks[i]))
		path := DefaultPath
		if i == 2 {
			path = "/bin:/usr/bin:/opt/custom"
		}
		want := map[string]string{
			"HOME":            tasks[i].Dir,
			"TMPDIR":          filepath.Join(tasks[i].Dir, ".tmp"),
			"TMPDIR_EXISTS":   "yes",
			"LANG":            "C.UTF-8",
			"PATH":            path,
			"MY_SETTING":      "x=y",
			"code":            "c",
			"pgid":            "p",
			"mv":              "m",
			"RANK":            strconv.Itoa(i), // the executor's topology wins over Task.Env
			"VC_WORKER_HOSTS": "127.0.0.1,127.0.0.1,127.0.0.1",
			"MA_CURRENT_IP":   "127.0.0.1",
			"MASTER_ADDR":     "127.0.0.1",
			"MA_NUM_GPUS":     "0",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("task %d: %s=%q, want %q", i, k, env[k], v)
			}
		}
		// Nothing of the server's environment leaks in; the shell adds PWD.
		allowed := []string{"PWD", "OLDPWD", "SHLVL", "_", "TMPDIR_EXISTS", "VC_TASK_INDEX", "VC_WORKER_NUM",
			"MA_NUM_HOSTS", "WORLD_SIZE", "MASTER_PORT"}
		for k := range env {
			if _, ok := want[k]; !ok && !slices.Contains(allowed, k) {
				t.Errorf("task %d: unexpected variable %s=%q", i, k, env[k])
			}
		}
	}
}

func TestTerminateKillsTheWholeGroup(t *testing.T) {
	t.Parallel()
	ex := newTestExecutor(t)
	task := executortest.Task(t, 0, executortest.Sh(`sleep 1000 & echo $! > child.pid; echo ready; wait`)...)
	h := executortest.Start(t, ex, task)[0]
	executortest.WaitLog(t, task.LogPath, "ready")
	grandchild := readPID(t, h, filepath.Join(task.Dir, "child.pid"))
	if gone(grandchild) {
		t.Fatalf("grandchild %d is not running", grandchild)
	}
	if err := ex.Terminate(context.Background(), h, 5*time.Second); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	executortest.WaitExited(t, ex, h, 143, "SIGTERM")
	waitGone(t, grandchild)
}

func TestLeftoversDieWithTheTask(t *testing.T) {
	t.Parallel()
	ex := newTestExecutor(t)
	task := executortest.Task(t, 0, executortest.Sh(`sleep 1000 & echo $! > child.pid; while [ ! -e go ]; do sleep 0.02; done; exit 3`)...)
	h := executortest.Start(t, ex, task)[0]
	// The group is killed by the wrapper; the PID namespace dies with its
	// init anyway.
	d := decode(t, h)
	child := readPID(t, h, filepath.Join(task.Dir, "child.pid"))
	if err := os.WriteFile(filepath.Join(task.Dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	executortest.WaitExited(t, ex, h, 3, "")
	waitGone(t, child)
	waitGone(t, d.PGID)
}

func TestWrapperSurvivesStraySignals(t *testing.T) {
	t.Parallel()
	ex := newTestExecutor(t)
	task := executortest.Task(t, 0, executortest.Sh(`echo ready; while [ ! -e finish ]; do sleep 0.02; done; exit 4`)...)
	h := executortest.Start(t, ex, task)[0]
	executortest.WaitLog(t, task.LogPath, "ready")
	d := decode(t, h)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		if err := syscall.Kill(d.PID, sig); err != nil {
			t.Fatalf("signal wrapper: %v", err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if st, err := ex.State(context.Background(), h); err != nil || !st.Running {
		t.Fatalf("after signals to the wrapper alone: state %+v, %v; want running", st, err)
	}
	if err := os.WriteFile(filepath.Join(task.Dir, "finish"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	executortest.WaitExited(t, ex, h, 4, "")
}

func TestReattachAfterRestart(t *testing.T) {
	t.Parallel()
	task := executortest.Task(t, 0, executortest.Sh(`echo ready; while [ ! -e finish ]; do sleep 0.02; done; exit 7`)...)
	h := executortest.Start(t, newTestExecutor(t), task)[0]
	executortest.WaitLog(t, task.LogPath, "ready")
	// The handle is all that survives a restart of the server.
	stored := string(h)

	ex := newTestExecutor(t)
	st, err := ex.State(context.Background(), executor.Handle(stored))
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	if !st.Running || st.StartedAt.IsZero() {
		t.Fatalf("state after restart = %+v, want running", st)
	}
	if err := os.WriteFile(filepath.Join(task.Dir, "finish"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st = executortest.WaitExited(t, ex, executor.Handle(stored), 7, "")
	if st.EndedAt.Before(st.StartedAt) {
		t.Errorf("EndedAt %v before StartedAt %v", st.EndedAt, st.StartedAt)
	}
}

func TestLost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// lose damages a running task's handle or processes; it returns the
		// handle to query and a pid that Terminate must leave alone, or 0.
		lose func(t *testing.T, h executor.Handle) (executor.Handle, int)
		// taskSurvives: the task's own process is still running when the
		// handle is Lost.
		taskSurvives bool
		// usage: the handle still names the task's running processes, so
		// Usage reports them (and Terminate stops them).
		usage bool
	}{
		{
			name: "machine-crash",
			lose: func(t *testing.T, h executor.Handle) (executor.Handle, int) {
				d := decode(t, h)
				_ = syscall.Kill(d.PID, syscall.SIGKILL)
				_ = syscall.Kill(-d.PGID, syscall.SIGKILL)
				waitGone(t, d.PID)
				// A sandbox's init dies only after the kernel has killed
				// every process of its namespace.
				waitGone(t, d.PGID)
				_ = os.Remove(d.ExitFile)
				return h, 0
			},
		},
		{
			name: "wrapper-killed",
			lose: func(t *testing.T, h executor.Handle) (executor.Handle, int) {
				d := decode(t, h)
				_ = syscall.Kill(d.PID, syscall.SIGKILL)
				waitGone(t, d.PID)
				return h, 0
			},
			taskSurvives: true,
			usage:        true,
		},
		{
			name: "recycled-pid",
			lose: func(t *testing.T, h executor.Handle) (executor.Handle, int) {
				// An unrelated process, in its own group, now has the pids.
				other := exec.Command("sleep", "60")
				other.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
				if err := other.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
				d := decode(t, h)
				s, err := readProcStat(other.Process.Pid)
				if err != nil {
					t.Fatal(err)
				}
				d.PID, d.PGID = other.Process.Pid, other.Process.Pid
				d.PIDStart, d.PGIDStart = s.StartTicks+1, s.StartTicks+1
				return d.encode(), other.Process.Pid
			},
			taskSurvives: true,
		},
		{
			name: "earlier-boot",
			lose: func(t *testing.T, h executor.Handle) (executor.Handle, int) {
				d := decode(t, h)
				d.BootID = "00000000-0000-0000-0000-000000000000"
				return d.encode(), d.PGID
			},
			taskSurvives: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ex := newTestExecutor(t)
			task := executortest.Task(t, 0, executortest.Sh(`echo ready; exec sleep 60`)...)
			h := executortest.Start(t, ex, task)[0]
			executortest.WaitLog(t, task.LogPath, "ready")
			pgid := decode(t, h).PGID

			lost, keep := tc.lose(t, h)
			st, err := ex.State(context.Background(), lost)
			if err != nil {
				t.Fatalf("State: %v", err)
			}
			if !st.Lost || st.Running || st.Exited {
				t.Fatalf("state = %+v, want lost", st)
			}
			if u, err := ex.Usage(context.Background(), lost); err != nil || (u.MemoryMiB > 0) != tc.usage {
				t.Errorf("Usage of a lost task = %+v, %v; want memory %v", u, err, tc.usage)
			}
			if tc.taskSurvives == gone(pgid) {
				t.Fatalf("task process %d gone = %v, want %v", pgid, gone(pgid), !tc.taskSurvives)
			}
			if err := ex.Terminate(context.Background(), lost, 0); err != nil {
				t.Fatalf("Terminate: %v", err)
			}
			if keep != 0 {
				time.Sleep(100 * time.Millisecond)
				if gone(keep) {
					t.Fatalf("Terminate of a lost handle killed process %d, which is not the task", keep)
				}
				return
			}
			waitGone(t, pgid)
		})
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	ex := newTestExecutor(t)
	notExecutable := filepath.Join(t.TempDir(), "train.py")
	if err := os.WriteFile(notExecutable, []byte("print(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := func(t *testing.T, i int) executor.Task { return executortest.Task(t, i, "true") }
	for _, tc := range []struct {
		name     string
		flavor   executor.Flavor
		image    string
		second   func(t *testing.T) executor.Task // task 1; task 0 is fine
		wantErr  []string
		wantIsEr error
	}{
		{
			name:    "missing-binary",
			second:  func(t *testing.T) executor.Task { return executortest.Task(t, 1, "no-such-command-xyz", "--lr=1") },
			wantErr: []string{"worker-1", "no-such-command-xyz", "not found"},
		},
		{
			name:    "missing-relative-script",
			second:  func(t *testing.T) executor.Task { return executortest.Task(t, 1, "./train.sh") },
			wantErr: []string{"worker-1", "./train.sh", "no such file"},
		},
		{
			name:    "not-executable",
			second:  func(t *testing.T) executor.Task { return executortest.Task(t, 1, notExecutable) },
			wantErr: []string{"worker-1", "not executable"},
		},
		{
			name:    "directory",
			second:  func(t *testing.T) executor.Task { return executortest.Task(t, 1, "/tmp") },
			wantErr: []string{"worker-1", "not a regular file"},
		},
		{
			name: "missing-working-directory",
			second: func(t *testing.T) executor.Task {
				task := ok(t, 1)
				task.Dir = filepath.Join(task.Dir, "nope")
				return task
			},
			wantErr: []string{"worker-1", "working directory"},
		},
		{
			name:    "empty-command",
			second:  func(t *testing.T) executor.Task { return executortest.Task(t, 1) },
			wantErr: []string{"worker-1", "empty command"},
		},
		{
			name: "reserved-environment",
			second: func(t *testing.T) executor.Task {
				task := ok(t, 1)
				task.Env = map[string]string{"IFS": ":"}
				return task
			},
			wantErr: []string{"worker-1", "IFS", "reserved"},
		},
		{
			name: "reserved-prefix",
			second: func(t *testing.T) executor.Task {
				task := ok(t, 1)
				task.Env = map[string]string{"_atelier_exit": "/tmp/forged"}
				return task
			},
			wantErr: []string{"worker-1", "_atelier_exit", "reserved"},
		},
		{
			name: "invalid-environment-name",
			second: func(t *testing.T) executor.Task {
				task := ok(t, 1)
				task.Env = map[string]string{"A=B": "c"}
				return task
			},
			wantErr: []string{"worker-1", "invalid environment variable"},
		},
		{
			name:    "index-out-of-order",
			second:  func(t *testing.T) executor.Task { return ok(t, 5) },
			wantErr: []string{"worker-5", "index order"},
		},
		{
			name:     "gpu-flavor-without-gpus",
			flavor:   executor.Flavor{ID: "local.gpu.1", GPUs: 1},
			second:   func(t *testing.T) executor.Task { return ok(t, 1) },
			wantErr:  []string{"local.gpu.1", "GPU"},
			wantIsEr: executor.ErrUnsupported,
		},
		{
			name:     "container-image",
			image:    "pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime",
			second:   func(t *testing.T) executor.Task { return ok(t, 1) },
			wantErr:  []string{"pytorch/pytorch:2.4.0", "image"},
			wantIsEr: executor.ErrUnsupported,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			first := ok(t, 0)
			spec := executor.JobSpec{JobID: "job-1", Flavor: tc.flavor, Image: tc.image, Tasks: []executor.Task{first, tc.second(t)}}
			hs, err := ex.Start(context.Background(), spec)
			if err == nil {
				t.Fatalf("Start succeeded with %d handles, want an error", len(hs))
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(s)) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if tc.wantIsEr != nil && !errors.Is(err, tc.wantIsEr) {
				t.Errorf("error %q is not %v", err, tc.wantIsEr)
			}
			if _, err := os.Stat(first.LogPath); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("task 0 was started (its log exists: %v)", err)
			}
		})
	}
}

func TestUnrunnableCommandIsRecorded(t *testing.T) {
	t.Parallel()
	ex := newTestExecutor(t)
	// Executable, so Start cannot tell, but its interpreter does not exist.
	task := executortest.Task(t, 0, "./train.sh", "--epochs", "1")
	if err := os.WriteFile(filepath.Join(task.Dir, "train.sh"), []byte("#!/no/such/interpreter\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := executortest.Start(t, ex, task)[0]
	start := time.Now()
	executortest.WaitExited(t, ex, h, 127, "")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("task took %v to end", d)
	}
	if log := executortest.ReadLog(t, task); !strings.Contains(log, "./train.sh: not found") {
		t.Errorf("log %q does not say why the task could not run", log)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	ex := newTestExecutor(t)
	task := executortest.Task(t, 0, executortest.Sh(`echo ready; while :; do :; done`)...)
	h := executortest.Start(t, ex, task)[0]
	executortest.WaitLog(t, task.LogPath, "ready")
	ctx := context.Background()
	for i := range 2 {
		time.Sleep(300 * time.Millisecond)
		u, err := ex.Usage(ctx, h)
		if err != nil {
			t.Fatalf("Usage %d: %v", i, err)
		}
		if u.CPUPercent <= 0 || u.CPUPercent > float64(runtime.NumCPU())*100+20 || u.MemoryMiB <= 0 || u.At.IsZero() {
			t.Errorf("Usage %d = %+v, want a busy core's CPU and some memory", i, u)
		}
	}
	if err := ex.Terminate(ctx, h, 0); err != nil {
		t.Fatal(err)
	}
	executortest.WaitExited(t, ex, h, 143, "SIGTERM")
	waitGone(t, decode(t, h).PGID)
	if u, err := ex.Usage(ctx, h); err != nil || u.CPUPercent != 0 || u.MemoryMiB != 0 {
		t.Errorf("Usage of an ended task = %+v, %v; want nothing", u, err)
	}
	ex.mu.Lock()
	n := len(ex.samples)
	ex.mu.Unlock()
	if n != 0 {
		t.Errorf("%d samples remembered after the task ended", n)
	}
}

func TestNewDetectsTheMachine(t *testing.T) {
	t.Parallel()
	ex := newTestExecutor(t)
	c := ex.Capacity()
	if c.CPU != float64(runtime.NumCPU()) || c.MemoryMiB <= 0 {
		t.Errorf("Capacity = %+v", c)
	}
	var ids []string
	for _, f := range ex.Flavors() {
		ids = append(ids, f.ID)
		if f.CPU > c.CPU || f.MemoryMiB > c.MemoryMiB || f.GPUs > c.GPUs {
			t.Errorf("flavor %+v does not fit capacity %+v", f, c)
		}
	}
	for _, id := range []string{"local.cpu.1u2g", "local.cpu.all"} {
		if !slices.Contains(ids, id) {
			t.Errorf("flavors %v lack %s", ids, id)
		}
	}
	if ex.Name() != "local" {
		t.Errorf("Name = %q", ex.Name())
	}

	override := executor.Resources{CPU: 3, MemoryMiB: 5000}
	flavors := []executor.Flavor{{ID: "mine", CPU: 1, MemoryMiB: 100}}
	ex2, err := New(Options{Capacity: &override, Flavors: flavors})
	if err != nil {
		t.Fatal(err)
	}
	if ex2.Capacity() != override || !slices.Equal(ex2.Flavors(), flavors) {
		t.Errorf("overrides ignored: %+v %+v", ex2.Capacity(), ex2.Flavors())
	}
	if _, err := New(Options{Flavors: []executor.Flavor{{ID: "a"}, {ID: "a"}}}); err == nil {
		t.Error("New accepted two flavors with one ID")
	}
}

// helperEnv makes the test binary, run again, start a task and exit at once
// like a server that stops: see TestTasksOutliveTheServer.
const helperEnv = "ATELIER_LOCAL_TEST_SERVER_DIR"

func TestTasksOutliveTheServer(t *testing.T) {
	if dir := os.Getenv(helperEnv); dir != "" {
		runHelperServer(dir)
		return
	}
	t.Parallel()
	dir := t.TempDir()
	server := exec.Command(os.Args[0], "-test.run=^TestTasksOutliveTheServer$")
	server.Env = append(os.Environ(), helperEnv+"="+dir)
	out, err := server.Output()
	if err != nil {
		t.Fatalf("server: %v\n%s", err, out)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	h := executor.Handle(line)
	d := decode(t, h)
	t.Cleanup(func() {
		_ = syscall.Kill(-d.PGID, syscall.SIGKILL)
		_ = syscall.Kill(d.PID, syscall.SIGKILL)
	})
	if s, err := readProcStat(d.PID); err != nil || s.PPID == server.Process.Pid {
		t.Fatalf("wrapper %d: %+v, %v; want it adopted by another parent", d.PID, s, err)
	}

	ex := newTestExecutor(t)
	executortest.WaitLog(t, d.LogFile, "ready")
	if st, err := ex.State(context.Background(), h); err != nil || !st.Running {
		t.Fatalf("state after the server ended = %+v, %v; want running", st, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "work", "finish"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	executortest.WaitExited(t, ex, h, 9, "")
}

// runHelperServer starts a task in dir/work, prints its handle and exits
// the process without waiting for anything.
func runHelperServer(dir string) {
	ex, err := New(Options{})
	if err != nil {
		panic(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "work"), 0o755); err != nil {
		panic(err)
	}
	hs, err := ex.Start(context.Background(), executor.JobSpec{JobID: "outlive", Tasks: []executor.Task{{
		ID:           "worker-0",
		Dir:          filepath.Join(dir, "work"),
		Command:      []string{"/bin/sh", "-c", `echo ready; while [ ! -e finish ]; do sleep 0.02; done; exit 9`},
		LogPath:      filepath.Join(dir, "out", "worker-0.log"),
		ExitCodePath: filepath.Join(dir, "out", "worker-0.exit"),
	}}})
	if err != nil {
		panic(err)
	}
	os.Stdout.WriteString(string(hs[0]) + "\n")
	os.Exit(0)
}

func TestStartStopsStartedTasksWhenOneFails(t *testing.T) {
	t.Parallel()
	ex := newTestExecutor(t)
	first := executortest.Task(t, 0, executortest.Sh(`echo ready; exec sleep 60`)...)
	second := executortest.Task(t, 1, "true")
	second.LogPath = t.TempDir() // a directory: found only when the task starts
	_, err := ex.Start(context.Background(), executor.JobSpec{JobID: "j", Tasks: []executor.Task{first, second}})
	if err == nil || !strings.Contains(err.Error(), "worker-1") || !strings.Contains(err.Error(), "open log") {
		t.Fatalf("Start error = %v, want worker-1's log failure", err)
	}
	status := executortest.WaitLog(t, first.ExitCodePath, "\n")
	if code := strings.TrimSpace(status); code != "143" && code != "137" {
		t.Errorf("task 0 exit status %q, want it terminated", code)
	}
}

func TestStartHonoursCancellation(t *testing.T) {
	t.Parallel()
	ex := newTestExecutor(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	task := executortest.Task(t, 0, "true")
	if _, err := ex.Start(ctx, executor.JobSpec{JobID: "j", Tasks: []executor.Task{task}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start error = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(task.LogPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the task was started (log: %v)", err)
	}
}
