package iam

import (
	"context"
	"database/sql"
	"fmt"
)

// IAM actions guarding the login authentication policy, as Huawei IAM names them.
const (
	ActGetLoginPolicy    = "iam:securitypolicies:getLoginPolicy"
	ActUpdateLoginPolicy = "iam:securitypolicies:updateLoginPolicy"
)

// LoginPolicy is an account's login authentication policy, with Huawei
// IAM's fields. Atelier enforces LoginFailedTimes, PeriodWithLoginFailures
// and LockoutDuration on password logins, and SessionTimeout as the
// longest life of a token a password login issues. AccountValidityPeriod,
// CustomInfoForLogin and ShowRecentLoginInfo concern Huawei's console
// (which Atelier does not have) and are stored and returned only.
type LoginPolicy struct {
	AccountValidityPeriod   int    // days, 0–240; 0 = users are never disabled for inactivity
	CustomInfoForLogin      string // at most 64 characters, none of @#%&<>\$^*
	LockoutDuration         int    // minutes, 15–30
	LoginFailedTimes        int    // 3–10
	PeriodWithLoginFailures int    // minutes, 15–60
	SessionTimeout          int    // minutes, 15–1440
	ShowRecentLoginInfo     bool
}

// DefaultLoginPolicy is the policy of an account that never set one:
// Huawei's defaults (5 failures within 15 minutes lock a user out for 15
// minutes). Its session timeout is 1440 minutes, the longest Huawei
// allows, which keeps tokens at their usual 24 hours until an
// administrator shortens it.
func DefaultLoginPolicy() LoginPolicy {
	return LoginPolicy{LockoutDuration: 15, LoginFailedTimes: 5, PeriodWithLoginFailures: 15, SessionTimeout: 1440}
}

// LoginPolicyUpdate changes a login policy; nil fields keep their value.
type LoginPolicyUpdate struct {
	AccountValidityPeriod   *int
	CustomInfoForLogin      *string
	LockoutDuration         *int
	LoginFailedTimes        *int
	PeriodWithLoginFailures *int
	SessionTimeout          *int
	ShowRecentLoginInfo     *bool
}

func (u LoginPolicyUpdate) empty() bool {
	return u.AccountValidityPeriod == nil && u.CustomInfoForLogin == nil && u.LockoutDuration == nil &&
		u.LoginFailedTimes == nil && u.PeriodWithLoginFailures == nil && u.SessionTimeout == nil && u.ShowRecentLoginInfo == nil
}

// apply validates each given field against Huawei IAM's range and sets it.
func (u LoginPolicyUpdate) apply(p *LoginPolicy) error {
	if u.empty() {
		return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "login_policy: at least one field must be given"}
	}
	ints := []struct {
		name     string
		in       *int
		out      *int
		min, max int
		unit     string
	}{
		{"account_validity_period", u.AccountValidityPeriod, &p.AccountValidityPeriod, 0, 240, " (days)"},
		{"lockout_duration", u.LockoutDuration, &p.LockoutDuration, 15, 30, " (minutes)"},
		{"login_failed_times", u.LoginFailedTimes, &p.LoginFailedTimes, 3, 10, ""},
		{"period_with_login_failures", u.PeriodWithLoginFailures, &p.PeriodWithLoginFailures, 15, 60, " (minutes)"},
		{"session_timeout", u.SessionTimeout, &p.SessionTimeout, 15, 1440, " (minutes)"},
	}
	for _, f := range ints {
		if f.in == nil {
			continue
		}
		if *f.in < f.min || *f.in > f.max {
			return &Error{Kind: KindInvalid, Code: "IAM.0007",
				Msg: fmt.Sprintf("login_policy.%s must be between %d and %d%s, not %d", f.name, f.min, f.max, f.unit, *f.in)}
		}
		*f.out = *f.in
	}
	if u.CustomInfoForLogin != nil {
		if err := validateDescription("login_policy.custom_info_for_login", *u.CustomInfoForLogin, 64); err != nil {
			return err
		}
		p.CustomInfoForLogin = *u.CustomInfoForLogin
	}
	if u.ShowRecentLoginInfo != nil {
		p.ShowRecentLoginInfo = *u.ShowRecentLoginInfo
	}
	return nil
}

// LoginPolicy returns the account's login policy (the defaults until an
// administrator sets one).
func (s *Service) LoginPolicy(ctx context.Context, domainID string) (LoginPolicy, error) {
	p, err := getLoginPolicy(ctx, s.db, domainID)
	if err != nil {
		return LoginPolicy{}, fmt.Errorf("read login policy: %w", err)
	}
	return p, nil
}

// UpdateLoginPolicy changes the given fields of the account's login policy
// and returns the whole policy. A lockout already in force keeps its end.
func (s *Service) UpdateLoginPolicy(ctx context.Context, domainID string, up LoginPolicyUpdate) (LoginPolicy, error) {
	var out LoginPolicy
	err := s.write(ctx, func(tx *sql.Tx) error {
		p, err := getLoginPolicy(ctx, tx, domainID)
		if err != nil {
			return err
		}
		if err := up.apply(&p); err != nil {
			return err
		}
		if err := upsertLoginPolicy(ctx, tx, domainID, p, s.clock()); err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		return LoginPolicy{}, wrap("update login policy", err)
	}
	return out, nil
}
