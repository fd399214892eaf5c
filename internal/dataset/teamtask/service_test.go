package teamtask_test

import (
	"context"
	"math"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/teamtask"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
	"github.com/atelier-dev/atelier/internal/workforce"
)

// eachEngine runs fn on SQLite, and on PostgreSQL when configured.
// eachEngine runs fn on each engine, in parallel with the other tests:
// each run has its own database, object store and clock.
func eachEngine(t *testing.T, fn func(t *testing.T, engine store.Engine)) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			fn(t, engine)
		})
	}
}

func TestAllocation(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		cases := []struct {
			name       string
			labelers   int
			repetition int
			samples    int
		}{
			{"two-labelers-even", 2, 1, 10},
			{"two-labelers-odd", 2, 1, 11},
			{"three-labelers-repetition-2", 3, 2, 10},
			{"three-labelers-repetition-3", 3, 3, 5},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, engine, dataset.TypeImageClassification)
				team := e.team("team-a")
				for i := 0; i < tc.labelers; i++ {
					e.member(team, "l"+string(rune('a'+i))+"@example.com", workforce.RoleLabeler)
				}
				e.member(team, "rev@example.com", workforce.RoleReviewer)
				e.member(team, "adm@example.com", workforce.RoleTeamAdmin)
				e.write(0, tc.samples, "")
				id := e.create("t1", &teamtask.CreateRequest{WorkforcesConfig: teamsOf(team), Repetition: intp(tc.repetition)}, true)
				rows := e.allocs(id)
				if len(rows) != tc.samples*tc.repetition {
					t.Fatalf("%d allocations, want %d samples × repetition %d", len(rows), tc.samples, tc.repetition)
				}
				per := map[string]int{}
				bySeq := map[int64]map[string]bool{}
				for _, a := range rows {
					per[a.worker]++
					if bySeq[a.seq] == nil {
						bySeq[a.seq] = map[string]bool{}
					}
					if bySeq[a.seq][a.worker] {
						t.Errorf("sample %s is given twice to labeler %s", a.sampleID, a.worker)
					}
					bySeq[a.seq][a.worker] = true
				}
				if len(per) != tc.labelers {
					t.Errorf("allocations went to %d members, want the %d labelers only: %v", len(per), tc.labelers, per)
				}
				fair := float64(tc.samples*tc.repetition) / float64(tc.labelers)
				for w, n := range per {
					if math.Abs(float64(n)-fair) > 1 {
						t.Errorf("labeler %s got %d allocations, want %.1f ± 1", w, n, fair)
					}
				}
				for seq, ws := range bySeq {
					if len(ws) != tc.repetition {
						t.Errorf("sample seq %d has %d distinct labelers, want %d", seq, len(ws), tc.repetition)
					}
				}
				e.checkCounters("after create", id)
			})
		}
	})
}

func TestAllocationSelection(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, dataset.TypeImageClassification)
		team := e.team("team-a")
		e.member(team, "la@example.com", workforce.RoleLabeler)
		e.member(team, "lb@example.com", workforce.RoleLabeler)
		cats := e.write(0, 4, "cat")
		plain := e.write(4, 6, "")
		cases := []struct {
			name       string
			conditions string
			want       []string
		}{
			{"unlabeled-by-default", "", plain},
			{"label-condition", `[{"label_list":{"labels":[{"name":"cat"}]}}]`, cats},
			{"one-condition-object", `{"label_list":{"labels":[{"name":"cat"}]}}`, cats},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				id := e.create("sel-"+string(rune('a'+i)), &teamtask.CreateRequest{WorkforcesConfig: teamsOf(team), SampleConditions: tc.conditions}, false)
				got := map[string]bool{}
				for _, a := range e.allocs(id) {
					got[a.sampleID] = true
				}
				if len(got) != len(tc.want) {
					t.Fatalf("allocated %d samples, want %d", len(got), len(tc.want))
				}
				for _, s := range tc.want {
					if !got[s] {
						t.Errorf("sample %s was not allocated", s)
					}
				}
				// The task answers the conditions it was created with.
				task, err := e.svc.Get(context.Background(), e.owner, e.ds, id, teamtask.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if n := len(task.SampleSearchConditions); (tc.conditions == "") != (n == 0) {
					t.Errorf("sample_search_conditions %+v for conditions %q", task.SampleSearchConditions, tc.conditions)
				}
			})
		}
	})
}

func TestCreateRefusals(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, dataset.TypeImageClassification)
		labeled := e.team("labeled")
		la := e.member(labeled, "la@example.com", workforce.RoleLabeler)
		e.member(labeled, "lb@example.com", workforce.RoleLabeler)
		reviewers := e.team("reviewers-only")
		e.member(reviewers, "rev@example.com", workforce.RoleReviewer)
		e.member(reviewers, "adm@example.com", workforce.RoleTeamAdmin)
		e.write(0, 4, "")
		ctx := context.Background()
		cases := []struct {
			name string
			c    teamtask.Caller
			req  teamtask.CreateRequest
			want string
		}{
			{"non-owner", la.c, teamtask.CreateRequest{TaskName: "x", WorkforcesConfig: teamsOf(labeled)}, "Forbidden"},
			{"no-labeler", e.owner, teamtask.CreateRequest{TaskName: "x", WorkforcesConfig: teamsOf(reviewers)}, "Invalid"},
			{"repetition-above-labelers", e.owner, teamtask.CreateRequest{TaskName: "x", WorkforcesConfig: teamsOf(labeled), Repetition: intp(3)}, "Invalid"},
			{"repetition-zero", e.owner, teamtask.CreateRequest{TaskName: "x", WorkforcesConfig: teamsOf(labeled), Repetition: intp(0)}, "Invalid"},
			{"no-team", e.owner, teamtask.CreateRequest{TaskName: "x"}, "Invalid"},
			{"bad-name", e.owner, teamtask.CreateRequest{TaskName: "a b", WorkforcesConfig: teamsOf(labeled)}, "Invalid"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.Create(ctx, tc.c, e.ds, &tc.req)
				if got := kindOf(err); got != tc.want {
					t.Errorf("create: %s (%v), want %s", got, err, tc.want)
				}
			})
		}
		if rows := e.allocs("x"); len(rows) != 0 {
			t.Errorf("a refused create left %d allocations", len(rows))
		}
	})
}

// scopeEnv is two teams and three tasks: A on team A started, B on team
// B started, C on team A not started.
type scopeEnv struct {
	*env
	l1, l2, rev, adm, l3 member
	teamA, teamB         string
	taskA, taskB, taskC  string
	samples              []string
}

