package iam_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// testActions stand for the route table; system policies need at least one
// action for each of their patterns (Tenant Guest names modelarts:*:preview*).
var testActions = []string{"modelarts:trainJob:get", "modelarts:trainJob:delete", "modelarts:trainJob:previewLog", "modelarts:dataset:getDataset"}

func newService(t *testing.T, db *store.DB) *iam.Service {
	t.Helper()
	svc, err := iam.NewService(context.Background(), db, iam.NewCatalog(testActions), iam.Options{})
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	return svc
}

func newAccount(t *testing.T, svc *iam.Service, name string) *iam.Account {
	t.Helper()
	a, err := svc.CreateAccount(context.Background(), iam.AccountInput{DomainName: name, Region: "r-1"})
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	return a
}

func decide(t *testing.T, svc *iam.Service, userID, action, project string) bool {
	t.Helper()
	d, err := svc.Decide(context.Background(), userID, &policy.Request{Action: action, ProjectID: project, EnterpriseProjectID: "0"})
	if err != nil {
		t.Fatalf("decide %s: %v", action, err)
	}
	return d.Allowed
}

// userWithPolicy makes a user in a group holding a custom policy on the project.
func userWithPolicy(t testing.TB, svc *iam.Service, a *iam.Account, doc string) (*iam.User, *iam.Group, *iam.Policy) {
	t.Helper()
	ctx := context.Background()
	u, err := svc.CreateUser(ctx, a.DomainID, iam.UserInput{Name: "alice", Password: "Alice-pass1"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := svc.CreateGroup(ctx, a.DomainID, "devs", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.AddUserToGroup(ctx, a.DomainID, g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	p, err := svc.CreateCustomPolicy(ctx, a.DomainID, iam.PolicyInput{DisplayName: "p", Type: "XA", Document: []byte(doc)})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Grant(ctx, a.DomainID, g.ID, p.ID, policy.Scope{Kind: policy.ScopeProject, ID: a.ProjectID}); err != nil {
		t.Fatal(err)
	}
	return u, g, p
}

const allowGetDenyDelete = `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:trainJob:*"]},{"Effect":"Deny","Action":["modelarts:trainJob:delete"]}]}`

func TestGrantsAndScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		a := newAccount(t, svc, "acme")
		u, g, p := userWithPolicy(t, svc, a, allowGetDenyDelete)
		if !decide(t, svc, u.ID, "modelarts:trainJob:get", a.ProjectID) {
			t.Error("get on the granted project: denied, want allowed")
		}
		if decide(t, svc, u.ID, "modelarts:trainJob:delete", a.ProjectID) {
			t.Error("delete: allowed, want the explicit deny to win")
		}
		other, err := svc.CreateProject(ctx, a.DomainID, "r-1", "r-1_other", "")
		if err != nil {
			t.Fatal(err)
		}
		if decide(t, svc, u.ID, "modelarts:trainJob:get", other.ID) {
			t.Error("get on another project: allowed, want denied (grant is on one project)")
		}
		if !decide(t, svc, a.UserID, "modelarts:trainJob:delete", other.ID) {
			t.Error("account admin: denied, want allowed everywhere")
		}
		// Revoking takes effect at once.
		if err := svc.Revoke(ctx, a.DomainID, g.ID, p.ID, policy.Scope{Kind: policy.ScopeProject, ID: a.ProjectID}); err != nil {
			t.Fatal(err)
		}
		if decide(t, svc, u.ID, "modelarts:trainJob:get", a.ProjectID) {
			t.Error("after revoke: allowed, want denied")
		}
		// An account-level (AX) policy cannot be granted on a project.
		ax, err := svc.CreateCustomPolicy(ctx, a.DomainID, iam.PolicyInput{DisplayName: "ax", Type: "AX", Document: []byte(allowGetDenyDelete)})
		if err != nil {
			t.Fatal(err)
		}
		err = svc.Grant(ctx, a.DomainID, g.ID, ax.ID, policy.Scope{Kind: policy.ScopeProject, ID: a.ProjectID})
		if iam.KindOf(err) != iam.KindInvalid {
			t.Errorf("AX policy on a project: %v, want an invalid-input error", err)
		}
		// A policy in use cannot be deleted; unused, it can.
		if err := svc.Grant(ctx, a.DomainID, g.ID, p.ID, policy.Scope{Kind: policy.ScopeEnterpriseProject, ID: "0"}); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteCustomPolicy(ctx, a.DomainID, p.ID); iam.KindOf(err) != iam.KindConflict {
			t.Errorf("delete a granted policy: %v, want a conflict", err)
		}
		if !decide(t, svc, u.ID, "modelarts:trainJob:get", other.ID) {
			t.Error("enterprise-project grant: denied on a workspace of enterprise project 0, want allowed")
		}
		if err := svc.DeleteCustomPolicy(ctx, a.DomainID, ax.ID); err != nil {
			t.Errorf("delete an unused policy: %v", err)
		}
		// System policies are not deletable.
		if err := svc.DeleteCustomPolicy(ctx, a.DomainID, iam.SystemPolicyID(iam.PolicyModelArtsFullAccess)); iam.KindOf(err) != iam.KindForbidden {
			t.Errorf("delete a system policy: %v, want forbidden", err)
		}
	})
}

func TestInvalidPolicyIsNeverStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		a := newAccount(t, svc, "acme")
		statements := strings.Repeat(`{"Effect":"Allow","Action":["modelarts:trainJob:get"]},`, 9)
		tests := []struct{ name, doc, code string }{
			{"nine-statements", `{"Version":"1.1","Statement":[` + strings.TrimSuffix(statements, ",") + `]}`, "IAM.1028"},
			{"unregistered-action", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:nothing:here"]}]}`, "IAM.1036"},
			{"malformed-json", `{"Version":"1.1","Statement":[`, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := svc.CreateCustomPolicy(ctx, a.DomainID, iam.PolicyInput{DisplayName: tc.name, Type: "XA", Document: []byte(tc.doc)})
				var e *iam.Error
				if iam.KindOf(err) != iam.KindInvalid || !asError(err, &e) || tc.code != "" && e.Code != tc.code {
					t.Fatalf("got %v, want invalid with code %q", err, tc.code)
				}
			})
		}
		ps, err := svc.ListPolicies(ctx, a.DomainID, true, "")
		if err != nil || len(ps) != 0 {
			t.Fatalf("custom policies after refused creates: %d (%v), want 0", len(ps), err)
		}
	})
}

