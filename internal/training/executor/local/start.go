package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// LocalHost is every task's address, in VC_WORKER_HOSTS, MA_CURRENT_IP and
// MASTER_ADDR. It is an address rather than the host name because it
// resolves everywhere, and because users derive MASTER_ADDR from the first
// entry of VC_WORKER_HOSTS, which must then be something a rendezvous
// server (torch.distributed, say) can listen on.
const LocalHost = "127.0.0.1"

// handshakeTimeout bounds how long Start waits for a task's process to
// report its pid: it takes milliseconds unless the machine is in trouble.
const handshakeTimeout = 10 * time.Second

// wrapperScript is the task's wrapper, run as
//
//	/bin/sh -c wrapperScript atelier-task EXIT_FILE MV STARTER...
//
// in a new session, with fd 3 the write end of a pipe the server reads and
// fd 4 the read end of a pipe the server writes. STARTER is either
// "SETSID -w /bin/sh -c taskScript atelier-task ARGV..." (unsandboxed: the
// task process is in a new session and group whose id is its pid) or
// "BWRAP ARGS... -- /bin/sh -c taskScript atelier-task [SETPRIV...] ARGV..."
// (sandboxed: the task process is PID 2 of its own PID namespace, in the
// session of bubblewrap's init). The task process reports its pid on fd 3
// and waits for the server's "go" on fd 4 before it execs ARGV: the server
// reads the processes' start times while they certainly exist, and a task
// whose server died during Start never runs (it exits 125). ARGV is only
// ever expanded as "$@": never parsed.
//
// After the task ends the wrapper reads "pgid N" from fd 4 (the server
// wrote it after "go"), kills what is left in that group, and records the
// status. A foreground command in a non-interactive shell keeps default
// signal dispositions; an asynchronous one would ignore SIGINT and SIGQUIT,
// and that would be inherited by the training program. Traps in a shell
// waiting for a foreground command run only after it ends, which is what
// the wrapper wants: a stray HUP, INT or TERM does not stop it from
// recording the status.
const wrapperScript = `_atelier_exit=$1 _atelier_mv=$2
shift 2
trap : HUP INT TERM
"$@"
_atelier_code=$?
_atelier_pgid=
while read -r _atelier_key _atelier_value <&4; do
	if [ "$_atelier_key" = pgid ]; then _atelier_pgid=$_atelier_value; fi
done
if [ -n "$_atelier_pgid" ]; then kill -s KILL -- "-$_atelier_pgid" 2>/dev/null; fi
printf '%s\n' "$_atelier_code" >"$_atelier_exit.tmp" && "$_atelier_mv" -f "$_atelier_exit.tmp" "$_atelier_exit"
`

// taskScript is the task process's handshake before it execs the task.
const taskScript = `printf "%s\n" "$$" >&3 && exec 3>&- && read -r _atelier_go <&4 && [ "$_atelier_go" = go ] || exit 125
exec 4<&-
exec "$@"`

// reservedEnv would change how the wrapper's shell behaves (under dash or
// bash as /bin/sh), so tasks may not set them; nor may they set variables
// whose names start with a reserved prefix (bash's exported functions, the
// wrapper's own variables, which the task would otherwise see changed).
var (
	reservedEnv         = []string{"IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS"}
	reservedEnvPrefixes = []string{"BASH_FUNC_", "_atelier_"}
)

// launch is one task, checked and ready to start.
type launch struct {
	job, task string
	dir       string
	argv      []string
	env       []string
	logPath   string
	exitPath  string
	tmpDir    string
	mounts    []executor.Mount
	runtime   []string // read-only host paths the command needs in the sandbox
}