func newScopeEnv(t *testing.T, engine store.Engine) *scopeEnv {
	e := newEnv(t, engine, dataset.TypeImageClassification)
	s := &scopeEnv{env: e}
	a, b := e.team("team-a"), e.team("team-b")
	s.teamA, s.teamB = a, b
	s.l1 = e.member(a, "l1@example.com", workforce.RoleLabeler)
	s.l2 = e.member(a, "l2@example.com", workforce.RoleLabeler)
	s.rev = e.member(a, "rev@example.com", workforce.RoleReviewer)
	s.adm = e.member(a, "adm@example.com", workforce.RoleTeamAdmin)
	s.l3 = e.member(b, "l3@example.com", workforce.RoleLabeler)
	e.labels("cat", "dog")
	s.samples = e.write(0, 12, "")
	s.taskA = e.create("task-a", &teamtask.CreateRequest{WorkforcesConfig: teamsOf(a)}, true)
	s.taskB = e.create("task-b", &teamtask.CreateRequest{WorkforcesConfig: teamsOf(b)}, true)
	s.taskC = e.create("task-c", &teamtask.CreateRequest{WorkforcesConfig: teamsOf(a)}, false)
	return s
}

// ownedBy lists the sample IDs of a member's allocations in a task.
func (s *scopeEnv) ownedBy(task, worker string) []string {
	var out []string
	for _, a := range s.allocs(task) {
		if a.worker == worker {
			out = append(out, a.sampleID)
		}
	}
	return out
}

func TestScopingPages(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		s := newScopeEnv(t, engine)
		cases := []struct {
			name    string
			c       teamtask.Caller
			q       teamtask.SampleQuery
			workers []string // the only worker_ids the page may hold
		}{
			{"labeler-sees-own", s.l1.c, teamtask.SampleQuery{}, []string{s.l1.worker}},
			{"other-labeler-sees-own", s.l2.c, teamtask.SampleQuery{}, []string{s.l2.worker}},
			{"labeler-asking-for-another", s.l1.c, teamtask.SampleQuery{WorkerID: s.l2.worker}, nil},
			{"labeler-state-filter", s.l1.c, teamtask.SampleQuery{State: "__NONE__"}, []string{s.l1.worker}},
			{"reviewer-sees-team", s.rev.c, teamtask.SampleQuery{}, []string{s.l1.worker, s.l2.worker}},
			{"reviewer-one-member", s.rev.c, teamtask.SampleQuery{WorkerID: s.l2.worker}, []string{s.l2.worker}},
			{"admin-sees-team", s.adm.c, teamtask.SampleQuery{}, []string{s.l1.worker, s.l2.worker}},
			{"owner-sees-all", s.owner, teamtask.SampleQuery{}, []string{s.l1.worker, s.l2.worker}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				total, items := s.all(tc.c, s.taskA, tc.q)
				allowed := map[string]bool{}
				want := 0
				for _, w := range tc.workers {
					allowed[w] = true
					want += len(s.ownedBy(s.taskA, w))
				}
				seen := map[string]bool{}
				for _, it := range items {
					if !allowed[it.WorkerID] {
						t.Errorf("page holds sample %s of worker %s, outside %v", it.SampleID, it.WorkerID, tc.workers)
					}
					if seen[it.WorkerID+"/"+it.SampleID] {
						t.Errorf("sample %s of worker %s is on two pages", it.SampleID, it.WorkerID)
					}
					seen[it.WorkerID+"/"+it.SampleID] = true
				}
				if len(items) != want || total != int64(want) {
					t.Errorf("page has %d items and total %d, want %d", len(items), total, want)
				}
			})
		}
	})
}

func TestScopingRefusals(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		s := newScopeEnv(t, engine)
		ctx := context.Background()
		l2Sample := s.ownedBy(s.taskA, s.l2.worker)[0]
		l1Sample := s.ownedBy(s.taskA, s.l1.worker)[0]
		label := []teamtask.SampleLabels{{SampleID: l1Sample, Labels: cls("cat")}}
		yes := []teamtask.Comment{{SampleID: l1Sample, Accept: boolp(true)}}
		rate := 1.0
		cases := []struct {
			name string
			run  func() error
			want string
		}{
			{"labeler-reads-other-teams-task", func() error {
				_, _, err := s.svc.Samples(ctx, s.l1.c, s.ds, s.taskB, teamtask.SampleQuery{Limit: 10})
				return err
			}, "NotFound"},
			{"labeler-gets-other-teams-task", func() error {
				_, err := s.svc.Get(ctx, s.l1.c, s.ds, s.taskB, teamtask.GetOptions{})
				return err
			}, "NotFound"},
			{"labeler-reads-unstarted-task", func() error {
				_, _, err := s.svc.Samples(ctx, s.l1.c, s.ds, s.taskC, teamtask.SampleQuery{Limit: 10})
				return err
			}, "NotFound"},
			{"reviewer-reads-unstarted-task", func() error {
				_, _, err := s.svc.Samples(ctx, s.rev.c, s.ds, s.taskC, teamtask.SampleQuery{Limit: 10})
				return err
			}, "NotFound"},
			{"admin-reads-unstarted-task", func() error {
				_, _, err := s.svc.Samples(ctx, s.adm.c, s.ds, s.taskC, teamtask.SampleQuery{Limit: 10})
				return err
			}, "nil"},
			{"labeler-reads-another-labelers-sample", func() error {
				_, err := s.svc.Sample(ctx, s.l1.c, s.ds, s.taskA, l2Sample, "")
				return err
			}, "NotFound"},
			{"labeler-history-of-another-labelers-sample", func() error {
				_, err := s.svc.History(ctx, s.l1.c, s.ds, s.taskA, l2Sample)
				return err
			}, "NotFound"},
			{"reviewer-updates-labels", func() error {
				return s.svc.UpdateLabels(ctx, s.rev.c, s.ds, s.taskA, label)
			}, "Forbidden"},
			{"labeler-updates-another-labelers-sample", func() error {
				return s.svc.UpdateLabels(ctx, s.l1.c, s.ds, s.taskA, []teamtask.SampleLabels{{SampleID: l2Sample, Labels: cls("cat")}})
			}, "NotFound"},
			{"labeler-names-another-worker", func() error {
				return s.svc.UpdateLabels(ctx, s.l1.c, s.ds, s.taskA, []teamtask.SampleLabels{{SampleID: l2Sample, WorkerID: s.l2.worker, Labels: cls("cat")}})
			}, "NotFound"},
			{"other-team-labeler-updates", func() error {
				return s.svc.UpdateLabels(ctx, s.l3.c, s.ds, s.taskA, label)
			}, "NotFound"},
			{"labeler-reviews", func() error { return s.svc.Review(ctx, s.l1.c, s.ds, s.taskA, yes) }, "Forbidden"},
			{"reviewer-reviews-other-teams-task", func() error {
				return s.svc.Review(ctx, s.rev.c, s.ds, s.taskB, []teamtask.Comment{{SampleID: s.ownedBy(s.taskB, s.l3.worker)[0], Accept: boolp(true)}})
			}, "NotFound"},
			{"labeler-uses-unknown-label-all-or-nothing", func() error {
				mine := s.ownedBy(s.taskA, s.l1.worker)
				return s.svc.UpdateLabels(ctx, s.l1.c, s.ds, s.taskA, []teamtask.SampleLabels{
					{SampleID: mine[0], Labels: cls("cat")}, {SampleID: mine[1], Labels: cls("zebra")}})
			}, "Invalid"},
			{"admin-renames", func() error {
				name := "renamed"
				return s.svc.Update(ctx, s.adm.c, s.ds, s.taskA, &teamtask.UpdateRequest{TaskName: &name})
			}, "Forbidden"},
			{"admin-reassigns-other-team", func() error {
				return s.svc.Update(ctx, s.adm.c, s.ds, s.taskA, &teamtask.UpdateRequest{WorkforcesConfig: teamsOf(s.teamB)})
			}, "Forbidden"},
			{"admin-starts-acceptance", func() error {
				_, err := s.svc.StartAcceptance(ctx, s.adm.c, s.ds, s.taskA, nil, &rate)
				return err
			}, "Forbidden"},
			{"admin-comments", func() error { return s.svc.Comment(ctx, s.adm.c, s.ds, s.taskA, yes) }, "Forbidden"},
			{"admin-closes", func() error {
				_, _, err := s.svc.Close(ctx, s.adm.c, s.ds, s.taskA, teamtask.ActionPassAll, false)
				return err
			}, "Forbidden"},
			{"labeler-report", func() error {
				_, err := s.svc.Report(ctx, s.l1.c, s.ds, s.taskA, "")
				return err
			}, "Forbidden"},
			{"labeler-deletes", func() error { return s.svc.Delete(ctx, s.l1.c, s.ds, s.taskA) }, "Forbidden"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if got := kindOf(tc.run()); got != tc.want {
					t.Errorf("got %s, want %s", got, tc.want)
				}
			})
		}
		// Nothing of the refused calls changed the task.
		for _, a := range s.allocs(s.taskA) {
			if a.state != teamtask.StateUnlabeled {
				t.Errorf("sample %s of %s is in state %d after refused calls", a.sampleID, a.worker, a.state)
			}
		}
		s.checkCounters("after refusals", s.taskA)
	})
}

