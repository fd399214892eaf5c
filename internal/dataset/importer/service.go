// Package importer is the dataset room of imports and syncs: the domain
// side of the import-tasks and sync-data APIs, their requests' checks,
// their background tasks and the views clients poll (ImportTask,
// SyncStatus).
//
// An import reads samples (and, unless told otherwise, their labels) from
// an OBS directory or a manifest file and writes them into a dataset; a sync
// rescans a dataset's data sources, adds the files that are new and removes
// the samples whose files are gone. Both run as durable background tasks
// (internal/tasks): a producer lists or reads and parses, workers parse
// chunks and read label files (pipeline.Ordered), and one writer commits
// batches of samples through the dataset core (dataset.Service
// .WriteSamplesTx), each in one transaction with the task's checkpoint, so
// that a run that stops anywhere resumes after the last committed batch
// with neither a duplicate nor a half batch.
//
// Samples reference their files where they are: Atelier does not copy
// imported files into the dataset's directory (a sample's source is the
// imported object), so import_folder is validated and kept but moves
// nothing.
//
// The room depends on the dataset core and on formats, annotation,
// imageprobe and pipeline; nothing in the core depends on it.
package importer

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// Task kinds of imports and syncs. The names are stored with every queued
// task: they must not change, or tasks queued before an upgrade would find
// no handler.
const (
	TaskImport = "dataset_import"
	TaskSync   = "dataset_sync"
)

// Options configure a Service.
type Options struct {
	// Datasets is the dataset core the imported samples are written into.
	Datasets *dataset.Service
	DB       *store.DB
	Objects  obs.Store
	Logger   *slog.Logger
	Now      func() time.Time
	// Tasks runs imports and syncs; without it those APIs are refused.
	Tasks *tasks.Manager
}

// Service runs imports and syncs of datasets.
type Service struct {
	ds      *dataset.Service
	db      *store.DB
	objects obs.Store
	log     *slog.Logger
	now     func() time.Time
	tasks   *tasks.Manager
}

// New builds the service and registers its task handlers, which must
// happen before the tasks manager starts.
func New(opts Options) (*Service, error) {
	if opts.Datasets == nil || opts.DB == nil || opts.Objects == nil {
		return nil, errors.New("importer: the dataset service, a database and an object store are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{ds: opts.Datasets, db: opts.DB, objects: opts.Objects, log: opts.Logger, now: opts.Now, tasks: opts.Tasks}
	if s.tasks != nil {
		s.tasks.Register(TaskImport, func(ctx context.Context, t *tasks.Task, p tasks.Progress) error {
			return s.taskError(ctx, t, s.runImport(ctx, t, p))
		})
		s.tasks.Register(TaskSync, func(ctx context.Context, t *tasks.Task, p tasks.Progress) error {
			return s.taskError(ctx, t, s.runSync(ctx, t, p))
		})
	}
	return s, nil
}
