package teamtask

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/tasks"
	"github.com/atelier-dev/atelier/internal/workforce"
)

// Service runs team labeling tasks.
type Service struct {
	db         *store.DB
	repo       *repo
	datasets   *dataset.Service
	workforces *workforce.Service
	tasks      *tasks.Manager
	mail       Mailer
	endpoint   string
	log        *slog.Logger
	now        func() time.Time
}

// Options configures a Service.
type Options struct {
	DB         *store.DB
	Datasets   *dataset.Service
	Workforces *workforce.Service
	// Tasks runs the notification e-mails (durable, retried).
	Tasks *tasks.Manager
	// Mail sends them; nil when no SMTP server is configured (notify then
	// answers an error saying so).
	Mail Mailer
	// Endpoint is the public base URL of the server, which notification
	// e-mails link to (its console, its password setup).
	Endpoint string
	Logger   *slog.Logger
	Now      func() time.Time
}

// New builds the service and registers its background task kinds.
func New(opts Options) (*Service, error) {
	if opts.DB == nil || opts.Datasets == nil || opts.Workforces == nil || opts.Tasks == nil {
		return nil, errors.New("teamtask: a database, the dataset and workforce services and a task manager are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: opts.DB, repo: &repo{db: opts.DB}, datasets: opts.Datasets, workforces: opts.Workforces, tasks: opts.Tasks,
		mail: opts.Mail, endpoint: strings.TrimSuffix(opts.Endpoint, "/"), log: opts.Logger, now: opts.Now}
	s.tasks.Register(KindNotify, s.runNotify)
	return s, nil
}

func (s *Service) millis() int64 { return s.now().UnixMilli() }

// --- who the caller is in a task

// access is what the caller may do in one task.
type access struct {
	owner bool
	// labels: the caller's member IDs that label in the task
	labels map[string]bool
	// reviews, admins: the task's teams where the caller reviews or
	// administers
	reviews, admins map[string]bool
	// teams: the task's teams the caller is a member of
	teams map[string]bool
	// scope: the members whose allocations the caller sees (nil: all)
	scope []string
	// emails of the caller's memberships, by member ID
	caller Caller
}

func (a *access) member() bool { return len(a.labels)+len(a.reviews)+len(a.admins) > 0 }

// sees reports whether the caller sees a member's allocations.
func (a *access) sees(workerID string) bool {
	if a.scope == nil {
		return true
	}
	for _, w := range a.scope {
		if w == workerID {
			return true
		}
	}
	return false
}

// accessTo decides who the caller is in the task: its owner, or the
// member roles it holds in the task's teams. A caller who is neither, or a
// labeler or reviewer of a task not started yet, gets the same answer as
// for a task that does not exist.
func (s *Service) accessTo(ctx context.Context, c Caller, t *Task, tws []taskWorker) (*access, error) {
	a := &access{owner: c.Owner, labels: map[string]bool{}, reviews: map[string]bool{}, admins: map[string]bool{},
		teams: map[string]bool{}, caller: c}
	if c.Owner {
		return a, nil
	}
	mine, err := s.workforces.MembershipsOf(ctx, c.ProjectID, c.UserID)
	if err != nil {
		return nil, fmt.Errorf("load the caller's memberships: %w", err)
	}
	teams, given := map[string]bool{}, map[string]bool{}
	for _, w := range tws {
		teams[w.WorkforceID], given[w.WorkerID] = true, true
	}
	var first []string
	for _, m := range mine {
		if !teams[m.WorkforceID] {
			continue
		}
		if m.Status < workforce.StatusLoggedIn {
			first = append(first, m.ID)
		}
		switch m.Role {
		case workforce.RoleLabeler:
			if given[m.ID] {
				a.labels[m.ID], a.teams[m.WorkforceID] = true, true
			}
		case workforce.RoleReviewer:
			a.reviews[m.WorkforceID], a.teams[m.WorkforceID] = true, true
		case workforce.RoleTeamAdmin:
			a.admins[m.WorkforceID], a.teams[m.WorkforceID] = true, true
		}
	}
	if !a.member() || (len(a.admins) == 0 && t.Status == StatusCreated) {
		return nil, errTaskNotFound(t.TaskID)
	}
	if len(first) > 0 { // the reference's member status 2: the member has logged in
		if err := s.workforces.MarkLoggedIn(ctx, c.ProjectID, first); err != nil {
			return nil, fmt.Errorf("record the member's first visit: %w", err)
		}
	}
	a.scope = []string{}
	for id := range a.labels {
		a.scope = append(a.scope, id)
	}
	for _, w := range tws {
		if (a.reviews[w.WorkforceID] || a.admins[w.WorkforceID]) && !a.labels[w.WorkerID] {
			a.scope = append(a.scope, w.WorkerID)
		}
	}
	sort.Strings(a.scope)
	return a, nil
}

// load reads a task and the caller's access to it.
func (s *Service) load(ctx context.Context, c Caller, datasetID, id string) (*Task, []taskWorker, *access, error) {
	t, err := s.repo.task(ctx, s.db, c.ProjectID, datasetID, id, false)
	if err != nil {
		return nil, nil, nil, err
	}
	tws, err := s.repo.taskWorkers(ctx, s.db, t.TaskID)
	if err != nil {
		return nil, nil, nil, err
	}
	a, err := s.accessTo(ctx, c, t, tws)
	if err != nil {
		return nil, nil, nil, err
	}
	return t, tws, a, nil
}

// Workspace is the workspace of a task's dataset (the router's resolver).
func (s *Service) Workspace(ctx context.Context, projectID, datasetID string) (string, error) {
	return s.datasets.Workspace(ctx, projectID, datasetID)
}

// --- validation

var taskNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func checkTaskName(name string) error {
	if !taskNameRE.MatchString(name) {
		return invalid("Invalid parameter(task_name): 1 to 64 letters, digits, underscores (_) and hyphens (-).")
	}
	return nil
}

func checkText(field, v string, max int) error {
	if len([]rune(v)) > max {
		return invalid("Invalid parameter(%s): at most %d characters.", field, max)
	}
	if strings.ContainsAny(v, "^!<>=&\"'") {
		return invalid("Invalid parameter(%s): must not contain any of ^!<>=&\"'.", field)
	}
	return nil
}
