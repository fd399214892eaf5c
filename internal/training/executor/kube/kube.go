// Package kube is the Kubernetes executor: it runs a training job's tasks
// as one Indexed Job (completions = parallelism = the number of tasks,
// backoffLimit 0, restartPolicy Never) with a headless Service, through
// client-go, in one namespace. It owns the Job, Service and pod objects it
// creates, the format of its handles, the reading of a task's state from
// its pod, the copying of pod logs to Task.LogPath and the exit records it
// keeps beside Task.ExitCodePath.
//
// It must not decide which jobs fit (the caller accounts capacity against
// Capacity and Flavors; the cluster's scheduler queues pods that do not fit
// its nodes), nor know jobs' business rules, HTTP or the database.
//
// # Objects
//
// Start creates, per job, a Job named after the job id with a random
// suffix (so that a second attempt of the same job never collides with the
// first; Start deletes an earlier attempt's objects first), and a headless
// Service of the same name (owned by the Job) that selects the job's pods,
// whose template sets subdomain to it: task i, which the Job controller
// names <name>-<i>, is reachable at <name>-<i>.<name> from every task. All
// tasks share one pod template, so they must share Command and Dir; their
// Env may differ only by the task's index (see Start).
//
// # Environment
//
// A task's container gets Task.Env and the topology variables, nothing
// else of the server's (service links are off). VC_TASK_INDEX and RANK come
// from the pod's completion index (the downward API), MA_CURRENT_IP from
// its pod IP, VC_WORKER_HOSTS lists every task's DNS name, MASTER_ADDR is
// task 0's and MASTER_PORT is Options.MasterPort (every pod has its own
// network namespace, so a fixed port is free). Kubernetes expands $(VAR)
// in command, args and env values; the executor escapes every '$' so that
// argv and Task.Env arrive verbatim, and the image's entrypoint is
// replaced by Task.Command: nothing runs it through a shell.
//
// # Sandbox
//
// Pods get no service-account token (automountServiceAccountToken false,
// and Options.ServiceAccount, which should have no rights), no host paths,
// no host namespaces, run as a non-root uid with no privilege escalation,
// every capability dropped and the runtime's default seccomp profile. The
// job's files live on a shared ReadWriteMany PersistentVolumeClaim mounted
// in Atelier's own pod at Options.JobsDir; a task's pod mounts that claim
// only at Task.Dir and at the JobSpec's Mounts, each with subPath = its
// path under JobsDir and at the same path, read-only unless writable: never
// another job's directory, the job's exit records, nor the data directory.
// Start refuses paths outside JobsDir and paths that hold a protected one.
//
// # State
//
// A task's state is its pod's. The pod template carries a finalizer of the
// executor's own, so that a pod, even deleted (by Terminate, the garbage
// collector or a Job's TTL), stays in the API until the executor has read
// its container's terminated status: State copies the rest of the log,
// writes an exit record (exit code, signal, start and end times) beside
// Task.ExitCodePath, and only then removes the finalizer. From then on
// State reads the record: it survives the pod, the Job and a restart of the
// server. A pod that is pending, or not yet created by the Job controller,
// counts as running (the cluster is queuing it). A task is Lost when its
// pod failed without a terminated container (evicted, say), or when it has
// no pod while its Job is gone or finished.
//
// # Logs
//
// Pod logs are read through the Pod log API (following, with timestamps)
// and appended to Task.LogPath by a goroutine per running task, which State
// starts when none runs, after a restart too. How far it got is kept in a
// file beside the exit record (the timestamp of the last line copied, and
// how many lines had it), so a restarted copy skips what was copied; a
// crash can repeat the lines of the last second at most. The API streams
// stdout and stderr merged, as the container runtime recorded them.
package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// NobodyID is the uid and gid tasks run as by default.
const NobodyID = 65534

// DefaultMasterPort is MASTER_PORT by default: PyTorch's.
const DefaultMasterPort = 29500

// Options configure an Executor.
type Options struct {
	// Client talks to the API server; required.
	Client kubernetes.Interface
	// Namespace holds every object the executor creates; required.
	Namespace string
	// JobsDir is where the jobs claim is mounted in the server's pod (and
	// at the same path in tasks' pods); required, absolute.
	JobsDir string
	// JobsClaim is the ReadWriteMany PersistentVolumeClaim holding JobsDir;
	// required.
	JobsClaim string
	// DefaultImage runs jobs that name no image; required.
	DefaultImage string
	// ServiceAccount is the tasks' pods' service account ("" for the
	// namespace's default). Its token is never mounted; it should have no
	// rights anyway.
	ServiceAccount string
	// Flavors and Capacity are what the caller may offer and use at once.
	Flavors  []executor.Flavor
	Capacity executor.Resources
	// TaskUID and TaskGID are the non-root user tasks run as (default
	// NobodyID).
	TaskUID, TaskGID int64
	// MasterPort is MASTER_PORT (default DefaultMasterPort).
	MasterPort int
	// Grace is the pods' terminationGracePeriodSeconds, the grace pods
	// stopped by the garbage collector rather than Terminate get (default
	// 30 s).
	Grace time.Duration
	// TTLAfterFinished lets Kubernetes delete a finished Job after this
	// long (default one hour; pods keep their finalizer until read).
	TTLAfterFinished time.Duration
	// Protected are paths tasks must never see (the data directory): Start
	// refuses a mount that would show one.
	Protected []string
	// Logs reads pods' logs; default the Pod log API through Client.
	Logs LogSource
	// LogDrain bounds how long State waits, after a task's container
	// ended, for the rest of its log before it records the exit anyway
	// (default 30 s).
	LogDrain time.Duration
	Logger   *slog.Logger
	// Now stamps Usage.At; default time.Now.
	Now func() time.Time
}