func TestReviewFlow(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		s := newScopeEnv(t, engine)
		ctx := context.Background()
		sample := s.ownedBy(s.taskA, s.l1.worker)[0]
		state := func(c teamtask.Caller) *teamtask.TeamSample {
			t.Helper()
			ts, err := s.svc.Sample(ctx, c, s.ds, s.taskA, sample, "")
			if err != nil {
				t.Fatalf("read sample: %v", err)
			}
			return ts
		}
		steps := []struct {
			name      string
			run       func() error
			state     string
			comment   string
			labelName string
		}{
			{"label", func() error {
				return s.svc.UpdateLabels(ctx, s.l1.c, s.ds, s.taskA, []teamtask.SampleLabels{{SampleID: sample, Labels: cls("cat")}})
			}, "__UNREVIEWED__", "", "cat"},
			{"reject", func() error {
				return s.svc.Review(ctx, s.rev.c, s.ds, s.taskA, []teamtask.Comment{{SampleID: sample, Accept: boolp(false), Comment: "not a cat"}})
			}, "__REJECTED__", "not a cat", "cat"},
			{"fix", func() error {
				return s.svc.UpdateLabels(ctx, s.l1.c, s.ds, s.taskA, []teamtask.SampleLabels{{SampleID: sample, Labels: cls("dog")}})
			}, "__UNREVIEWED__", "not a cat", "dog"},
			{"pass", func() error {
				return s.svc.Review(ctx, s.rev.c, s.ds, s.taskA, []teamtask.Comment{{SampleID: sample, Accept: boolp(true), Comment: "ok", Score: "A"}})
			}, "__UNCHECK__", "ok", "dog"},
		}
		for _, st := range steps {
			if err := st.run(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			got := state(s.l1.c)
			if got.SampleStatus != st.state || got.ReviewComment != st.comment {
				t.Errorf("%s: labeler sees %s with review comment %q, want %s with %q", st.name, got.SampleStatus, got.ReviewComment, st.state, st.comment)
			}
			if len(got.Labels) != 1 || got.Labels[0].Name != st.labelName {
				t.Errorf("%s: labels %+v, want %s", st.name, got.Labels, st.labelName)
			}
			s.checkCounters(st.name, s.taskA)
		}
		// A labeler cannot change what passed review.
		err := s.svc.UpdateLabels(ctx, s.l1.c, s.ds, s.taskA, []teamtask.SampleLabels{{SampleID: sample, Labels: cls("cat")}})
		if kindOf(err) != "Conflict" {
			t.Errorf("relabel after review: %s (%v), want Conflict", kindOf(err), err)
		}
		// Reviewing again what is not waiting for review is refused.
		err = s.svc.Review(ctx, s.rev.c, s.ds, s.taskA, []teamtask.Comment{{SampleID: sample, Accept: boolp(true)}})
		if kindOf(err) != "Conflict" {
			t.Errorf("second review: %s (%v), want Conflict", kindOf(err), err)
		}

		want := []struct {
			action, actor, from, to, comment string
		}{
			{"label", s.l1.c.UserID, "__NONE__", "__UNREVIEWED__", ""},
			{"review_reject", s.rev.c.UserID, "__UNREVIEWED__", "__REJECTED__", "not a cat"},
			{"fix", s.l1.c.UserID, "__REJECTED__", "__UNREVIEWED__", ""},
			{"review_pass", s.rev.c.UserID, "__UNREVIEWED__", "__UNCHECK__", "ok"},
		}
		for _, who := range []struct {
			name string
			c    teamtask.Caller
		}{{"labeler", s.l1.c}, {"reviewer", s.rev.c}, {"owner", s.owner}} {
			evs, err := s.svc.History(ctx, who.c, s.ds, s.taskA, sample)
			if err != nil {
				t.Fatalf("history for the %s: %v", who.name, err)
			}
			if len(evs) != len(want) {
				t.Fatalf("history for the %s has %d events, want %d: %+v", who.name, len(evs), len(want), evs)
			}
			for i, w := range want {
				ev := evs[i]
				if ev.Action != w.action || ev.ActorID != w.actor || ev.From != w.from || ev.To != w.to || ev.Comment != w.comment ||
					ev.WorkerID != s.l1.worker {
					t.Errorf("history for the %s, event %d = %+v, want %+v by worker %s", who.name, i, *ev, w, s.l1.worker)
				}
				if i > 0 && ev.At <= evs[i-1].At {
					t.Errorf("history event %d at %d is not after event %d at %d", i, ev.At, i-1, evs[i-1].At)
				}
			}
		}
	})
}

