package teamtask

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/fault"
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
	a := &access{owner: c.Owner, labels: map[string]bool{}, reviews: map[string]bool{}, admins: map[string]bool{}, caller: c}
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
				a.labels[m.ID] = true
			}
		case workforce.RoleReviewer:
			a.reviews[m.WorkforceID] = true
		case workforce.RoleTeamAdmin:
			a.admins[m.WorkforceID] = true
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

// --- members of a task

// members resolves a workforces_config to the members it gives the task:
// the listed members of each team (by worker_id or e-mail), or all of them
// when a team lists none. Each team must be the project's.
func (s *Service) members(ctx context.Context, projectID string, cfg *WorkforcesConfig) ([]taskWorker, error) {
	if cfg == nil || len(cfg.Workforces) == 0 {
		return nil, invalid("Invalid parameter(workforces_config): name at least one labeling team.")
	}
	var out []taskWorker
	seenTeam := map[string]bool{}
	now := s.millis()
	for i, wf := range cfg.Workforces {
		if wf.WorkforceID == "" {
			return nil, invalid("Invalid parameter(workforces_config.workforces[%d].workforce_id): required.", i)
		}
		if seenTeam[wf.WorkforceID] {
			return nil, invalid("Invalid parameter(workforces_config.workforces[%d]): team %s is listed twice.", i, wf.WorkforceID)
		}
		seenTeam[wf.WorkforceID] = true
		team, err := s.workforces.Members(ctx, projectID, wf.WorkforceID)
		if err != nil {
			return nil, err
		}
		byID, byEmail := map[string]*workforce.Worker{}, map[string]*workforce.Worker{}
		for _, m := range team {
			byID[m.ID], byEmail[strings.ToLower(m.Email)] = m, m
		}
		picked := team
		if len(wf.Workers) > 0 {
			picked = nil
			seen := map[string]bool{}
			for j, ref := range wf.Workers {
				m := byID[ref.WorkerID]
				if m == nil {
					m = byEmail[strings.ToLower(ref.Email)]
				}
				if m == nil {
					return nil, invalid("Invalid parameter(workforces_config.workforces[%d].workers[%d]): %s is not a member of team %s.",
						i, j, firstNonEmpty(ref.WorkerID, ref.Email), wf.WorkforceID)
				}
				if !seen[m.ID] {
					seen[m.ID] = true
					picked = append(picked, m)
				}
			}
		}
		for _, m := range picked {
			out = append(out, taskWorker{WorkerID: m.ID, WorkforceID: m.WorkforceID, Email: m.Email, CreateTime: now})
		}
	}
	return out, nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// labelers are the task members who label, in a stable order.
func (s *Service) labelers(ctx context.Context, projectID string, tws []taskWorker) ([]string, error) {
	roles, err := s.roles(ctx, projectID, tws)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, w := range tws {
		if r, ok := roles[w.WorkerID]; ok && r == workforce.RoleLabeler {
			out = append(out, w.WorkerID)
		}
	}
	sort.Strings(out)
	return out, nil
}

// roles reads the current role of each task member still in its team.
func (s *Service) roles(ctx context.Context, projectID string, tws []taskWorker) (map[string]int, error) {
	out := map[string]int{}
	teams := map[string]bool{}
	for _, w := range tws {
		if teams[w.WorkforceID] {
			continue
		}
		teams[w.WorkforceID] = true
		ms, err := s.workforces.Members(ctx, projectID, w.WorkforceID)
		if err != nil {
			if fe, ok := asFault(err); ok && fe.Code == workforce.CodeWorkforceMissing {
				continue // a deleted team gives nothing
			}
			return nil, err
		}
		for _, m := range ms {
			out[m.ID] = m.Role
		}
	}
	return out, nil
}

// --- allocation

// sampleRef is a dataset sample to allocate.
type sampleRef struct {
	seq int64
	id  string
}

// selectSamples reads the samples a task takes from its dataset after seq
// after, up to maxSeq: those its sample_conditions select, or the
// unlabeled ones.
func (s *Service) selectSamples(ctx context.Context, r *dataset.Row, conditions string, after, maxSeq int64) ([]sampleRef, error) {
	q, err := sampleQuery(conditions)
	if err != nil {
		return nil, err
	}
	sel, err := s.datasets.Select(ctx, r, q, maxSeq)
	if err != nil {
		return nil, err
	}
	var out []sampleRef
	for {
		items, last, done, err := sel.Page(ctx, after, 1000)
		if err != nil {
			return nil, fmt.Errorf("select samples for the task: %w", err)
		}
		for _, it := range items {
			out = append(out, sampleRef{seq: it.Seq, id: it.ID})
		}
		if done {
			return out, nil
		}
		after = last
	}
}

// sampleQuery turns sample_conditions (a JSON array of the reference's
// search conditions, or one) into a dataset query; none selects the
// unlabeled samples.
func sampleQuery(conditions string) (dataset.SampleQuery, error) {
	var q dataset.SampleQuery
	c := strings.TrimSpace(conditions)
	if c == "" {
		unlabeled := dataset.StateUnlabeled
		q.State = &unlabeled
		return q, nil
	}
	dec := func(v any) error {
		d := json.NewDecoder(strings.NewReader(c))
		d.DisallowUnknownFields()
		return d.Decode(v)
	}
	if strings.HasPrefix(c, "{") {
		var one dataset.SearchCondition
		if err := dec(&one); err != nil {
			return q, invalid("Invalid parameter(sample_conditions): %v", err)
		}
		q.Conditions = []dataset.SearchCondition{one}
	} else if err := dec(&q.Conditions); err != nil {
		return q, invalid("Invalid parameter(sample_conditions): want a JSON array of search conditions: %v", err)
	}
	return q, nil
}

// allocate gives samples to the labelers, evenly and at random: the k-th
// sample allocated in the task goes to the labelers at positions
// k·r … k·r+r−1 (mod L) of a permutation drawn from the task's ID, so
// every labeler gets the same number give or take one, the r labelers of
// a sample are distinct, and the split is the same on every replica.
func allocate(taskID string, labelers []string, repetition int, start int64, samples []sampleRef) []alloc {
	perm := append([]string(nil), labelers...)
	sum := sha256.Sum256([]byte("atelier-team-allocation:" + taskID))
	rng := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])))
	rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	L := int64(len(perm))
	out := make([]alloc, 0, len(samples)*repetition)
	for i, sm := range samples {
		k := start + int64(i)
		for j := 0; j < repetition; j++ {
			out = append(out, alloc{Seq: sm.seq, SampleID: sm.id, WorkerID: perm[(k*int64(repetition)+int64(j))%L]})
		}
	}
	return out
}

