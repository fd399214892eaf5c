package policy

import "testing"

func TestMayAllow(t *testing.T) {
	epCond := pol(`{"Effect":"Allow","Action":["modelarts:trainJob:get"],"Condition":{"StringEquals":{"g:EnterpriseProjectId":["ep-2"]}}}`)
	cases := []struct {
		name   string
		grants []grantSpec
		req    Request
		want   bool
	}{
		{"no-grants", nil, req("modelarts:trainJob:get"), false},
		{"account-allow", []grantSpec{acct("a", pol(allowTrainGet))}, req("modelarts:trainJob:get"), true},
		{"project-allow", []grantSpec{proj("p-1", "a", pol(allowTrainGet))}, req("modelarts:trainJob:get"), true},
		{"other-project-allow", []grantSpec{proj("p-2", "a", pol(allowTrainGet))}, req("modelarts:trainJob:get"), false},
		{"enterprise-project-allow", []grantSpec{entp("ep-1", "a", pol(allowTrainGet))}, req("modelarts:trainJob:get"), true},
		{"enterprise-project-other-action", []grantSpec{entp("ep-1", "a", pol(allowTrainGet))}, req("modelarts:trainJob:delete"), false},
		{"project-deny-beats-enterprise-allow", []grantSpec{entp("ep-1", "a", pol(allowAllModelArts)), proj("p-1", "d", pol(denyTrainDelete))}, req("modelarts:trainJob:delete"), false},
		{"deny-in-one-enterprise-project-only", []grantSpec{proj("p-1", "a", pol(allowAllModelArts)), entp("ep-1", "d", pol(denyTrainDelete))}, req("modelarts:trainJob:delete"), true},
		{"condition-on-enterprise-project-key", []grantSpec{entp("ep-1", "a", pol(allowTrainGet)), entp("ep-2", "b", epCond)}, Request{Action: "modelarts:trainJob:get", ProjectID: "p-1", Keys: &Keys{}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := compileSpecs(t, tc.grants)
			if got := s.MayAllow(&tc.req); got != tc.want {
				t.Errorf("MayAllow(%s) with grants %v = %v, want %v", tc.req.Action, tc.grants, got, tc.want)
			}
		})
	}
	// The condition on g:EnterpriseProjectId holds only when that key is
	// set to the enterprise project being tried.
	s := compileSpecs(t, []grantSpec{entp("ep-2", "b", epCond)})
	r := Request{Action: "modelarts:trainJob:get", ProjectID: "p-1", Keys: &Keys{}}
	if !s.MayAllow(&r) {
		t.Errorf("MayAllow with an allow conditioned on g:EnterpriseProjectId of its own enterprise project = false, want true")
	}
	if r.Keys.EnterpriseProjectID != "" || r.EnterpriseProjectID != "" {
		t.Errorf("MayAllow changed the caller's request: %+v", r)
	}
}
