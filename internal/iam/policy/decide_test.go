package policy

import (
	"testing"
	"time"
)

type grantSpec struct {
	id     string
	scope  Scope
	policy string
}

func acct(id, policy string) grantSpec {
	return grantSpec{id, Scope{Kind: ScopeAccount}, policy}
}

func proj(project, id, policy string) grantSpec {
	return grantSpec{id, Scope{Kind: ScopeProject, ID: project}, policy}
}

func entp(ep, id, policy string) grantSpec {
	return grantSpec{id, Scope{Kind: ScopeEnterpriseProject, ID: ep}, policy}
}

func compileSpecs(t testing.TB, specs []grantSpec) *Set {
	t.Helper()
	grants := make([]Grant, len(specs))
	for i, g := range specs {
		grants[i] = Grant{PolicyID: g.id, PolicyName: g.id + "-name", Document: mustParse(t, g.policy), Scope: g.scope}
	}
	return Compile(grants)
}

func allowedBy(id string, stmt int) Decision {
	return Decision{Allowed: true, Effect: EffectAllow, Matched: true, PolicyID: id, PolicyName: id + "-name", Statement: stmt}
}

func deniedBy(id string, stmt int) Decision {
	return Decision{Allowed: false, Effect: EffectDeny, Matched: true, PolicyID: id, PolicyName: id + "-name", Statement: stmt}
}

var implicit = Decision{}

// Common statements.
const (
	allowAllModelArts = `{"Effect":"Allow","Action":["modelarts:*:*"]}`
	allowTrainGet     = `{"Effect":"Allow","Action":["modelarts:trainJob:get"]}`
	denyTrainDelete   = `{"Effect":"Deny","Action":["modelarts:trainJob:delete"]}`
)

func req(action string) Request { return Request{Action: action, ProjectID: "p-1"} }

func obsReq(action, resource string) Request {
	return Request{Action: action, Resource: resource}
}

