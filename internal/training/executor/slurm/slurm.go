// Package slurm is the executor that runs training jobs on a Slurm
// cluster: one batch job per training job, one job step per task (one task
// per node). It owns the batch and step scripts, the control files beside
// each task's exit status, the format of its handles, and the reading of
// squeue, scontrol and the job completion log that tells a pending task
// from a running, ended or lost one.
//
// It must not decide which jobs fit the cluster (Slurm queues them; the
// caller accounts capacity against Capacity and Flavors), or know jobs'
// business rules, HTTP or the database.
//
// # Requirements
//
// The server runs the Slurm client commands (sbatch, squeue, scancel,
// scontrol, sinfo, sacct, sstat) of a cluster whose munge key it shares,
// as root: it submits with sbatch --uid/--gid so that jobs run as the job
// account (Options.JobUser), an unprivileged user that is never the
// server's. The jobs directory (Options.WorkRoot) is on a file system every
// node mounts at the same path, and the job account must be able to walk
// to it (New checks the part of the path it can see). Nodes need bash 5.1
// or later, GNU coreutils (env --default-signal: 8.31 or later), a kernel
// with /proc/<pid>/task/<tid>/children and, unless the operator opted out,
// bubblewrap with unprivileged user namespaces.
//
// # How a job runs
//
// Start writes, beside each task's ExitCodePath, a control directory
// (ExitCodePath + ".slurm", owned by the job account, mode 0700) with the
// task's argv, environment, log path and sandbox arguments as NUL-separated
// lists; the first task's also holds the batch script (job.sh) and the step
// script (step.sh). It gives the job account the task's directory, its
// writable mounts and its log file, and submits one batch job: --nodes and
// --ntasks the number of tasks, --ntasks-per-node=1, the flavor's CPUs
// (--cpus-per-task), memory per node (--mem) and GPUs (--gres=gpu[:type]:N),
// the configured partition and account, --export=NIL (of the server's
// environment only Slurm's own SLURM_* variables reach the batch script,
// and the step script clears even those for the task), --no-requeue (a job never runs twice
// behind the server's back) and a name "atelier-<job id>".
//
// The batch script runs on the first node. It resolves the nodes'
// addresses (scontrol show hostnames / show node), picks MASTER_PORT free
// on that node, and starts one srun per task (--relative=<index>, so task i
// runs on node i), each running the step script, which appends to the
// task's log and runs Task.Command as argv in the sandbox with Task.Env and
// the topology variables (which Task.Env cannot override). The batch script
// waits for each srun and writes the task's exit status, start and end
// times to the control directory: srun reports a task killed by signal n as
// 128+n, which State reports as that signal, as the local executor does.
//
// # Sandbox
//
// Each task runs in bubblewrap (new user, mount, PID, IPC and UTS
// namespaces) that shows the runtime read-only (/usr, a few files of /etc,
// /sys), a private /tmp, and the task's directory and the job's mounts;
// nothing else of the node: not the control directories (so a task cannot
// forge its exit status), not other jobs' directories even though they
// belong to the same account, not munge's socket (so a task cannot talk to
// Slurm). The PID namespace hides the batch script and step processes from
// the task. As the job account is not the server's user, the server's data
// directory, database and keys (mode 0700, root's) are out of its reach
// even outside the sandbox. With Options.Unsandboxed (the operator's
// opt-out) tasks run bare as the job account: they cannot read the
// server's files, but can read other jobs' directories and forge their own
// exit statuses.
//
// # States
//
// A task's status is read first from its ExitCodePath, where State copies
// it once the batch script has recorded it, then from the control
// directory. Otherwise squeue says whether the job is pending (neither
// running, exited nor lost: a job waiting in the queue is not lost) or
// running. A job that left Slurm without a recorded status is lost, except
// one cancelled before it started, which is reported as killed by SIGTERM.
//
// Terminate writes the grace period to the task's control directory (the
// request, which the step script watches) and has Slurm signal the task's
// step with SIGTERM (scancel --signal, which reaches every process of the
// step but not the batch script) without waiting for the controller's
// answer. The step script, which outlives the signal, makes sure the task
// got SIGTERM and SIGKILLs the sandbox's init (and with it every process of
// the task) once the grace period is over. The timer lives on the node, so
// a restart of the server does not lose it; a job still in the queue is
// cancelled. (Slurm's own SIGKILL to the step would kill the step script
// and bubblewrap with the task and orphan the sandbox's init, which keeps
// the step from ending.)
//
// Usage reads sstat, which needs a JobAcctGatherType other than none on
// the cluster; otherwise it returns an error, which the caller treats as
// "no sample".
package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// Options configure an Executor.
type Options struct {
	// WorkRoot is the jobs directory: every task's directory, log and exit
	// status is below it, on a file system the nodes share.
	WorkRoot string
	// Partition and Account are sbatch's --partition and --account; empty
	// for the cluster's defaults.
	Partition string
	Account   string
	// JobUser is the account jobs run as (a name or uid): never root, never
	// the server's own user.
	JobUser string
	// BinDir holds the Slurm commands; empty to find them in PATH.
	BinDir string
	// Unsandboxed runs tasks without bubblewrap: they can then read other
	// jobs' directories and forge their exit statuses (not the server's
	// files). Only the operator's explicit opt-out sets it.
	Unsandboxed bool
	// Protected are paths tasks must never see (the data directory);
	// Start refuses a task directory or mount that would show one.
	Protected []string
	// Bwrap is bubblewrap's path on the nodes (default /usr/bin/bwrap).
	Bwrap  string
	Logger *slog.Logger
}

