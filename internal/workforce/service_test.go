package workforce

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/fault"
	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

var _ Identities = (*iam.Service)(nil)

type fixture struct {
	svc  *Service
	ids  *iam.Service
	db   *store.DB
	acct *iam.Account
	sc   Scope
}

// newFixture builds the service over a real database and identity
// service, with an account and a clock that ticks one millisecond per read.
func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	ids, err := iam.NewService(ctx, db, iam.NewCatalog([]string{"modelarts:processTask:getWorkforce", "modelarts:trainJob:previewLog"}), iam.Options{})
	if err != nil {
		t.Fatalf("open iam: %v", err)
	}
	acct, err := ids.CreateAccount(ctx, iam.AccountInput{DomainName: "acme", Region: "test-1", Endpoint: "http://127.0.0.1"})
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	var tick atomic.Int64
	tick.Store(1_700_000_000_000)
	svc, err := New(Options{DB: db, Identities: ids, Now: func() time.Time { return time.UnixMilli(tick.Add(1)) }})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, ids: ids, db: db, acct: acct,
		sc: Scope{DomainID: acct.DomainID, ProjectID: acct.ProjectID, WorkspaceID: "0", UserID: acct.UserID}}
}

func codeOf(err error) string {
	if e, ok := fault.As(err); ok {
		return e.Code
	}
	return ""
}

func intp(i int) *int       { return &i }
func strp(s string) *string { return &s }

func (f *fixture) team(t *testing.T, name string) string {
	t.Helper()
	id, err := f.svc.Create(context.Background(), f.sc, &CreateRequest{Name: name})
	if err != nil {
		t.Fatalf("create team %s: %v", name, err)
	}
	return id
}

func (f *fixture) member(t *testing.T, team, email string, role int) string {
	t.Helper()
	id, err := f.svc.AddWorker(context.Background(), f.sc, team, &WorkerRequest{Email: email, Role: intp(role)})
	if err != nil {
		t.Fatalf("add %s to %s: %v", email, team, err)
	}
	return id
}

// allowed reports whether the user may perform the action in the project.
func (f *fixture) allowed(t *testing.T, userID, action string) bool {
	t.Helper()
	return f.decide(t, f.ids.Decide, userID, action)
}

// allowedOnTeamRoutes decides as a team labeling route does, where the
// labeling system policies count.
func (f *fixture) allowedOnTeamRoutes(t *testing.T, userID, action string) bool {
	t.Helper()
	return f.decide(t, f.ids.DecideTeam, userID, action)
}

func (f *fixture) decide(t *testing.T, decide func(context.Context, string, *policy.Request) (policy.Decision, error), userID, action string) bool {
	t.Helper()
	d, err := decide(context.Background(), userID, &policy.Request{Action: action, ProjectID: f.sc.ProjectID})
	if err != nil {
		if iam.KindOf(err) == iam.KindNotFound {
			return false
		}
		t.Fatalf("decide %s for %s: %v", action, userID, err)
	}
	return d.Allowed
}

func TestValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		team := f.team(t, "team-1")
		long := strings.Repeat("a", 65)
		cases := []struct {
			name  string
			run   func() error
			code  string
			field string
		}{
			{"empty-name", func() error { _, err := f.svc.Create(ctx, f.sc, &CreateRequest{}); return err }, CodeInvalid, "workforce_name"},
			{"long-name", func() error { _, err := f.svc.Create(ctx, f.sc, &CreateRequest{Name: long}); return err }, CodeInvalid, "workforce_name"},
			{"bad-name-char", func() error { _, err := f.svc.Create(ctx, f.sc, &CreateRequest{Name: "team 1"}); return err }, CodeInvalid, "workforce_name"},
			{"bad-description", func() error {
				_, err := f.svc.Create(ctx, f.sc, &CreateRequest{Name: "ok", Description: "a<b"})
				return err
			}, CodeInvalid, "description"},
			{"long-description", func() error {
				_, err := f.svc.Create(ctx, f.sc, &CreateRequest{Name: "ok", Description: strings.Repeat("d", 257)})
				return err
			}, CodeInvalid, "description"},
			{"duplicate-name", func() error { _, err := f.svc.Create(ctx, f.sc, &CreateRequest{Name: "team-1"}); return err }, CodeWorkforceExists, ""},
			{"update-bad-name", func() error { return f.svc.Update(ctx, f.sc.ProjectID, team, &UpdateRequest{Name: strp("x!")}) }, CodeInvalid, "workforce_name"},
			{"update-missing", func() error { return f.svc.Update(ctx, f.sc.ProjectID, "nope", &UpdateRequest{}) }, CodeWorkforceMissing, ""},
			{"no-email", func() error {
				_, err := f.svc.AddWorker(ctx, f.sc, team, &WorkerRequest{Role: intp(0)})
				return err
			}, CodeInvalid, "emails"},
			{"bad-email", func() error {
				_, err := f.svc.AddWorker(ctx, f.sc, team, &WorkerRequest{Email: "a@b,c@d", Role: intp(0)})
				return err
			}, CodeInvalid, "emails"},
			{"no-role", func() error {
				_, err := f.svc.AddWorker(ctx, f.sc, team, &WorkerRequest{Email: "a@example.com"})
				return err
			}, CodeInvalid, "role"},
			{"role-3-on-create", func() error {
				_, err := f.svc.AddWorker(ctx, f.sc, team, &WorkerRequest{Email: "a@example.com", Role: intp(3)})
				return err
			}, CodeInvalid, "role"},
			{"worker-of-missing-team", func() error {
				_, err := f.svc.AddWorker(ctx, f.sc, "nope", &WorkerRequest{Email: "a@example.com", Role: intp(0)})
				return err
			}, CodeWorkforceMissing, ""},
			{"get-missing-worker", func() error { _, err := f.svc.GetWorker(ctx, f.sc.ProjectID, team, "nope"); return err }, CodeWorkerMissing, ""},
			{"batch-empty", func() error { _, err := f.svc.DeleteWorkers(ctx, f.sc, team, nil); return err }, CodeInvalid, "workers"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.run()
				if codeOf(err) != tc.code {
					t.Fatalf("got %v (code %q), want code %s", err, codeOf(err), tc.code)
				}
				if tc.field != "" && !strings.Contains(err.Error(), "("+tc.field+")") {
					t.Fatalf("message %q does not name the field %s", err.Error(), tc.field)
				}
			})
		}
	})
}

