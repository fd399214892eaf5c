package processing

import (
	"errors"
	"image"
	"log/slog"
	"runtime"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/versions"
	"github.com/atelier-dev/atelier/internal/fault"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// TaskProcess is the task kind of a processing version's run. The name is
// stored with every queued task: it must not change, or tasks queued
// before an upgrade would find no handler.
const TaskProcess = "data_processing"

// DefaultBatch is how many input samples a run commits per checkpoint
// unless Options.BatchSize says otherwise: what a resumed run may redo.
const DefaultBatch = 64

// MaxObjectSize bounds the files a task reads: a larger one is a failed
// sample, not a reason to hold gigabytes in memory.
const MaxObjectSize = 64 << 20

// Error codes of processing tasks (appendix, error codes).
const (
	CodeTaskNotFound = "ModelArts.4700" // the task or version does not exist
	CodeTaskExists   = "ModelArts.4709" // a task of that name exists
	CodeTaskActive   = "ModelArts.4850" // a version is running: the operation waits for its end
)

// Options configure a Service.
type Options struct {
	// Datasets is the dataset core whose samples tasks read; Versions the
	// room that publishes a task's output as a dataset version.
	Datasets *dataset.Service
	Versions *versions.Service
	DB       *store.DB
	Objects  obs.Store
	Logger   *slog.Logger
	Now      func() time.Time
	// Tasks runs versions; without it creating one is refused.
	Tasks *tasks.Manager
	// Features computes image features for selection
	// (learn.ImageDescriptor of internal/dataset/autolabel/learn, wired by the
	// server): the vectors de-redundancy (RRD) and cleansing (PCC) compare.
	// Without it those operators are refused with a 400 naming them.
	Features func(image.Image) []float32
	// BatchSize is how many input samples a run commits per checkpoint
	// (DefaultBatch when zero).
	BatchSize int
	// Workers is how many samples a run works on at once (GOMAXPROCS when
	// zero).
	Workers int
}

// Service is the data processing room.
type Service struct {
	ds       *dataset.Service
	versions *versions.Service
	db       *store.DB
	repo     *repo
	objects  obs.Store
	log      *slog.Logger
	now      func() time.Time
	tasks    *tasks.Manager
	features func(image.Image) []float32
	batch    int
	workers  int
}

// New builds the service and registers the processing task's handler,
// which must happen before the tasks manager starts.
func New(opts Options) (*Service, error) {
	if opts.Datasets == nil || opts.Versions == nil || opts.DB == nil || opts.Objects == nil {
		return nil, errors.New("processing: the dataset and versions services, a database and an object store are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatch
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	s := &Service{ds: opts.Datasets, versions: opts.Versions, db: opts.DB, repo: &repo{db: opts.DB}, objects: opts.Objects,
		log: opts.Logger, now: opts.Now, tasks: opts.Tasks, features: opts.Features, batch: opts.BatchSize, workers: opts.Workers}
	if s.tasks != nil {
		s.tasks.Register(TaskProcess, s.runVersion)
	}
	return s, nil
}

func invalid(format string, args ...any) *fault.Error {
	return dataset.Invalid(dataset.CodeInvalid, format, args...)
}

func errTaskNotFound(id string) *fault.Error {
	return fault.New(fault.NotFound, CodeTaskNotFound, "Task does not exist: processing task %s.", id)
}

func errVersionNotFound(id string) *fault.Error {
	return fault.New(fault.NotFound, CodeTaskNotFound, "Task does not exist: processing task version %s.", id)
}

func errTaskExists(name string) *fault.Error {
	return fault.New(fault.Conflict, CodeTaskExists, "Data preprocessing task already exists: %s.", name)
}