func asError(err error, target **iam.Error) bool {
	e, ok := err.(*iam.Error)
	if ok {
		*target = e
	}
	return ok
}

// Two services over one database stand for two replicas: a write on one
// reaches the other's cache through the revision counter.
func TestReplicaCacheInvalidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		one, two := newService(t, db), newService(t, db)
		a := newAccount(t, one, "acme")
		u, g, p := userWithPolicy(t, one, a, allowGetDenyDelete)
		if !decide(t, two, u.ID, "modelarts:trainJob:get", a.ProjectID) {
			t.Fatal("replica two: denied before any change, want allowed")
		}
		go two.Watch(ctx)
		if err := one.Revoke(ctx, a.DomainID, g.ID, p.ID, policy.Scope{Kind: policy.ScopeProject, ID: a.ProjectID}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(3 * iam.RefreshInterval)
		for decide(t, two, u.ID, "modelarts:trainJob:get", a.ProjectID) {
			if time.Now().After(deadline) {
				t.Fatalf("replica two still allows %s after the grant was revoked on replica one", iam.RefreshInterval*3)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func TestCredentialLimitUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		a := newAccount(t, svc, "acme")
		u, err := svc.CreateUser(ctx, a.DomainID, iam.UserInput{Name: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = svc.CreateCredential(ctx, a.DomainID, u.ID, "")
			}()
		}
		wg.Wait()
		created, limited := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				created++
			case iam.KindOf(err) == iam.KindLimit:
				limited++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if created != iam.MaxCredentialsPerUser || limited != len(errs)-iam.MaxCredentialsPerUser {
			t.Fatalf("created %d keys, %d refused; want exactly %d created", created, limited, iam.MaxCredentialsPerUser)
		}
	})
}

