// Package executor defines how training tasks are run: the Executor
// interface that the local process executor (the embedded default) and the
// later Slurm and Kubernetes executors implement. It knows processes and
// schedulers, not jobs' business rules, HTTP or the database.
//
// # The sandbox rule
//
// A job's code is the user's, and the user is not trusted with the
// server's secrets. Every executor runs tasks so that they see only their
// Task.Dir, the JobSpec's Mounts and the runtime they need (interpreter,
// libraries, a minimal /etc): never the server's data directory, its
// database, bootstrap credentials, other jobs' directories, the server's
// processes or its environment (Task.Env is the whole environment a task
// gets, plus what the executor documents), and never with the server's
// OS user, credentials or cloud identity. An executor that cannot
// guarantee this on the machine it runs on fails to construct, unless the
// operator opted out explicitly. The local executor uses bubblewrap
// (mount, PID and IPC namespaces) and an unprivileged uid; a Slurm
// executor must submit as an unprivileged account with the same file
// visibility, and a Kubernetes executor must give pods no service-account
// token and no host paths beyond the job's own.
//
// Whatever a task leaves behind is hostile input to the server: whoever
// reads a job's files after it ran (outputs, logs, exit statuses) must not
// follow symbolic links or trust hard links found there.
package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// Flavor is a resource shape a job's tasks run with.
type Flavor struct {
	ID        string  // e.g. "local.cpu.2u4g"
	Name      string  // human-readable
	CPU       float64 // cores
	MemoryMiB int64
	GPUs      int
	GPUType   string // "" when GPUs == 0
	DiskGiB   int64
}

// Resources is an amount of capacity.
type Resources struct {
	CPU       float64
	MemoryMiB int64
	GPUs      int
}

// Task is one process of a job: "worker-0" … "worker-N-1".
type Task struct {
	ID    string // "worker-<index>"
	Index int
	// Dir is the task's working directory, already populated with the code
	// (and inputs) by the caller. The task may write in it. The training
	// service gives every task of a job the same Dir and Command; an
	// executor that runs a job's tasks from one template (Kubernetes'
	// Indexed Job) refuses tasks that differ with ErrUnsupported.
	Dir string
	// Command is the argv to run, never shell text: hyperparameters are
	// arguments, so shell metacharacters in them are inert.
	Command []string
	// Env is added to a minimal environment (PATH, HOME, LANG); the executor
	// adds its topology variables on top (see JobSpec).
	Env map[string]string
	// LogPath receives the task's stdout and stderr, appended.
	LogPath string
	// ExitCodePath is where the executor records the task's exit status so
	// that it survives a restart of the server.
	ExitCodePath string
}

// Mount is a host directory a job's tasks may use besides their Task.Dir,
// at the same path: a materialised input, an output directory, the log
// directory. Nothing else of the host's job files is visible to them.
type Mount struct {
	Path     string
	Writable bool
}

// JobSpec is everything needed to start a job's tasks.
type JobSpec struct {
	JobID  string
	Flavor Flavor
	// Image is the container image the tasks run in, when the job's
	// algorithm names one; "" runs them in the executor's own runtime. An
	// executor without images (the local one) refuses a job with one with
	// ErrUnsupported.
	Image string
	Tasks []Task
	// Mounts are shared by every task of the job. Task.ExitCodePath must
	// not be inside Task.Dir or a writable mount, or a task could forge it.
	Mounts []Mount
	// The executor sets, per task, the topology variables that only it can
	// know: VC_TASK_INDEX, VC_WORKER_NUM, VC_WORKER_HOSTS (comma-separated,
	// one per task), MA_CURRENT_IP, MA_NUM_HOSTS, MASTER_ADDR, MASTER_PORT
	// (a free port on task 0's host), WORLD_SIZE and RANK.
}

// Handle identifies a started task durably: the caller stores it and can
// ask about the task after its own restart. Its content is executor-specific.
type Handle string

// State is what an executor knows about a task.
type State struct {
	// Running is true while the task's process (group) is alive.
	Running bool
	// Exited is true once the task ended and ExitCode is known.
	Exited   bool
	ExitCode int
	// Lost is true when the task is neither running nor has a recorded exit
	// status (e.g. the machine rebooted): the caller marks it Abnormal.
	Lost      bool
	StartedAt time.Time
	EndedAt   time.Time
	// Signal names the signal that ended the task, if any ("SIGTERM").
	Signal string
}

