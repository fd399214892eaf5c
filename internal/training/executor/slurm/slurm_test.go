package slurm

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
	"github.com/atelier-dev/atelier/internal/training/executor/executortest"
)

// testOptions are the options for the cluster testinfra/slurm starts; the
// test is skipped without it.
func testOptions(t testing.TB) Options {
	t.Helper()
	if os.Getenv("ATELIER_TEST_SLURM") == "" {
		t.Skip("ATELIER_TEST_SLURM is unset: no Slurm cluster to run jobs on (source testinfra/slurm/ci.sh as root to start one)")
	}
	if os.Geteuid() != 0 {
		t.Skip("the Slurm executor submits as the job account, which needs root")
	}
	return Options{
		WorkRoot:  reachableTempDir(t),
		Partition: os.Getenv("ATELIER_TEST_SLURM_PARTITION"),
		JobUser:   cmpOr(os.Getenv("ATELIER_TEST_SLURM_USER"), "atelier-job"),
		Logger:    slog.New(slog.DiscardHandler),
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newTestExecutor(t testing.TB) *Executor {
	t.Helper()
	ex, err := New(context.Background(), testOptions(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return ex
}

// reachableTempDir is a test directory the job account can walk into, as
// the jobs directory of a real installation is.
func reachableTempDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	if err := openPath(d); err != nil {
		t.Fatal(err)
	}
	return d
}

// openPath gives everyone search permission on p's directories from the
// test's temporary root down: t.TempDir makes them 0700, and the job
// account must reach its task's files like it reaches the jobs directory.
func openPath(p string) error {
	tmp := os.TempDir()
	for d := p; executor.Within(d, tmp) && d != tmp; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			continue
		}
		if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
			return err
		}
	}
	return nil
}

// reachable adapts the executor to executortest's task paths, made by
// t.TempDir (0700): it opens them to the job account before Start.
type reachable struct{ *Executor }

func (r reachable) Start(ctx context.Context, spec executor.JobSpec) ([]executor.Handle, error) {
	for _, task := range spec.Tasks {
		for _, p := range []string{task.Dir, filepath.Dir(task.LogPath), filepath.Dir(task.ExitCodePath)} {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return nil, err
			}
			if err := openPath(p); err != nil {
				return nil, err
			}
		}
	}
	return r.Executor.Start(ctx, spec)
}

func TestContract(t *testing.T) {
	testOptions(t)
	t.Parallel()
	executortest.Run(t, func(t *testing.T) executor.Executor { return reachable{newTestExecutor(t)} })
}

// task is executortest.Task with its paths opened to the job account.
func task(t *testing.T, index int, argv ...string) executor.Task {
	t.Helper()
	tk := executortest.Task(t, index, argv...)
	for _, p := range []string{tk.Dir, filepath.Dir(tk.LogPath), filepath.Dir(tk.ExitCodePath)} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := openPath(p); err != nil {
			t.Fatal(err)
		}
	}
	return tk
}

