// Package training owns algorithms and training jobs: their validation, their
// stored documents, the job lifecycle (Creating → Pending/Queuing → Running →
// Completed/Failed, Terminating → Terminated, Abnormal), the scheduler that
// admits jobs onto an Executor within its capacity, the materialisation of
// code and inputs from object storage, the upload of outputs and logs, and
// the engines and flavors jobs run with. It knows neither HTTP nor IAM: the
// API layer authorizes, decodes and maps its typed errors.
package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/training/executor"
)

// Options configure a Service; zero durations pick the defaults.
type Options struct {
	DB      *store.DB
	Objects obs.Store
	// Executor runs the tasks; nil means this installation cannot run jobs
	// (they are refused at creation).
	Executor executor.Executor
	// ExecutorUnavailable, when Executor is nil, is what users are told
	// when they create a job (e.g. the sandbox does not work).
	ExecutorUnavailable string
	// DataDir holds engines.json, and jobs/<job_id>/ working directories
	// unless JobsDir is set.
	DataDir string
	// JobsDir, when set, holds the jobs' working directories instead of
	// DataDir/jobs: a cluster executor's tasks run on other machines and
	// need them on a file system they share with the server, at the same
	// path.
	JobsDir string
	// Engines overrides the configured engines (DataDir/engines.json, else
	// the defaults: python3 and bash).
	Engines []Engine
	Logger  *slog.Logger
	Now     func() time.Time
	// Tick is the scheduler's period (1 s); it also wakes on create and on
	// terminate.
	Tick time.Duration
	// Poll is the scheduler's period while jobs are active (250 ms): how
	// soon the end of a task is noticed.
	Poll time.Duration
	// SampleEvery is how often running tasks' usage is sampled (10 s).
	SampleEvery time.Duration
	// Grace is how long terminated tasks get between SIGTERM and SIGKILL (10 s).
	Grace time.Duration
	// LeaseTTL is how long the scheduler lease lasts unless renewed (15 s),
	// measured by the database's clock (Now never decides a lease).
	LeaseTTL time.Duration
	// ReplicaID names this replica in the lease (random when empty).
	ReplicaID string
	// Authorize reads the object-storage permissions of a job's creator:
	// every object a job downloads (code, inputs) or uploads (outputs, a
	// log to its log_export_path) is authorized when it is touched, with
	// the creator's policies as they are then. Nil authorizes nothing
	// beyond what the API checked at creation (tests of other parts).
	Authorize obs.Authorizer
	// LogBucket receives the logs of jobs without a log_export_path, so that
	// their log URL can still be presigned ("atelier-system-training-logs":
	// a system bucket no account owns, so jobs' logs never reach another
	// account through its grants).
	LogBucket string
}

// Scope is who asks and where: every query filters by project, and
// resources live in a workspace of it.
type Scope struct {
	DomainID    string
	ProjectID   string
	WorkspaceID string
	UserID      string
	UserName    string
}

// Service is the training domain.
type Service struct {
	repo    *repo // every read and write of training's tables
	objects obs.Store
	exec    executor.Executor
	dataDir string
	jobsDir string
	engines []Engine
	log     *slog.Logger
	now     func() time.Time
	opts    Options

	wake chan struct{}
	busy atomic.Bool // jobs are active: poll them every Poll

	mu       sync.Mutex
	lastSamp map[string]time.Time // job/task → last usage sample
	// signalled records when this process last sent Terminate to a job's
	// tasks: the executor's SIGKILL-after-grace timer lives in the process
	// that sent it, so after a restart (or a lost timer) the scheduler sends
	// Terminate again to tasks still alive.
	signalled map[string]time.Time
}