// acceptEnv is one team of two labelers without a reviewer (labeled
// samples go straight to acceptance) and a task over n samples, all
// labeled: the labeler's label is "cat" for l1 and "dog" for l2.
type acceptEnv struct {
	*env
	l1, l2 member
	task   string
	label  map[string]string // worker → label
}

func newAcceptEnv(t *testing.T, engine store.Engine, n int) *acceptEnv {
	e := newEnv(t, engine, dataset.TypeImageClassification)
	a := &acceptEnv{env: e}
	team := e.team("team-a")
	a.l1 = e.member(team, "l1@example.com", workforce.RoleLabeler)
	a.l2 = e.member(team, "l2@example.com", workforce.RoleLabeler)
	e.labels("cat", "dog")
	e.write(0, n, "")
	a.task = e.create("task-a", &teamtask.CreateRequest{WorkforcesConfig: teamsOf(team)}, true)
	a.label = map[string]string{a.l1.worker: "cat", a.l2.worker: "dog"}
	for _, m := range []member{a.l1, a.l2} {
		var items []teamtask.SampleLabels
		for _, al := range e.allocs(a.task) {
			if al.worker == m.worker {
				items = append(items, teamtask.SampleLabels{SampleID: al.sampleID, Labels: cls(a.label[m.worker])})
			}
		}
		if err := e.svc.UpdateLabels(context.Background(), m.c, e.ds, a.task, items); err != nil {
			t.Fatalf("label: %v", err)
		}
	}
	e.checkCounters("labeled", a.task)
	return a
}

func TestAcceptancePassUnrejected(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		const n = 10
		a := newAcceptEnv(t, engine, n)
		ctx := context.Background()
		for _, al := range a.allocs(a.task) {
			if al.state != teamtask.StateUncheck {
				t.Fatalf("sample %s is in state %d after labeling in a team without reviewers, want __UNCHECK__", al.sampleID, al.state)
			}
		}
		rate := 0.5
		check, err := a.svc.StartAcceptance(ctx, a.owner, a.ds, a.task, nil, &rate)
		if err != nil {
			t.Fatalf("start acceptance: %v", err)
		}
		if _, err := a.svc.StartAcceptance(ctx, a.owner, a.ds, a.task, nil, &rate); kindOf(err) != "Conflict" {
			t.Errorf("second acceptance while one is open: %s (%v), want Conflict", kindOf(err), err)
		}
		_, picked := a.all(a.owner, a.task, teamtask.SampleQuery{State: "__WORKFORCE_SAMPLED__"})
		if want := int(math.Ceil(rate * n)); len(picked) != want {
			t.Fatalf("sampled %d allocations, want ceil(%.1f × %d) = %d", len(picked), rate, n, want)
		}
		for _, p := range picked {
			if p.SampleStatus != "__UNCHECK__" {
				t.Errorf("sampled %s is %s, want __UNCHECK__", p.SampleID, p.SampleStatus)
			}
		}
		// Accept all but the first two, which are rejected; the first
		// accepted gets score A, the others B.
		var comments []teamtask.Comment
		type fig struct{ sampled, accepted, rejected int64 }
		per := map[string]*fig{a.l1.worker: {}, a.l2.worker: {}}
		rejected := map[string]bool{}
		for i, p := range picked {
			accept := i >= 2
			score := "B"
			if i == 2 {
				score = "A"
			}
			if !accept {
				score = ""
				rejected[p.SampleID] = true
				per[p.WorkerID].rejected++
			} else {
				per[p.WorkerID].accepted++
			}
			per[p.WorkerID].sampled++
			comments = append(comments, teamtask.Comment{SampleID: p.SampleID, Accept: boolp(accept), Score: score, Comment: "c"})
		}
		// A first verdict that the second replaces must not count twice.
		if err := a.svc.Comment(ctx, a.owner, a.ds, a.task, []teamtask.Comment{{SampleID: picked[0].SampleID, Accept: boolp(true), Score: "D"}}); err != nil {
			t.Fatalf("comment: %v", err)
		}
		if err := a.svc.Comment(ctx, a.owner, a.ds, a.task, comments); err != nil {
			t.Fatalf("comment: %v", err)
		}
		rep, err := a.svc.Report(ctx, a.owner, a.ds, a.task, check)
		if err != nil {
			t.Fatalf("report: %v", err)
		}
		nAcc, nRej := int64(len(picked)-2), int64(2)
		wantStats := teamtask.CheckStats{Accepted: nAcc, Checked: nAcc + nRej, PassRate: float64(nAcc) / float64(nAcc+nRej), Rejected: nRej,
			Sampled: int64(len(picked)), SamplingN: len(picked), SamplingR: rate, Total: n, TotalScore: 4 + 3*(nAcc-1), Unchecked: 0}
		wantStats.Score = "C"
		switch avg := float64(wantStats.TotalScore) / float64(nAcc); {
		case avg >= 3.5:
			wantStats.Score = "A"
		case avg >= 2.5:
			wantStats.Score = "B"
		}
		got := *rep.CheckingStats
		wantChecking := wantStats
		wantChecking.TaskID = check
		if got != wantChecking {
			t.Errorf("checking_stats = %+v\nwant %+v", got, wantChecking)
		}
		if *rep.TotalStats != wantStats {
			t.Errorf("total_stats = %+v\nwant %+v", *rep.TotalStats, wantStats)
		}
		if len(rep.MemberStats) != 2 {
			t.Fatalf("member_stats has %d members, want 2: %+v", len(rep.MemberStats), rep.MemberStats)
		}
		for _, m := range rep.MemberStats {
			f := per[m.WorkerID]
			if f == nil || m.Sampled != f.sampled || m.Accepted != f.accepted || m.Rejected != f.rejected || m.Checked != f.accepted+f.rejected {
				t.Errorf("member %s: sampled %d checked %d accepted %d rejected %d, want %+v", m.WorkerID, m.Sampled, m.Checked, m.Accepted, m.Rejected, f)
			}
		}

		written, _, err := a.svc.Close(ctx, a.owner, a.ds, a.task, teamtask.ActionPassUnrejected, false)
		if err != nil {
			t.Fatalf("close: %v", err)
		}
		if written != n-len(rejected) {
			t.Errorf("close wrote %d samples into the dataset, want %d", written, n-len(rejected))
		}
		for _, al := range a.allocs(a.task) {
			sm, err := a.core.GetSample(ctx, a.acct.ProjectID, a.ds, al.sampleID, nil)
			if err != nil {
				t.Fatalf("dataset sample %s: %v", al.sampleID, err)
			}
			if rejected[al.sampleID] {
				if al.state != teamtask.StateRejected {
					t.Errorf("rejected sample %s is in state %d, want __REJECTED__", al.sampleID, al.state)
				}
				if len(sm.Labels) != 0 {
					t.Errorf("rejected sample %s has dataset labels %+v", al.sampleID, sm.Labels)
				}
				continue
			}
			if al.state != teamtask.StateAccepted {
				t.Errorf("sample %s is in state %d, want __ACCEPTED__", al.sampleID, al.state)
			}
			if len(sm.Labels) != 1 || sm.Labels[0].Name != a.label[al.worker] {
				t.Errorf("dataset sample %s has labels %+v, want its labeler's %q", al.sampleID, sm.Labels, a.label[al.worker])
			}
		}
		a.checkCounters("after close", a.task)
		tk, err := a.svc.Get(ctx, a.owner, a.ds, a.task, teamtask.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if tk.Status != teamtask.StatusRunning || tk.CheckingTaskDesc != nil {
			t.Errorf("after close with rejections the task is status %d with checking %+v, want running and none", tk.Status, tk.CheckingTaskDesc)
		}
		// The rejected go back to their labelers, who see them rejected.
		for _, m := range []member{a.l1, a.l2} {
			_, items := a.all(m.c, a.task, teamtask.SampleQuery{State: "__REJECTED__"})
			for _, it := range items {
				if !rejected[it.SampleID] || it.WorkerID != m.worker {
					t.Errorf("labeler %s sees %s rejected, which was not rejected or not its own", m.worker, it.SampleID)
				}
			}
		}
	})
}