// insertAllocation writes allocations with their counters.
func (s *Service) insertAllocation(ctx context.Context, tx *sql.Tx, t *Task, rows []alloc) error {
	if err := s.repo.insertAllocs(ctx, tx, t.TaskID, rows, s.millis()); err != nil {
		return err
	}
	c := counts{}
	for _, a := range rows {
		c.add(a.WorkerID, StateUnlabeled, 1, 0)
	}
	return s.repo.applyCounts(ctx, tx, t.TaskID, c)
}

// --- tasks

// Create creates a task on a dataset and allocates its samples; only the
// dataset's owner side (not a team member) may.
func (s *Service) Create(ctx context.Context, c Caller, datasetID string, req *CreateRequest) (string, error) {
	if !c.Owner {
		return "", forbidden("team members cannot create team labeling tasks.")
	}
	r, err := s.datasets.LoadRow(ctx, s.db, c.ProjectID, datasetID, false)
	if err != nil {
		return "", err
	}
	t := &Task{TaskID: store.NewID(), projectID: c.ProjectID, DatasetID: r.ID, workspaceID: r.WorkspaceID, TaskName: req.TaskName,
		Description: req.Description, Status: StatusCreated, Repetition: 1, AutoSyncDataset: true,
		SynchronizeData: req.SynchronizeData, SynchronizeAutoLabelingData: req.SynchronizeAutoLabelingData,
		SampleConditions: req.SampleConditions, WorkforcesConfig: &WorkforcesConfig{}}
	if t.TaskName == "" {
		t.TaskName = "task-" + t.TaskID[len(t.TaskID)-4:]
	}
	if err := checkTaskName(t.TaskName); err != nil {
		return "", err
	}
	if err := checkText("description", t.Description, 256); err != nil {
		return "", err
	}
	if req.Repetition != nil {
		if *req.Repetition < 1 {
			return "", invalid("Invalid parameter(repetition): the minimum is 1.")
		}
		t.Repetition = *req.Repetition
	}
	if req.AutoSyncDataset != nil {
		t.AutoSyncDataset = *req.AutoSyncDataset
	}
	if req.DataSyncType != nil {
		if *req.DataSyncType < 0 || *req.DataSyncType > 3 {
			return "", invalid("Invalid parameter(data_sync_type): want 0, 1, 2 or 3.")
		}
		t.DataSyncType = *req.DataSyncType
	}
	if req.WorkforcesConfig != nil {
		t.WorkforcesConfig.Agency = req.WorkforcesConfig.Agency
	}
	tws, err := s.members(ctx, c.ProjectID, req.WorkforcesConfig)
	if err != nil {
		return "", err
	}
	labelers, err := s.labelers(ctx, c.ProjectID, tws)
	if err != nil {
		return "", err
	}
	if len(labelers) == 0 {
		return "", invalid("Invalid parameter(workforces_config): the task's members include no labeler (role 0).")
	}
	if t.Repetition > len(labelers) {
		return "", invalid("Invalid parameter(repetition): %d labelers per sample, but the task has %d labelers.", t.Repetition, len(labelers))
	}
	samples, err := s.selectSamples(ctx, r, t.SampleConditions, 0, r.SampleSeq)
	if err != nil {
		return "", err
	}
	rows := allocate(t.TaskID, labelers, t.Repetition, 0, samples)
	t.syncedSeq, t.allocated = r.SampleSeq, int64(len(samples))
	t.CreateTime, t.UpdateTime = s.millis(), s.millis()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.repo.insertTask(ctx, tx, t); err != nil {
			return err
		}
		if err := s.repo.replaceTaskWorkers(ctx, tx, t.TaskID, tws); err != nil {
			return err
		}
		return s.insertAllocation(ctx, tx, t, rows)
	})
	if err != nil {
		return "", wrap("create team labeling task", err)
	}
	return t.TaskID, nil
}