// New builds the service. It does not start the scheduler: Run does.
func New(opts Options) (*Service, error) {
	if opts.DB == nil || opts.Objects == nil {
		return nil, errors.New("training: a database and an object store are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.Tick, time.Second)
	def(&opts.Poll, 250*time.Millisecond)
	def(&opts.SampleEvery, 10*time.Second)
	def(&opts.Grace, 10*time.Second)
	def(&opts.LeaseTTL, 15*time.Second)
	if opts.ReplicaID == "" {
		opts.ReplicaID = store.NewID()
	}
	if opts.LogBucket == "" {
		opts.LogBucket = "atelier-system-training-logs"
	}
	s := &Service{repo: &repo{db: opts.DB, replica: opts.ReplicaID}, objects: opts.Objects, exec: opts.Executor, dataDir: opts.DataDir, jobsDir: opts.JobsDir,
		log: opts.Logger, now: opts.Now, opts: opts, wake: make(chan struct{}, 1), lastSamp: map[string]time.Time{}}
	engines := opts.Engines
	if engines == nil {
		var err error
		if engines, err = loadEngines(filepath.Join(opts.DataDir, "engines.json")); err != nil {
			return nil, err
		}
	}
	s.engines = resolveEngines(engines)
	return s, nil
}

// Wake asks the scheduler for a pass now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Engine is a configured way to run a boot file: an interpreter
// ("python3 -u") or a custom command the boot file is appended to.
//
// Engines are configured in DATA_DIR/engines.json, a JSON array of
//
//	{"engine_id": "torch", "engine_name": "PyTorch", "engine_version": "2.3-py3.11",
//	 "launch": ["/opt/venvs/torch/bin/python", "-u"], "extensions": [".py"]}
//
// (DefaultEngines when the file is absent). Only engines whose launcher
// exists on the host are offered.
type Engine struct {
	ID      string `json:"engine_id"`
	Name    string `json:"engine_name"`
	Version string `json:"engine_version"`
	// Launch is the argv prefix; Launch[0] is looked up on PATH.
	Launch []string `json:"launch"`
	// Extensions are the boot-file extensions this engine runs when a job
	// names no engine (".py").
	Extensions []string `json:"extensions"`

	path string // resolved Launch[0]; "" when not available on this host
}

// Available reports whether the engine's launcher exists on this host.
func (e Engine) Available() bool { return e.path != "" }

// DefaultEngines are the engines used when no engines.json is configured.
func DefaultEngines() []Engine {
	return []Engine{
		{ID: "python3", Name: "Python", Version: "python3", Launch: []string{"python3", "-u"}, Extensions: []string{".py"}},
		{ID: "bash", Name: "Bash", Version: "bash", Launch: []string{"bash"}, Extensions: []string{".sh"}},
	}
}

func loadEngines(path string) ([]Engine, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultEngines(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read engines: %w", err)
	}
	var es []Engine
	if err := json.Unmarshal(data, &es); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	for i, e := range es {
		if e.ID == "" || e.Name == "" || len(e.Launch) == 0 {
			return nil, fmt.Errorf("%s: engine %d needs engine_id, engine_name and launch", path, i)
		}
	}
	return es, nil
}

// resolveEngines looks up each engine's launcher. A Python launcher is
// asked for its real interpreter (so that a shim such as pyenv's, which
// needs the server's environment, is not what tasks run) and its version.
func resolveEngines(es []Engine) []Engine {
	out := make([]Engine, 0, len(es))
	for _, e := range es {
		e.Launch = append([]string(nil), e.Launch...)
		if p, err := exec.LookPath(e.Launch[0]); err == nil {
			if abs, err := filepath.Abs(p); err == nil {
				p = abs
			}
			e.path = p
			if strings.HasPrefix(filepath.Base(e.Launch[0]), "python") {
				e.path = ""
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				b, err := exec.CommandContext(ctx, p, "-c", "import sys, platform; print(sys.executable); print(platform.python_version())").Output()
				cancel()
				if lines := strings.Fields(string(b)); err == nil && len(lines) == 2 && filepath.IsAbs(lines[0]) {
					e.path = lines[0]
					if e.Version == "python3" {
						v := strings.Split(lines[1], ".")
						e.Version = "python" + strings.Join(v[:min(2, len(v))], ".")
					}
				}
			}
		}
		out = append(out, e)
	}
	return out
}

// Engines lists the engines available on this host.
func (s *Service) Engines() []Engine {
	var out []Engine
	for _, e := range s.engines {
		if e.Available() {
			out = append(out, e)
		}
	}
	return out
}

// findEngine resolves a job's or algorithm's engine reference; ok is false
// when it names no configured, available engine.
func (s *Service) findEngine(ref EngineRef) (Engine, bool) {
	for _, e := range s.Engines() {
		if ref.EngineID != "" && ref.EngineID == e.ID {
			return e, true
		}
		if ref.EngineID == "" && ref.EngineName != "" && strings.EqualFold(ref.EngineName, e.Name) &&
			(ref.EngineVersion == "" || ref.EngineVersion == e.Version) {
			return e, true
		}
	}
	return Engine{}, false
}

// engineForBootFile picks the engine that runs a boot file by its extension.
func (s *Service) engineForBootFile(boot string) (Engine, bool) {
	ext := strings.ToLower(filepath.Ext(boot))
	for _, e := range s.Engines() {
		for _, x := range e.Extensions {
			if strings.EqualFold(x, ext) {
				return e, true
			}
		}
	}
	return Engine{}, false
}

// Flavor is an executor flavor with what the API says about it.
type Flavor struct {
	executor.Flavor
	// MaxNum is how many nodes of it fit in the executor's capacity.
	MaxNum int
}

// Flavors lists the flavors jobs may ask for.
func (s *Service) Flavors() []Flavor {
	if s.exec == nil {
		return nil
	}
	capacity := s.exec.Capacity()
	var out []Flavor
	for _, f := range s.exec.Flavors() {
		out = append(out, Flavor{Flavor: f, MaxNum: max(1, fits(capacity, f))})
	}
	return out
}

func (s *Service) flavor(id string) (Flavor, bool) {
	for _, f := range s.Flavors() {
		if f.ID == id {
			return f, true
		}
	}
	return Flavor{}, false
}

// fits is how many of f fit in c.
func fits(c executor.Resources, f executor.Flavor) int {
	n := 1 << 20
	if f.CPU > 0 {
		n = min(n, int(c.CPU/f.CPU+1e-9))
	}
	if f.MemoryMiB > 0 {
		n = min(n, int(c.MemoryMiB/f.MemoryMiB))
	}
	if f.GPUs > 0 {
		n = min(n, c.GPUs/f.GPUs)
	}
	return n
}

// Detail is the flavor_detail of a job or the flavor list.
func (f Flavor) Detail(diskAsString bool) FlavorDetail {
	typ := "CPU"
	if f.GPUs > 0 {
		typ = "GPU"
	}
	d := FlavorDetail{FlavorType: typ, Billing: BillingInfo{Code: f.ID, UnitNum: 1},
		FlavorInfo: FlavorInfo{MaxNum: f.MaxNum, CPU: CPUInfo{Arch: cpuArch(), CoreNum: int(f.CPU + 0.5)},
			Memory: MemoryInfo{Size: f.MemoryMiB / 1024, Unit: "GB"}}}
	if f.MemoryMiB%1024 != 0 {
		d.FlavorInfo.Memory = MemoryInfo{Size: f.MemoryMiB, Unit: "MB"}
	}
	if f.GPUs > 0 {
		d.FlavorInfo.GPU = &GPUInfo{UnitNum: f.GPUs, ProductName: f.GPUType}
	}
	if f.DiskGiB > 0 {
		if diskAsString {
			d.FlavorInfo.Disk = &DiskInfo{Size: fmt.Sprint(f.DiskGiB), Unit: "GB"}
		} else {
			d.FlavorInfo.Disk = &DiskInfo{Size: f.DiskGiB, Unit: "GB"}
		}
	}
	return d
}

// JobsByPhase counts the training jobs that are not deleted, by phase, over
// every project: the operator's view for the server's metrics.
func (s *Service) JobsByPhase(ctx context.Context) (map[string]int64, error) {
	return s.repo.jobsByPhase(ctx)
}
