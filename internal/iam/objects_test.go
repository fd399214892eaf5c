package iam_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// readDenySecret allows reading and writing the objects of bucket "data"
// except reading under data/secret/.
const readDenySecret = `{"Version":"1.1","Statement":[
	{"Effect":"Allow","Action":["obs:object:GetObject","obs:object:PutObject","obs:bucket:ListBucket"]},
	{"Effect":"Deny","Action":["obs:object:GetObject"],"Resource":["OBS:*:*:object:data/secret/*"]}]}`

// objectUser is a user of a fresh account whose group holds doc at the
// account scope (OBS is global), and its actor.
func objectUser(t testing.TB, svc *iam.Service, doc string) (*iam.Account, *iam.User, *iam.Group, iam.Actor) {
	t.Helper()
	ctx := context.Background()
	a, err := svc.CreateAccount(ctx, iam.AccountInput{DomainName: "objects", Region: "r-1"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.CreateUser(ctx, a.DomainID, iam.UserInput{Name: "reader", Password: "Reader-pass1"})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	g, err := svc.CreateGroup(ctx, a.DomainID, "readers", "")
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	if err := svc.AddUserToGroup(ctx, a.DomainID, g.ID, u.ID); err != nil {
		t.Fatalf("add to group: %v", err)
	}
	p, err := svc.CreateCustomPolicy(ctx, a.DomainID, iam.PolicyInput{DisplayName: "read-deny-secret", Type: "AX", Document: []byte(doc)})
	if err != nil {
		t.Fatalf("create policy: %v", err)
	}
	if err := svc.Grant(ctx, a.DomainID, g.ID, p.ID, policy.Scope{Kind: policy.ScopeAccount, ID: a.DomainID}); err != nil {
		t.Fatalf("grant: %v", err)
	}
	return a, u, g, iam.Actor{UserID: u.ID, UserName: u.Name, DomainID: a.DomainID, DomainName: "objects", SourceIP: "192.0.2.1"}
}

// denial returns the message of a refusal, "" when allowed; any other
// error fails the test.
func denial(t *testing.T, err error) string {
	t.Helper()
	var d *iam.ObjectDenial
	switch {
	case err == nil:
		return ""
	case errors.As(err, &d):
		if !d.Denied() {
			t.Errorf("a denial whose Denied is false: %v", err)
		}
		return d.Error()
	}
	t.Fatalf("not a denial: %v", err)
	return ""
}

func TestObjectAccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		a, u, g, actor := objectUser(t, svc, readDenySecret)
		access := func(who iam.Actor) *iam.ObjectAccess {
			t.Helper()
			acc, err := svc.ObjectAccess(ctx, "r-1", who, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			return acc
		}
		res := func(key string) string { return "obs:r-1:" + a.DomainID + ":object:data/" + key }

		acc := access(actor)
		for _, tc := range []struct {
			name, action, key, want string
		}{
			{"allowed-read", "obs:object:GetObject", "pub/p.jpg", ""},
			{"allowed-write-under-deny", "obs:object:PutObject", "secret/s.jpg", ""},
			{"explicit-deny", "obs:object:GetObject", "secret/s.jpg", "(obs:object:GetObject) operation on " + res("secret/s.jpg") + `. Denied explicitly by policy "read-deny-secret".`},
			{"not-granted", "obs:object:DeleteObject", "pub/p.jpg", "(obs:object:DeleteObject) operation on " + res("pub/p.jpg") + "."},
			{"bucket-action", "obs:bucket:ListBucket", "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := denial(t, acc.Authorize(ctx, tc.action, "data", tc.key))
				if tc.want == "" && got != "" || tc.want != "" && !strings.HasSuffix(got, tc.want) {
					t.Errorf("Authorize(%s, data/%s) = %q, want %q", tc.action, tc.key, got, tc.want)
				}
			})
		}

		// One ObjectAccess serves a task's concurrent workers, each
		// bucket's owner looked up once.
		shared := access(actor)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 50 {
					bucket := []string{"data", "data2", "data3"}[(i+j)%3]
					if err := shared.Authorize(ctx, "obs:object:GetObject", bucket, "pub/p.jpg"); err != nil {
						t.Errorf("concurrent Authorize on %s: %v", bucket, err)
						return
					}
				}
			}()
		}
		wg.Wait()

		// A bucket another account owns: no grant reaches it.
		other, err := svc.CreateAccount(ctx, iam.AccountInput{DomainName: "other", Region: "r-1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.ClaimBucket(ctx, other.DomainID, "theirs", false); err != nil {
			t.Fatal(err)
		}
		if got := denial(t, access(actor).Authorize(ctx, "obs:object:GetObject", "theirs", "x.jpg")); !strings.Contains(got, "belongs to another account") {
			t.Errorf("another account's bucket: %q", got)
		}

		// A Deny added later applies to the permissions read after it; the
		// ones read before keep their view (tasks read them per batch).
		before := access(actor)
		p, err := svc.CreateCustomPolicy(ctx, a.DomainID, iam.PolicyInput{DisplayName: "late-deny", Type: "AX",
			Document: []byte(`{"Version":"1.1","Statement":[{"Effect":"Deny","Action":["obs:object:GetObject"],"Resource":["OBS:*:*:object:data/pub/*"]}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Grant(ctx, a.DomainID, g.ID, p.ID, policy.Scope{Kind: policy.ScopeAccount, ID: a.DomainID}); err != nil {
			t.Fatal(err)
		}
		if got := denial(t, access(actor).Authorize(ctx, "obs:object:GetObject", "data", "pub/p.jpg")); !strings.Contains(got, `"late-deny"`) {
			t.Errorf("after a new Deny: %q", got)
		}
		if got := denial(t, before.Authorize(ctx, "obs:object:GetObject", "data", "pub/p.jpg")); got != "" {
			t.Errorf("permissions read before the Deny changed: %q", got)
		}

		// A disabled user, a deleted one and no user at all: every object
		// is denied.
		off := false
		if _, err := svc.UpdateUser(ctx, a.DomainID, u.ID, iam.UserUpdate{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		if got := denial(t, access(actor).Authorize(ctx, "obs:object:PutObject", "data", "pub/p.jpg")); !strings.Contains(got, "is disabled") {
			t.Errorf("disabled user: %q", got)
		}
		if err := svc.DeleteUser(ctx, a.DomainID, u.ID); err != nil {
			t.Fatal(err)
		}
		if got := denial(t, access(actor).Authorize(ctx, "obs:object:PutObject", "data", "pub/p.jpg")); !strings.Contains(got, "no longer exists") {
			t.Errorf("deleted user: %q", got)
		}
		if got := denial(t, access(iam.Actor{}).Authorize(ctx, "obs:object:GetObject", "data", "pub/p.jpg")); got == "" {
			t.Errorf("an actor without a user was allowed")
		}
	})
}

// BenchmarkObjectDecision is the per-object cost a task pays: one decision
// with permissions read for the batch (the bucket's owner cached).
func BenchmarkObjectDecision(b *testing.B) {
	ctx := context.Background()
	svc, err := iam.NewService(ctx, storetest.Open(b, store.SQLite), iam.NewCatalog(testActions), iam.Options{})
	if err != nil {
		b.Fatal(err)
	}
	_, _, _, actor := objectUser(b, svc, readDenySecret)
	acc, err := svc.ObjectAccess(ctx, "r-1", actor, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	if err := acc.Authorize(ctx, "obs:object:GetObject", "data", "img/0000001.jpg"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := acc.Authorize(ctx, "obs:object:GetObject", "data", "img/0000001.jpg"); err != nil {
			b.Fatal(err)
		}
	}
}