// syncNew allocates the samples added to the dataset since the task last
// looked, when the task synchronizes new data and is under way.
func (s *Service) syncNew(ctx context.Context, t *Task, tws []taskWorker) error {
	if !t.SynchronizeData || t.Status == StatusCreated || t.Status == StatusAccepted {
		return nil
	}
	r, err := s.datasets.LoadRow(ctx, s.db, t.projectID, t.DatasetID, false)
	if err != nil || r.SampleSeq <= t.syncedSeq {
		return err
	}
	labelers, err := s.labelers(ctx, t.projectID, tws)
	if err != nil || len(labelers) < t.Repetition {
		return err
	}
	samples, err := s.selectSamples(ctx, r, t.SampleConditions, t.syncedSeq, r.SampleSeq)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.repo.task(ctx, tx, t.projectID, t.DatasetID, t.TaskID, true)
		if err != nil {
			return err
		}
		if cur.syncedSeq >= r.SampleSeq { // another request did it
			*t = *cur
			return nil
		}
		if cur.syncedSeq > t.syncedSeq { // keep to what is still new
			kept := samples[:0]
			for _, sm := range samples {
				if sm.seq > cur.syncedSeq {
					kept = append(kept, sm)
				}
			}
			samples = kept
		}
		rows := allocate(cur.TaskID, labelers, cur.Repetition, cur.allocated, samples)
		cur.syncedSeq, cur.allocated, cur.UpdateTime = r.SampleSeq, cur.allocated+int64(len(samples)), s.millis()
		if err := s.repo.updateTask(ctx, tx, cur); err != nil {
			return err
		}
		if err := s.insertAllocation(ctx, tx, cur, rows); err != nil {
			return err
		}
		*t = *cur
		return nil
	})
}

