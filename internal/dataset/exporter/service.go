// Package exporter is the dataset room of exports: the export-tasks APIs'
// requests and checks, the export task and the views clients poll
// (ExportTask).
//
// An export writes <path><dataset_name>.manifest (or
// <dataset_name>-<version_name>.manifest for a version's samples) and, as
// export_format asks, copies of the sample files: 1 (tree) puts each file
// in a folder named after each of its classification labels (an unlabeled
// file at the top), the layout an image-classification import reads back;
// 2 (tile) puts each file at its path below the dataset's input directory
// with its label file beside it (<name>.txt listing classification labels,
// <name>.xml for boxes and polygons). Detection and segmentation labels
// always go to Pascal VOC files: beside the copies, else under
// <path>Annotations/, and the manifest's annotation-loc points at them.
//
// The manifest itself is written by the engine of the versions room
// (versions.Service.WriteManifest), which publishing shares and whose
// package doc says how a stopped export resumes; an export of a version
// reads the version through that room too. So this room imports versions,
// never the reverse (core ← versions ← exporter).
package exporter

import (
	"errors"
	"log/slog"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/versions"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// TaskExport is the task kind of exports. The name is stored with every
// queued task: it must not change, or tasks queued before an upgrade would
// find no handler.
const TaskExport = "dataset_export"

// Options configure a Service.
type Options struct {
	// Datasets is the dataset core whose samples are exported, Versions
	// the room whose engine writes the manifest and whose versions an
	// export may read.
	Datasets *dataset.Service
	Versions *versions.Service
	DB       *store.DB
	Objects  obs.Store
	Logger   *slog.Logger
	Now      func() time.Time
	// Tasks runs exports; without it creating one is refused.
	Tasks *tasks.Manager
}

// Service is the exports room.
type Service struct {
	ds       *dataset.Service
	versions *versions.Service
	db       *store.DB
	objects  obs.Store
	log      *slog.Logger
	now      func() time.Time
	tasks    *tasks.Manager
}

// New builds the service and registers the export task's handler, which
// must happen before the tasks manager starts.
func New(opts Options) (*Service, error) {
	if opts.Datasets == nil || opts.Versions == nil || opts.DB == nil || opts.Objects == nil {
		return nil, errors.New("exporter: the dataset and versions services, a database and an object store are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{ds: opts.Datasets, versions: opts.Versions, db: opts.DB, objects: opts.Objects, log: opts.Logger, now: opts.Now, tasks: opts.Tasks}
	if s.tasks != nil {
		s.tasks.Register(TaskExport, s.runExport)
	}
	return s, nil
}
