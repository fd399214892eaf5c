package iam_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/secrets"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// clock is a settable clock shared by the services of one test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer collects log output written from concurrent requests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func newServiceWith(t *testing.T, db *store.DB, opts iam.Options) *iam.Service {
	t.Helper()
	svc, err := iam.NewService(context.Background(), db, iam.NewCatalog(testActions), opts)
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	return svc
}

func intp(v int) *int { return &v }

func login(svc *iam.Service, domain, user, password string) error {
	_, err := svc.Login(context.Background(), iam.LoginRequest{DomainName: domain, UserName: user, Password: password, SourceIP: "192.0.2.7"})
	return err
}

func errMsg(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// The login policy locks a user out after login_failed_times failures
// within period_with_login_failures; while locked even the right password
// is refused with IAM's "The account is locked."; the lock ends after
// lockout_duration; a success resets the count; the state is in the
// database, so another service (a restart, another replica) sees it.
func TestLoginLockout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
		// Both services seal with one key-encryption key, as replicas do.
		box, _, err := secrets.Generate()
		if err != nil {
			t.Fatal(err)
		}
		svc := newServiceWith(t, db, iam.Options{Now: clk.Now, Secrets: box})
		a := newAccount(t, svc, "acme")
		if _, err := svc.CreateUser(ctx, a.DomainID, iam.UserInput{Name: "alice", Password: "Alice-pass1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.UpdateLoginPolicy(ctx, a.DomainID, iam.LoginPolicyUpdate{LoginFailedTimes: intp(3), LockoutDuration: intp(20), PeriodWithLoginFailures: intp(15)}); err != nil {
			t.Fatal(err)
		}
		wrong := func(n int) {
			t.Helper()
			for i := range n {
				if err := login(svc, "acme", "alice", "Wrong-pass1"); iam.KindOf(err) != iam.KindUnauthorized || err.Error() != "the username or password is wrong" {
					t.Fatalf("wrong password #%d: %v, want the wrong-credentials error", i+1, err)
				}
			}
		}

		wrong(3)
		if err := login(svc, "acme", "alice", "Alice-pass1"); iam.KindOf(err) != iam.KindUnauthorized || err.Error() != "The account is locked." {
			t.Fatalf("right password after 3 failures: %v, want \"The account is locked.\"", errMsg(err))
		}
		replica := newServiceWith(t, db, iam.Options{Now: clk.Now, Secrets: box})
		if err := login(replica, "acme", "alice", "Alice-pass1"); errMsg(err) != "The account is locked." {
			t.Fatalf("another service over the same database: %v, want the lockout to hold there too", errMsg(err))
		}
		clk.Advance(20*time.Minute - time.Millisecond)
		if err := login(svc, "acme", "alice", "Alice-pass1"); errMsg(err) != "The account is locked." {
			t.Fatalf("right password 1ms before lockout_duration ends: %v, want still locked", errMsg(err))
		}
		clk.Advance(time.Millisecond)
		if err := login(svc, "acme", "alice", "Alice-pass1"); err != nil {
			t.Fatalf("right password once lockout_duration has passed: %v", err)
		}

		// A success resets the count: 2 + success + 2 failures never lock.
		wrong(2)
		if err := login(svc, "acme", "alice", "Alice-pass1"); err != nil {
			t.Fatalf("right password after 2 failures: %v", err)
		}
		wrong(2)
		if err := login(svc, "acme", "alice", "Alice-pass1"); err != nil {
			t.Fatalf("right password after a success and 2 more failures: %v (the success must reset the count)", err)
		}

		// Failures older than period_with_login_failures no longer count.
		wrong(2)
		clk.Advance(15*time.Minute + time.Second)
		wrong(2)
		if err := login(svc, "acme", "alice", "Alice-pass1"); err != nil {
			t.Fatalf("2 failures, 15 minutes, 2 failures: %v, want no lockout", err)
		}
	})
}