// Start starts a task (again, after a rejection). A team administrator may
// change its own team's members of the task on the way.
func (s *Service) Start(ctx context.Context, c Caller, datasetID, id string, req *UpdateRequest) error {
	t, tws, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return err
	}
	if !a.owner && len(a.admins) == 0 {
		return forbidden("only the task's owner or a team administrator can start it.")
	}
	if t.Status == StatusAccepting || t.Status == StatusAccepted {
		return conflict(CodeStartFailed, "Failed to start the team labeling task: it is %s.", statusWord(t.Status))
	}
	if req != nil && req.WorkforcesConfig != nil {
		if err := s.reassign(ctx, c, t, tws, a, req.WorkforcesConfig); err != nil {
			return err
		}
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.repo.task(ctx, tx, c.ProjectID, datasetID, id, true)
		if err != nil {
			return err
		}
		if cur.Status == StatusAccepting || cur.Status == StatusAccepted {
			return conflict(CodeStartFailed, "Failed to start the team labeling task: it is %s.", statusWord(cur.Status))
		}
		cur.Status, cur.UpdateTime = StatusRunning, s.millis()
		*t = *cur
		return s.repo.updateTask(ctx, tx, cur)
	})
	if err != nil {
		return wrap("start team labeling task", err)
	}
	tws, err = s.repo.taskWorkers(ctx, s.db, t.TaskID)
	if err != nil {
		return err
	}
	return s.syncNew(ctx, t, tws)
}

func statusWord(st int) string {
	switch st {
	case StatusAccepting:
		return "under acceptance"
	case StatusAccepted:
		return "accepted"
	case StatusCreated:
		return "not started"
	}
	return "running"
}

// Update renames a task or changes its members: the owner any of it, a
// team administrator only its own teams' members.
func (s *Service) Update(ctx context.Context, c Caller, datasetID, id string, req *UpdateRequest) error {
	t, tws, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return err
	}
	if !a.owner && (len(a.admins) == 0 || req.TaskName != nil || req.Description != nil) {
		return forbidden("only the task's owner can rename it; a team administrator can change its own team's members.")
	}
	if req.TaskName != nil {
		if err := checkTaskName(*req.TaskName); err != nil {
			return err
		}
	}
	if req.Description != nil {
		if err := checkText("description", *req.Description, 256); err != nil {
			return err
		}
	}
	if req.WorkforcesConfig != nil {
		if err := s.reassign(ctx, c, t, tws, a, req.WorkforcesConfig); err != nil {
			return err
		}
	}
	if req.TaskName == nil && req.Description == nil {
		return nil
	}
	return wrap("update team labeling task", s.db.InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.repo.task(ctx, tx, c.ProjectID, datasetID, id, true)
		if err != nil {
			return err
		}
		if req.TaskName != nil {
			cur.TaskName = *req.TaskName
		}
		if req.Description != nil {
			cur.Description = *req.Description
		}
		cur.UpdateTime = s.millis()
		return s.repo.updateTask(ctx, tx, cur)
	}))
}

