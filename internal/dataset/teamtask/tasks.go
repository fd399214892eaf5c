package teamtask

import (
	"context"
	"database/sql"
	"sort"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/fault"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/workforce"
)

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
		if !a.owner && !a.teams[w.WorkforceID] {
			continue // a member sees the roster of its own teams only
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
	if q, err := sampleQuery(t.SampleConditions); err == nil && t.SampleConditions != "" {
		t.SampleSearchConditions = q.Conditions // checked when the task was created
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
	// Every member needs the label set to label and review with; the
	// counts are the task's, as the console's labeling page shows them.
	if opts.LabelStats {
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