func TestTeams(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		for _, n := range []string{"delta", "alpha", "charlie", "bravo", "a_b"} {
			f.team(t, n)
		}
		names := func(items []*Workforce) string {
			var s []string
			for _, w := range items {
				s = append(s, w.Name)
			}
			return strings.Join(s, ",")
		}
		lists := []struct {
			name  string
			q     Query
			total int
			want  string
		}{
			{"newest-first", Query{Limit: 10, Desc: true}, 5, "a_b,bravo,charlie,alpha,delta"},
			{"second-page", Query{Limit: 2, Offset: 2, Desc: true}, 5, "charlie,alpha"},
			{"by-name-asc", Query{Limit: 3, SortBy: "workforce_name"}, 5, "a_b,alpha,bravo"},
			{"search-escapes-underscore", Query{Limit: 10, Search: "_", Desc: true}, 1, "a_b"},
			{"search-case-insensitive", Query{Limit: 10, Search: "ALP"}, 1, "alpha"},
			{"past-the-end", Query{Limit: 10, Offset: 10}, 5, ""},
			{"only-these-ids", Query{Limit: 10, IDs: []string{}}, 0, ""},
		}
		for _, tc := range lists {
			t.Run(tc.name, func(t *testing.T) {
				total, items, err := f.svc.List(ctx, f.sc, tc.q)
				if err != nil || total != tc.total || names(items) != tc.want {
					t.Fatalf("List(%+v) = %d [%s], %v; want %d [%s]", tc.q, total, names(items), err, tc.total, tc.want)
				}
			})
		}
		// Another project, or another workspace, sees none of them.
		other := f.sc
		other.ProjectID = "another-project"
		if total, items, err := f.svc.List(ctx, other, Query{Limit: 10}); err != nil || total != 0 || len(items) != 0 {
			t.Fatalf("another project lists %d teams (%v)", total, err)
		}
		_, all, _ := f.svc.List(ctx, f.sc, Query{Limit: 10})
		if _, err := f.svc.Get(ctx, other.ProjectID, all[0].ID); codeOf(err) != CodeWorkforceMissing {
			t.Fatalf("get from another project: %v, want %s", err, CodeWorkforceMissing)
		}
		// Update: rename to a taken name fails, a free one works.
		id := all[0].ID
		if err := f.svc.Update(ctx, f.sc.ProjectID, id, &UpdateRequest{Name: strp(all[1].Name)}); codeOf(err) != CodeWorkforceExists {
			t.Fatalf("rename to a taken name: %v", err)
		}
		if err := f.svc.Update(ctx, f.sc.ProjectID, id, &UpdateRequest{Name: strp("echo"), Description: strp("my team")}); err != nil {
			t.Fatal(err)
		}
		if w, err := f.svc.Get(ctx, f.sc.ProjectID, id); err != nil || w.Name != "echo" || w.Description != "my team" || w.UpdateTime <= w.CreateTime {
			t.Fatalf("after update: %+v, %v", w, err)
		}
		// The account's limit: 10 teams.
		for i := 5; i < MaxWorkforcesPerAccount; i++ {
			f.team(t, fmt.Sprintf("t%d", i))
		}
		if _, err := f.svc.Create(ctx, f.sc, &CreateRequest{Name: "eleventh"}); fault.KindOf(err) != fault.Limit {
			t.Fatalf("11th team: %v, want the limit", err)
		}
		if err := f.svc.Delete(ctx, f.sc, id); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Get(ctx, f.sc.ProjectID, id); codeOf(err) != CodeWorkforceMissing {
			t.Fatalf("deleted team: %v", err)
		}
		if err := f.svc.Delete(ctx, f.sc, id); codeOf(err) != CodeWorkforceMissing {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

func TestMembers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		a, b := f.team(t, "team-a"), f.team(t, "team-b")
		// A user that exists already is linked by e-mail, case-insensitively.
		existing, err := f.ids.CreateUser(ctx, f.sc.DomainID, iam.UserInput{Name: "carol", Email: "Carol@Example.com", Password: "Carol-pass-123"})
		if err != nil {
			t.Fatal(err)
		}
		carol := f.member(t, a, "carol@example.com", RoleReviewer)
		if w, _ := f.svc.GetWorker(ctx, f.sc.ProjectID, a, carol); w.UserID != existing.ID {
			t.Fatalf("carol linked to %s, want the existing user %s", w.UserID, existing.ID)
		}
		// A new address creates a user named after it, with the email set.
		ann := f.member(t, a, "ann@example.com", RoleLabeler)
		annW, _ := f.svc.GetWorker(ctx, f.sc.ProjectID, a, ann)
		annUser, err := f.ids.GetUser(ctx, f.sc.DomainID, annW.UserID)
		if err != nil || annUser.Name != "ann_example.com" || annUser.Email != "ann@example.com" {
			t.Fatalf("created user: %+v, %v", annUser, err)
		}
		if !f.allowedOnTeamRoutes(t, annW.UserID, "modelarts:dataset:getWorkforceTask") {
			t.Fatal("a labeler may not get its team tasks")
		}
		// What the labeling policies grant counts on team routes only: the
		// dataset's own sample list stays closed to a labeler.
		for _, action := range []string{"modelarts:dataset:getWorkforceTask", "modelarts:sample:listSamples"} {
			if f.allowed(t, annW.UserID, action) {
				t.Fatalf("a labeler holds %s outside team labeling routes", action)
			}
		}
		if f.allowed(t, annW.UserID, "modelarts:processTask:getWorkforce") {
			t.Fatal("a labeler may read labeling teams")
		}
		// Rules of a team: one address once, one team administrator.
		rules := []struct {
			name  string
			email string
			role  int
			code  string
		}{
			{"same-address-other-case", "ANN@example.com", RoleLabeler, CodeWorkerExists},
			{"first-admin", "boss@example.com", RoleTeamAdmin, ""},
			{"second-admin", "boss2@example.com", RoleTeamAdmin, CodeOneManager},
		}
		for _, tc := range rules {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.AddWorker(ctx, f.sc, a, &WorkerRequest{Email: tc.email, Role: intp(tc.role)})
				if codeOf(err) != tc.code || tc.code == "" && err != nil {
					t.Fatalf("add %s as %d: %v, want code %q", tc.email, tc.role, err, tc.code)
				}
			})
		}
		// Ann in a second team keeps her user when she leaves the first.
		annB := f.member(t, b, "ann@example.com", RoleTeamAdmin)
		if err := f.svc.UpdateWorker(ctx, f.sc, a, carol, &WorkerUpdate{Role: intp(RoleTeamAdmin)}); codeOf(err) != CodeOneManager {
			t.Fatalf("second administrator by update: %v", err)
		}
		if err := f.svc.UpdateWorker(ctx, f.sc, a, carol, &WorkerUpdate{Role: intp(RoleLabeler), Description: strp("now labels")}); err != nil {
			t.Fatal(err)
		}

		// Lists: one team's members, paged; every team's, by role.
		total, items, err := f.svc.ListWorkers(ctx, f.sc, WorkerQuery{WorkforceID: a, Limit: 2, Offset: 0, SortBy: "email"})
		if err != nil || total != 3 || len(items) != 2 || items[0].Email != "ann@example.com" || items[1].Email != "boss@example.com" {
			t.Fatalf("team a by email: %d %+v %v", total, items, err)
		}
		total, items, err = f.svc.ListWorkers(ctx, f.sc, WorkerQuery{Role: intp(RoleLabeler), Limit: 10, Desc: true})
		if err != nil || total != 2 || items[0].Email != "ann@example.com" || items[1].Email != "carol@example.com" || items[1].Description != "now labels" {
			t.Fatalf("labelers of every team: %d %+v %v", total, items, err)
		}
		other := f.sc
		other.ProjectID = "another-project"
		if total, _, err := f.svc.ListWorkers(ctx, other, WorkerQuery{Role: intp(RoleLabeler), Limit: 10}); err != nil || total != 0 {
			t.Fatalf("another project lists %d members (%v)", total, err)
		}
		if _, err := f.svc.GetWorker(ctx, other.ProjectID, a, ann); codeOf(err) != CodeWorkforceMissing {
			t.Fatalf("member through another project: %v", err)
		}
		if _, err := f.svc.GetWorker(ctx, f.sc.ProjectID, b, carol); codeOf(err) != CodeWorkerMissing {
			t.Fatalf("member of team a through team b: %v", err)
		}

		// Removing: Ann leaves team a (still in b), then team b is deleted.
		if err := f.svc.DeleteWorker(ctx, f.sc, a, ann); err != nil {
			t.Fatal(err)
		}
		if _, err := f.ids.GetUser(ctx, f.sc.DomainID, annW.UserID); err != nil {
			t.Fatalf("ann's user is gone while she is still in team b: %v", err)
		}
		if !f.allowedOnTeamRoutes(t, annW.UserID, "modelarts:dataset:getWorkforceTask") {
			t.Fatal("ann lost her team b access when leaving team a")
		}
		if err := f.svc.Delete(ctx, f.sc, b); err != nil {
			t.Fatal(err)
		}
		if _, err := f.ids.GetUser(ctx, f.sc.DomainID, annW.UserID); iam.KindOf(err) != iam.KindNotFound {
			t.Fatalf("ann's created user outlived her last team: %v", err)
		}
		_ = annB

		// Batch: one unknown ID fails alone; the linked user stays, without access.
		res, err := f.svc.DeleteWorkers(ctx, f.sc, a, []string{carol, "nope"})
		if err != nil || len(res) != 2 || !res[0].Success || res[1].Success || res[1].ErrorCode != CodeWorkerMissing {
			t.Fatalf("batch delete: %+v, %v", res, err)
		}
		if _, err := f.ids.GetUser(ctx, f.sc.DomainID, existing.ID); err != nil {
			t.Fatalf("a linked user was deleted with its membership: %v", err)
		}
		if f.allowedOnTeamRoutes(t, existing.ID, "modelarts:dataset:getWorkforceTask") {
			t.Fatal("a removed member keeps team task access")
		}
		// Nobody removes themselves.
		self := f.member(t, a, f.acct.UserName+"@example.com", RoleLabeler)
		if _, err := db.ExecContext(ctx, `UPDATE workforce_workers SET user_id = $1 WHERE id = $2`, f.acct.UserID, self); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DeleteWorker(ctx, f.sc, a, self); codeOf(err) != CodeDeleteSelf {
			t.Fatalf("delete yourself: %v", err)
		}
	})
}