func TestAcceptanceCancel(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		a := newAcceptEnv(t, engine, 6)
		ctx := context.Background()
		check, err := a.svc.StartAcceptance(ctx, a.owner, a.ds, a.task, intp(3), nil)
		if err != nil {
			t.Fatalf("start acceptance: %v", err)
		}
		_, picked := a.all(a.owner, a.task, teamtask.SampleQuery{State: "__WORKFORCE_SAMPLED__"})
		if len(picked) != 3 {
			t.Fatalf("sampled %d, want 3", len(picked))
		}
		if err := a.svc.Comment(ctx, a.owner, a.ds, a.task, []teamtask.Comment{{SampleID: picked[0].SampleID, Accept: boolp(false)}}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.svc.Close(ctx, a.owner, a.ds, a.task, teamtask.ActionCancel, false); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		tk, err := a.svc.Get(ctx, a.owner, a.ds, a.task, teamtask.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if tk.Status != teamtask.StatusRunning || tk.CheckingTaskDesc != nil {
			t.Errorf("after cancel the task is status %d with checking %+v, want running and none", tk.Status, tk.CheckingTaskDesc)
		}
		for _, al := range a.allocs(a.task) {
			if al.state != teamtask.StateUncheck {
				t.Errorf("sample %s is in state %d after cancel, want still __UNCHECK__", al.sampleID, al.state)
			}
		}
		if total, items := a.all(a.owner, a.task, teamtask.SampleQuery{State: "__WORKFORCE_SAMPLED__"}); total != 0 || len(items) != 0 {
			t.Errorf("after cancel %d samples (total %d) are still listed as sampled", len(items), total)
		}
		rep, err := a.svc.Report(ctx, a.owner, a.ds, a.task, check)
		if err != nil {
			t.Fatal(err)
		}
		if rep.TotalStats.Sampled != 0 || rep.TotalStats.Checked != 0 {
			t.Errorf("total_stats counts the cancelled round: %+v", *rep.TotalStats)
		}
		for _, m := range rep.MemberStats {
			if m.Sampled != 0 || m.Checked != 0 || m.Rejected != 0 {
				t.Errorf("member_stats of %s count the cancelled round: sampled %d checked %d rejected %d", m.WorkerID, m.Sampled, m.Checked, m.Rejected)
			}
		}
		if _, _, err := a.svc.Close(ctx, a.owner, a.ds, a.task, teamtask.ActionCancel, false); kindOf(err) != "Conflict" {
			t.Errorf("close without a round: %s (%v), want Conflict", kindOf(err), err)
		}
		// A new round after the cancel works, and passing all accepts the task.
		if _, err := a.svc.StartAcceptance(ctx, a.owner, a.ds, a.task, intp(1), nil); err != nil {
			t.Fatalf("start acceptance after cancel: %v", err)
		}
		if _, _, err := a.svc.Close(ctx, a.owner, a.ds, a.task, teamtask.ActionPassAll, false); err != nil {
			t.Fatal(err)
		}
		if tk, err = a.svc.Get(ctx, a.owner, a.ds, a.task, teamtask.GetOptions{}); err != nil || tk.Status != teamtask.StatusAccepted {
			t.Errorf("after passing everything the task is %+v (%v), want status accepted", tk, err)
		}
		a.checkCounters("after pass all", a.task)
	})
}

// repEnv is a task of repetition 2 over n samples.
type repEnv struct {
	*env
	labelers []member
	task     string
}

func newRepEnv(t *testing.T, engine store.Engine, labelers, n int) *repEnv {
	e := newEnv(t, engine, dataset.TypeImageClassification)
	r := &repEnv{env: e}
	team := e.team("team-a")
	for i := 0; i < labelers; i++ {
		r.labelers = append(r.labelers, e.member(team, "l"+string(rune('a'+i))+"@example.com", workforce.RoleLabeler))
	}
	e.labels("cat", "dog")
	e.write(0, n, "")
	r.task = e.create("task-a", &teamtask.CreateRequest{WorkforcesConfig: teamsOf(team), Repetition: intp(2)}, true)
	return r
}

// labelAll has each labeler label its allocations with pick(seq, worker).
func (r *repEnv) labelAll(t *testing.T, pick func(seq int64, worker string) string) {
	for _, m := range r.labelers {
		var items []teamtask.SampleLabels
		for _, al := range r.allocs(r.task) {
			if al.worker == m.worker {
				items = append(items, teamtask.SampleLabels{SampleID: al.sampleID, Labels: cls(pick(al.seq, al.worker))})
			}
		}
		if len(items) == 0 {
			continue
		}
		if err := r.svc.UpdateLabels(context.Background(), m.c, r.ds, r.task, items); err != nil {
			t.Fatalf("label as %s: %v", m.worker, err)
		}
	}
}