// Usage is a sample of a running task's consumption.
type Usage struct {
	At time.Time
	// CPUPercent is CPU time over wall time since the previous sample, in
	// percent of one core (200 = two cores busy).
	CPUPercent float64
	MemoryMiB  float64
}

// Executor runs tasks.
type Executor interface {
	// Name is "local", "slurm" or "kubernetes".
	Name() string
	// Flavors lists the resource shapes this executor offers.
	Flavors() []Flavor
	// Capacity is the total resources jobs may use at once.
	Capacity() Resources
	// Start launches every task of a job and returns one handle per task, in
	// order. When any task cannot start, the ones already started are
	// stopped and the error says which task failed and why.
	Start(ctx context.Context, spec JobSpec) ([]Handle, error)
	// State reports a task's state; it works for handles from before a
	// restart of the server.
	State(ctx context.Context, h Handle) (State, error)
	// Terminate sends SIGTERM (or the scheduler's equivalent) to the task's
	// whole process group and SIGKILL after grace if it is still alive. It
	// returns once the signal is sent, not when the task has ended.
	Terminate(ctx context.Context, h Handle, grace time.Duration) error
	// Usage samples a running task's CPU and memory.
	Usage(ctx context.Context, h Handle) (Usage, error)
}

// ErrUnsupported reports a job the executor cannot run (e.g. a container
// image on the local executor), with a message for the user.
var ErrUnsupported = errors.New("not supported by this executor")

// SignalName names the signal an exit status of 128+n stands for, the
// convention of shells, Slurm's steps and container runtimes for a process
// killed by signal n; "" for any other status. A program that exits with
// such a code itself is indistinguishable.
func SignalName(code int) string {
	if code <= 128 {
		return ""
	}
	return signalNames[syscall.Signal(code-128)]
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL: "SIGILL", syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT",
	syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
	syscall.SIGSTKFLT: "SIGSTKFLT", syscall.SIGCHLD: "SIGCHLD", syscall.SIGCONT: "SIGCONT",
	syscall.SIGSTOP: "SIGSTOP", syscall.SIGTSTP: "SIGTSTP", syscall.SIGTTIN: "SIGTTIN",
	syscall.SIGTTOU: "SIGTTOU", syscall.SIGURG: "SIGURG", syscall.SIGXCPU: "SIGXCPU",
	syscall.SIGXFSZ: "SIGXFSZ", syscall.SIGVTALRM: "SIGVTALRM", syscall.SIGPROF: "SIGPROF",
	syscall.SIGWINCH: "SIGWINCH", syscall.SIGIO: "SIGIO", syscall.SIGPWR: "SIGPWR",
	syscall.SIGSYS: "SIGSYS",
}

// ValidateFlavors checks an executor's flavors: each has an ID of its own
// and some CPU and memory.
func ValidateFlavors(fs []Flavor) error {
	seen := make(map[string]bool, len(fs))
	for _, f := range fs {
		if f.ID == "" {
			return errors.New("flavor without an ID")
		}
		if seen[f.ID] {
			return fmt.Errorf("flavor %s listed twice", f.ID)
		}
		if f.CPU <= 0 || f.MemoryMiB <= 0 || f.GPUs < 0 {
			return fmt.Errorf("flavor %s: want CPU and memory above zero", f.ID)
		}
		seen[f.ID] = true
	}
	return nil
}

// EncodeHandle makes an executor's handle data (strings, numbers, times:
// JSON always marshals them) a Handle; DecodeHandle reads it back. Each
// executor checks what it decoded itself.
func EncodeHandle(v any) Handle {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode handle: %v", err))
	}
	return Handle(b)
}

// DecodeHandle reads a Handle EncodeHandle made into v.
func DecodeHandle(h Handle, v any) error {
	return json.Unmarshal([]byte(h), v)
}

// Within reports whether the clean absolute path p is root or below it:
// the check every executor makes before showing a task a directory.
func Within(p, root string) bool {
	if root == "/" {
		return true
	}
	return p == root || strings.HasPrefix(p, root+"/")
}