func TestCredentialEpochRevokesOnPasswordChangeAndDisable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		a := newAccount(t, svc, "acme")
		u, err := svc.CreateUser(ctx, a.DomainID, iam.UserInput{Name: "carol", Password: "Carol-pass1"})
		if err != nil {
			t.Fatal(err)
		}
		epoch := u.CredentialEpoch
		if err := svc.ChangePassword(ctx, u.ID, "wrong-pass1", "Carol-pass2"); iam.KindOf(err) != iam.KindUnauthorized {
			t.Fatalf("change with a wrong original password: %v, want unauthorized", err)
		}
		if err := svc.ChangePassword(ctx, u.ID, "Carol-pass1", "Carol-pass2"); err != nil {
			t.Fatal(err)
		}
		snap, err := svc.Snapshot(ctx, u.ID)
		if err != nil || snap.User.CredentialEpoch == epoch {
			t.Fatalf("epoch after password change: %d (was %d), %v; want a new epoch", snap.User.CredentialEpoch, epoch, err)
		}
		if _, _, err := svc.Authenticate(ctx, "acme", "carol", "Carol-pass1"); err == nil {
			t.Fatal("old password still authenticates")
		}
		epoch = snap.User.CredentialEpoch
		disabled := false
		if _, err := svc.UpdateUser(ctx, a.DomainID, u.ID, iam.UserUpdate{Enabled: &disabled}); err != nil {
			t.Fatal(err)
		}
		snap, _ = svc.Snapshot(ctx, u.ID)
		if snap.User.Enabled || snap.User.CredentialEpoch == epoch {
			t.Fatalf("after disabling: enabled=%v epoch=%d (was %d)", snap.User.Enabled, snap.User.CredentialEpoch, epoch)
		}
		if _, _, err := svc.Authenticate(ctx, "acme", "carol", "Carol-pass2"); err == nil {
			t.Fatal("a disabled user authenticates")
		}
		if err := svc.DeleteUser(ctx, a.DomainID, a.UserID); iam.KindOf(err) != iam.KindForbidden {
			t.Fatalf("deleting the account administrator: %v, want forbidden", err)
		}
	})
}

func TestWorkspaceAccessTypes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		a := newAccount(t, svc, "acme")
		mk := func(name string) *iam.Principal {
			u, err := svc.CreateUser(ctx, a.DomainID, iam.UserInput{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			return &iam.Principal{DomainID: a.DomainID, UserID: u.ID, UserName: u.Name}
		}
		owner, member, outsider := mk("owner"), mk("member"), mk("outsider")
		admin := &iam.Principal{DomainID: a.DomainID, UserID: a.UserID, UserName: a.UserName}
		str := func(s string) *string { return &s }
		users := []string{member.UserID}
		for _, tc := range []struct {
			authType string
			allowed  map[*iam.Principal]bool
		}{
			{iam.WorkspacePublic, map[*iam.Principal]bool{owner: true, member: true, outsider: true, admin: true}},
			{iam.WorkspacePrivate, map[*iam.Principal]bool{owner: true, member: false, outsider: false, admin: true}},
			{iam.WorkspaceInternal, map[*iam.Principal]bool{owner: true, member: true, outsider: false, admin: true}},
		} {
			t.Run(tc.authType, func(t *testing.T) {
				ws, err := svc.CreateWorkspace(ctx, owner, a.ProjectID, iam.WorkspaceInput{Name: str("ws-" + strings.ToLower(tc.authType)), AuthType: str(tc.authType), Users: &users})
				if err != nil {
					t.Fatal(err)
				}
				for p, want := range tc.allowed {
					_, err := svc.WorkspaceAccess(ctx, p, a.ProjectID, ws.ID)
					if got := err == nil; got != want {
						t.Errorf("%s entering a %s workspace: allowed=%v (%v), want %v", p.UserName, tc.authType, got, err, want)
					}
				}
				listed, err := svc.ListWorkspaces(ctx, outsider, a.ProjectID)
				if err != nil {
					t.Fatal(err)
				}
				seen := false
				for _, w := range listed {
					seen = seen || w.ID == ws.ID
				}
				if seen != tc.allowed[outsider] {
					t.Errorf("outsider sees the %s workspace in the list: %v, want %v", tc.authType, seen, tc.allowed[outsider])
				}
			})
		}
		if err := svc.DeleteWorkspace(ctx, a.DomainID, a.ProjectID, iam.DefaultWorkspaceID); iam.KindOf(err) != iam.KindForbidden {
			t.Errorf("deleting the default workspace: %v, want forbidden", err)
		}
	})
}