// Executor runs tasks as Slurm job steps. It is safe for concurrent use;
// several Executors (before and after a restart) can query the same
// handles.
type Executor struct {
	opts     Options
	log      *slog.Logger
	uid, gid int
	bin      map[string]string
	capacity executor.Resources
	flavors  []executor.Flavor
	gpuType  string

	mu      sync.Mutex
	samples map[string]cpuSample
	queries map[string]cachedQuery // squeue's recent answers by job id
}

var _ executor.Executor = (*Executor)(nil)

// commands are the Slurm client programs the executor runs.
var commands = []string{"sbatch", "squeue", "scancel", "scontrol", "sinfo", "sacct", "sstat"}

// New checks the configuration and asks the cluster for its nodes (the
// partition's, or the default partition's): Capacity is their sum, and
// the flavors are shapes that fit the smallest of them. It fails when
// Slurm does not answer, when the job account is root or the server's own
// user, when the server is not root (only root may submit as another
// user), or when the job account cannot reach WorkRoot.
func New(ctx context.Context, opts Options) (*Executor, error) {
	e := &Executor{opts: opts, log: opts.Logger, bin: map[string]string{}, samples: map[string]cpuSample{},
		queries: map[string]cachedQuery{}}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.opts.Bwrap == "" {
		e.opts.Bwrap = "/usr/bin/bwrap"
	}
	for _, c := range commands {
		p := c
		if opts.BinDir != "" {
			p = filepath.Join(opts.BinDir, c)
		}
		abs, err := exec.LookPath(p)
		if err != nil {
			return nil, fmt.Errorf("slurm executor: find %s (install Slurm's client commands or set --slurm-bin-dir): %w", c, err)
		}
		e.bin[c] = abs
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("slurm executor: the server must run as root to submit jobs as the job account (sbatch --uid); jobs never run as the server's user")
	}
	if opts.JobUser == "" {
		return nil, errors.New("slurm executor: no job account: set --slurm-job-user to an unprivileged user that exists on every node")
	}
	u, err := lookupUser(opts.JobUser)
	if err != nil {
		return nil, fmt.Errorf("slurm executor: job account %q: %w", opts.JobUser, err)
	}
	if e.uid, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("slurm executor: job account %q has uid %q", opts.JobUser, u.Uid)
	}
	if e.gid, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("slurm executor: job account %q has gid %q", opts.JobUser, u.Gid)
	}
	if e.uid == 0 || e.uid == os.Geteuid() || e.gid == 0 {
		return nil, fmt.Errorf("slurm executor: job account %q is root or the server's user: jobs must run unprivileged", opts.JobUser)
	}
	if opts.WorkRoot == "" {
		return nil, errors.New("slurm executor: no jobs directory")
	}
	if err := e.reachable(opts.WorkRoot); err != nil {
		return nil, fmt.Errorf("slurm executor: %w", err)
	}
	if !opts.Unsandboxed {
		if err := checkExecutable(e.opts.Bwrap); err != nil {
			return nil, fmt.Errorf("slurm executor: the job sandbox needs bubblewrap on every node (apt-get install bubblewrap), or the operator's opt-out --unsafe-no-job-sandbox: %w", err)
		}
	}
	nodes, err := e.nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("slurm executor: ask the cluster for its nodes: %w", err)
	}
	e.capacity, e.flavors, e.gpuType = shapes(nodes)
	if len(e.flavors) == 0 {
		return nil, fmt.Errorf("slurm executor: partition %q has no usable node", opts.Partition)
	}
	return e, nil
}

func lookupUser(name string) (*user.User, error) {
	if _, err := strconv.Atoi(name); err == nil {
		return user.LookupId(name)
	}
	return user.Lookup(name)
}

// reachable checks that the job account may walk down to dir and read it:
// a jobs directory inside the 0700 data directory is not.
func (e *Executor) reachable(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := abs; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil {
			if !e.may(fi, 0o1) {
				return fmt.Errorf("the job account (uid %d) cannot enter %s, on the way to the jobs directory %s: give it search permission, or move the jobs directory (--jobs-dir) out of the server's data directory", e.uid, p, abs)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if p == "/" {
			return nil
		}
	}
}

// may reports whether the job account has permission bits want (r=4, w=2,
// x=1) on a file, by its owner, group and mode (not ACLs).
func (e *Executor) may(fi os.FileInfo, want os.FileMode) bool {
	uid, gid := owner(fi)
	m := fi.Mode().Perm()
	switch {
	case uid == e.uid:
		return m>>6&want == want
	case gid == e.gid:
		return m>>3&want == want
	default:
		return m&want == want
	}
}

// Name is "slurm".
func (e *Executor) Name() string { return "slurm" }

// Flavors are shapes of one node each (a task is one node's step).
func (e *Executor) Flavors() []executor.Flavor { return append([]executor.Flavor(nil), e.flavors...) }

// Capacity is the partition's nodes' resources summed.
func (e *Executor) Capacity() executor.Resources { return e.capacity }

// run runs a Slurm command and returns its standard output; the error
// carries its standard error.
func (e *Executor) run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin[name], args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		return out.String(), &cmdError{name: name, msg: msg, err: err}
	}
	return out.String(), nil
}

// cmdError is a Slurm command that failed, with what it said.
type cmdError struct {
	name, msg string
	err       error
}

func (c *cmdError) Error() string { return fmt.Sprintf("%s: %v: %s", c.name, c.err, c.msg) }
func (c *cmdError) Unwrap() error { return c.err }

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}
