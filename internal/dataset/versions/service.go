// Package versions is the dataset room of versions: planning, publishing
// (a background task), listing, switching and deleting them, and reading a
// published version's labels and samples. It also owns the manifest
// engine, which writes a manifest of samples (and their VOC files and
// copies) for a version and, through the exporter room, for an export.
//
// Publishing a version freezes the dataset's samples into a ModelArts
// manifest under the dataset's inner work path
// (<inner_work_path>annotation/<version_name>/<version_name>.manifest, the
// layout of the user guide's "Directory Structure of Dataset Versions"),
// with the Pascal VOC files of detection and segmentation samples in the
// version's annotation/ directory, and records the version's statistics in
// dataset_versions. The manifest is the version: later labeling changes the
// samples, never a published manifest or the row's counters.
//
// Crash safety of the engine: a manifest is written in parts of
// Options.PartLines lines under the dataset's inner temp path
// (<inner_work_path>temp/<task_id>/), each part one atomic Put, and the task's checkpoint (the last sample
// written, the parts done and, for versions, the counts so far) follows
// each part. A resumed run continues after the checkpoint, overwriting a
// part that was written but not checkpointed; the final manifest is one
// atomic Put of the parts concatenated, so nobody ever sees a partial
// manifest, and the parts are deleted afterwards. Copies and VOC files are
// idempotent Puts: a resumed run writes the same objects again.
//
// Why the engine lives here rather than in the exporter: publishing needs
// the engine, and an export of a version needs to read the version; with
// the engine in the lower of the two rooms, the exporter imports versions
// and nothing imports back (core ← versions ← exporter).
package versions

import (
	"errors"
	"log/slog"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// TaskPublish is the task kind of publishing. The name is stored with every
// queued task: it must not change, or tasks queued before an upgrade would
// find no handler.
const TaskPublish = "dataset_publish"

// Options configure a Service.
type Options struct {
	// Datasets is the dataset core whose samples versions freeze.
	Datasets *dataset.Service
	DB       *store.DB
	Objects  obs.Store
	Logger   *slog.Logger
	Now      func() time.Time
	// Tasks runs publishing; without it creating a version is refused.
	Tasks *tasks.Manager
	// PartLines is how many manifest lines the engine writes per part
	// (DefaultPartLines when zero); tests make parts small.
	PartLines int
}

// Service is the versions room.
type Service struct {
	ds      *dataset.Service
	db      *store.DB
	repo    *repo
	objects obs.Store
	log     *slog.Logger
	now     func() time.Time
	tasks   *tasks.Manager
	// partLines is how many lines a manifest part holds.
	partLines int
}

// New builds the service and registers the publishing task's handler,
// which must happen before the tasks manager starts.
func New(opts Options) (*Service, error) {
	if opts.Datasets == nil || opts.DB == nil || opts.Objects == nil {
		return nil, errors.New("versions: the dataset service, a database and an object store are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PartLines <= 0 {
		opts.PartLines = DefaultPartLines
	}
	s := &Service{ds: opts.Datasets, db: opts.DB, repo: &repo{db: opts.DB}, objects: opts.Objects, log: opts.Logger, now: opts.Now, tasks: opts.Tasks,
		partLines: opts.PartLines}
	if s.tasks != nil {
		s.tasks.Register(TaskPublish, s.runPublish)
	}
	return s, nil
}