// Executor runs tasks as pods of Indexed Jobs. It is safe for concurrent
// use. Close stops its log copiers.
type Executor struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time

	ctx    context.Context // the log copiers'
	cancel context.CancelFunc

	mu      sync.Mutex
	copiers map[string]*copier // by pod UID
	closed  bool
	wg      sync.WaitGroup
}

var _ executor.Executor = (*Executor)(nil)

// New returns an executor for the namespace. It checks the options and
// that the API server answers and lets it list Jobs there: a server that
// cannot reach its cluster refuses jobs from the start.
func New(ctx context.Context, opts Options) (*Executor, error) {
	switch {
	case opts.Client == nil:
		return nil, errors.New("kubernetes executor: no API client")
	case opts.Namespace == "":
		return nil, errors.New("kubernetes executor: no namespace")
	case opts.JobsClaim == "":
		return nil, errors.New("kubernetes executor: no jobs claim (the ReadWriteMany PersistentVolumeClaim mounted at the jobs directory)")
	case opts.DefaultImage == "":
		return nil, errors.New("kubernetes executor: no default image")
	case !filepath.IsAbs(opts.JobsDir):
		return nil, fmt.Errorf("kubernetes executor: jobs directory %q is not absolute", opts.JobsDir)
	}
	opts.JobsDir = filepath.Clean(opts.JobsDir)
	if opts.TaskUID == 0 {
		opts.TaskUID = NobodyID
	}
	if opts.TaskGID == 0 {
		opts.TaskGID = NobodyID
	}
	if opts.MasterPort == 0 {
		opts.MasterPort = DefaultMasterPort
	}
	if opts.Grace <= 0 {
		opts.Grace = 30 * time.Second
	}
	if opts.TTLAfterFinished <= 0 {
		opts.TTLAfterFinished = time.Hour
	}
	if opts.LogDrain <= 0 {
		opts.LogDrain = 30 * time.Second
	}
	if opts.Logs == nil {
		opts.Logs = podLogs{opts.Client}
	}
	e := &Executor{opts: opts, log: opts.Logger, now: opts.Now, copiers: make(map[string]*copier)}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if err := executor.ValidateFlavors(opts.Flavors); err != nil {
		return nil, fmt.Errorf("kubernetes executor: %w", err)
	}
	if _, err := opts.Client.BatchV1().Jobs(opts.Namespace).List(ctx, listOne); err != nil {
		return nil, fmt.Errorf("kubernetes executor: list jobs in namespace %s: %w", opts.Namespace, err)
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// NewClient is a client of the API server: from the kubeconfig file at
// path, or, when path is empty, the pod's own service account (in-cluster).
func NewClient(path string) (kubernetes.Interface, error) {
	var c *rest.Config
	var err error
	if path == "" {
		if c, err = rest.InClusterConfig(); err != nil {
			return nil, fmt.Errorf("in-cluster Kubernetes configuration (give a kubeconfig outside a cluster): %w", err)
		}
	} else if c, err = clientcmd.BuildConfigFromFlags("", path); err != nil {
		return nil, fmt.Errorf("read kubeconfig %s: %w", path, err)
	}
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, nil
}

// Close stops the log copiers and waits for them; tasks run on.
func (e *Executor) Close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
}

// Name is "kubernetes".
func (e *Executor) Name() string { return "kubernetes" }

// Flavors lists Options.Flavors.
func (e *Executor) Flavors() []executor.Flavor {
	return append([]executor.Flavor(nil), e.opts.Flavors...)
}

// Capacity is Options.Capacity: the share of the cluster the operator
// gives Atelier (the executor reads no nodes, which would need rights over
// the whole cluster).
func (e *Executor) Capacity() executor.Resources { return e.opts.Capacity }

// DefaultFlavors are shapes within capacity: 1, 2, 4, 8… cores with 4 GiB
// each, and, with GPUs, 1, 2, 4, 8… GPUs with 8 cores and 32 GiB each.
func DefaultFlavors(c executor.Resources) []executor.Flavor {
	var fs []executor.Flavor
	for n := 1; float64(n) <= c.CPU && int64(n)*4096 <= c.MemoryMiB; n *= 2 {
		fs = append(fs, executor.Flavor{ID: fmt.Sprintf("kubernetes.cpu.%du%dg", n, 4*n), Name: fmt.Sprintf("%d vCPUs, %d GiB", n, 4*n),
			CPU: float64(n), MemoryMiB: int64(n) * 4096})
	}
	for n := 1; n <= c.GPUs && float64(8*n) <= c.CPU && int64(n)*32768 <= c.MemoryMiB; n *= 2 {
		fs = append(fs, executor.Flavor{ID: fmt.Sprintf("kubernetes.gpu.%d", n), Name: fmt.Sprintf("%d GPU, %d vCPUs, %d GiB", n, 8*n, 32*n),
			CPU: float64(8 * n), MemoryMiB: int64(n) * 32768, GPUs: n, GPUType: "nvidia.com/gpu"})
	}
	return fs
}