// Starting a service over an up-to-date database writes nothing: system
// policies are rewritten (and every replica's cache dropped) only when the
// code's differ from the stored ones.
func TestStartWritesNothingWhenSystemPoliciesAreCurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		newService(t, db)
		revision := func() int64 {
			var v int64
			if err := db.QueryRowContext(ctx, `SELECT value FROM revisions WHERE name = 'iam'`).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		before := revision()
		newService(t, db)
		if after := revision(); after != before {
			t.Fatalf("a second start moved the IAM revision from %d to %d; want no write", before, after)
		}
		if _, err := db.ExecContext(ctx, `UPDATE policies SET description = 'stale' WHERE id = $1`, iam.SystemPolicyID(iam.PolicyTenantGuest)); err != nil {
			t.Fatal(err)
		}
		svc := newService(t, db)
		if revision() == before {
			t.Fatal("a stale system policy was not rewritten")
		}
		p, err := svc.GetPolicy(ctx, "", iam.SystemPolicyID(iam.PolicyTenantGuest))
		if err != nil || p.Description == "stale" {
			t.Fatalf("Tenant Guest after sync: %+v, %v", p, err)
		}
	})
}

// TestProjectListCache: an account's project list is cached, and the cache
// follows every write: a new project is listed at once, a user's filtered
// list does not shrink the cached one, and another replica sees the new
// project after its next refresh.
func TestProjectListCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		one, two := newService(t, db), newService(t, db)
		a := newAccount(t, one, "acme")
		names := func(svc *iam.Service) []string {
			t.Helper()
			ps, err := svc.ListProjects(ctx, a.DomainID, "")
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, p := range ps {
				out = append(out, p.Name)
			}
			return out
		}
		if got := names(two); len(got) != 1 {
			t.Fatalf("projects before: %v", got)
		}
		u, _, _ := userWithPolicy(t, one, a, allowGetDenyDelete) // granted on the first project only
		if _, err := one.CreateProject(ctx, a.DomainID, "r-1", "r-1_second", ""); err != nil {
			t.Fatal(err)
		}
		if got := names(one); len(got) != 2 {
			t.Fatalf("the writing replica lists %v after creating a project; want 2", got)
		}
		mine, err := one.ProjectsForUser(ctx, u.ID)
		if err != nil || len(mine) != 1 {
			t.Fatalf("the user's projects: %v %v; want the one granted", mine, err)
		}
		if got := names(one); len(got) != 2 {
			t.Fatalf("after a user's filtered list the account lists %v; want 2", got)
		}
		ctx2, cancel := context.WithCancel(ctx)
		defer cancel()
		go two.Watch(ctx2)
		deadline := time.Now().Add(3 * iam.RefreshInterval)
		for len(names(two)) != 2 {
			if time.Now().After(deadline) {
				t.Fatalf("replica two still lists %v", names(two))
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