func TestAcceptanceConflicts(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		r := newRepEnv(t, engine, 2, 4)
		ctx := context.Background()
		rows := r.allocs(r.task)
		disputed := rows[2].seq // the second sample
		r.labelAll(t, func(seq int64, worker string) string {
			if seq == disputed && worker == r.labelers[1].worker {
				return "dog"
			}
			return "cat"
		})
		if _, err := r.svc.StartAcceptance(ctx, r.owner, r.ds, r.task, nil, new(1.0)); err != nil {
			t.Fatal(err)
		}
		n, items, err := r.svc.Close(ctx, r.owner, r.ds, r.task, teamtask.ActionConflicts, false)
		if err != nil {
			t.Fatalf("conflicts: %v", err)
		}
		if n != 1 || len(items) != 2 {
			t.Fatalf("conflicts: %d samples in %d items, want 1 sample with its 2 copies", n, len(items))
		}
		workers := map[string]string{}
		for _, it := range items {
			if it.SampleID != rows[2].sampleID {
				t.Errorf("conflicts list %s, want only %s", it.SampleID, rows[2].sampleID)
			}
			if len(it.Labels) == 1 {
				workers[it.WorkerID] = it.Labels[0].Name
			}
		}
		if workers[r.labelers[0].worker] != "cat" || workers[r.labelers[1].worker] != "dog" {
			t.Errorf("conflict copies carry %v, want cat and dog of the two labelers", workers)
		}
		tk, err := r.svc.Get(ctx, r.owner, r.ds, r.task, teamtask.GetOptions{})
		if err != nil || tk.Status != teamtask.StatusAccepting {
			t.Errorf("listing conflicts changed the task: %+v (%v)", tk, err)
		}
	})
}

func TestReportAgreement(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		cases := []struct {
			name     string
			labelers int
			samples  int
		}{
			{"two-labelers", 2, 4},
			{"three-labelers", 3, 9},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := newRepEnv(t, engine, tc.labelers, tc.samples)
				// Every third sample (by seq) splits: the labeler that
				// sorts first says dog, the others cat.
				first := map[int64]string{}
				for _, al := range r.allocs(r.task) {
					if _, ok := first[al.seq]; !ok {
						first[al.seq] = al.worker
					}
				}
				pick := func(seq int64, worker string) string {
					if seq%3 == 0 && first[seq] == worker {
						return "dog"
					}
					return "cat"
				}
				r.labelAll(t, pick)
				// Expected by brute force over the allocations.
				bySeq := map[int64][]allocRow{}
				for _, al := range r.allocs(r.task) {
					bySeq[al.seq] = append(bySeq[al.seq], al)
				}
				agree, compared := map[string]int64{}, map[string]int64{}
				for seq, copies := range bySeq {
					for _, x := range copies {
						for _, y := range copies {
							if x.worker == y.worker {
								continue
							}
							compared[x.worker]++
							if pick(seq, x.worker) == pick(seq, y.worker) {
								agree[x.worker]++
							}
						}
					}
				}
				rep, err := r.svc.Report(context.Background(), r.owner, r.ds, r.task, "")
				if err != nil {
					t.Fatalf("report: %v", err)
				}
				if len(rep.MemberStats) != tc.labelers {
					t.Fatalf("member_stats has %d members, want %d", len(rep.MemberStats), tc.labelers)
				}
				var sumA, sumC int64
				for _, m := range rep.MemberStats {
					want := float64(agree[m.WorkerID]) / float64(compared[m.WorkerID])
					if m.Agreement == nil || math.Abs(*m.Agreement-want) > 1e-9 || m.Compared != compared[m.WorkerID] {
						t.Errorf("member %s: agreement %v over %d compared, want %.4f over %d", m.WorkerID, m.Agreement, m.Compared, want, compared[m.WorkerID])
					}
					sumA += agree[m.WorkerID]
					sumC += compared[m.WorkerID]
				}
				if want := float64(sumA) / float64(sumC); rep.Agreement == nil || math.Abs(*rep.Agreement-want) > 1e-9 {
					t.Errorf("task agreement %v, want %.4f", rep.Agreement, want)
				}
				if sumA == sumC {
					t.Errorf("the fixture has no disagreement: agreement is not tested")
				}
			})
		}
	})
}

func TestSyncNewSamples(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, dataset.TypeImageClassification)
		team := e.team("team-a")
		l1 := e.member(team, "l1@example.com", workforce.RoleLabeler)
		l2 := e.member(team, "l2@example.com", workforce.RoleLabeler)
		e.write(0, 4, "")
		synced := e.create("synced", &teamtask.CreateRequest{WorkforcesConfig: teamsOf(team), SynchronizeData: true}, true)
		fixed := e.create("fixed", &teamtask.CreateRequest{WorkforcesConfig: teamsOf(team)}, true)
		added := e.write(4, 6, "")
		n1, _ := e.all(l1.c, synced, teamtask.SampleQuery{})
		n2, _ := e.all(l2.c, synced, teamtask.SampleQuery{})
		if n1+n2 != 10 {
			t.Errorf("after adding 6 samples the labelers of the synchronizing task see %d + %d, want 10", n1, n2)
		}
		got := map[string]bool{}
		for _, a := range e.allocs(synced) {
			got[a.sampleID] = true
		}
		for _, id := range added {
			if !got[id] {
				t.Errorf("added sample %s was not allocated", id)
			}
		}
		e.checkCounters("after sync", synced)
		if _, items := e.all(e.owner, fixed, teamtask.SampleQuery{}); len(items) != 4 {
			t.Errorf("the task without synchronize_data has %d allocations after the dataset grew, want 4", len(items))
		}
	})
}

func TestWorkerTasks(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		s := newScopeEnv(t, engine)
		cases := []struct {
			name  string
			c     teamtask.Caller
			tasks []string
		}{
			{"labeler", s.l1.c, []string{s.taskA}},
			{"reviewer", s.rev.c, []string{s.taskA}},
			{"admin-sees-unstarted", s.adm.c, []string{s.taskA, s.taskC}},
			{"other-team-labeler", s.l3.c, []string{s.taskB}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				n, list, err := s.svc.WorkerTasks(context.Background(), tc.c, teamtask.WorkerTaskQuery{Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]bool{}
				for _, w := range list {
					got[w.TaskID] = true
				}
				if n != len(tc.tasks) || len(got) != len(tc.tasks) {
					t.Errorf("worker tasks %v (total %d), want %v", got, n, tc.tasks)
				}
				for _, id := range tc.tasks {
					if !got[id] {
						t.Errorf("task %s is missing from %v", id, got)
					}
				}
				_, dsList, err := s.svc.List(context.Background(), tc.c, s.ds, teamtask.ListQuery{Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				if len(dsList) != len(tc.tasks) {
					t.Errorf("the dataset's task list shows %d tasks, want %d", len(dsList), len(tc.tasks))
				}
			})
		}
		// A labeler's statistics count its own allocations only.
		_, list, err := s.svc.WorkerTasks(context.Background(), s.l1.c, teamtask.WorkerTaskQuery{Limit: 10})
		if err != nil || len(list) != 1 {
			t.Fatalf("labeler's worker tasks: %v, %v", list, err)
		}
		if got, want := list[0].SampleStats.Total, int64(len(s.ownedBy(s.taskA, s.l1.worker))); got != want {
			t.Errorf("labeler's worker task counts %d samples, want its own %d", got, want)
		}
	})
}

