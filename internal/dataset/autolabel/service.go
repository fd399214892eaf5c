// Package autolabel is the dataset room of intelligent tasks: auto-label
// (active learning: a model learned in-process from the labeled samples
// predicts the unlabeled ones), pre-label (each unlabeled sample sent to a
// model server the operator configured) and auto-grouping (unlabeled
// images clustered into groups written to a sample attribute or a file).
// It owns the tasks APIs' requests and checks, the task runs and the views
// clients poll (TaskView).
//
// Results are the dataset's own samples: a prediction is written as the
// sample's labels in state AUTO_ANNOTATION ("to be confirmed"), each label
// annotated_by "auto" with its confidence as score, and a key sample
// (collect_key_sample, confidence inside confidence_scope) carries the
// hard-example flag so that people look at it first. The auto-annotations
// APIs list them; a person confirms or corrects one with the ordinary
// label update, which makes it labeled. A model never overwrites a sample
// a person labeled meanwhile (LabelUpdate.IfStates).
//
// Each task is one durable background task (package tasks), kind
// TaskSmart. Auto-label and auto-grouping learn in memory, so a run that
// is interrupted starts again and rewrites the same answers; pre-label
// checkpoints after each page of samples and resumes after it. Every
// object a task reads or writes is authorized for the user who started it
// when it is touched (dataset.ObjectAccess).
//
// The learning is package learn's; the model-server protocol package
// inference's.
package autolabel

import (
	"errors"
	"log/slog"
	"sort"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/autolabel/inference"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// TaskSmart is the task kind of intelligent tasks. The name is stored with
// every queued task: it must not change.
const TaskSmart = "dataset_smart_task"

// Options configure a Service.
type Options struct {
	Datasets *dataset.Service
	DB       *store.DB
	Objects  obs.Store
	Logger   *slog.Logger
	Now      func() time.Time
	// Tasks runs the tasks; without it starting one is refused.
	Tasks *tasks.Manager
	// ModelServers are the models pre-label may use, by name.
	ModelServers []inference.Endpoint
	// Inference calls the model servers; nil: a client with the
	// package's defaults.
	Inference *inference.Client
	// Workers bounds the samples pre-label sends at once (default 4).
	Workers int
}

// Service is the intelligent tasks room.
type Service struct {
	ds      *dataset.Service
	db      *store.DB
	objects obs.Store
	log     *slog.Logger
	now     func() time.Time
	tasks   *tasks.Manager
	models  map[string]inference.Endpoint
	infer   *inference.Client
	workers int
}

// New builds the service and registers the task handler, which must
// happen before the tasks manager starts.
func New(opts Options) (*Service, error) {
	if opts.Datasets == nil || opts.DB == nil || opts.Objects == nil {
		return nil, errors.New("autolabel: the dataset service, a database and an object store are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Inference == nil {
		opts.Inference = inference.New(inference.Options{})
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	s := &Service{ds: opts.Datasets, db: opts.DB, objects: opts.Objects, log: opts.Logger, now: opts.Now, tasks: opts.Tasks,
		models: map[string]inference.Endpoint{}, infer: opts.Inference, workers: opts.Workers}
	for _, ep := range opts.ModelServers {
		if _, dup := s.models[ep.Name]; dup {
			return nil, errors.New("autolabel: two model servers are named " + ep.Name)
		}
		s.models[ep.Name] = ep
	}
	if s.tasks != nil {
		s.tasks.Register(TaskSmart, s.run)
	}
	return s, nil
}

// modelNames lists the configured model servers' names, sorted.
func (s *Service) modelNames() []string {
	out := make([]string, 0, len(s.models))
	for n := range s.models {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