// Start launches the job's tasks. Every task is checked before any starts:
// a missing or non-executable command, a missing working directory or an
// invalid environment variable is reported without starting anything.
// A flavor that asks for more GPUs than the machine has is ErrUnsupported.
func (e *Executor) Start(ctx context.Context, spec executor.JobSpec) ([]executor.Handle, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start job %s: %w", spec.JobID, err)
	}
	if len(spec.Tasks) == 0 {
		return nil, fmt.Errorf("start job %s: no tasks", spec.JobID)
	}
	if spec.Image != "" {
		return nil, fmt.Errorf("start job %s: it names the container image %q, and the local executor runs no images: %w",
			spec.JobID, spec.Image, executor.ErrUnsupported)
	}
	if spec.Flavor.GPUs > e.capacity.GPUs {
		return nil, fmt.Errorf("start job %s: flavor %s needs %d GPU(s) per task and this machine has %d: %w",
			spec.JobID, spec.Flavor.ID, spec.Flavor.GPUs, e.capacity.GPUs, executor.ErrUnsupported)
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("start job %s: choose MASTER_PORT: %w", spec.JobID, err)
	}
	if e.sandbox != nil {
		for _, m := range spec.Mounts {
			if err := e.sandbox.checkMount(m.Path); err != nil {
				return nil, fmt.Errorf("start job %s: %w", spec.JobID, err)
			}
		}
	}
	launches := make([]launch, len(spec.Tasks))
	for i, t := range spec.Tasks {
		if launches[i], err = e.prepare(spec, i, t, port); err != nil {
			return nil, fmt.Errorf("start job %s task %s: %w", spec.JobID, taskName(t, i), err)
		}
	}
	if err := e.giveToTasks(launches, spec.Mounts); err != nil {
		return nil, fmt.Errorf("start job %s: %w", spec.JobID, err)
	}
	handles := make([]executor.Handle, 0, len(launches))
	for i, l := range launches {
		h, err := e.launch(ctx, l)
		if err == nil {
			err = ctx.Err() // a caller that gave up gets no half-started job
		}
		if err != nil {
			if h != "" {
				handles = append(handles, h)
			}
			for _, started := range handles {
				if kerr := e.Terminate(context.WithoutCancel(ctx), started, 0); kerr != nil {
					e.log.Error("stop task of a job that failed to start", "job", spec.JobID, "err", kerr)
				}
			}
			return nil, fmt.Errorf("start job %s task %s: %w", spec.JobID, taskName(spec.Tasks[i], i), err)
		}
		handles = append(handles, h)
	}
	return handles, nil
}

func taskName(t executor.Task, i int) string {
	if t.ID != "" {
		return t.ID
	}
	return "worker-" + strconv.Itoa(i)
}

// prepare checks task i and computes its environment.
func (e *Executor) prepare(spec executor.JobSpec, i int, t executor.Task, port int) (launch, error) {
	n := len(spec.Tasks)
	if t.Index != i {
		return launch{}, fmt.Errorf("index %d at position %d: tasks must be in index order", t.Index, i)
	}
	if len(t.Command) == 0 {
		return launch{}, errors.New("empty command")
	}
	for _, a := range t.Command {
		if strings.IndexByte(a, 0) >= 0 {
			return launch{}, errors.New("command argument contains a NUL byte")
		}
	}
	if t.LogPath == "" || t.ExitCodePath == "" {
		return launch{}, errors.New("log path and exit code path are required")
	}
	l := launch{job: spec.JobID, task: taskName(t, i), argv: t.Command}
	var err error
	if l.dir, err = filepath.Abs(t.Dir); err != nil {
		return launch{}, fmt.Errorf("working directory: %w", err)
	}
	if fi, err := os.Stat(l.dir); err != nil {
		return launch{}, fmt.Errorf("working directory: %w", err)
	} else if !fi.IsDir() {
		return launch{}, fmt.Errorf("working directory %s is not a directory", l.dir)
	}
	if l.logPath, err = filepath.Abs(t.LogPath); err != nil {
		return launch{}, fmt.Errorf("log path: %w", err)
	}
	if l.exitPath, err = filepath.Abs(t.ExitCodePath); err != nil {
		return launch{}, fmt.Errorf("exit code path: %w", err)
	}
	l.tmpDir = filepath.Join(l.dir, ".tmp")
	if e.sandbox != nil {
		if err := e.sandbox.checkMount(l.dir); err != nil {
			return launch{}, fmt.Errorf("working directory: %w", err)
		}
		l.mounts = spec.Mounts
		// A task could rewrite whatever it can write: its exit status
		// and log must be out of its reach.
		for _, p := range []string{l.exitPath, l.logPath} {
			if executor.Within(p, l.dir) {
				return launch{}, fmt.Errorf("%s is inside the working directory, where the task could forge it", p)
			}
			for _, m := range spec.Mounts {
				if m.Writable && executor.Within(p, m.Path) {
					return launch{}, fmt.Errorf("%s is inside the writable mount %s, where the task could forge it", p, m.Path)
				}
			}
		}
	}

	env := map[string]string{
		"PATH":   e.path,
		"HOME":   l.dir,
		"LANG":   "C.UTF-8",
		"TMPDIR": l.tmpDir,
	}
	for k, v := range t.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.IndexByte(v, 0) >= 0 {
			return launch{}, fmt.Errorf("invalid environment variable %q", k)
		}
		if slices.Contains(reservedEnv, k) || slices.ContainsFunc(reservedEnvPrefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
			return launch{}, fmt.Errorf("environment variable %s is reserved: it would change how the task is supervised", k)
		}
		env[k] = v
	}
	hosts := strings.TrimSuffix(strings.Repeat(LocalHost+",", n), ",")
	for k, v := range map[string]string{
		"VC_TASK_INDEX":   strconv.Itoa(i),
		"VC_WORKER_NUM":   strconv.Itoa(n),
		"VC_WORKER_HOSTS": hosts,
		"MA_CURRENT_IP":   LocalHost,
		"MA_NUM_HOSTS":    strconv.Itoa(n),
		"MA_NUM_GPUS":     strconv.Itoa(spec.Flavor.GPUs),
		"MASTER_ADDR":     LocalHost,
		"MASTER_PORT":     strconv.Itoa(port),
		"WORLD_SIZE":      strconv.Itoa(n),
		"RANK":            strconv.Itoa(i),
	} {
		env[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		l.env = append(l.env, k+"="+env[k])
	}
	// The same lookup execve will do, so that a typo fails Start instead of
	// a task.
	cmd, err := lookPath(t.Command[0], env["PATH"], l.dir)
	if err != nil {
		return launch{}, fmt.Errorf("command %q cannot be run: %w", t.Command[0], err)
	}
	if e.sandbox != nil {
		own := []string{l.dir}
		for _, m := range spec.Mounts {
			own = append(own, m.Path)
		}
		if l.runtime, err = e.sandbox.runtimeFor(cmd, own); err != nil {
			return launch{}, err
		}
	}
	return l, nil
}