// reassign replaces the task's members by a new workforces_config (a team
// administrator's only for its own teams: the other teams keep theirs).
// The unlabeled allocations of labelers who leave go to the labelers who
// stay, evenly; what they labeled stays theirs, with its history.
func (s *Service) reassign(ctx context.Context, c Caller, t *Task, old []taskWorker, a *access, cfg *WorkforcesConfig) error {
	if !a.owner {
		for i, wf := range cfg.Workforces {
			if !a.admins[wf.WorkforceID] {
				return forbidden("workforces_config.workforces[%d]: you administer no team %s of this task.", i, wf.WorkforceID)
			}
		}
	}
	fresh, err := s.members(ctx, c.ProjectID, cfg)
	if err != nil {
		return err
	}
	next := fresh
	if !a.owner { // keep the teams the administrator did not name
		named := map[string]bool{}
		for _, wf := range cfg.Workforces {
			named[wf.WorkforceID] = true
		}
		for _, w := range old {
			if !named[w.WorkforceID] {
				next = append(next, w)
			}
		}
	}
	labelers, err := s.labelers(ctx, c.ProjectID, next)
	if err != nil {
		return err
	}
	if len(labelers) < t.Repetition {
		return invalid("Invalid parameter(workforces_config): the task needs at least %d labelers (its repetition).", t.Repetition)
	}
	staying := map[string]bool{}
	for _, l := range labelers {
		staying[l] = true
	}
	return wrap("change the members of the task", s.db.InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.repo.task(ctx, tx, c.ProjectID, t.DatasetID, t.TaskID, true)
		if err != nil {
			return err
		}
		if cur.Status == StatusAccepting {
			return conflict(CodeChecking, "Workforce task is checking: change its members after the acceptance.")
		}
		if err := s.repo.replaceTaskWorkers(ctx, tx, cur.TaskID, next); err != nil {
			return err
		}
		var leaving []string
		for _, w := range old {
			if !staying[w.WorkerID] {
				leaving = append(leaving, w.WorkerID)
			}
		}
		if len(leaving) == 0 {
			return nil
		}
		// A filter's placeholders start at $2: $1 is the task.
		args := []any{cur.TaskID}
		// What is still to do moves: unlabeled allocations, and rejected
		// ones, which nobody could fix otherwise.
		orphans, err := s.repo.allocsWhere(ctx, tx, cur.TaskID, allocFilter{
			where: ` AND state IN (0, 2) AND worker_id IN (` + s.repo.params(&args, leaving) + `)`, args: args[1:]})
		if err != nil {
			return err
		}
		return s.moveOrphans(ctx, tx, cur, a.caller, labelers, orphans)
	}))
}

// moveOrphans gives allocations of labelers who left to the labelers in
// turn, each to one who does not hold the same sample already; their
// counters and agreement tallies move with them, and the history records
// who moved them.
func (s *Service) moveOrphans(ctx context.Context, tx *sql.Tx, t *Task, by Caller, labelers []string, orphans []*alloc) error {
	if len(orphans) == 0 {
		return nil
	}
	seqs := make([]int64, 0, len(orphans))
	for _, o := range orphans {
		seqs = append(seqs, o.Seq)
	}
	all, err := s.repo.allocsOfSamples(ctx, tx, t.TaskID, seqs)
	if err != nil {
		return err
	}
	holds := map[int64]map[string]bool{}
	for _, a := range all {
		if holds[a.Seq] == nil {
			holds[a.Seq] = map[string]bool{}
		}
		holds[a.Seq][a.WorkerID] = true
	}
	c := counts{}
	var events []eventRow
	now := s.millis()
	next := 0
	for _, o := range orphans {
		for try := 0; try < len(labelers); try++ {
			to := labelers[(next+try)%len(labelers)]
			if holds[o.Seq][to] {
				continue
			}
			if err := s.repo.moveAlloc(ctx, tx, t.TaskID, o.Seq, o.WorkerID, to); err != nil {
				return fmt.Errorf("move sample %s to another labeler: %w", o.SampleID, err)
			}
			holds[o.Seq][to], holds[o.Seq][o.WorkerID] = true, false
			c.add(o.WorkerID, o.State, -1, 0)
			c.add(to, o.State, 1, 0)
			c.add(o.WorkerID, agreeState, -o.Agree, -o.Compared)
			c.add(to, agreeState, o.Agree, o.Compared)
			events = append(events, eventRow{Seq: o.Seq, WorkerID: to, ActorID: by.UserID, ActorName: by.UserName, Action: "reassign",
				From: o.State, To: o.State, Comment: "from member " + o.WorkerID, At: now})
			next = (next + try + 1) % len(labelers)
			break
		}
	}
	if err := s.repo.applyCounts(ctx, tx, t.TaskID, c); err != nil {
		return err
	}
	return s.repo.insertEvents(ctx, tx, t.TaskID, events)
}

