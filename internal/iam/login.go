package iam

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
)

// Password logins resist abuse in four ways:
//   - argon2id costs 19 MiB and tens of milliseconds per check, so at most
//     passwordGate's size (GOMAXPROCS by default) hashes run at once; the
//     excess waits briefly, then is refused as throttled (429);
//   - a login naming an unknown account or user, or a user without a
//     password, verifies dummyHash, so it costs what a wrong password costs;
//   - the account's login policy locks a name out after too many failures
//     (the state is in the database: it survives restarts and holds on
//     every replica), and unknown names lock exactly like real ones;
//   - every attempt is one audit line (never with the password).

// passwordGate bounds the password hashing in flight: a semaphore with a
// bounded wait.
type passwordGate struct {
	slots chan struct{}
	wait  time.Duration
	// checks counts hashes computed or verified, dummy ones included.
	checks atomic.Int64
}

func newPasswordGate(n int, wait time.Duration) *passwordGate {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	if wait <= 0 {
		wait = time.Second
	}
	return &passwordGate{slots: make(chan struct{}, n), wait: wait}
}

// errThrottled is the answer when no hashing slot frees up in time; the API
// adds Retry-After.
var errThrottled = &Error{Kind: KindThrottled, Code: "APIG.0308",
	Msg: "The throttling threshold has been reached: too many password checks are in progress. Retry after 1 second."}

// acquire takes a slot, waiting at most g.wait; release gives it back.
func (g *passwordGate) acquire(ctx context.Context) (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return g.release, nil
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.release, nil
	case <-t.C:
		return nil, errThrottled
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *passwordGate) release() { <-g.slots }

// hash computes a password hash within the gate.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	release, err := s.passwords.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	s.passwords.checks.Add(1)
	return hashPassword(password)
}

// verify checks a password against a hash within the gate.
func (s *Service) verify(ctx context.Context, hash, password string) (bool, error) {
	release, err := s.passwords.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	s.passwords.checks.Add(1)
	return checkPassword(hash, password), nil
}

// LoginRequest is a password login. DomainName or DomainID names the
// account; SourceIP and RequestID are for the audit line.
type LoginRequest struct {
	DomainName string
	DomainID   string
	UserName   string
	Password   string
	SourceIP   string
	RequestID  string
}

// LoginResult is a successful login.
type LoginResult struct {
	User   *User
	Domain *Domain
	// SessionTimeout is the account's login policy session_timeout: how
	// long a token issued for this login may last.
	SessionTimeout time.Duration
}

// Login outcomes, as the audit line names them.
const (
	outcomeSuccess       = "success"
	outcomeWrongPassword = "wrong_password"
	outcomeUnknownUser   = "unknown_user"
	outcomeLocked        = "locked"
	outcomeThrottled     = "throttled"
	outcomeDisabled      = "disabled"
)

// errWrongCredentials is the one answer for an unknown account, an unknown
// user, a user without a password and a wrong password: it must not tell
// them apart.
var errWrongCredentials = &Error{Kind: KindUnauthorized, Code: "IAM.0008", Msg: "the username or password is wrong"}

// errLocked is Huawei IAM's answer to a password login while the user is
// locked out by the login policy.
var errLocked = &Error{Kind: KindUnauthorized, Code: "IAM.0008", Msg: "The account is locked."}

// Login checks a password login against the account's login policy and
// records the attempt.
func (s *Service) Login(ctx context.Context, in LoginRequest) (*LoginResult, error) {
	a := attempt{req: in}
	res, err := s.login(ctx, &a)
	if err != nil && KindOf(err) == 0 && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("login: %w", err)
	}
	s.audit(ctx, &a)
	return res, err
}

// attempt is what one login learned, for its audit line.
type attempt struct {
	req     LoginRequest
	domain  *Domain
	user    *User
	outcome string
}