func TestReassign(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		s := newScopeEnv(t, engine)
		ctx := context.Background()
		// l2 labels two of its samples, the reviewer rejects the second,
		// then l2 leaves the task.
		l2Samples := s.ownedBy(s.taskA, s.l2.worker)
		if err := s.svc.UpdateLabels(ctx, s.l2.c, s.ds, s.taskA, []teamtask.SampleLabels{{SampleID: l2Samples[0], Labels: cls("dog")},
			{SampleID: l2Samples[1], Labels: cls("dog")}}); err != nil {
			t.Fatal(err)
		}
		no := false
		if err := s.svc.Review(ctx, s.rev.c, s.ds, s.taskA, []teamtask.Comment{{SampleID: l2Samples[1], Accept: &no, Comment: "a cat"}}); err != nil {
			t.Fatal(err)
		}
		cfg := &teamtask.WorkforcesConfig{Workforces: []teamtask.WorkforceConfig{{WorkforceID: s.teamA, Workers: []teamtask.WorkerRef{
			{WorkerID: s.l1.worker}, {WorkerID: s.rev.worker}, {WorkerID: s.adm.worker}}}}}
		if err := s.svc.Update(ctx, s.adm.c, s.ds, s.taskA, &teamtask.UpdateRequest{WorkforcesConfig: cfg}); err != nil {
			t.Fatalf("the team administrator drops a labeler: %v", err)
		}
		for _, a := range s.allocs(s.taskA) {
			switch {
			case a.sampleID == l2Samples[0]:
				if a.worker != s.l2.worker || a.state != teamtask.StateUnreviewed {
					t.Errorf("the leaving labeler's labeled sample went to %s in state %d, want to stay its own", a.worker, a.state)
				}
			case a.sampleID == l2Samples[1]:
				if a.worker != s.l1.worker || a.state != teamtask.StateRejected {
					t.Errorf("the leaving labeler's rejected sample is with %s in state %d, want moved to the remaining labeler, still rejected", a.worker, a.state)
				}
			case a.worker != s.l1.worker:
				t.Errorf("unlabeled sample %s stayed with %s, want moved to the remaining labeler", a.sampleID, a.worker)
			}
		}
		s.checkCounters("after reassign", s.taskA)
		if _, _, err := s.svc.Samples(ctx, s.l2.c, s.ds, s.taskA, teamtask.SampleQuery{Limit: 10}); kindOf(err) != "NotFound" {
			t.Errorf("a labeler who left reads the task: %s (%v), want NotFound", kindOf(err), err)
		}
		if n, _ := s.all(s.l1.c, s.taskA, teamtask.SampleQuery{}); n != int64(len(s.samples)-1) {
			t.Errorf("the remaining labeler sees %d samples, want %d", n, len(s.samples)-1)
		}
		got, err := s.svc.Sample(ctx, s.l1.c, s.ds, s.taskA, l2Samples[1], "")
		if err != nil || got.ReviewComment != "a cat" {
			t.Errorf("the moved rejected sample as its new labeler sees it: %+v, %v; want the reviewer's comment", got, err)
		}
	})
}

// TestReassignOnlyLabeler drops the one member that leaves, a labeler:
// every one of its unlabeled samples must go to the labeler who stays.
func TestReassignOnlyLabeler(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, dataset.TypeImageClassification)
		team := e.team("team-a")
		la := e.member(team, "la@example.com", workforce.RoleLabeler)
		lb := e.member(team, "lb@example.com", workforce.RoleLabeler)
		e.write(0, 8, "")
		task := e.create("t", &teamtask.CreateRequest{WorkforcesConfig: teamsOf(team)}, true)
		cfg := &teamtask.WorkforcesConfig{Workforces: []teamtask.WorkforceConfig{{WorkforceID: team, Workers: []teamtask.WorkerRef{{WorkerID: la.worker}}}}}
		if err := e.svc.Update(context.Background(), e.owner, e.ds, task, &teamtask.UpdateRequest{WorkforcesConfig: cfg}); err != nil {
			t.Fatalf("drop labeler %s: %v", lb.worker, err)
		}
		for _, a := range e.allocs(task) {
			if a.worker != la.worker {
				t.Errorf("sample %s stayed with the labeler who left", a.sampleID)
			}
		}
		e.checkCounters("after reassign", task)
	})
}

func TestCloseActions(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		// Every allocation is sampled; the first two are accepted, the
		// third rejected, the rest get no verdict.
		const (
			acc = teamtask.StateAccepted
			rej = teamtask.StateRejected
			unc = teamtask.StateUncheck
		)
		cases := []struct {
			name    string
			action  int
			states  [6]int
			written int
			status  int
		}{
			{"pass-all", teamtask.ActionPassAll, [6]int{acc, acc, acc, acc, acc, acc}, 6, teamtask.StatusAccepted},
			{"reject-all", teamtask.ActionRejectAll, [6]int{rej, rej, rej, rej, rej, rej}, 0, teamtask.StatusRejected},
			{"pass-unrejected", teamtask.ActionPassUnrejected, [6]int{acc, acc, rej, acc, acc, acc}, 5, teamtask.StatusRunning},
			{"pass-only-accepts", teamtask.ActionPassOnlyAccepts, [6]int{acc, acc, rej, unc, unc, unc}, 2, teamtask.StatusRunning},
			{"cancel", teamtask.ActionCancel, [6]int{unc, unc, unc, unc, unc, unc}, 0, teamtask.StatusRunning},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				a := newAcceptEnv(t, engine, 6)
				ctx := context.Background()
				if _, err := a.svc.StartAcceptance(ctx, a.owner, a.ds, a.task, nil, new(1.0)); err != nil {
					t.Fatal(err)
				}
				rows := a.allocs(a.task)
				verdicts := []teamtask.Comment{{SampleID: rows[0].sampleID, Accept: boolp(true), Score: "A"},
					{SampleID: rows[1].sampleID, Accept: boolp(true), Score: "B"}, {SampleID: rows[2].sampleID, Accept: boolp(false)}}
				if err := a.svc.Comment(ctx, a.owner, a.ds, a.task, verdicts); err != nil {
					t.Fatal(err)
				}
				written, _, err := a.svc.Close(ctx, a.owner, a.ds, a.task, tc.action, false)
				if err != nil {
					t.Fatalf("close: %v", err)
				}
				if written != tc.written {
					t.Errorf("wrote %d samples into the dataset, want %d", written, tc.written)
				}
				labeled := 0
				for i, r := range a.allocs(a.task) {
					if r.state != tc.states[i] {
						t.Errorf("allocation %d (%s) is in state %d, want %d", i, r.sampleID, r.state, tc.states[i])
					}
					sm, err := a.core.GetSample(ctx, a.acct.ProjectID, a.ds, r.sampleID, nil)
					if err != nil {
						t.Fatal(err)
					}
					if len(sm.Labels) > 0 {
						labeled++
						if r.state != acc {
							t.Errorf("sample %s has dataset labels but its allocation was not accepted", r.sampleID)
						}
					}
				}
				if labeled != tc.written {
					t.Errorf("%d dataset samples have labels, want the %d written", labeled, tc.written)
				}
				tk, err := a.svc.Get(ctx, a.owner, a.ds, a.task, teamtask.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if tk.Status != tc.status {
					t.Errorf("task status %d, want %d", tk.Status, tc.status)
				}
				a.checkCounters("after close", a.task)
			})
		}
	})
}