// Delete deletes a task and its members' work that was not accepted (what
// was accepted is in the dataset already); only its owner may.
func (s *Service) Delete(ctx context.Context, c Caller, datasetID, id string) error {
	t, _, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return err
	}
	if !a.owner {
		return forbidden("only the task's owner can delete it.")
	}
	return wrap("delete team labeling task", s.db.InTx(ctx, func(tx *sql.Tx) error {
		return s.repo.deleteTask(ctx, tx, t.TaskID)
	}))
}

// GetOptions asks for the optional parts of a task's details.
type GetOptions struct {
	SampleStats, WorkforceStats, LabelStats bool
}

// Get returns a task as the caller sees it: a member's sample statistics
// count its own part.
func (s *Service) Get(ctx context.Context, c Caller, datasetID, id string, opts GetOptions) (*Task, error) {
	t, tws, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return nil, err
	}
	if err := s.describe(ctx, t, tws, a, opts); err != nil {
		return nil, err
	}
	return t, nil
}

// describe fills a task's members and the statistics asked for.
func (s *Service) describe(ctx context.Context, t *Task, tws []taskWorker, a *access, opts GetOptions) error {
	roles, err := s.roles(ctx, t.projectID, tws)
	if err != nil {
		return err
	}
	byTeam := map[string]*WorkforceConfig{}
	var order []string
	for _, w := range tws {
		role, ok := roles[w.WorkerID]
		if !ok {
			continue // no longer in its team
		}
		wf := byTeam[w.WorkforceID]
		if wf == nil {
			wf = &WorkforceConfig{WorkforceID: w.WorkforceID, Workers: []WorkerRef{}}
			if team, err := s.workforces.Get(ctx, t.projectID, w.WorkforceID); err == nil {
				wf.WorkforceName = team.Name
			}
			byTeam[w.WorkforceID] = wf
			order = append(order, w.WorkforceID)
		}
		wf.Workers = append(wf.Workers, WorkerRef{WorkerID: w.WorkerID, WorkforceID: w.WorkforceID, Email: w.Email, Role: role, CreateTime: w.CreateTime})
	}
	t.WorkforcesConfig.Workforces = []WorkforceConfig{}
	for _, id := range order {
		t.WorkforcesConfig.Workforces = append(t.WorkforcesConfig.Workforces, *byTeam[id])
	}
	cs, err := s.repo.counts(ctx, s.db, t.TaskID)
	if err != nil {
		return err
	}
	if t.checkingID != "" {
		t.CheckingTaskDesc = &CheckingDesc{CheckingTaskID: t.checkingID}
	}
	checks, err := s.repo.checks(ctx, s.db, t.TaskID)
	if err != nil {
		return err
	}
	if opts.SampleStats {
		t.SampleStats = statsOf(cs, a.scope)
		for _, ch := range checks {
			if ch.ID == t.checkingID && a.owner { // the open round's sample
				t.SampleStats.Sampled = ch.Sampled
			}
		}
	}
	total := sumChecks(checks)
	t.PassRate, t.Score = total.PassRate, averagePoints(total.TotalScore, total.Accepted)
	if total.Total > 0 {
		t.CheckRate = float64(total.Sampled) / float64(total.Total)
	}
	if opts.LabelStats && (a.owner || len(a.admins) > 0) {
		if t.LabelStats, err = s.labelStats(ctx, t); err != nil {
			return err
		}
	}
	if opts.WorkforceStats {
		ws := &WorkforceStats{WorkforceCount: len(order)}
		for _, w := range tws {
			switch r, ok := roles[w.WorkerID]; {
			case !ok:
			case r == workforce.RoleLabeler:
				ws.LabelerCount++
			case r == workforce.RoleReviewer:
				ws.ReviewerCount++
			}
		}
		t.WorkforceStats = ws
		if a.owner || len(a.admins) > 0 {
			for _, w := range tws {
				if r, ok := roles[w.WorkerID]; ok && a.sees(w.WorkerID) {
					t.WorkerStats = append(t.WorkerStats, s.workerTask(t, w, r, statsOf(cs, []string{w.WorkerID}), 0))
				}
			}
		}
	}
	return nil
}