// A login naming an unknown user, an unknown account or a user without a
// password gets exactly the wrong-password answer and verifies one hash,
// as a wrong password does, so neither the answer nor the work tells names
// apart; unknown names even lock out like real ones.
func TestLoginUnknownUserLooksLikeWrongPassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newServiceWith(t, db, iam.Options{})
		a := newAccount(t, svc, "acme")
		if _, err := svc.CreateUser(ctx, a.DomainID, iam.UserInput{Name: "alice", Password: "Alice-pass1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateUser(ctx, a.DomainID, iam.UserInput{Name: "nopass"}); err != nil {
			t.Fatal(err)
		}
		cases := []struct{ name, domainName, domainID, user string }{
			{"wrong-password", "acme", "", "alice"},
			{"unknown-user", "acme", "", "mallory"},
			{"user-without-password", "acme", "", "nopass"},
			{"unknown-domain-name", "no-such-account", "", "alice"},
			{"unknown-domain-id", "", "0123456789abcdef0123456789abcdef", "alice"},
		}
		var want *iam.Error
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := iam.PasswordChecks(svc)
				_, err := svc.Login(ctx, iam.LoginRequest{DomainName: tc.domainName, DomainID: tc.domainID, UserName: tc.user, Password: "Wrong-pass1"})
				e, ok := err.(*iam.Error)
				if !ok {
					t.Fatalf("login: %v, want an *iam.Error", err)
				}
				if want == nil {
					want = e
				}
				if *e != *want {
					t.Fatalf("answer %+v differs from the wrong-password answer %+v", *e, *want)
				}
				if n := iam.PasswordChecks(svc) - before; n != 1 {
					t.Fatalf("%d password hashes verified, want 1 (the dummy hash) like a wrong password", n)
				}
			})
		}
		for i := range 4 { // the default policy: 5 failures lock (the subtest made the first)
			if err := login(svc, "acme", "mallory", "Wrong-pass1"); errMsg(err) != "the username or password is wrong" {
				t.Fatalf("unknown user, attempt %d: %v", i+2, errMsg(err))
			}
		}
		if err := login(svc, "acme", "mallory", "Wrong-pass1"); errMsg(err) != "The account is locked." {
			t.Fatalf("unknown user after 5 failures: %v, want locked out like an existing user", errMsg(err))
		}
	})
}

// Every password check (logins, user creation, password changes) goes
// through the gate: with every slot held, each is refused as throttled.
func TestPasswordWorkIsThrottled(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	svc := newServiceWith(t, db, iam.Options{PasswordConcurrency: 1, PasswordWait: 30 * time.Millisecond})
	a := newAccount(t, svc, "acme")
	release := iam.HoldPasswordSlots(svc)
	defer release()
	pw := "Other-pass1"
	checks := map[string]func() error{
		"login": func() error { return login(svc, "acme", "admin", a.Password) },
		"create-user": func() error {
			_, err := svc.CreateUser(ctx, a.DomainID, iam.UserInput{Name: "bob", Password: "Bob-pass11"})
			return err
		},
		"update-user": func() error {
			_, err := svc.UpdateUser(ctx, a.DomainID, a.UserID, iam.UserUpdate{Password: &pw})
			return err
		},
		"change-password": func() error { return svc.ChangePassword(ctx, a.UserID, a.Password, pw) },
	}
	for name, fn := range checks {
		t.Run(name, func(t *testing.T) {
			if err := fn(); iam.KindOf(err) != iam.KindThrottled {
				t.Fatalf("with no hashing slot free: %v, want the throttled error", err)
			}
		})
	}
	release()
	if err := login(svc, "acme", "admin", a.Password); err != nil {
		t.Fatalf("login once the slots are free: %v (a throttled attempt must not count as a failure)", err)
	}
}