// A user Atelier created keeps existing when it holds something else.
func TestCreatedUserHoldingMoreIsKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		team := f.team(t, "team")
		id := f.member(t, team, "dan@example.com", RoleLabeler)
		w, _ := f.svc.GetWorker(ctx, f.sc.ProjectID, team, id)
		if _, err := f.ids.CreateCredential(ctx, f.sc.DomainID, w.UserID, "dan's key"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DeleteWorker(ctx, f.sc, team, id); err != nil {
			t.Fatal(err)
		}
		if _, err := f.ids.GetUser(ctx, f.sc.DomainID, w.UserID); err != nil {
			t.Fatalf("a created user with an access key was deleted: %v", err)
		}
	})
}

// A failure midway leaves neither the member nor its user.
func TestAddWorkerIsOneTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		team := f.team(t, "team")
		failing := &failingIDs{Service: f.ids}
		svc, _ := New(Options{DB: db, Identities: failing})
		if _, err := svc.AddWorker(ctx, f.sc, team, &WorkerRequest{Email: "eve@example.com", Role: intp(0)}); err == nil {
			t.Fatal("AddWorker succeeded although granting failed")
		}
		users, err := f.ids.ListUsers(ctx, f.sc.DomainID, "eve_example.com")
		if err != nil || len(users) != 0 {
			t.Fatalf("the user of a failed addition exists: %d, %v", len(users), err)
		}
		if total, _, _ := f.svc.ListWorkers(ctx, f.sc, WorkerQuery{WorkforceID: team, Limit: 10}); total != 0 {
			t.Fatalf("the failed member was stored")
		}
	})
}