// A handle is all a new executor (after a restart of the server) needs.
func TestReattachAfterRestart(t *testing.T) {
	opts := testOptions(t)
	t.Parallel()
	first, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	tk := task(t, 0, executortest.Sh(`echo ready; exec sleep 60`)...)
	h := executortest.Start(t, first, tk)[0]
	executortest.WaitLog(t, tk.LogPath, "ready")
	second, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	st, err := second.State(context.Background(), h)
	if err != nil || !st.Running || st.StartedAt.IsZero() {
		t.Fatalf("state from a new executor = %+v, %v; want running", st, err)
	}
	if err := second.Terminate(context.Background(), h, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	executortest.WaitExited(t, second, h, 143, "SIGTERM")
	if b, err := os.ReadFile(tk.ExitCodePath); err != nil || !strings.HasPrefix(string(b), "143 ") {
		t.Errorf("exit status file = %q, %v; want the status recorded", b, err)
	}
	// The recorded status outlives Slurm's memory of the job.
	third, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	executortest.WaitExited(t, third, h, 143, "SIGTERM")
}

// The job runs as the job account, and sees neither the protected data
// directory, nor another job's directory, nor its own control directory.
func TestSandbox(t *testing.T) {
	opts := testOptions(t)
	t.Parallel()
	data := t.TempDir() // 0700, root's: like the server's data directory
	secret := filepath.Join(data, "secret.key")
	if err := os.WriteFile(secret, []byte("do not read"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts.Protected = []string{data}
	ex, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	other := task(t, 0, "true")
	if err := os.WriteFile(filepath.Join(other.Dir, "theirs"), []byte("other job"), 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `echo "uid=$(id -u)"
cat "$1" 2>/dev/null && echo "read-secret"
ls "$2" >/dev/null 2>&1 && echo "saw-other-job"
ls "$3" >/dev/null 2>&1 && echo "saw-control-dir"
echo "mine" > mine.txt && echo "wrote-own-dir"
test -S /run/munge/munge.socket.2 && echo "saw-munge"
exit 0`
	tk := task(t, 0, executortest.Sh(script, secret, other.Dir, filepath.Dir(other.ExitCodePath))...)
	h := executortest.Start(t, ex, tk)[0]
	executortest.WaitExited(t, ex, h, 0, "")
	log := executortest.ReadLog(t, tk)
	if want := "uid=" + strconv.Itoa(ex.uid); !strings.Contains(log, want) {
		t.Errorf("log %q: want the job account's %s", log, want)
	}
	if ex.uid == 0 || ex.uid == os.Geteuid() {
		t.Errorf("the job account has uid %d, the server's or root", ex.uid)
	}
	for _, bad := range []string{"read-secret", "saw-other-job", "saw-control-dir", "saw-munge"} {
		if strings.Contains(log, bad) {
			t.Errorf("the task could do what it must not: %s; log:\n%s", bad, log)
		}
	}
	if !strings.Contains(log, "wrote-own-dir") {
		t.Errorf("the task could not write in its own directory; log:\n%s", log)
	}
	// Even outside the sandbox the job account cannot read the protected
	// file: its directory is root's, 0700.
	unboxed := opts
	unboxed.Unsandboxed, unboxed.Protected = true, nil
	ux, err := New(context.Background(), unboxed)
	if err != nil {
		t.Fatal(err)
	}
	tk2 := task(t, 0, executortest.Sh(`cat "$1" && echo read-secret; echo "uid=$(id -u)"`, secret)...)
	h2 := executortest.Start(t, ux, tk2)[0]
	executortest.WaitExited(t, ux, h2, 0, "")
	if log := executortest.ReadLog(t, tk2); strings.Contains(log, "read-secret") || !strings.Contains(log, "Permission denied") {
		t.Errorf("an unsandboxed job read the protected file or failed otherwise; log:\n%s", log)
	}
	// A task directory or mount that would show the data directory is
	// refused.
	bad := task(t, 0, "true")
	bad.Dir = data
	if _, err := ex.Start(context.Background(), executor.JobSpec{JobID: "bad", Tasks: []executor.Task{bad}}); err == nil {
		t.Error("Start accepted a task directory that is the protected data directory")
	}
}

// A job waiting for nodes is neither running, ended nor lost; it runs
// once the nodes are free. It fills a partition no other test uses.
func TestPendingThenRunning(t *testing.T) {
	opts := testOptions(t)
	if opts.Partition = os.Getenv("ATELIER_TEST_SLURM_PENDING_PARTITION"); opts.Partition == "" {
		t.Skip("ATELIER_TEST_SLURM_PENDING_PARTITION is unset: no partition of its own to fill")
	}
	t.Parallel()
	ex, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	whole := ex.flavors[len(ex.flavors)-1]
	for _, f := range ex.flavors {
		if f.ID == "slurm.cpu.node" {
			whole = f
		}
	}
	start := func(tasks ...executor.Task) []executor.Handle {
		hs, err := ex.Start(context.Background(), executor.JobSpec{JobID: "fill-" + tasks[0].ID, Flavor: whole, Tasks: tasks})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			for _, h := range hs {
				_ = ex.Terminate(context.Background(), h, 0)
			}
			for _, h := range hs {
				executortest.WaitEnded(t, ex, h)
			}
		})
		return hs
	}
	var fill []executor.Task
	for i := range len(mustNodes(t, ex)) {
		fill = append(fill, task(t, i, executortest.Sh(`echo ready; exec sleep 60`)...))
	}
	busy := start(fill...)
	executortest.WaitLog(t, fill[0].LogPath, "ready")
	waiting := task(t, 0, executortest.Sh(`echo started`)...)
	h := start(waiting)[0]
	time.Sleep(1500 * time.Millisecond)
	st, err := ex.State(context.Background(), h)
	if err != nil || st.Running || st.Exited || st.Lost {
		t.Fatalf("state of a job waiting for nodes = %+v, %v; want pending (all false)", st, err)
	}
	for _, b := range busy {
		if err := ex.Terminate(context.Background(), b, 0); err != nil {
			t.Fatal(err)
		}
	}
	executortest.WaitExited(t, ex, h, 0, "")
	executortest.WaitLog(t, waiting.LogPath, "started")

	// Terminated while pending: ends as killed by SIGTERM, not lost.
	var refill []executor.Task
	for i := range fill {
		refill = append(refill, task(t, i, executortest.Sh(`echo ready; exec sleep 60`)...))
	}
	busy = start(refill...)
	executortest.WaitLog(t, refill[0].LogPath, "ready")
	never := task(t, 0, executortest.Sh(`echo must-not-run`)...)
	h = start(never)[0]
	if err := ex.Terminate(context.Background(), h, time.Second); err != nil {
		t.Fatal(err)
	}
	executortest.WaitExited(t, ex, h, 143, "SIGTERM")
	for _, b := range busy {
		_ = ex.Terminate(context.Background(), b, 0)
	}
}

func mustNodes(t *testing.T, ex *Executor) []node {
	t.Helper()
	ns, err := ex.nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// A job that ended without a recorded status (its batch script killed
// with it, as when its node fails) is lost, not running forever. A job
// cancelled as a whole the usual way (scancel, SIGTERM first) is not: the
// batch script outlives its steps and records how they ended.
func TestVanishedJobIsLost(t *testing.T) {
	ex := newTestExecutor(t)
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		lost   bool
		signal string
	}{
		{"scancel", nil, false, "SIGTERM"},
		{"batch-killed", []string{"--batch", "--signal=KILL"}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tk := task(t, 0, executortest.Sh(`echo ready; exec sleep 60`)...)
			h := executortest.Start(t, ex, tk)[0]
			executortest.WaitLog(t, tk.LogPath, "ready")
			d, _ := decodeHandle(h)
			if _, err := ex.run(context.Background(), "scancel", append(tc.args, d.JobID)...); err != nil {
				t.Fatal(err)
			}
			st := executortest.WaitEnded(t, ex, h)
			if st.Lost != tc.lost || st.Signal != tc.signal {
				t.Errorf("state = %+v, want lost %v, signal %q", st, tc.lost, tc.signal)
			}
		})
	}
}

// Two tasks land on two nodes (of the test cluster's, which share this
// machine), and a task's environment holds nothing of Slurm's.
func TestTasksOnSeparateNodes(t *testing.T) {
	ex := newTestExecutor(t)
	t.Parallel()
	if len(mustNodes(t, ex)) < 2 {
		t.Skip("the test cluster has one node")
	}
	script := `echo "node=$SLURMD_NODENAME job=$SLURM_JOB_ID"`
	tasks := []executor.Task{task(t, 0, executortest.Sh(script)...), task(t, 1, executortest.Sh(script)...)}
	hs := executortest.Start(t, ex, tasks...)
	for i, h := range hs {
		executortest.WaitExited(t, ex, h, 0, "")
		if log := executortest.ReadLog(t, tasks[i]); log != "node= job=\n" {
			t.Errorf("task %d log %q: want no Slurm variable in the task's environment", i, log)
		}
	}
	d, _ := decodeHandle(hs[0])
	out, err := ex.run(context.Background(), "squeue", "-h", "-t", "all", "-j", d.JobID, "-o", "%D %N")
	if err != nil || !strings.HasPrefix(out, "2 ") {
		t.Errorf("the job ran on %q (%v), want two nodes", out, err)
	}
	for i := range hs {
		d, _ := decodeHandle(hs[i])
		if b, err := os.ReadFile(filepath.Join(d.Ctl, "step")); err != nil || !strings.HasPrefix(string(b), d.JobID+".") {
			t.Errorf("task %d's step id %q, %v", i, b, err)
		}
	}
}

// Usage comes from sstat, whose CPU times have a resolution of a second:
// the samples are seconds apart.
func TestUsage(t *testing.T) {
	ex := newTestExecutor(t)
	t.Parallel()
	tk := task(t, 0, executortest.Sh(`echo ready; while :; do :; done`)...)
	h := executortest.Start(t, ex, tk)[0]
	executortest.WaitLog(t, tk.LogPath, "ready")
	deadline := time.Now().Add(executortest.Timeout)
	var u executor.Usage
	var err error
	for n := 0; n < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("no usage sample: %+v, %v", u, err)
		}
		if u, err = ex.Usage(context.Background(), h); err == nil && u.MemoryMiB > 0 {
			n++
			if n == 1 {
				time.Sleep(4 * time.Second)
				continue
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if u.CPUPercent <= 10 {
		t.Errorf("a busy loop used %.1f%% CPU, want more", u.CPUPercent)
	}
}

// New refuses what cannot keep jobs from the server, and a cluster that
// does not answer, saying why.
func TestNewRefuses(t *testing.T) {
	opts := testOptions(t)
	closed := t.TempDir()
	if err := os.Chmod(closed, 0o700); err != nil { // like the data directory
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"root-job-user", func(o *Options) { o.JobUser = "root" }, "unprivileged"},
		{"no-job-user", func(o *Options) { o.JobUser = "" }, "--slurm-job-user"},
		{"unknown-job-user", func(o *Options) { o.JobUser = "no-such-user-here" }, "no-such-user-here"},
		{"jobs-dir-unreachable", func(o *Options) { o.WorkRoot = filepath.Join(closed, "jobs") }, "cannot enter"},

		{"unknown-partition", func(o *Options) { o.Partition = "no-such-partition" }, "nodes"},
		{"no-slurm-commands", func(o *Options) { o.BinDir = t.TempDir() }, "--slurm-bin-dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts
			tc.edit(&o)
			if _, err := New(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error saying %q", err, tc.want)
			}
		})
	}
	t.Run("cluster-unreachable", func(t *testing.T) {
		// The test cluster's configuration, with a controller port nothing
		// listens on.
		conf, err := os.ReadFile(os.Getenv("SLURM_CONF"))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(conf), "\n") {
			if strings.HasPrefix(l, "SlurmctldPort=") {
				l = "SlurmctldPort=1"
			}
			lines = append(lines, l)
		}
		bad := filepath.Join(t.TempDir(), "slurm.conf")
		if err := os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SLURM_CONF", bad)
		if _, err := New(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "ask the cluster") {
			t.Errorf("New with no cluster = %v, want an error saying the cluster does not answer", err)
		}
	})
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{{"00:01.500", 1500 * time.Millisecond}, {"01:02:03", time.Hour + 2*time.Minute + 3*time.Second}, {"1-00:00:01", 24*time.Hour + time.Second}} {
		if got, err := parseCPUTime(tc.in); err != nil || got != tc.want {
			t.Errorf("parseCPUTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		n    int
		kind string
	}{{"gpu:a100:4(S:0-1),shard:8", 4, "a100"}, {"gpu:2", 2, ""}, {"(null)", 0, ""}} {
		if n, k := parseGres(tc.in); n != tc.n || k != tc.kind {
			t.Errorf("parseGres(%q) = %d %q, want %d %q", tc.in, n, k, tc.n, tc.kind)
		}
	}
	ns, err := parseNodes("n0|8|16000|gpu:t4:2|gpu*\nn1|4|8000|(null)|gpu*\nn1|4|8000|(null)|other\n", true)
	if err != nil || len(ns) != 2 {
		t.Fatalf("parseNodes = %+v, %v", ns, err)
	}
	c, fs, typ := shapes(ns)
	if c.CPU != 12 || c.MemoryMiB != 24000 || c.GPUs != 2 || typ != "t4" {
		t.Errorf("capacity %+v, gpu type %q", c, typ)
	}
	if len(fs) == 0 || fs[0].ID != "slurm.cpu.1u2g" || fs[len(fs)-1].CPU > 4 {
		t.Errorf("flavors %+v: want shapes that fit the smallest node", fs)
	}
}

// BenchmarkSubmitToRunning measures the time from Start to State's
// Running and to the task's first output, on the test cluster (whose
// scheduler settings are in testinfra/slurm/slurm.conf.in), as medians.
//
//	go test -run '^$' -bench SubmitToRunning -benchtime 20x ./internal/training/executor/slurm/
func BenchmarkSubmitToRunning(b *testing.B) {
	ex, err := New(context.Background(), testOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	var running, output []time.Duration
	for i := 0; b.Loop(); i++ {
		dir := reachableTempDir(b)
		tk := executor.Task{ID: "worker-0", Dir: filepath.Join(dir, "work"), Command: []string{"/bin/sh", "-c", "echo ready; exec sleep 60"},
			LogPath: filepath.Join(dir, "logs", "worker-0.log"), ExitCodePath: filepath.Join(dir, "status", "worker-0.exit")}
		if err := os.MkdirAll(tk.Dir, 0o755); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		hs, err := ex.Start(context.Background(), executor.JobSpec{JobID: "bench-" + strconv.Itoa(i), Flavor: ex.flavors[0], Tasks: []executor.Task{tk}})
		if err != nil {
			b.Fatal(err)
		}
		var sawRunning bool
		for {
			if time.Since(start) > executortest.Timeout {
				b.Fatal("the job did not start")
			}
			if !sawRunning {
				st, err := ex.State(context.Background(), hs[0])
				if err != nil {
					b.Fatal(err)
				}
				if st.Running {
					sawRunning = true
					running = append(running, time.Since(start))
				}
			}
			if log, _ := os.ReadFile(tk.LogPath); strings.Contains(string(log), "ready") {
				output = append(output, time.Since(start))
				if !sawRunning {
					running = append(running, time.Since(start))
				}
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := ex.Terminate(context.Background(), hs[0], 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(median(running).Milliseconds()), "ms-to-running-p50")
	b.ReportMetric(float64(median(output).Milliseconds()), "ms-to-output-p50")
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