// launch starts one task and returns its handle once the task's process
// group exists.
func (e *Executor) launch(ctx context.Context, l launch) (executor.Handle, error) {
	for _, d := range []string{filepath.Dir(l.logPath), filepath.Dir(l.exitPath)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("create directory: %w", err)
		}
	}
	if err := os.MkdirAll(l.tmpDir, 0o700); err != nil {
		return "", fmt.Errorf("create TMPDIR: %w", err)
	}
	// A status left by an earlier run at the same path would make the new
	// task look ended.
	for _, p := range []string{l.exitPath, l.exitPath + ".tmp"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("remove old exit status: %w", err)
		}
	}
	logFile, err := os.OpenFile(l.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return "", fmt.Errorf("open log: %w", err)
	}
	defer logFile.Close()
	pidR, pidW, err := os.Pipe()
	if err != nil {
		return "", fmt.Errorf("create pipe: %w", err)
	}
	defer pidR.Close()
	goR, goW, err := os.Pipe()
	if err != nil {
		pidW.Close()
		return "", fmt.Errorf("create pipe: %w", err)
	}
	defer goW.Close()

	args := []string{"-c", wrapperScript, "atelier-task", l.exitPath, e.mv}
	if e.sandbox == nil {
		args = append(args, e.setsid, "-w", "/bin/sh", "-c", taskScript, "atelier-task")
		args = append(args, l.argv...)
	} else {
		args = append(args, e.sandbox.bwrap)
		args = append(args, e.sandbox.args(l.dir, l.mounts, l.runtime)...)
		args = append(args, "/bin/sh", "-c", taskScript, "atelier-task")
		args = append(args, e.sandbox.command(l.argv)...)
	}
	cmd := exec.Command("/bin/sh", args...)
	cmd.Dir = l.dir
	cmd.Env = l.env
	cmd.Stdout = logFile // one file for both, so their lines interleave in order
	cmd.Stderr = logFile
	cmd.ExtraFiles = []*os.File{pidW, goR} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	startedAt := e.now()
	err = cmd.Start()
	pidW.Close()
	goR.Close()
	if err != nil {
		return "", fmt.Errorf("start wrapper: %w", err)
	}
	wrapper := cmd.Process.Pid
	// Reap the wrapper so that it does not linger as a zombie while the
	// server runs (after a restart PID 1 inherits that job).
	reaped := make(chan sampleKey, 1)
	ended := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(ended)
		e.log.Debug("task wrapper ended", "job", l.job, "task", l.task, "pid", wrapper)
		select {
		case k := <-reaped:
			e.forget(k)
		default:
		}
	}()

	d, err := e.handshake(ctx, pidR, goW, wrapper, ended)
	if err != nil {
		select {
		case <-ended:
			// The wrapper is gone: what it or the sandbox said is in the log.
			err = fmt.Errorf("the task ended before it started: %w; its log ends with %q", err, logTail(l.logPath))
		default:
		}
		goW.Close() // the task process exits 125 instead of running
		_ = syscall.Kill(-wrapper, syscall.SIGKILL)
		if d.PGID > 1 {
			_ = syscall.Kill(-d.PGID, syscall.SIGKILL)
		}
		return "", err
	}
	d.Version = handleVersion
	d.Job, d.Task = l.job, l.task
	d.BootID = e.bootID
	d.ExitFile, d.LogFile = l.exitPath, l.logPath
	d.StartedAt = startedAt
	reaped <- d.key()
	e.log.Info("task started", "job", l.job, "task", l.task, "pid", d.PGID, "wrapper", wrapper)
	return d.encode(), nil
}

