package iam

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// TestRepoContract holds iam's repository (db*.go) to the same answers on
// every engine: scoping by domain and project, duplicates as
// store.ErrConflict, missing rows as sql.ErrNoRows, the order of lists,
// idempotent and reporting writes, compare-and-set on secrets and the login
// failure window, and a transaction that fails leaving nothing behind.
func TestRepoContract(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.UnixMilli(1_000_000).UTC()
		must := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		conflict := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("%s: got %v, want store.ErrConflict", what, err)
			}
		}
		names := func(n int, name func(int) string) string {
			out := ""
			for i := range n {
				out += name(i) + " "
			}
			return out
		}

		d1 := &Domain{ID: store.NewID(), Name: "acme", CreatedAt: at}
		d2 := &Domain{ID: store.NewID(), Name: "globex", CreatedAt: at.Add(time.Second)}
		must("insert domain", insertDomain(ctx, db, d1))
		must("insert domain", insertDomain(ctx, db, d2))
		conflict("a second domain of the same name", insertDomain(ctx, db, &Domain{ID: store.NewID(), Name: "acme", CreatedAt: at}))
		if first, err := firstDomainID(ctx, db); err != nil || first != d1.ID {
			t.Errorf("first domain: %q, %v; want the oldest, %s", first, err, d1.ID)
		}
		if _, err := getDomainByName(ctx, db, "initech"); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("missing domain: got %v, want sql.ErrNoRows", err)
		}

		// Users: names unique per domain, lists scoped and ordered by name.
		user := func(d *Domain, name string) *User {
			u := &User{ID: store.NewID(), DomainID: d.ID, Name: name, Enabled: true, AccessMode: "default", CreatedAt: at, UpdatedAt: at}
			must("insert user "+name, insertUser(ctx, db, u))
			return u
		}
		bob, alice := user(d1, "bob"), user(d1, "alice")
		user(d2, "alice")
		conflict("a second user of the same name in a domain", insertUser(ctx, db, &User{ID: store.NewID(), DomainID: d1.ID, Name: "bob"}))
		us, err := listUsers(ctx, db, d1.ID, "")
		must("list users", err)
		if got := names(len(us), func(i int) string { return us[i].Name }); got != "alice bob " {
			t.Errorf("users of the domain: %q, want alice then bob only", got)
		}
		if got, err := getUserByName(ctx, db, d2.ID, "bob"); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("bob looked up in another domain: %+v, %v; want sql.ErrNoRows", got, err)
		}

		// Memberships: insert refuses a duplicate, add is idempotent,
		// remove reports whether there was one.
		admins := &Group{ID: store.NewID(), DomainID: d1.ID, Name: "admin", CreatedAt: at}
		devs := &Group{ID: store.NewID(), DomainID: d1.ID, Name: "devs", CreatedAt: at}
		must("insert group", insertGroup(ctx, db, admins))
		must("insert group", insertGroup(ctx, db, devs))
		conflict("a second group of the same name", insertGroup(ctx, db, &Group{ID: store.NewID(), DomainID: d1.ID, Name: "devs"}))
		must("insert member", insertMember(ctx, db, admins.ID, bob.ID))
		conflict("a membership inserted twice", store.Classify(insertMember(ctx, db, admins.ID, bob.ID)))
		must("add member", addMember(ctx, db, devs.ID, bob.ID))
		must("add member again", addMember(ctx, db, devs.ID, bob.ID))
		must("add member", addMember(ctx, db, devs.ID, alice.ID))
		if gs, err := userGroups(ctx, db, bob.ID); err != nil || names(len(gs), func(i int) string { return gs[i].Name }) != "admin devs " {
			t.Errorf("bob's groups: %d, %v; want admin and devs", len(gs), err)
		}
		if gu, err := groupUsers(ctx, db, devs.ID); err != nil || names(len(gu), func(i int) string { return gu[i].Name }) != "alice bob " {
			t.Errorf("members of devs: %v; want alice then bob", err)
		}
		for _, want := range []bool{true, false} {
			if removed, err := removeMember(ctx, db, devs.ID, alice.ID); err != nil || removed != want {
				t.Errorf("remove alice from devs: %v, %v; want %v", removed, err, want)
			}
		}
		if in, err := isMember(ctx, db, devs.ID, alice.ID); err != nil || in {
			t.Errorf("alice still in devs: %v, %v", in, err)
		}

		// Credentials: listed per domain or user, oldest first; counted
		// under the user's row lock inside a transaction.
		for i, u := range []*User{bob, alice, bob} {
			c := &Credential{AccessKey: fmt.Sprintf("AK%d", i), UserID: u.ID, DomainID: d1.ID, Secret: "s", Status: "active", CreatedAt: at.Add(time.Duration(i) * time.Second)}
			must("insert credential", insertCredential(ctx, db, c))
		}
		conflict("an access key inserted twice", insertCredential(ctx, db, &Credential{AccessKey: "AK0", UserID: bob.ID, DomainID: d1.ID}))
		if cs, err := listCredentials(ctx, db, d1.ID, bob.ID); err != nil || len(cs) != 2 || cs[0].AccessKey != "AK0" || cs[1].AccessKey != "AK2" {
			t.Errorf("bob's access keys: %d, %v; want AK0 then AK2", len(cs), err)
		}
		if cs, _ := listCredentials(ctx, db, d2.ID, ""); len(cs) != 0 {
			t.Errorf("another domain lists %d access keys", len(cs))
		}
		must("count bob's keys", db.InTx(ctx, func(tx *sql.Tx) error {
			n, err := countCredentialsLocked(ctx, db, tx, bob.ID)
			if err == nil && n != 2 {
				err = fmt.Errorf("counted %d, want 2", n)
			}
			return err
		}))
		must("deactivate a key", updateCredentialRow(ctx, db, &Credential{AccessKey: "AK1", Status: "inactive", Description: "old"}))
		if c, err := getCredential(ctx, db, "AK1"); err != nil || c.Status != "inactive" || c.Secret != "s" {
			t.Errorf("updated key: %+v, %v; want inactive with its secret kept", c, err)
		}

		// Secrets: the first value stored wins; replaceSecret is a
		// compare-and-set on the value read.
		for _, gen := range []string{"first", "second"} {
			v, err := secret(ctx, db, "signing", func() (string, error) { return gen, nil })
			if err != nil || v != "first" {
				t.Errorf("server secret after generating %q: %q, %v; want the first value kept", gen, v, err)
			}
		}
		stale := storedSecret{table: "credentials", key: "AK1", value: "not-what-is-stored"}
		must("replace a stale secret", replaceSecret(ctx, db, stale, "sealed"))
		must("replace a server secret", replaceSecret(ctx, db, storedSecret{table: "server_secrets", key: "signing", value: "first"}, "sealed"))
		rows, err := storedSecrets(ctx, db)
		must("stored secrets", err)
		got := map[string]string{}
		for _, r := range rows {
			got[r.table+"/"+r.key] = r.value
		}
		if got["credentials/AK1"] != "s" || got["server_secrets/signing"] != "sealed" || len(got) != 4 {
			t.Errorf("stored secrets %v: want AK1 unchanged (stale compare), signing replaced, 3 keys and 1 secret", got)
		}

		// Projects and workspaces: names unique per domain and per
		// project; workspaces listed oldest first with their users.
		p1 := &Project{ID: store.NewID(), DomainID: d1.ID, Name: "r-1", Region: "r-1", Enabled: true, CreatedAt: at}
		must("insert project", insertProject(ctx, db, p1))
		must("insert project in another domain", insertProject(ctx, db, &Project{ID: store.NewID(), DomainID: d2.ID, Name: "r-1", Region: "r-1", CreatedAt: at}))
		conflict("a second project of the same name", insertProject(ctx, db, &Project{ID: store.NewID(), DomainID: d1.ID, Name: "r-1", Region: "r-1"}))
		if ps, err := listProjects(ctx, db, d1.ID, ""); err != nil || len(ps) != 1 || ps[0].ID != p1.ID {
			t.Errorf("projects of the domain: %d, %v", len(ps), err)
		}
		must("insert enterprise project", insertEP(ctx, db, &EnterpriseProject{ID: DefaultEnterpriseProjectID, DomainID: d1.ID, Name: "default", Status: 1, CreatedAt: at, UpdatedAt: at}))
		must("insert default workspace", insertDefaultWorkspace(ctx, db, p1, at))
		ws := &Workspace{ID: "w2", ProjectID: p1.ID, DomainID: d1.ID, Name: "team", EnterpriseProjectID: DefaultEnterpriseProjectID,
			AuthType: WorkspaceInternal, Users: []string{bob.ID, alice.ID}, CreatedAt: at.Add(time.Second), UpdatedAt: at}
		must("insert workspace", insertWorkspace(ctx, db, ws))
		conflict("a second workspace of the same name", insertWorkspace(ctx, db, &Workspace{ID: "w3", ProjectID: p1.ID, DomainID: d1.ID, Name: "team",
			EnterpriseProjectID: DefaultEnterpriseProjectID, CreatedAt: at, UpdatedAt: at}))
		list, err := listWorkspaces(ctx, db, p1.ID)
		must("list workspaces", err)
		if len(list) != 2 || list[0].ID != DefaultWorkspaceID || list[1].ID != "w2" || len(list[1].Users) != 2 {
			t.Fatalf("workspaces: %d, want the default then w2 with its two users", len(list))
		}
		must("delete workspace", deleteWorkspace(ctx, db, p1.ID, "w2"))
		if _, err := getWorkspace(ctx, db, p1.ID, "w2"); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("deleted workspace: got %v, want sql.ErrNoRows", err)
		}
		if us, err := workspaceUsers(ctx, db, p1.ID, "w2"); err != nil || len(us) != 0 {
			t.Errorf("deleted workspace kept %d users (%v)", len(us), err)
		}

		// Policies and grants: display names unique per domain, a grant
		// once per group, policy and scope; a user's grants come through
		// their groups.
		cat := NewCatalog([]string{"modelarts:trainJob:get"})
		doc := []byte(`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:trainJob:get"]}]}`)
		pol := &Policy{ID: store.NewID(), DomainID: d1.ID, Name: "custom_1", DisplayName: "readers", Type: "XA", Catalog: CatalogCustom, CreatedAt: at, UpdatedAt: at}
		must("insert policy", upsertPolicy(ctx, db, pol, doc))
		conflict("a second policy of the same display name", upsertPolicy(ctx, db,
			&Policy{ID: store.NewID(), DomainID: d1.ID, Name: "custom_2", DisplayName: "readers", Type: "XA", CreatedAt: at, UpdatedAt: at}, doc))
		if ps, err := listPolicies(ctx, db, cat, d2.ID, true, ""); err != nil || len(ps) != 0 {
			t.Errorf("another domain's custom policies: %d, %v", len(ps), err)
		}
		scope := policy.Scope{Kind: policy.ScopeProject, ID: p1.ID}
		grant := &Grant{ID: store.NewID(), DomainID: d1.ID, GroupID: devs.ID, PolicyID: pol.ID, Scope: scope, CreatedAt: at}
		must("insert grant", insertGrant(ctx, db, grant))
		conflict("a grant inserted twice", insertGrant(ctx, db, &Grant{ID: store.NewID(), DomainID: d1.ID, GroupID: devs.ID, PolicyID: pol.ID, Scope: scope, CreatedAt: at}))
		if gr, err := grantsOfUser(ctx, db, bob.ID); err != nil || len(gr) != 1 || gr[0].PolicyID != pol.ID || gr[0].Scope != scope {
			t.Errorf("bob's grants: %+v, %v; want the one through devs", gr, err)
		}
		if gr, _ := grantsOfUser(ctx, db, alice.ID); len(gr) != 0 {
			t.Errorf("alice left devs but holds %d grants", len(gr))
		}
		if ps, err := grantedPolicies(ctx, db, cat, devs.ID, scope); err != nil || len(ps) != 1 || ps[0].DisplayName != "readers" {
			t.Errorf("policies granted to devs: %d, %v", len(ps), err)
		}
		if n, err := policyGrantCount(ctx, db, pol.ID); err != nil || n != 1 {
			t.Errorf("grants of the policy: %d, %v", n, err)
		}
		for _, want := range []bool{true, false} {
			if ok, err := deleteGrant(ctx, db, devs.ID, pol.ID, scope); err != nil || ok != want {
				t.Errorf("delete grant: %v, %v; want %v", ok, err, want)
			}
		}
		for _, want := range []int64{1, 2} {
			if n, err := nextPolicySeq(ctx, db, d1.ID); err != nil || n != want {
				t.Errorf("policy sequence: %d, %v; want %d", n, err, want)
			}
		}

		// Scoped lookups: a row of another domain is the domain's
		// not-found error, like a missing one; system policies are
		// visible to every domain but are nobody's custom policy.
		system := &Policy{ID: "sys-1", Name: "Readers", DisplayName: "Readers", Type: "XA", Catalog: "ModelArts", CreatedAt: at, UpdatedAt: at}
		must("insert system policy", upsertPolicy(ctx, db, system, doc))
		notFoundCode := func(what string, err error, code string) {
			t.Helper()
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindNotFound || e.Code != code {
				t.Errorf("%s: got %v, want a not-found error %q", what, err, code)
			}
		}
		scoped := []struct {
			name   string
			lookup func(domainID string) error
		}{
			{"user", func(d string) error { _, err := userOf(ctx, db, d, alice.ID); return err }},
			{"group", func(d string) error { _, err := groupOf(ctx, db, d, devs.ID); return err }},
			{"access key", func(d string) error { _, err := credentialOf(ctx, db, d, "AK1"); return err }},
			{"project", func(d string) error { _, err := projectOf(ctx, db, d, p1.ID); return err }},
			{"enterprise project", func(d string) error { _, err := epOf(ctx, db, d, DefaultEnterpriseProjectID); return err }},
			{"workspace", func(d string) error { _, err := workspaceOf(ctx, db, d, p1.ID, DefaultWorkspaceID); return err }},
			{"custom policy", func(d string) error { _, err := customPolicyOf(ctx, db, cat, d, pol.ID); return err }},
			{"visible policy", func(d string) error { _, err := visiblePolicy(ctx, db, cat, d, pol.ID, "role"); return err }},
		}
		for _, c := range scoped {
			if err := c.lookup(d1.ID); err != nil {
				t.Errorf("%s of its own domain: %v", c.name, err)
			}
			code := ""
			if c.name == "workspace" {
				code = "ModelArts.0102"
			}
			notFoundCode(c.name+" of another domain", c.lookup(d2.ID), code)
		}
		if _, err := userOf(ctx, db, d1.ID, "missing"); err == nil || err.Error() != `user "missing" not found` {
			t.Errorf("missing user: %v", err)
		}
		if p, err := visiblePolicy(ctx, db, cat, d2.ID, system.ID, "policy"); err != nil || p.DisplayName != "Readers" {
			t.Errorf("system policy seen from another domain: %v", err)
		}
		notFoundCode("a system policy as a custom one", func() error { _, err := customPolicyOf(ctx, db, cat, d1.ID, system.ID); return err }(), "")

		// Bucket owners: missing is sql.ErrNoRows, a bucket has one owner,
		// and only its owner's release drops it.
		if _, err := bucketOwner(ctx, db, "data"); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("unclaimed bucket: got %v, want sql.ErrNoRows", err)
		}
		must("claim bucket", insertBucketOwner(ctx, db, "data", d2.ID, at))
		conflict("a bucket claimed twice", store.Classify(insertBucketOwner(ctx, db, "data", d1.ID, at)))
		must("release by another account", deleteBucketOwner(ctx, db, "data", d1.ID))
		if owner, err := bucketOwner(ctx, db, "data"); err != nil || owner != d2.ID {
			t.Errorf("bucket owner after another account's release: %q, %v", owner, err)
		}

		// Login policies: the defaults until one is stored.
		if p, err := getLoginPolicy(ctx, db, d1.ID); err != nil || p != DefaultLoginPolicy() {
			t.Errorf("login policy never set: %+v, %v; want the defaults", p, err)
		}
		custom := DefaultLoginPolicy()
		custom.LoginFailedTimes, custom.LockoutDuration = 3, 30
		must("store login policy", upsertLoginPolicy(ctx, db, d1.ID, custom, at))
		must("store login policy again", upsertLoginPolicy(ctx, db, d1.ID, custom, at))
		if p, err := getLoginPolicy(ctx, db, d1.ID); err != nil || p != custom {
			t.Errorf("login policy: %+v, %v; want %+v", p, err, custom)
		}
		if p, _ := getLoginPolicy(ctx, db, d2.ID); p != DefaultLoginPolicy() {
			t.Errorf("another account's login policy changed: %+v", p)
		}

		// Login failures: counted within the window, a window that is
		// over starts again, a lockout ends when it says, rows expire.
		const period = 1000
		for i, step := range []struct {
			now  int64
			want int
		}{{10_000, 1}, {10_500, 2}, {10_999, 3}, {11_000, 1}, {11_500, 2}} {
			n, err := countLoginFailure(ctx, db, "acme/bob", step.now, period)
			if err != nil || n != step.want {
				t.Errorf("failure %d at %d: counted %d, %v; want %d", i, step.now, n, err, step.want)
			}
		}
		if _, err := lockedUntil(ctx, db, "acme/alice"); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("subject without failures: got %v, want sql.ErrNoRows", err)
		}
		must("lock out", lockOut(ctx, db, "acme/bob", 12_000, 50_000))
		if until, err := lockedUntil(ctx, db, "acme/bob"); err != nil || until != 50_000 {
			t.Errorf("locked until %d, %v; want 50000", until, err)
		}
		if n, _ := countLoginFailure(ctx, db, "acme/bob", 12_100, period); n != 1 {
			t.Errorf("first failure after a lockout counted %d, want 1", n)
		}
		must("expire", expireLoginFailures(ctx, db, 49_999))
		if _, err := lockedUntil(ctx, db, "acme/bob"); err != nil {
			t.Errorf("a row whose lockout runs on expired: %v", err)
		}
		must("expire", expireLoginFailures(ctx, db, 50_001))
		if _, err := lockedUntil(ctx, db, "acme/bob"); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("a row past its lockout stayed: %v", err)
		}

		// A transaction that fails leaves nothing: not its rows, not the
		// revision bump.
		rev, err := readRevision(ctx, db)
		must("read revision", err)
		errAbort := errors.New("abort")
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			must("insert group in tx", insertGroup(ctx, tx, &Group{ID: store.NewID(), DomainID: d1.ID, Name: "ghosts", CreatedAt: at}))
			must("delete user in tx", deleteUser(ctx, tx, alice.ID))
			must("bump revision in tx", bumpRevision(ctx, tx))
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("failed transaction: %v", err)
		}
		if gs, _ := listGroups(ctx, db, d1.ID, "ghosts"); len(gs) != 0 {
			t.Error("a group inserted by a failed transaction stayed")
		}
		if _, err := getUser(ctx, db, alice.ID); err != nil {
			t.Errorf("a user deleted by a failed transaction is gone: %v", err)
		}
		if after, _ := readRevision(ctx, db); after != rev {
			t.Errorf("revision %d after a failed transaction, want %d", after, rev)
		}
		must("bump revision", bumpRevision(ctx, db))
		if after, _ := readRevision(ctx, db); after != rev+1 {
			t.Errorf("revision %d after a bump, want %d", after, rev+1)
		}

		// Deleting a user takes their memberships and keys with them.
		must("delete bob", deleteUser(ctx, db, bob.ID))
		if in, _ := isMember(ctx, db, admins.ID, bob.ID); in {
			t.Error("a deleted user is still a member")
		}
		if _, err := getCredential(ctx, db, "AK0"); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("a deleted user's key: got %v, want sql.ErrNoRows", err)
		}
	})
}