func (s *Service) login(ctx context.Context, a *attempt) (*LoginResult, error) {
	in := a.req
	var err error
	switch {
	case in.DomainName != "":
		a.domain, err = getDomainByName(ctx, s.db, in.DomainName)
	case in.DomainID != "":
		a.domain, err = getDomain(ctx, s.db, in.DomainID)
	default:
		err = errWrongCredentials
	}
	if err != nil && !noRows(err) && err != errWrongCredentials {
		return nil, err
	}
	// subject is whose failures count: the user, or for a name no user
	// has, the name within the account as the caller gave it.
	var subject string
	pol := DefaultLoginPolicy()
	if a.domain != nil {
		if pol, err = s.LoginPolicy(ctx, a.domain.ID); err != nil {
			return nil, err
		}
		a.user, err = getUserByName(ctx, s.db, a.domain.ID, in.UserName)
		if err != nil && !noRows(err) {
			return nil, err
		}
		if a.user != nil {
			subject = a.user.ID
		} else {
			subject = "name:" + a.domain.ID + "/" + in.UserName
		}
	} else {
		subject = "domain:" + in.DomainName + "|" + in.DomainID + "/" + in.UserName
	}

	if locked, err := s.locked(ctx, subject); err != nil || locked {
		return nil, s.lockedOrErr(a, err)
	}
	release, err := s.passwords.acquire(ctx)
	if err != nil {
		if KindOf(err) == KindThrottled {
			a.outcome = outcomeThrottled
		}
		return nil, err
	}
	// Attempts that queued while another one locked the subject out must
	// not get a guess in: look again now that this one may hash.
	if locked, err := s.locked(ctx, subject); err != nil || locked {
		release()
		return nil, s.lockedOrErr(a, err)
	}
	hash := dummyHash
	if a.user != nil && a.user.passwordHash != "" {
		hash = a.user.passwordHash
	}
	s.passwords.checks.Add(1)
	ok := checkPassword(hash, in.Password) && hash != dummyHash
	release()

	if !ok {
		a.outcome = outcomeWrongPassword
		if a.user == nil {
			a.outcome = outcomeUnknownUser
		}
		if err := s.recordFailure(ctx, subject, pol); err != nil {
			return nil, err
		}
		return nil, errWrongCredentials
	}
	if err := s.clearFailures(ctx, subject); err != nil {
		return nil, err
	}
	if !a.user.Enabled {
		a.outcome = outcomeDisabled
		return nil, &Error{Kind: KindUnauthorized, Code: "IAM.0009", Msg: "the user is disabled"}
	}
	a.outcome = outcomeSuccess
	return &LoginResult{User: a.user, Domain: a.domain, SessionTimeout: time.Duration(pol.SessionTimeout) * time.Minute}, nil
}

func (s *Service) lockedOrErr(a *attempt, err error) error {
	if err != nil {
		return err
	}
	a.outcome = outcomeLocked
	return errLocked
}

// audit writes one line per login attempt: who, from where, and how it
// ended. Never the password.
func (s *Service) audit(ctx context.Context, a *attempt) {
	if a.outcome == "" {
		return // an internal error, logged by the caller
	}
	attrs := []any{"event", "login", "outcome", a.outcome, "user_name", a.req.UserName, "source_ip", a.req.SourceIP}
	if a.user != nil {
		attrs = append(attrs, "user_id", a.user.ID)
	}
	if a.domain != nil {
		attrs = append(attrs, "domain", a.domain.Name, "domain_id", a.domain.ID)
	} else {
		attrs = append(attrs, "domain", a.req.DomainName+a.req.DomainID)
	}
	if a.req.RequestID != "" {
		attrs = append(attrs, "request_id", a.req.RequestID)
	}
	s.log.InfoContext(ctx, "audit: login "+a.outcome, attrs...)
}

// locked reports whether subject is locked out now.
func (s *Service) locked(ctx context.Context, subject string) (bool, error) {
	until, err := lockedUntil(ctx, s.db, subject)
	if noRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read login failures: %w", err)
	}
	return until > store.Millis(s.now()), nil
}

// recordFailure counts a failed login of subject within the policy's
// period and locks the subject out when the count reaches
// login_failed_times. Each step is one statement, so concurrent failures
// on any replica are all counted.
func (s *Service) recordFailure(ctx context.Context, subject string, pol LoginPolicy) error {
	now := store.Millis(s.now())
	period := int64(pol.PeriodWithLoginFailures) * time.Minute.Milliseconds()
	// Rows whose window and lockout are over carry nothing: drop them, so
	// that guessed names cannot grow the table without bound.
	if err := expireLoginFailures(ctx, s.db, now); err != nil {
		return fmt.Errorf("expire login failures: %w", err)
	}
	failures, err := countLoginFailure(ctx, s.db, subject, now, period)
	if err != nil {
		return fmt.Errorf("count login failure: %w", err)
	}
	if failures < pol.LoginFailedTimes {
		return nil
	}
	until := now + int64(pol.LockoutDuration)*time.Minute.Milliseconds()
	if err := lockOut(ctx, s.db, subject, now, until); err != nil {
		return fmt.Errorf("lock out after %d failed logins: %w", failures, err)
	}
	s.log.WarnContext(ctx, "audit: login locked out", "event", "login_lockout", "subject", subject,
		"failures", failures, "locked_until", store.FromMillis(until))
	return nil
}

// clearFailures forgets subject's failures after a successful login.
func (s *Service) clearFailures(ctx context.Context, subject string) error {
	if err := clearLoginFailures(ctx, s.db, subject); err != nil {
		return fmt.Errorf("reset login failures: %w", err)
	}
	return nil
}
