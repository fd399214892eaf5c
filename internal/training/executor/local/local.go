// Package local is the embedded executor: it runs a job's tasks as
// processes on this machine. It owns the supervising wrapper that records a
// task's exit status, the format of its handles, and the reading of /proc
// that tells a running task from an ended or lost one.
//
// It must not decide which jobs fit on the machine (the caller accounts
// capacity against Capacity and Flavors), enforce flavors (there are no
// cgroups: a flavor is a promise the caller keeps), or know jobs' business
// rules, HTTP or the database.
//
// # Processes
//
// Each task is two processes, both outliving the server:
//
//   - the wrapper, /bin/sh started in a new session. It runs the task in
//     the foreground, waits for it, kills whatever the task left in its
//     process group (a task ends like a container: its leftovers die with
//     it), and records the exit status in Task.ExitCodePath (written to a
//     temporary file and renamed). A signal death is recorded as 128+signal
//     (137 for SIGKILL), as shells and container runtimes do. The wrapper
//     ignores HUP, INT and TERM sent to it alone until the task ends, so a
//     stray signal cannot lose the status.
//   - the task, in its own session and process group, which execs
//     Task.Command as argv: nothing interprets it. Unsandboxed, setsid(1)
//     makes the group and the task's pid is its id; sandboxed, the group
//     is that of bubblewrap's init (see Sandbox). Terminate signals that
//     group, never the wrapper, so that the wrapper survives to record how
//     the task ended.
//
// A handle names both, with the start times /proc gives them (so a recycled
// pid is never mistaken for the task) and the kernel's boot id (so nothing
// from before a reboot is).
//
// When a task dies of a signal, the wrapper's shell also writes the
// signal's description ("Terminated", "Killed") to the task's log, as a
// terminal would show it. When Task.Command cannot be executed after all
// (a script whose interpreter is missing), the task exits 127 (126 when
// permission is denied) and the log says why, e.g.
// "atelier-task: 1: exec: ./train.sh: not found".
//
// A Lost task may still have processes: when something killed the wrapper
// alone, the task's group runs on with nobody to record its status. The
// caller marks the job Abnormal and calls Terminate, which stops them.
//
// # Environment
//
// A task gets PATH (Options.Path), HOME (its directory), LANG=C.UTF-8 and
// TMPDIR (a ".tmp" directory in its directory), then Task.Env, then the
// topology variables, which Task.Env cannot override. Every task is on this
// host, so VC_WORKER_HOSTS is LocalHost once per task, and MA_CURRENT_IP
// and MASTER_ADDR are LocalHost; MASTER_PORT is a port free when Start
// chose it; MA_NUM_GPUS is the flavor's GPU count. The executor assigns no
// particular GPUs (CUDA_VISIBLE_DEVICES is the caller's, through Task.Env).
//
// # Sandbox
//
// Tasks run sandboxed (see package executor's sandbox rule and the sandbox
// type): bubblewrap gives each task its own mount, PID, IPC and UTS
// namespaces in which only the runtime (read-only), Task.Dir and the job's
// Mounts exist, and when the server is root the task runs as an
// unprivileged user (Options.TaskUID, default nobody), which Start makes
// the owner of Task.Dir and the writable mounts. New runs a probe in the
// sandbox and fails when it does not work or a protected path
// (Options.Protected: the data directory) is visible; only
// Options.Unsandboxed, the operator's explicit opt-out, skips it, and then
// tasks run as the server's user and can read everything it can.
//
// In the sandbox the process that reports its pid is inside the task's PID
// namespace, so the executor finds its host pid among the wrapper's
// descendants; the task's process group is then the sandbox's, led by
// bubblewrap's init (PID 1 inside), which ignores SIGTERM from outside and
// dies of SIGKILL, taking every process of the namespace with it. So that
// the init lives to report the task's status (a task that died of SIGTERM
// is not recorded as killed), Terminate's SIGKILL goes to the group's other
// members one by one; the init then exits by itself, and the wrapper kills
// the group, init included, once the task has ended. Signals and /proc
// readings use host pids, as without the sandbox. bubblewrap runs without
// --die-with-parent: tasks outlive the server.
//
// ExitCodePath must be outside Task.Dir and the writable mounts (Start
// refuses otherwise) so that a task cannot forge its exit status. Under
// systemd the server's unit needs KillMode=process (or mixed), or stopping
// the server kills every task with it.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// DefaultPath is the PATH tasks get when Options.Path is empty.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Options configure an Executor. Every field is optional.
type Options struct {
	// WorkRoot is the directory training jobs' files live under; the
	// executor keeps no files of its own (handles and exit statuses are at
	// the Task's paths) and only reads the disk size there for flavors.
	WorkRoot string
	// Flavors replaces the flavors derived from the capacity.
	Flavors []executor.Flavor
	// Capacity replaces the detected capacity: runtime.NumCPU() cores,
	// MemTotal from /proc/meminfo, and the GPUs `nvidia-smi -L` lists.
	Capacity *executor.Resources
	// Path is the PATH tasks start with (Task.Env may replace it); default
	// DefaultPath. The server's own PATH is not inherited: packages do not
	// read the environment.
	Path   string
	Logger *slog.Logger
	// Unsandboxed runs tasks outside the sandbox, as the server's user: a
	// task can then read the data directory, the database and every secret
	// in them. Only the operator's explicit opt-out sets it.
	Unsandboxed bool
	// Protected are paths tasks must never see, typically the data
	// directory; New's sandbox check fails when a task could see one, and
	// Start refuses mounts that would show one (the job's own directories
	// inside it are allowed).
	Protected []string
	// TaskUID and TaskGID are the user tasks run as when the server is
	// root (default NobodyID); otherwise tasks keep the server's uid.
	TaskUID, TaskGID int
	// Bwrap is bubblewrap's path (default: bwrap in /usr/bin or /bin).
	Bwrap string
	// Now stamps StartedAt and Usage.At; default time.Now. Durations that
	// CPU percentages divide by come from the kernel's clock, not from Now.
	Now func() time.Time
}