// statsOf sums the counters of the members (nil: all).
func statsOf(cs counts, members []string) *SampleStats {
	in := map[string]bool{}
	for _, m := range members {
		in[m] = true
	}
	st := &SampleStats{}
	for k, v := range cs {
		if k.State < 0 || (members != nil && !in[k.WorkerID]) {
			continue
		}
		st.Total += v[0]
		switch k.State {
		case StateUnlabeled:
			st.Unannotated += v[0]
		case StateUnreviewed:
			st.Unreviewed += v[0]
		case StateRejected:
			st.Rejected += v[0]
		case StateUncheck:
			st.Uncheck += v[0]
		case StateAccepted:
			st.Accepted += v[0]
		}
	}
	return st
}

func (s *Service) workerTask(t *Task, w taskWorker, role int, st *SampleStats, datasetType int) *WorkerTask {
	return &WorkerTask{CreateTime: t.CreateTime, DatasetID: t.DatasetID, DatasetType: datasetType, Email: w.Email, EmailStatus: w.EmailStatus,
		LastNotifyTime: w.LastNotify, Role: role, SampleStats: st, TaskID: t.TaskID, TaskStatus: t.Status, UpdateTime: t.UpdateTime,
		WorkerID: w.WorkerID, WorkforceTaskName: t.TaskName}
}

// List pages a dataset's tasks the caller sees: all of them for the
// owner, the tasks it is a member of for a team member.
func (s *Service) List(ctx context.Context, c Caller, datasetID string, q ListQuery) (int, []*Task, error) {
	if _, err := s.datasets.LoadRow(ctx, s.db, c.ProjectID, datasetID, false); err != nil {
		return 0, nil, err
	}
	var total int
	var list []*Task
	var err error
	if c.Owner {
		total, list, err = s.repo.tasksOfDataset(ctx, c.ProjectID, datasetID, nil, q.Offset, q.Limit)
		if err != nil {
			return 0, nil, err
		}
	} else {
		visible, err := s.visibleTasks(ctx, c)
		if err != nil {
			return 0, nil, err
		}
		var mine []*Task
		for _, v := range visible {
			if v.task.DatasetID == datasetID {
				mine = append(mine, v.task)
			}
		}
		if len(mine) == 0 {
			// A member sees a dataset only through its tasks.
			return 0, nil, fault.New(fault.NotFound, dataset.CodeDatasetNotFound, "Dataset does not exist: %s.", datasetID)
		}
		sort.Slice(mine, func(i, j int) bool { return mine[i].CreateTime > mine[j].CreateTime })
		total = len(mine)
		list = page(mine, q.Offset, q.Limit)
	}
	for _, t := range list {
		tws, err := s.repo.taskWorkers(ctx, s.db, t.TaskID)
		if err != nil {
			return 0, nil, err
		}
		a, err := s.accessTo(ctx, c, t, tws)
		if err != nil {
			return 0, nil, err
		}
		if err := s.describe(ctx, t, tws, a, GetOptions{SampleStats: true, WorkforceStats: true}); err != nil {
			return 0, nil, err
		}
		t.WorkerStats = nil
	}
	return total, list, nil
}

func page[T any](items []T, offset, limit int) []T {
	if offset >= len(items) {
		return []T{}
	}
	return items[offset:min(offset+limit, len(items))]
}

// visibleTask is a task a member sees, with who it is there.
type visibleTask struct {
	task   *Task
	member *workforce.Worker
	given  *taskWorker
}