// The policy is stored per account and validated to Huawei IAM's ranges.
func TestLoginPolicyValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newServiceWith(t, db, iam.Options{})
		a := newAccount(t, svc, "acme")
		b := newAccount(t, svc, "beta")
		if p, err := svc.LoginPolicy(ctx, a.DomainID); err != nil || p != iam.DefaultLoginPolicy() {
			t.Fatalf("policy of a new account: %+v, %v; want the defaults", p, err)
		}
		str := func(s string) *string { return &s }
		bad := []struct {
			name  string
			up    iam.LoginPolicyUpdate
			field string
		}{
			{"empty", iam.LoginPolicyUpdate{}, "at least one field"},
			{"failed-times-low", iam.LoginPolicyUpdate{LoginFailedTimes: intp(2)}, "login_failed_times"},
			{"failed-times-high", iam.LoginPolicyUpdate{LoginFailedTimes: intp(11)}, "login_failed_times"},
			{"period-low", iam.LoginPolicyUpdate{PeriodWithLoginFailures: intp(14)}, "period_with_login_failures"},
			{"period-high", iam.LoginPolicyUpdate{PeriodWithLoginFailures: intp(61)}, "period_with_login_failures"},
			{"lockout-low", iam.LoginPolicyUpdate{LockoutDuration: intp(14)}, "lockout_duration"},
			{"lockout-high", iam.LoginPolicyUpdate{LockoutDuration: intp(31)}, "lockout_duration"},
			{"session-low", iam.LoginPolicyUpdate{SessionTimeout: intp(14)}, "session_timeout"},
			{"session-high", iam.LoginPolicyUpdate{SessionTimeout: intp(1441)}, "session_timeout"},
			{"validity-negative", iam.LoginPolicyUpdate{AccountValidityPeriod: intp(-1)}, "account_validity_period"},
			{"validity-high", iam.LoginPolicyUpdate{AccountValidityPeriod: intp(241)}, "account_validity_period"},
			{"info-too-long", iam.LoginPolicyUpdate{CustomInfoForLogin: str(strings.Repeat("x", 65))}, "custom_info_for_login"},
			{"info-special", iam.LoginPolicyUpdate{CustomInfoForLogin: str("hello <b>")}, "custom_info_for_login"},
			// One bad field refuses the whole update.
			{"mixed", iam.LoginPolicyUpdate{LoginFailedTimes: intp(4), LockoutDuration: intp(60)}, "lockout_duration"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				_, err := svc.UpdateLoginPolicy(ctx, a.DomainID, tc.up)
				e, ok := err.(*iam.Error)
				if !ok || e.Kind != iam.KindInvalid || e.Code != "IAM.0007" || !strings.Contains(e.Msg, tc.field) {
					t.Fatalf("update: %v, want IAM.0007 naming %s", err, tc.field)
				}
			})
		}
		if p, _ := svc.LoginPolicy(ctx, a.DomainID); p != iam.DefaultLoginPolicy() {
			t.Fatalf("refused updates changed the policy: %+v", p)
		}
		show := true
		got, err := svc.UpdateLoginPolicy(ctx, a.DomainID, iam.LoginPolicyUpdate{LoginFailedTimes: intp(3), SessionTimeout: intp(60),
			AccountValidityPeriod: intp(240), CustomInfoForLogin: str("Welcome to acme"), ShowRecentLoginInfo: &show})
		if err != nil {
			t.Fatal(err)
		}
		want := iam.LoginPolicy{AccountValidityPeriod: 240, CustomInfoForLogin: "Welcome to acme", LockoutDuration: 15, LoginFailedTimes: 3,
			PeriodWithLoginFailures: 15, SessionTimeout: 60, ShowRecentLoginInfo: true}
		if got != want {
			t.Fatalf("after update: %+v, want %+v", got, want)
		}
		// A partial update keeps the other fields.
		got, err = svc.UpdateLoginPolicy(ctx, a.DomainID, iam.LoginPolicyUpdate{LockoutDuration: intp(30)})
		want.LockoutDuration = 30
		if err != nil || got != want {
			t.Fatalf("partial update: %+v, %v; want %+v", got, err, want)
		}
		if p, _ := svc.LoginPolicy(ctx, a.DomainID); p != want {
			t.Fatalf("stored policy %+v, want %+v", p, want)
		}
		if p, _ := svc.LoginPolicy(ctx, b.DomainID); p != iam.DefaultLoginPolicy() {
			t.Fatalf("another account's policy changed: %+v", p)
		}
		res, err := svc.Login(ctx, iam.LoginRequest{DomainName: "acme", UserName: "admin", Password: a.Password})
		if err != nil || res.SessionTimeout != time.Hour {
			t.Fatalf("login: session timeout %v, %v; want the policy's 60 minutes", res, err)
		}
	})
}

// Each login attempt is one audit line with the outcome, the user, the
// account and the source address, and never the password.
func TestLoginAudit(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	var out syncBuffer
	svc := newServiceWith(t, db, iam.Options{Logger: slog.New(slog.NewJSONHandler(&out, nil))})
	a := newAccount(t, svc, "acme")
	if _, err := svc.UpdateLoginPolicy(ctx, a.DomainID, iam.LoginPolicyUpdate{LoginFailedTimes: intp(3)}); err != nil {
		t.Fatal(err)
	}
	const wrongPassword = "Guess-pass-7f3a"
	attempts := []struct {
		user, password, outcome string
	}{
		{"admin", a.Password, "success"},
		{"admin", wrongPassword, "wrong_password"},
		{"ghost", wrongPassword, "unknown_user"},
		{"admin", wrongPassword, "wrong_password"},
		{"admin", wrongPassword, "wrong_password"},
		{"admin", a.Password, "locked"},
	}
	for _, at := range attempts {
		_ = login(svc, "acme", at.user, at.password)
	}
	release := iam.HoldPasswordSlots(svc)
	_ = login(svc, "acme", "ghost2", wrongPassword)
	release()
	attempts = append(attempts, struct{ user, password, outcome string }{"ghost2", wrongPassword, "throttled"})

	logged := out.String()
	if strings.Contains(logged, a.Password) || strings.Contains(logged, wrongPassword) {
		t.Fatalf("the log contains a password:\n%s", logged)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logged), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, l)
		}
		if m["event"] == "login" {
			lines = append(lines, m)
		}
	}
	if len(lines) != len(attempts) {
		t.Fatalf("%d login audit lines for %d attempts:\n%s", len(lines), len(attempts), logged)
	}
	for i, at := range attempts {
		l := lines[i]
		if l["outcome"] != at.outcome || l["user_name"] != at.user || l["domain"] != "acme" || l["domain_id"] != a.DomainID || l["source_ip"] != "192.0.2.7" {
			t.Errorf("audit line %d = %v, want outcome %s for %s in acme from 192.0.2.7", i, l, at.outcome, at.user)
		}
		if _, has := l["user_id"]; has != (at.user == "admin") {
			t.Errorf("audit line %d: user_id present=%v, want it exactly for the existing user", i, has)
		}
	}
}