func TestDecide(t *testing.T) {
	// Related actions: one user's grants, asked about a ModelArts action
	// and the OBS actions it depends on.
	related := []grantSpec{
		proj("p-1", "ma", pol(allowAllModelArts)),
		acct("obs", pol(
			`{"Effect":"Allow","Action":["obs:bucket:ListBucket","obs:bucket:HeadBucket"],"Resource":["obs:*:*:bucket:train-data"]}`,
			`{"Effect":"Allow","Action":["obs:object:GetObject"],"Resource":["obs:*:*:object:train-data/*"]}`,
			`{"Effect":"Allow","Action":["obs:object:PutObject"],"Resource":["obs:*:*:object:train-data/output/*"]}`,
		)),
	}
	cases := []struct {
		name   string
		grants []grantSpec
		req    Request
		want   Decision
	}{
		// Actions and wildcards.
		{"exact-action", []grantSpec{acct("a", pol(allowTrainGet))}, req("modelarts:trainJob:get"), allowedBy("a", 0)},
		{"exact-action-other-operation", []grantSpec{acct("a", pol(allowTrainGet))}, req("modelarts:trainJob:list"), implicit},
		{"request-action-upper-case", []grantSpec{acct("a", pol(allowTrainGet))}, req("MODELARTS:TRAINJOB:GET"), allowedBy("a", 0)},
		{"policy-action-mixed-case", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["ModelArts:TRAINJOB:Get"]}`))}, req("modelarts:trainJob:get"), allowedBy("a", 0)},
		{"service-wildcard-all-segments", []grantSpec{acct("a", pol(allowAllModelArts))}, req("modelarts:dataset:getDataset"), allowedBy("a", 0)},
		{"service-wildcard-other-service", []grantSpec{acct("a", pol(allowAllModelArts))}, obsReq("obs:object:GetObject", ""), implicit},
		{"all-actions", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["*:*:*"]}`))}, obsReq("obs:object:GetObject", ""), allowedBy("a", 0)},
		{"all-actions-iam", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["*:*:*"]}`))}, obsReq("iam:users:listUsers", ""), allowedBy("a", 0)},
		{"operation-prefix-match", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["modelarts:dataset:get*"]}`))}, req("modelarts:dataset:getDataset"), allowedBy("a", 0)},
		{"operation-prefix-no-match", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["modelarts:dataset:get*"]}`))}, req("modelarts:dataset:listDatasets"), implicit},
		{"any-type-delete-prefix-trainjob", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["modelarts:*:delete*"]}`))}, req("modelarts:trainJob:delete"), allowedBy("a", 0)},
		{"any-type-delete-prefix-dataset", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["modelarts:*:delete*"]}`))}, req("modelarts:dataset:deleteDataset"), allowedBy("a", 0)},
		{"any-type-delete-prefix-get", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["modelarts:*:delete*"]}`))}, req("modelarts:trainJob:get"), implicit},
		{"wildcard-inside-type", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["modelarts:train*:get"]}`))}, req("modelarts:trainJob:get"), allowedBy("a", 0)},
		{"wildcard-inside-type-no-match", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["modelarts:train*:get"]}`))}, req("modelarts:dataset:get"), implicit},
		{"wildcard-in-service-match", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["model*:*:*"]}`))}, req("modelarts:trainJob:create"), allowedBy("a", 0)},
		{"wildcard-in-service-no-match", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["model*:*:*"]}`))}, obsReq("obs:object:GetObject", ""), implicit},
		{"wildcard-in-service-unknown-service", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["*:*:list*"]}`))}, obsReq("ecs:server:listServers", ""), allowedBy("a", 0)},
		{"type-wildcard-any-service", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["*:object:*"]}`))}, obsReq("obs:object:GetObject", ""), allowedBy("a", 0)},
		{"type-wildcard-any-service-other-type", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["*:object:*"]}`))}, obsReq("obs:bucket:ListBucket", ""), implicit},
		{"question-mark-one-character", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["modelarts:trainJob:?et"]}`))}, req("modelarts:trainJob:get"), allowedBy("a", 0)},
		{"question-mark-not-two-characters", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["modelarts:trainJob:?et"]}`))}, req("modelarts:trainJob:list"), implicit},
		{"wildcard-does-not-cross-colon", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["modelarts:*:get"]}`))}, req("modelarts:a:b:get"), implicit},
		{"malformed-request-action", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["*:*:*"]}`))}, req("modelarts"), implicit},
		{"empty-request-action", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["*:*:*"]}`))}, req(""), implicit},
		{"second-action-of-list", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["modelarts:trainJob:get","modelarts:trainJob:list"]}`))}, req("modelarts:trainJob:list"), allowedBy("a", 0)},
		{"statement-index-reported", []grantSpec{acct("a", pol(allowTrainGet, `{"Effect":"Allow","Action":["modelarts:dataset:*"]}`))}, req("modelarts:dataset:listDatasets"), allowedBy("a", 1)},

		// The service:resourceType index must keep wildcard patterns in
		// the buckets of literal pairs.
		{"index-wildcard-service-beside-literal-pair", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:object:GetObject"],"Resource":["obs:*:*:object:x/*"]}`, `{"Effect":"Allow","Action":["*:object:*"]}`))}, obsReq("obs:object:PutObject", "obs:r:d:object:y/1"), allowedBy("a", 1)},
		{"index-wildcard-type-beside-literal-pair", []grantSpec{acct("a", pol(allowTrainGet, `{"Effect":"Allow","Action":["modelarts:*:list*"]}`))}, req("modelarts:trainJob:list"), allowedBy("a", 1)},
		{"index-literal-pair-other-type", []grantSpec{acct("a", pol(allowTrainGet, `{"Effect":"Allow","Action":["modelarts:*:list*"]}`))}, req("modelarts:dataset:listDatasets"), allowedBy("a", 1)},
		{"index-wildcard-deny-upper-case-request", []grantSpec{acct("a", pol(allowTrainGet, `{"Effect":"Deny","Action":["*:trainJob:delete"]}`)), acct("b", pol(`{"Effect":"Allow","Action":["modelarts:trainJob:delete"]}`))}, req("MODELARTS:TRAINJOB:DELETE"), deniedBy("a", 1)},

		// Deny precedence and implicit deny.
		{"deny-same-policy", []grantSpec{acct("a", pol(allowAllModelArts, denyTrainDelete))}, req("modelarts:trainJob:delete"), deniedBy("a", 1)},
		{"deny-same-policy-other-action-allowed", []grantSpec{acct("a", pol(allowAllModelArts, denyTrainDelete))}, req("modelarts:trainJob:get"), allowedBy("a", 0)},
		{"deny-later-policy", []grantSpec{acct("a", pol(allowAllModelArts)), acct("b", pol(denyTrainDelete))}, req("modelarts:trainJob:delete"), deniedBy("b", 0)},
		{"deny-earlier-policy", []grantSpec{acct("a", pol(denyTrainDelete)), acct("b", pol(allowAllModelArts))}, req("modelarts:trainJob:delete"), deniedBy("a", 0)},
		{"deny-wildcard-beats-exact-allow", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["modelarts:trainJob:delete"]}`, `{"Effect":"deny","Action":["modelarts:*:*"]}`))}, req("modelarts:trainJob:delete"), deniedBy("a", 1)},
		{"deny-only-is-deny", []grantSpec{acct("a", pol(denyTrainDelete))}, req("modelarts:trainJob:delete"), deniedBy("a", 0)},
		{"deny-only-other-action-implicit", []grantSpec{acct("a", pol(denyTrainDelete))}, req("modelarts:trainJob:get"), implicit},
		{"deny-condition-false-allow-wins", []grantSpec{acct("a", pol(allowAllModelArts, `{"Effect":"Deny","Action":["modelarts:*:*"],"Condition":{"StringEquals":{"g:UserName":["mallory"]}}}`))}, Request{Action: "modelarts:trainJob:get", Keys: &Keys{UserName: "alice"}}, allowedBy("a", 0)},
		{"deny-condition-true", []grantSpec{acct("a", pol(allowAllModelArts, `{"Effect":"Deny","Action":["modelarts:*:*"],"Condition":{"StringEquals":{"g:UserName":["mallory"]}}}`))}, Request{Action: "modelarts:trainJob:get", Keys: &Keys{UserName: "mallory"}}, deniedBy("a", 1)},
		{"first-allow-reported", []grantSpec{acct("a", pol(allowTrainGet)), acct("b", pol(allowAllModelArts))}, req("modelarts:trainJob:get"), allowedBy("a", 0)},
		{"effect-any-case", []grantSpec{acct("a", pol(`{"Effect":"ALLOW","Action":["modelarts:trainJob:get"]}`))}, req("modelarts:trainJob:get"), allowedBy("a", 0)},
		{"no-grants", nil, req("modelarts:trainJob:get"), implicit},
		{"grants-for-other-service", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["iam:users:*"]}`))}, req("modelarts:trainJob:get"), implicit},

		// Scope.
		{"project-scope-match", []grantSpec{proj("p-1", "a", pol(allowTrainGet))}, req("modelarts:trainJob:get"), allowedBy("a", 0)},
		{"project-scope-other-project", []grantSpec{proj("p-2", "a", pol(allowTrainGet))}, req("modelarts:trainJob:get"), implicit},
		{"project-scope-global-request", []grantSpec{proj("p-1", "a", pol(`{"Effect":"Allow","Action":["obs:*:*"]}`))}, obsReq("obs:bucket:ListAllMyBuckets", ""), implicit},
		{"project-scope-ignores-enterprise-project", []grantSpec{proj("ep-1", "a", pol(allowTrainGet))}, Request{Action: "modelarts:trainJob:get", ProjectID: "p-1", EnterpriseProjectID: "ep-1"}, implicit},
		{"enterprise-project-scope-match", []grantSpec{entp("ep-1", "a", pol(allowTrainGet))}, Request{Action: "modelarts:trainJob:get", ProjectID: "p-1", EnterpriseProjectID: "ep-1"}, allowedBy("a", 0)},
		{"enterprise-project-scope-mismatch", []grantSpec{entp("ep-1", "a", pol(allowTrainGet))}, Request{Action: "modelarts:trainJob:get", ProjectID: "p-1", EnterpriseProjectID: "ep-2"}, implicit},
		{"enterprise-project-scope-request-without-ep", []grantSpec{entp("ep-1", "a", pol(allowTrainGet))}, req("modelarts:trainJob:get"), implicit},
		{"enterprise-project-scope-ignores-project-id", []grantSpec{entp("p-1", "a", pol(allowTrainGet))}, req("modelarts:trainJob:get"), implicit},
		{"account-scope-project-request", []grantSpec{acct("a", pol(allowTrainGet))}, req("modelarts:trainJob:get"), allowedBy("a", 0)},
		{"account-scope-global-request", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["iam:users:listUsers"]}`))}, obsReq("iam:users:listUsers", ""), allowedBy("a", 0)},
		{"project-deny-in-that-project", []grantSpec{acct("a", pol(allowAllModelArts)), proj("p-1", "d", pol(denyTrainDelete))}, req("modelarts:trainJob:delete"), deniedBy("d", 0)},
		{"project-deny-not-in-other-project", []grantSpec{acct("a", pol(allowAllModelArts)), proj("p-1", "d", pol(denyTrainDelete))}, Request{Action: "modelarts:trainJob:delete", ProjectID: "p-2"}, allowedBy("a", 0)},
		{"enterprise-deny-beats-project-allow", []grantSpec{proj("p-1", "a", pol(allowAllModelArts)), entp("ep-9", "d", pol(`{"Effect":"Deny","Action":["modelarts:*:*"]}`))}, Request{Action: "modelarts:dataset:getDataset", ProjectID: "p-1", EnterpriseProjectID: "ep-9"}, deniedBy("d", 0)},
		{"invalid-scope-applies-nowhere", []grantSpec{{"a", Scope{}, pol(allowTrainGet)}}, req("modelarts:trainJob:get"), implicit},

		// Resources.
		{"bucket-pattern-match", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:bucket:ListBucket"],"Resource":["obs:*:*:bucket:data"]}`))}, obsReq("obs:bucket:ListBucket", "obs:cn-north-4:d-1:bucket:data"), allowedBy("a", 0)},
		{"bucket-pattern-other-bucket", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:bucket:ListBucket"],"Resource":["obs:*:*:bucket:data"]}`))}, obsReq("obs:bucket:ListBucket", "obs:cn-north-4:d-1:bucket:data2"), implicit},
		{"bucket-pattern-object-request", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:*:*"],"Resource":["obs:*:*:bucket:*"]}`))}, obsReq("obs:object:GetObject", "obs:cn-north-4:d-1:object:data/a.txt"), implicit},
		{"object-prefix-match", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:object:GetObject"],"Resource":["obs:*:*:object:data/*"]}`))}, obsReq("obs:object:GetObject", "obs:cn-north-4:d-1:object:data/x/y.jpg"), allowedBy("a", 0)},
		{"object-prefix-other-bucket", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:object:GetObject"],"Resource":["obs:*:*:object:data/*"]}`))}, obsReq("obs:object:GetObject", "obs:cn-north-4:d-1:object:data2/x"), implicit},
		{"object-path-case-sensitive", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:object:GetObject"],"Resource":["obs:*:*:object:Data/*"]}`))}, obsReq("obs:object:GetObject", "obs:cn-north-4:d-1:object:data/x"), implicit},
		{"resource-service-upper-case", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:object:*"],"Resource":["OBS:*:*:object:*"]}`))}, obsReq("obs:object:PutObject", "obs:cn-north-4:d-1:object:any/key"), allowedBy("a", 0)},
		{"resource-type-case-insensitive", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:object:*"],"Resource":["obs:*:*:Object:data/*"]}`))}, obsReq("obs:object:PutObject", "obs:cn-north-4:d-1:object:data/k"), allowedBy("a", 0)},
		{"resource-path-star-crosses-colon", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:object:*"],"Resource":["obs:*:*:object:data/*"]}`))}, obsReq("obs:object:GetObject", "obs:cn-north-4:d-1:object:data/a:b/c"), allowedBy("a", 0)},
		{"resource-region-specific-match", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:object:*"],"Resource":["obs:cn-north-4:d-1:object:*"]}`))}, obsReq("obs:object:GetObject", "obs:cn-north-4:d-1:object:data/a"), allowedBy("a", 0)},
		{"resource-region-specific-other-region", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:object:*"],"Resource":["obs:cn-north-4:d-1:object:*"]}`))}, obsReq("obs:object:GetObject", "obs:ap-southeast-1:d-1:object:data/a"), implicit},
		{"resource-wildcard-in-region-segment", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:object:*"],"Resource":["obs:cn-*:*:object:*"]}`))}, obsReq("obs:object:GetObject", "obs:cn-north-4:d-1:object:k"), allowedBy("a", 0)},
		{"statement-with-resource-request-without", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:*:*"],"Resource":["obs:*:*:bucket:*"]}`))}, obsReq("obs:bucket:ListAllMyBuckets", ""), implicit},
		{"statement-without-resource-request-with", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:object:GetObject"]}`))}, obsReq("obs:object:GetObject", "obs:cn-north-4:d-1:object:data/x"), allowedBy("a", 0)},
		{"malformed-request-resource", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:*:*"],"Resource":["obs:*:*:object:*"]}`))}, obsReq("obs:object:GetObject", "data/x"), implicit},
		{"second-resource-of-list", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:object:GetObject"],"Resource":["obs:*:*:object:a/*","obs:*:*:object:b/*"]}`))}, obsReq("obs:object:GetObject", "obs:r:d:object:b/1"), allowedBy("a", 0)},
		{"deny-object-prefix", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:*:*"]}`, `{"Effect":"Deny","Action":["obs:object:DeleteObject"],"Resource":["obs:*:*:object:data/keep/*"]}`))}, obsReq("obs:object:DeleteObject", "obs:r:d:object:data/keep/1"), deniedBy("a", 1)},
		{"deny-object-prefix-outside", []grantSpec{acct("a", pol(`{"Effect":"Allow","Action":["obs:*:*"]}`, `{"Effect":"Deny","Action":["obs:object:DeleteObject"],"Resource":["obs:*:*:object:data/keep/*"]}`))}, obsReq("obs:object:DeleteObject", "obs:r:d:object:data/tmp/1"), allowedBy("a", 0)},

		// Related actions: the same Set asked about a ModelArts action and
		// the OBS actions it depends on.
		{"related-modelarts-action", related, req("modelarts:trainJob:create"), allowedBy("ma", 0)},
		{"related-list-bucket", related, obsReq("obs:bucket:ListBucket", "obs:cn-north-4:d-1:bucket:train-data"), allowedBy("obs", 0)},
		{"related-get-object", related, obsReq("obs:object:GetObject", "obs:cn-north-4:d-1:object:train-data/images/1.jpg"), allowedBy("obs", 1)},
		{"related-put-object-output", related, obsReq("obs:object:PutObject", "obs:cn-north-4:d-1:object:train-data/output/model.bin"), allowedBy("obs", 2)},
		{"related-put-object-input-denied", related, obsReq("obs:object:PutObject", "obs:cn-north-4:d-1:object:train-data/images/1.jpg"), implicit},
		{"related-get-object-other-bucket", related, obsReq("obs:object:GetObject", "obs:cn-north-4:d-1:object:secrets/key"), implicit},
		{"related-modelarts-grant-not-obs", related[:1], obsReq("obs:object:GetObject", "obs:cn-north-4:d-1:object:train-data/a"), implicit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := compileSpecs(t, tc.grants)
			r := tc.req
			if got := s.Decide(&r); got != tc.want {
				t.Errorf("Decide(%+v)\n got %+v\nwant %+v", r, got, tc.want)
			}
		})
	}
}

func TestDecideNil(t *testing.T) {
	var s *Set
	if got := s.Decide(&Request{Action: "modelarts:trainJob:get"}); got != implicit {
		t.Errorf("nil Set: got %+v, want implicit deny", got)
	}
	s = Compile(nil)
	if got := s.Decide(nil); got != implicit {
		t.Errorf("nil Request: got %+v, want implicit deny", got)
	}
}

var testTime = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func testKeys() *Keys {
	return &Keys{
		UserName:            "alice",
		UserID:              "u-1",
		DomainName:          "acme",
		DomainID:            "d-1",
		ProjectName:         "cn-north-4",
		ProjectID:           "p-1",
		EnterpriseProjectID: "ep-1",
		SourceIP:            "10.1.2.3",
		CurrentTime:         testTime,
		Extra: map[string][]string{
			"g:mfapresent":       {"true"},
			"g:mfaage":           {"300"},
			"modelarts:pooltype": {"public"},
			"g:TagKeys":          {"env", "team"},
			"g:ResourceTag/env":  {"prod"},
		},
	}
}

func withKeys(f func(k *Keys)) *Keys {
	k := testKeys()
	f(k)
	return k
}

// TestDecideConditions evaluates one Allow statement with the given
// Condition element; want is whether the statement applies.
func TestDecideConditions(t *testing.T) {
	noUser := withKeys(func(k *Keys) { k.UserName = "" })
	noTags := withKeys(func(k *Keys) { delete(k.Extra, "g:TagKeys") })
	emptyTags := withKeys(func(k *Keys) { k.Extra["g:TagKeys"] = nil })
	ipv6 := withKeys(func(k *Keys) { k.SourceIP = "2001:db8::1" })
	mapped := withKeys(func(k *Keys) { k.SourceIP = "::ffff:10.1.2.3" })
	noTime := withKeys(func(k *Keys) { k.CurrentTime = time.Time{} })
	cases := []struct {
		name string
		cond string
		keys *Keys // testKeys() when nil
		want bool
	}{
		{"StringEquals-match", `{"StringEquals":{"g:UserName":["alice"]}}`, nil, true},
		{"StringEquals-case-sensitive", `{"StringEquals":{"g:UserName":["Alice"]}}`, nil, false},
		{"StringEquals-values-ored", `{"StringEquals":{"g:UserName":["bob","alice"]}}`, nil, true},
		{"StringEquals-single-string-value", `{"StringEquals":{"g:UserName":"alice"}}`, nil, true},
		{"StringNotEquals-differs", `{"StringNotEquals":{"g:UserName":["bob"]}}`, nil, true},
		{"StringNotEquals-equal", `{"StringNotEquals":{"g:UserName":["alice"]}}`, nil, false},
		{"StringNotEquals-differs-from-all", `{"StringNotEquals":{"g:UserName":["bob","alice"]}}`, nil, false},
		{"StringEqualsIgnoreCase-match", `{"StringEqualsIgnoreCase":{"g:UserName":["ALICE"]}}`, nil, true},
		{"StringEqualsIgnoreCase-no-match", `{"StringEqualsIgnoreCase":{"g:UserName":["BOB"]}}`, nil, false},
		{"StringNotEqualsIgnoreCase-equal", `{"StringNotEqualsIgnoreCase":{"g:UserName":["ALICE"]}}`, nil, false},
		{"StringNotEqualsIgnoreCase-differs", `{"StringNotEqualsIgnoreCase":{"g:UserName":["BOB"]}}`, nil, true},
		{"StringLike-star", `{"StringLike":{"g:UserName":["al*"]}}`, nil, true},
		{"StringLike-question", `{"StringLike":{"g:UserName":["a?ice"]}}`, nil, true},
		{"StringLike-no-match", `{"StringLike":{"g:UserName":["b*"]}}`, nil, false},
		{"StringLike-case-sensitive", `{"StringLike":{"g:UserName":["AL*"]}}`, nil, false},
		{"StringNotLike-no-match", `{"StringNotLike":{"g:UserName":["b*"]}}`, nil, true},
		{"StringNotLike-match", `{"StringNotLike":{"g:UserName":["al*"]}}`, nil, false},
		{"StringMatch-match", `{"StringMatch":{"g:DomainName":["*cm?"]}}`, nil, true},
		{"StringMatch-no-match", `{"StringMatch":{"g:DomainName":["x*"]}}`, nil, false},
		{"StringNotMatch-match", `{"StringNotMatch":{"g:DomainName":["*me"]}}`, nil, false},
		{"StringNotMatch-no-match", `{"StringNotMatch":{"g:DomainName":["x*"]}}`, nil, true},
		{"StringStartWith-match", `{"StringStartWith":{"g:ProjectName":["cn-"]}}`, nil, true},
		{"StringStartWith-no-match", `{"StringStartWith":{"g:ProjectName":["ap-"]}}`, nil, false},
		{"StringNotStartWith-match", `{"StringNotStartWith":{"g:ProjectName":["cn-"]}}`, nil, false},
		{"StringNotStartWith-no-match", `{"StringNotStartWith":{"g:ProjectName":["ap-"]}}`, nil, true},
		{"StringEndWith-match", `{"StringEndWith":{"g:UserName":["ice"]}}`, nil, true},
		{"StringEndWith-no-match", `{"StringEndWith":{"g:UserName":["bob"]}}`, nil, false},
		{"StringNotEndWith-match", `{"StringNotEndWith":{"g:UserName":["ice"]}}`, nil, false},
		{"StringNotEndWith-no-match", `{"StringNotEndWith":{"g:UserName":["bob"]}}`, nil, true},
		{"StringEndWithIfExists-absent", `{"StringEndWithIfExists":{"g:UserName":["bob"]}}`, noUser, true},
		{"NumberEquals-match", `{"NumberEquals":{"g:MFAAge":["300"]}}`, nil, true},
		{"NumberEquals-decimal-form", `{"NumberEquals":{"g:MFAAge":["300.0"]}}`, nil, true},
		{"NumberEquals-json-number", `{"NumberEquals":{"g:MFAAge":300}}`, nil, true},
		{"NumberEquals-no-match", `{"NumberEquals":{"g:MFAAge":["301"]}}`, nil, false},
		{"NumberNotEquals-equal", `{"NumberNotEquals":{"g:MFAAge":["300"]}}`, nil, false},
		{"NumberNotEquals-differs", `{"NumberNotEquals":{"g:MFAAge":["1"]}}`, nil, true},
		{"NumberLessThan-true", `{"NumberLessThan":{"g:MFAAge":["301"]}}`, nil, true},
		{"NumberLessThan-equal-false", `{"NumberLessThan":{"g:MFAAge":["300"]}}`, nil, false},
		{"NumberLessThanEquals-equal", `{"NumberLessThanEquals":{"g:MFAAge":["300"]}}`, nil, true},
		{"NumberLessThanEquals-false", `{"NumberLessThanEquals":{"g:MFAAge":["299.5"]}}`, nil, false},
		{"NumberGreaterThan-true", `{"NumberGreaterThan":{"g:MFAAge":["-1"]}}`, nil, true},
		{"NumberGreaterThan-equal-false", `{"NumberGreaterThan":{"g:MFAAge":["300"]}}`, nil, false},
		{"NumberGreaterThanEquals-equal", `{"NumberGreaterThanEquals":{"g:MFAAge":["300"]}}`, nil, true},
		{"NumberGreaterThanEquals-false", `{"NumberGreaterThanEquals":{"g:MFAAge":["301"]}}`, nil, false},
		{"Number-request-not-a-number", `{"NumberEquals":{"g:ResourceTag/env":["1"]}}`, nil, false},
		{"NumberNot-request-not-a-number", `{"NumberNotEquals":{"g:ResourceTag/env":["1"]}}`, nil, true},
		{"DateLessThan-true", `{"DateLessThan":{"g:CurrentTime":["2025-01-01T00:00:00Z"]}}`, nil, true},
		{"DateLessThan-false", `{"DateLessThan":{"g:CurrentTime":["2024-01-01T00:00:00Z"]}}`, nil, false},
		{"DateLessThanEquals-equal", `{"DateLessThanEquals":{"g:CurrentTime":["2024-06-01T12:00:00Z"]}}`, nil, true},
		{"DateGreaterThan-date-only", `{"DateGreaterThan":{"g:CurrentTime":["2024-06-01"]}}`, nil, true},
		{"DateGreaterThan-false", `{"DateGreaterThan":{"g:CurrentTime":["2024-06-01T12:00:00Z"]}}`, nil, false},
		{"DateGreaterThanEquals-equal", `{"DateGreaterThanEquals":{"g:CurrentTime":["2024-06-01T12:00:00.000Z"]}}`, nil, true},
		{"DateEquals-offset", `{"DateEquals":{"g:CurrentTime":["2024-06-01T14:00:00+02:00"]}}`, nil, true},
		{"DateEquals-no-match", `{"DateEquals":{"g:CurrentTime":["2024-06-01T12:00:01Z"]}}`, nil, false},
		{"DateNotEquals-equal", `{"DateNotEquals":{"g:CurrentTime":["2024-06-01T12:00:00Z"]}}`, nil, false},
		{"DateNotEquals-differs", `{"DateNotEquals":{"g:CurrentTime":["2024-06-01T12:00:01Z"]}}`, nil, true},
		{"Date-time-absent", `{"DateLessThan":{"g:CurrentTime":["2025-01-01T00:00:00Z"]}}`, noTime, false},
		{"Date-time-absent-ifexists", `{"DateLessThanIfExists":{"g:CurrentTime":["2025-01-01T00:00:00Z"]}}`, noTime, true},
		{"Date-on-tag-value", `{"DateLessThan":{"g:RequestTag/expiry":["2025-01-01"]}}`, withKeys(func(k *Keys) { k.Extra["g:requesttag/expiry"] = []string{"2024-12-31T23:59:59Z"} }), true},
		{"Bool-true", `{"Bool":{"g:MFAPresent":["true"]}}`, nil, true},
		{"Bool-json-literal", `{"Bool":{"g:MFAPresent":true}}`, nil, true},
		{"Bool-false", `{"Bool":{"g:MFAPresent":["false"]}}`, nil, false},
		{"Bool-absent", `{"Bool":{"g:MFAPresent":["false"]}}`, withKeys(func(k *Keys) { delete(k.Extra, "g:mfapresent") }), false},
		{"IpAddress-v4-cidr", `{"IpAddress":{"g:SourceIp":["10.0.0.0/8"]}}`, nil, true},
		{"IpAddress-v4-other-range", `{"IpAddress":{"g:SourceIp":["192.168.0.0/16"]}}`, nil, false},
		{"IpAddress-v4-single", `{"IpAddress":{"g:SourceIp":["10.1.2.3"]}}`, nil, true},
		{"IpAddress-v4-second-range", `{"IpAddress":{"g:SourceIp":["192.168.0.0/16","10.1.0.0/16"]}}`, nil, true},
		{"NotIpAddress-inside", `{"NotIpAddress":{"g:SourceIp":["10.0.0.0/8"]}}`, nil, false},
		{"NotIpAddress-outside", `{"NotIpAddress":{"g:SourceIp":["192.168.0.0/16"]}}`, nil, true},
		{"IpAddress-v6-cidr", `{"IpAddress":{"g:SourceIp":["2001:db8::/32"]}}`, ipv6, true},
		{"IpAddress-v6-other-range", `{"IpAddress":{"g:SourceIp":["2001:db9::/32"]}}`, ipv6, false},
		{"IpAddress-v6-request-v4-range", `{"IpAddress":{"g:SourceIp":["10.0.0.0/8"]}}`, ipv6, false},
		{"IpAddress-v4-mapped-request", `{"IpAddress":{"g:SourceIp":["10.0.0.0/8"]}}`, mapped, true},
		{"NotIpAddress-v6", `{"NotIpAddress":{"g:SourceIp":["2001:db8::/32"]}}`, ipv6, false},
		{"missing-key-positive", `{"StringEquals":{"g:UserName":["alice"]}}`, noUser, false},
		{"missing-key-negated", `{"StringNotEquals":{"g:UserName":["alice"]}}`, noUser, true},
		{"missing-key-ifexists", `{"StringEqualsIfExists":{"g:UserName":["alice"]}}`, noUser, true},
		{"missing-key-negated-ifexists", `{"StringNotEqualsIfExists":{"g:UserName":["alice"]}}`, noUser, true},
		{"present-key-ifexists-mismatch", `{"StringEqualsIfExists":{"g:UserName":["bob"]}}`, nil, false},
		{"present-key-ifexists-match", `{"StringEqualsIfExists":{"g:UserName":["alice"]}}`, nil, true},
		{"nil-keys-positive", `{"StringEquals":{"g:UserName":["alice"]}}`, &Keys{}, false},
		{"nil-keys-negated", `{"NotIpAddress":{"g:SourceIp":["10.0.0.0/8"]}}`, &Keys{}, true},
		{"Null-true-absent", `{"Null":{"g:UserName":["true"]}}`, noUser, true},
		{"Null-true-present", `{"Null":{"g:UserName":["true"]}}`, nil, false},
		{"Null-false-present", `{"Null":{"g:UserName":["false"]}}`, nil, true},
		{"Null-false-absent", `{"Null":{"g:UserName":["false"]}}`, noUser, false},
		{"Null-time-absent", `{"Null":{"g:CurrentTime":["true"]}}`, noTime, true},
		{"Null-extra-present", `{"Null":{"g:TagKeys":["false"]}}`, nil, true},
		{"Null-extra-empty-list", `{"Null":{"g:TagKeys":["true"]}}`, emptyTags, true},
		{"ForAnyValue-match", `{"ForAnyValue:StringEquals":{"g:TagKeys":["team"]}}`, nil, true},
		{"ForAnyValue-no-match", `{"ForAnyValue:StringEquals":{"g:TagKeys":["owner"]}}`, nil, false},
		{"ForAnyValue-absent", `{"ForAnyValue:StringEquals":{"g:TagKeys":["team"]}}`, noTags, false},
		{"ForAnyValue-negated-some-differs", `{"ForAnyValue:StringNotEquals":{"g:TagKeys":["env"]}}`, nil, true},
		{"ForAnyValue-negated-none-differs", `{"ForAnyValue:StringNotEquals":{"g:TagKeys":["env","team"]}}`, nil, false},
		{"ForAnyValue-ifexists-absent", `{"ForAnyValue:StringEqualsIfExists":{"g:TagKeys":["team"]}}`, noTags, true},
		{"ForAllValues-subset", `{"ForAllValues:StringEquals":{"g:TagKeys":["env","team","owner"]}}`, nil, true},
		{"ForAllValues-not-subset", `{"ForAllValues:StringEquals":{"g:TagKeys":["env"]}}`, nil, false},
		{"ForAllValues-absent", `{"ForAllValues:StringEquals":{"g:TagKeys":["env"]}}`, noTags, true},
		{"ForAllValues-empty", `{"ForAllValues:StringEquals":{"g:TagKeys":["env"]}}`, emptyTags, true},
		{"ForAllValues-negated-none-listed", `{"ForAllValues:StringNotEquals":{"g:TagKeys":["owner"]}}`, nil, true},
		{"ForAllValues-negated-one-listed", `{"ForAllValues:StringNotEquals":{"g:TagKeys":["env"]}}`, nil, false},
		{"ForAllValues-like", `{"ForAllValues:StringLike":{"g:TagKeys":["e*","t*"]}}`, nil, true},
		{"unqualified-multi-valued-any", `{"StringEquals":{"g:TagKeys":["team"]}}`, nil, true},
		{"unqualified-multi-valued-negated", `{"StringNotEquals":{"g:TagKeys":["team"]}}`, nil, false},
		{"operators-anded", `{"StringEquals":{"g:UserName":["alice"]},"IpAddress":{"g:SourceIp":["192.168.0.0/16"]}}`, nil, false},
		{"operators-anded-all-true", `{"StringEquals":{"g:UserName":["alice"]},"IpAddress":{"g:SourceIp":["10.0.0.0/8"]}}`, nil, true},
		{"keys-anded", `{"StringEquals":{"g:UserName":["alice"],"g:DomainName":["other"]}}`, nil, false},
		{"keys-anded-all-true", `{"StringEquals":{"g:UserName":["alice"],"g:DomainName":["acme"],"g:UserId":["u-1"],"g:DomainId":["d-1"],"g:ProjectId":["p-1"],"g:EnterpriseProjectId":["ep-1"]}}`, nil, true},
		{"key-name-case-insensitive", `{"StringEquals":{"G:USERNAME":["alice"]}}`, nil, true},
		{"operator-name-case-insensitive", `{"stringequals":{"g:UserName":["alice"]}}`, nil, true},
		{"extra-key-case-insensitive-scan", `{"StringEquals":{"g:resourcetag/ENV":["prod"]}}`, nil, true},
		{"extra-key-resource-tag-mismatch", `{"StringEquals":{"g:ResourceTag/env":["dev"]}}`, nil, false},
		{"extra-key-absent-tag", `{"StringEquals":{"g:ResourceTag/owner":["x"]}}`, nil, false},
		{"pool-type", `{"StringEquals":{"modelarts:poolType":["public"]}}`, nil, true},
		{"pool-type-dedicated", `{"StringEquals":{"modelarts:poolType":["dedicated"]}}`, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := pol(`{"Effect":"Allow","Action":["modelarts:trainJob:get"],"Condition":` + tc.cond + `}`)
			s := compileSpecs(t, []grantSpec{acct("c", raw)})
			keys := tc.keys
			if keys == nil {
				keys = testKeys()
			}
			got := s.Decide(&Request{Action: "modelarts:trainJob:get", ProjectID: "p-1", Keys: keys})
			if got.Allowed != tc.want {
				t.Errorf("condition %s: applies = %v, want %v", tc.cond, got.Allowed, tc.want)
			}
		})
	}
}
