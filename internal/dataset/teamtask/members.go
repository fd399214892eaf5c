package teamtask

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/atelier-dev/atelier/internal/fault"
	"github.com/atelier-dev/atelier/internal/workforce"
)

// The members of a task: resolving a workforces_config, reading their
// current roles, and changing them (reassigning what is left to do).

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
			if fe, ok := fault.As(err); ok && fe.Code == workforce.CodeWorkforceMissing {
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