// visibleTasks lists the tasks of the project where the caller is a
// member, once per membership, without the tasks not started yet unless
// it administers a team of them.
func (s *Service) visibleTasks(ctx context.Context, c Caller) ([]visibleTask, error) {
	mine, err := s.workforces.MembershipsOf(ctx, c.ProjectID, c.UserID)
	if err != nil || len(mine) == 0 {
		return nil, err
	}
	var workers, teams, first []string
	for _, m := range mine {
		if m.Status < workforce.StatusLoggedIn {
			first = append(first, m.ID)
		}
		workers = append(workers, m.ID)
		if m.Role != workforce.RoleLabeler {
			teams = append(teams, m.WorkforceID)
		}
	}
	if len(first) > 0 { // listing its tasks is a member's visit too
		if err := s.workforces.MarkLoggedIn(ctx, c.ProjectID, first); err != nil {
			return nil, fmt.Errorf("record the member's first visit: %w", err)
		}
	}
	ids, err := s.repo.tasksOfWorkers(ctx, workers)
	if err != nil {
		return nil, err
	}
	more, err := s.repo.tasksOfWorkforces(ctx, teams)
	if err != nil {
		return nil, err
	}
	list, err := s.repo.tasksByID(ctx, c.ProjectID, append(ids, more...))
	if err != nil {
		return nil, err
	}
	var out []visibleTask
	seen := map[string]bool{}
	for _, t := range list {
		if seen[t.TaskID] {
			continue
		}
		seen[t.TaskID] = true
		tws, err := s.repo.taskWorkers(ctx, s.db, t.TaskID)
		if err != nil {
			return nil, err
		}
		given := map[string]*taskWorker{}
		teamsOf := map[string]bool{}
		for i := range tws {
			given[tws[i].WorkerID] = &tws[i]
			teamsOf[tws[i].WorkforceID] = true
		}
		for _, m := range mine {
			if !teamsOf[m.WorkforceID] || (m.Role == workforce.RoleLabeler && given[m.ID] == nil) {
				continue
			}
			if t.Status == StatusCreated && m.Role != workforce.RoleTeamAdmin {
				continue
			}
			out = append(out, visibleTask{task: t, member: m, given: given[m.ID]})
		}
	}
	return out, nil
}

// WorkerTasks pages the caller's own tasks (GET /workforces/worker-tasks),
// one entry per membership, with its part's statistics.
func (s *Service) WorkerTasks(ctx context.Context, c Caller, q WorkerTaskQuery) (int, []*WorkerTask, error) {
	visible, err := s.visibleTasks(ctx, c)
	if err != nil {
		return 0, nil, err
	}
	types := map[string]int{}
	var out []*WorkerTask
	for _, v := range visible {
		if q.Search != "" && !strings.Contains(strings.ToLower(v.task.TaskName), strings.ToLower(q.Search)) {
			continue
		}
		typ, ok := types[v.task.DatasetID]
		if !ok {
			r, err := s.datasets.LoadRow(ctx, s.db, c.ProjectID, v.task.DatasetID, false)
			if err != nil {
				return 0, nil, err
			}
			typ, types[v.task.DatasetID] = r.Type, r.Type
		}
		cs, err := s.repo.counts(ctx, s.db, v.task.TaskID)
		if err != nil {
			return 0, nil, err
		}
		tws, err := s.repo.taskWorkers(ctx, s.db, v.task.TaskID)
		if err != nil {
			return 0, nil, err
		}
		scope := []string{v.member.ID}
		if v.member.Role != workforce.RoleLabeler {
			scope = nil
			for _, w := range tws {
				if w.WorkforceID == v.member.WorkforceID {
					scope = append(scope, w.WorkerID)
				}
			}
		}
		tw := taskWorker{WorkerID: v.member.ID, WorkforceID: v.member.WorkforceID, Email: v.member.Email}
		if v.given != nil {
			tw = *v.given
		}
		out = append(out, s.workerTask(v.task, tw, v.member.Role, statsOf(cs, append([]string{}, scope...)), typ))
	}
	sort.SliceStable(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if q.Desc {
			x, y = y, x
		}
		if q.SortBy == "workforce_task_name" {
			return x.WorkforceTaskName < y.WorkforceTaskName
		}
		return x.CreateTime < y.CreateTime
	})
	return len(out), page(out, q.Offset, q.Limit), nil
}

// WorkforcesOf lists the teams a task of the project uses (none for a
// task that does not exist): the labeling-team list's workforce_task_id
// filter.
func (s *Service) WorkforcesOf(ctx context.Context, projectID, taskID string) ([]string, error) {
	ids, err := s.repo.workforcesOfTask(ctx, projectID, taskID)
	if err != nil {
		return nil, fmt.Errorf("teams of task %s: %w", taskID, err)
	}
	return ids, nil
}