// handshake reads the task process's pid, records both processes' start
// times, and lets the task run.
func (e *Executor) handshake(ctx context.Context, pidR, goW *os.File, wrapper int, ended <-chan struct{}) (handleData, error) {
	var d handleData
	deadline := time.Now().Add(handshakeTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := pidR.SetReadDeadline(deadline); err != nil {
		return d, fmt.Errorf("wait for task process: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = pidR.SetReadDeadline(time.Now()) })
	defer stop()
	// The wrapper holds the pipe open itself, so its end (bubblewrap
	// refused to start, say) would otherwise be seen only at the deadline.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ended:
			_ = pidR.SetReadDeadline(time.Now())
		case <-done:
		}
	}()
	line, err := bufio.NewReader(pidR).ReadString('\n')
	if err != nil {
		if ctx.Err() != nil {
			return d, fmt.Errorf("wait for task process: %w", ctx.Err())
		}
		return d, fmt.Errorf("wait for task process: %w", err)
	}
	d.PGID, err = strconv.Atoi(strings.TrimSpace(line))
	if err != nil || d.PGID <= 1 && e.sandbox == nil || d.PGID < 1 {
		return handleData{}, fmt.Errorf("wait for task process: bad pid %q", line)
	}
	if e.sandbox != nil {
		// The pid is the one inside the sandbox; the group to signal is
		// the sandbox's, led by bubblewrap's init.
		p, err := sandboxedProcess(wrapper, d.PGID)
		if err != nil {
			return handleData{}, fmt.Errorf("find task process: %w", err)
		}
		ps, err := readProcStat(p)
		if err != nil {
			return handleData{}, fmt.Errorf("read task process: %w", err)
		}
		if ps.PGID <= 1 {
			return handleData{}, fmt.Errorf("task process %d is in group %d", p, ps.PGID)
		}
		d.PGID = ps.PGID
	}
	// The wrapper is waiting for the task and the task for "go": neither
	// can have been reaped, so both stat files are there.
	ws, err := readProcStat(wrapper)
	if err != nil {
		return d, fmt.Errorf("read wrapper process: %w", err)
	}
	ts, err := readProcStat(d.PGID)
	if err != nil {
		return d, fmt.Errorf("read task process: %w", err)
	}
	if ts.PGID != d.PGID {
		return d, fmt.Errorf("task process %d is in group %d, not its own", d.PGID, ts.PGID)
	}
	d.PID, d.PIDStart, d.PGIDStart = wrapper, ws.StartTicks, ts.StartTicks
	if _, err := fmt.Fprintf(goW, "go\npgid %d\n", d.PGID); err != nil {
		return d, fmt.Errorf("release task process: %w", err)
	}
	if err := goW.Close(); err != nil {
		return d, fmt.Errorf("release task process: %w", err)
	}
	return d, nil
}

// logTail is the end of a log, for an error message.
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > 512 {
		_, _ = f.Seek(-512, io.SeekEnd)
	}
	b, _ := io.ReadAll(io.LimitReader(f, 512))
	return strings.TrimSpace(string(b))
}

// giveToTasks makes the task user the owner of what tasks write (their
// working directories and TMPDIRs, the writable mounts) when tasks run as
// another user than the server. Symbolic links are changed, never
// followed.
func (e *Executor) giveToTasks(ls []launch, mounts []executor.Mount) error {
	if e.sandbox == nil || e.sandbox.setpriv == "" {
		return nil
	}
	var roots []string
	for _, l := range ls {
		if err := os.MkdirAll(l.tmpDir, 0o700); err != nil {
			return fmt.Errorf("create TMPDIR: %w", err)
		}
		roots = append(roots, l.dir)
	}
	for _, m := range mounts {
		if m.Writable {
			roots = append(roots, m.Path)
		}
	}
	slices.Sort(roots)
	roots = slices.Compact(roots)
	uid, gid := e.sandbox.uid, e.sandbox.gid
	for _, r := range roots {
		err := filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		})
		if err != nil {
			return fmt.Errorf("give %s to the task user %d: %w", r, uid, err)
		}
	}
	return nil
}

// freePort is a TCP port nobody listens on now. Another process may take it
// before task 0 listens; distributed frameworks report that clearly.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", LocalHost+":0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