type failingIDs struct{ *iam.Service }

func (f *failingIDs) SetLabelingRoles(context.Context, *sql.Tx, string, string, string, []string) error {
	return fmt.Errorf("grant refused")
}

// Concurrent additions serialize: the first members of a project create
// its managed group once, and of two team administrators added at once
// exactly one is taken.
func TestConcurrentAdditions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		teams := []string{f.team(t, "t1"), f.team(t, "t2")}
		const n = 8
		errs := make(chan error, 2*n)
		for i := 0; i < n; i++ {
			go func(i int) {
				_, err := f.svc.AddWorker(ctx, f.sc, teams[i%2], &WorkerRequest{Email: fmt.Sprintf("m%d@example.com", i), Role: intp(RoleLabeler)})
				errs <- err
			}(i)
			go func(i int) {
				_, err := f.svc.AddWorker(ctx, f.sc, teams[0], &WorkerRequest{Email: fmt.Sprintf("boss%d@example.com", i), Role: intp(RoleTeamAdmin)})
				errs <- err
			}(i)
		}
		admins := 0
		for i := 0; i < 2*n; i++ {
			err := <-errs
			switch codeOf(err) {
			case "":
				if err != nil {
					t.Errorf("concurrent addition: %v", err)
				}
			case CodeOneManager:
				admins--
			default:
				t.Errorf("concurrent addition: %v", err)
			}
		}
		if admins != -(n - 1) {
			t.Errorf("%d team administrators refused, want %d", -admins, n-1)
		}
		groups, err := f.ids.ListGroups(ctx, f.sc.DomainID, iam.LabelingGroupName("labeler", f.sc.ProjectID))
		if err != nil || len(groups) != 1 {
			t.Fatalf("labeler groups: %d, %v; want one", len(groups), err)
		}
		users, err := f.ids.GroupUsers(ctx, f.sc.DomainID, groups[0].ID)
		if err != nil || len(users) != n {
			t.Fatalf("labeler group members: %d, %v; want %d", len(users), err, n)
		}
	})
}

// Deleting a member's user through IAM ends its memberships.
func TestDeletedUserLeavesItsTeams(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		team := f.team(t, "team")
		id := f.member(t, team, "fay@example.com", RoleReviewer)
		w, _ := f.svc.GetWorker(ctx, f.sc.ProjectID, team, id)
		if err := f.ids.DeleteUser(ctx, f.sc.DomainID, w.UserID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.GetWorker(ctx, f.sc.ProjectID, team, id); codeOf(err) != CodeWorkerMissing {
			t.Fatalf("member of a deleted user: %v, want %s", err, CodeWorkerMissing)
		}
		if got, err := f.svc.Get(ctx, f.sc.ProjectID, team); err != nil || got.WorkerCount != 0 {
			t.Fatalf("team after its member's user was deleted: %+v, %v", got, err)
		}
		// The address can be added again, with a new user.
		f.member(t, team, "fay@example.com", RoleReviewer)
	})
}
