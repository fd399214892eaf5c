package teamtask

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/atelier-dev/atelier/internal/workforce"
)

// A member's own view: the tasks it is in, one entry per membership.

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