// Executor runs tasks as local processes. It is safe for concurrent use;
// several Executors (for instance before and after a server restart) can
// query the same handles.
type Executor struct {
	log      *slog.Logger
	now      func() time.Time
	path     string
	capacity executor.Resources
	flavors  []executor.Flavor
	bootID   string
	setsid   string   // absolute path of setsid(1)
	mv       string   // absolute path of mv(1)
	sandbox  *sandbox // nil when unsandboxed

	mu      sync.Mutex
	samples map[sampleKey]sample // previous Usage sample per task, bounded
}

var _ executor.Executor = (*Executor)(nil)

// maxSamples bounds the Usage memory: a caller that samples more live tasks
// than this only loses the oldest tasks' previous samples (their next
// percentage is then averaged over their lifetime).
const maxSamples = 4096

// New returns an executor for this machine. It fails when the machine lacks
// what tasks need: /proc, /bin/sh, setsid(1) and mv(1), and, unless
// Options.Unsandboxed, a working sandbox (bubblewrap, and setpriv(1) when
// the server is root) that hides Options.Protected.
func New(opts Options) (*Executor, error) {
	e := &Executor{
		log:     opts.Logger,
		now:     opts.Now,
		path:    opts.Path,
		samples: make(map[sampleKey]sample),
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.path == "" {
		e.path = DefaultPath
	}
	var err error
	if e.bootID, err = readBootID(); err != nil {
		return nil, fmt.Errorf("local executor: %w", err)
	}
	if _, err := os.Stat("/bin/sh"); err != nil {
		return nil, fmt.Errorf("local executor needs /bin/sh: %w", err)
	}
	// The wrapper calls its helpers by absolute path so that a task's PATH
	// cannot change them.
	const helperPath = "/usr/bin:/bin:/usr/sbin:/sbin"
	if e.setsid, err = lookPath("setsid", helperPath, "/"); err != nil {
		return nil, fmt.Errorf("local executor needs setsid (util-linux): %w", err)
	}
	if e.mv, err = lookPath("mv", helperPath, "/"); err != nil {
		return nil, fmt.Errorf("local executor needs mv (coreutils): %w", err)
	}

	var gpus []string
	if opts.Capacity == nil || (opts.Capacity.GPUs > 0 && opts.Flavors == nil) {
		gpus = detectGPUs(e.path)
	}
	if opts.Capacity != nil {
		e.capacity = *opts.Capacity
	} else if e.capacity, err = detectCapacity(len(gpus)); err != nil {
		return nil, fmt.Errorf("local executor: detect capacity: %w", err)
	}
	gpuType := ""
	if len(gpus) > 0 {
		gpuType = gpus[0]
	}
	if opts.Flavors != nil {
		e.flavors = append([]executor.Flavor(nil), opts.Flavors...)
	} else {
		e.flavors = defaultFlavors(e.capacity, gpuType, diskGiB(opts.WorkRoot))
	}
	if err := executor.ValidateFlavors(e.flavors); err != nil {
		return nil, fmt.Errorf("local executor: %w", err)
	}
	if !opts.Unsandboxed {
		if e.sandbox, err = newSandbox(opts, e.capacity.GPUs); err != nil {
			return nil, fmt.Errorf("local executor: %w", err)
		}
		if err := e.sandbox.probe(context.Background()); err != nil {
			return nil, fmt.Errorf("local executor: %w", err)
		}
	}
	return e, nil
}

// Name is "local".
func (e *Executor) Name() string { return "local" }

// Flavors lists the resource shapes the caller may offer; see Options.Flavors.
func (e *Executor) Flavors() []executor.Flavor {
	return append([]executor.Flavor(nil), e.flavors...)
}

// Capacity is the whole machine (or Options.Capacity).
func (e *Executor) Capacity() executor.Resources { return e.capacity }

// lookPath finds name as execve would for a task whose PATH is path and
// whose working directory is dir: a name with a slash is taken relative to
// dir, any other is searched in path (an empty element meaning dir). It
// returns the absolute path of an executable regular file.
func lookPath(name, path, dir string) (string, error) {
	if name == "" {
		return "", errors.New("empty command")
	}
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := checkExecutable(p); err != nil {
			return "", err
		}
		return p, nil
	}
	var firstErr error
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		p := filepath.Join(d, name)
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		if firstErr == nil && !errors.Is(err, os.ErrNotExist) {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", fmt.Errorf("%q not found in PATH %s", name, path)
}