func TestCloseOverwrite(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		cases := []struct {
			name      string
			overwrite bool
			want      string
		}{
			{"keep-dataset-labels", false, "cat"},
			{"overwrite", true, "dog"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, engine, dataset.TypeImageClassification)
				ctx := context.Background()
				team := e.team("team-a")
				l := e.member(team, "l@example.com", workforce.RoleLabeler)
				e.labels("dog")
				ids := e.write(0, 3, "cat")
				task := e.create("t", &teamtask.CreateRequest{WorkforcesConfig: teamsOf(team),
					SampleConditions: `[{"label_list":{"labels":[{"name":"cat"}]}}]`}, true)
				var items []teamtask.SampleLabels
				for _, id := range ids {
					items = append(items, teamtask.SampleLabels{SampleID: id, Labels: cls("dog")})
				}
				if err := e.svc.UpdateLabels(ctx, l.c, e.ds, task, items); err != nil {
					t.Fatal(err)
				}
				if _, err := e.svc.StartAcceptance(ctx, e.owner, e.ds, task, intp(1), nil); err != nil {
					t.Fatal(err)
				}
				if _, _, err := e.svc.Close(ctx, e.owner, e.ds, task, teamtask.ActionPassAll, tc.overwrite); err != nil {
					t.Fatal(err)
				}
				for _, id := range ids {
					sm, err := e.core.GetSample(ctx, e.acct.ProjectID, e.ds, id, nil)
					if err != nil {
						t.Fatal(err)
					}
					if len(sm.Labels) != 1 || sm.Labels[0].Name != tc.want {
						t.Errorf("sample %s has labels %+v, want %s", id, sm.Labels, tc.want)
					}
				}
			})
		}
	})
}

func TestSampleFilters(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		a := newAcceptEnv(t, engine, 8)
		ctx := context.Background()
		if _, err := a.svc.StartAcceptance(ctx, a.owner, a.ds, a.task, intp(4), nil); err != nil {
			t.Fatal(err)
		}
		_, picked := a.all(a.owner, a.task, teamtask.SampleQuery{State: "__WORKFORCE_SAMPLED__"})
		if len(picked) != 4 {
			t.Fatalf("sampled %d, want 4", len(picked))
		}
		if err := a.svc.Comment(ctx, a.owner, a.ds, a.task, []teamtask.Comment{{SampleID: picked[0].SampleID, Accept: boolp(true)},
			{SampleID: picked[1].SampleID, Accept: boolp(false)}}); err != nil {
			t.Fatal(err)
		}
		byWorker := map[string]int{}
		for _, r := range a.allocs(a.task) {
			byWorker[r.worker]++
		}
		cases := []struct {
			name string
			c    teamtask.Caller
			q    teamtask.SampleQuery
			want int
		}{
			{"sampled-accepted", a.owner, teamtask.SampleQuery{State: "__WORKFORCE_SAMPLED_ACCEPTED__"}, 1},
			{"sampled-rejected", a.owner, teamtask.SampleQuery{State: "__WORKFORCE_SAMPLED_REJECTED__"}, 1},
			{"sampled-checked", a.owner, teamtask.SampleQuery{State: "__WORKFORCE_SAMPLED_CHECKED__"}, 2},
			{"sampled-unchecked", a.owner, teamtask.SampleQuery{State: "__WORKFORCE_SAMPLED_UNCHECK__"}, 2},
			{"uncheck", a.owner, teamtask.SampleQuery{State: "__UNCHECK__"}, 8},
			{"none", a.owner, teamtask.SampleQuery{State: "__NONE__"}, 0},
			{"label-cat", a.owner, teamtask.SampleQuery{LabelName: "cat"}, byWorker[a.l1.worker]},
			{"label-dog-for-cat-labeler", a.l1.c, teamtask.SampleQuery{LabelName: "dog"}, 0},
			{"label-cat-for-cat-labeler", a.l1.c, teamtask.SampleQuery{LabelName: "cat"}, byWorker[a.l1.worker]},
			{"label-like-wildcard-is-literal", a.owner, teamtask.SampleQuery{LabelName: "c%"}, 0},
			{"member-filter", a.owner, teamtask.SampleQuery{WorkerID: a.l2.worker}, byWorker[a.l2.worker]},
			{"label-type-classification", a.owner, teamtask.SampleQuery{LabelType: intp(0)}, 8},
			{"label-type-detection", a.owner, teamtask.SampleQuery{LabelType: intp(1)}, 0},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				total, items := a.all(tc.c, a.task, tc.q)
				if len(items) != tc.want || total != int64(tc.want) {
					t.Errorf("%d items, total %d, want %d", len(items), total, tc.want)
				}
			})
		}
		if _, _, err := a.svc.Samples(ctx, a.owner, a.ds, a.task, teamtask.SampleQuery{State: "__BOGUS__", Limit: 10}); kindOf(err) != "Invalid" {
			t.Errorf("unknown state: %s (%v), want Invalid", kindOf(err), err)
		}
	})
}

// TestSharedTaskRoster: in a task two teams share, a member sees its own
// team's roster, not the other team's members; the owner sees both.
func TestSharedTaskRoster(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, dataset.TypeImageClassification)
		a, b := e.team("team-a"), e.team("team-b")
		la := e.member(a, "la@example.com", workforce.RoleLabeler)
		e.member(b, "lb@example.com", workforce.RoleLabeler)
		e.write(0, 4, "")
		task := e.create("shared", &teamtask.CreateRequest{WorkforcesConfig: teamsOf(a, b)}, true)
		emails := func(c teamtask.Caller) []string {
			got, err := e.svc.Get(context.Background(), c, e.ds, task, teamtask.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, wf := range got.WorkforcesConfig.Workforces {
				for _, w := range wf.Workers {
					out = append(out, w.Email)
				}
			}
			return out
		}
		if got := emails(la.c); len(got) != 1 || got[0] != "la@example.com" {
			t.Errorf("team a's labeler sees the roster %v, want only its own team", got)
		}
		if got := emails(e.owner); len(got) != 2 {
			t.Errorf("the owner sees the roster %v, want both teams", got)
		}
	})
}
