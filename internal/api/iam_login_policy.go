package api

import (
	"net/http"

	"github.com/atelier-dev/atelier/internal/iam"
)

// Huawei IAM's login authentication policy:
// /v3.0/OS-SECURITYPOLICY/domains/{domain_id}/login-policy. Atelier enforces
// login_failed_times, period_with_login_failures and lockout_duration on
// password logins (POST /v3/auth/tokens) and bounds the life of the tokens
// they issue by session_timeout; account_validity_period,
// custom_info_for_login and show_recent_login_info are stored and returned
// only (they concern Huawei's console).

func (s *Server) loginPolicyRoutes() []Route {
	const path = "/v3.0/OS-SECURITYPOLICY/domains/{domain_id}/login-policy"
	return []Route{
		{Name: "Querying the login authentication policy", Method: "GET", Path: path, Action: iam.ActGetLoginPolicy,
			Family: "iam", Service: ServiceGlobal, Handler: s.showLoginPolicy},
		{Name: "Modifying the login authentication policy", Method: "PUT", Path: path, Action: iam.ActUpdateLoginPolicy,
			Family: "iam", Service: ServiceGlobal, Handler: s.updateLoginPolicy},
	}
}

// loginPolicyJSON has the fields of the SDK's LoginPolicyResult.
type loginPolicyJSON struct {
	AccountValidityPeriod   int    `json:"account_validity_period"`
	CustomInfoForLogin      string `json:"custom_info_for_login"`
	LockoutDuration         int    `json:"lockout_duration"`
	LoginFailedTimes        int    `json:"login_failed_times"`
	PeriodWithLoginFailures int    `json:"period_with_login_failures"`
	SessionTimeout          int    `json:"session_timeout"`
	ShowRecentLoginInfo     bool   `json:"show_recent_login_info"`
}

func writeLoginPolicy(w http.ResponseWriter, p iam.LoginPolicy) error {
	return WriteJSON(w, http.StatusOK, map[string]any{"login_policy": loginPolicyJSON{
		AccountValidityPeriod: p.AccountValidityPeriod, CustomInfoForLogin: p.CustomInfoForLogin,
		LockoutDuration: p.LockoutDuration, LoginFailedTimes: p.LoginFailedTimes,
		PeriodWithLoginFailures: p.PeriodWithLoginFailures, SessionTimeout: p.SessionTimeout,
		ShowRecentLoginInfo: p.ShowRecentLoginInfo,
	}})
}

// ownDomain refuses a domain_id other than the caller's: an account's
// security settings are its own administrators' business only.
func ownDomain(r *http.Request, c *Call) error {
	if d := r.PathValue("domain_id"); d != c.Principal.DomainID {
		return Errorf(http.StatusForbidden, "IAM.0002", "domain_id %q is not the caller's account: only an account's own login policy can be read or changed", d)
	}
	return nil
}

func (s *Server) showLoginPolicy(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := ownDomain(r, c); err != nil {
		return err
	}
	p, err := s.iam.LoginPolicy(r.Context(), c.Principal.DomainID)
	if err != nil {
		return err
	}
	return writeLoginPolicy(w, p)
}

func (s *Server) updateLoginPolicy(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := ownDomain(r, c); err != nil {
		return err
	}
	var b struct {
		LoginPolicy *struct {
			AccountValidityPeriod   *int    `json:"account_validity_period"`
			CustomInfoForLogin      *string `json:"custom_info_for_login"`
			LockoutDuration         *int    `json:"lockout_duration"`
			LoginFailedTimes        *int    `json:"login_failed_times"`
			PeriodWithLoginFailures *int    `json:"period_with_login_failures"`
			SessionTimeout          *int    `json:"session_timeout"`
			ShowRecentLoginInfo     *bool   `json:"show_recent_login_info"`
		} `json:"login_policy"`
	}
	if err := Decode(r, &b); err != nil {
		return err
	}
	lp := b.LoginPolicy
	if lp == nil {
		return Errorf(http.StatusBadRequest, "IAM.0007", "login_policy is required")
	}
	p, err := s.iam.UpdateLoginPolicy(r.Context(), c.Principal.DomainID, iam.LoginPolicyUpdate{
		AccountValidityPeriod: lp.AccountValidityPeriod, CustomInfoForLogin: lp.CustomInfoForLogin,
		LockoutDuration: lp.LockoutDuration, LoginFailedTimes: lp.LoginFailedTimes,
		PeriodWithLoginFailures: lp.PeriodWithLoginFailures, SessionTimeout: lp.SessionTimeout,
		ShowRecentLoginInfo: lp.ShowRecentLoginInfo,
	})
	if err != nil {
		return err
	}
	return writeLoginPolicy(w, p)
}
