package policy

import (
	"fmt"
	"testing"
)

// benchSet is a user with 10 grants of 10 statements each, built with
// Compile directly from Documents (the 8-statement limit is Parse's).
func benchSet() *Set {
	scopes := []Scope{
		{Kind: ScopeAccount}, {Kind: ScopeProject, ID: "p-1"}, {Kind: ScopeProject, ID: "p-2"},
		{Kind: ScopeEnterpriseProject, ID: "ep-1"}, {Kind: ScopeEnterpriseProject, ID: "ep-2"},
	}
	grants := make([]Grant, 10)
	for i := range grants {
		bucket := fmt.Sprintf("bucket-%d", i)
		doc := &Document{Version: "1.1", Statements: []Statement{
			{Effect: EffectAllow, Actions: []string{"modelarts:trainJob:*"},
				Conditions: []Condition{{Operator: "StringEquals", Key: "g:UserName", Values: []string{"alice", "bob"}}}},
			{Effect: EffectAllow, Actions: []string{"modelarts:dataset:get*", "modelarts:dataset:list*"}},
			{Effect: EffectDeny, Actions: []string{"modelarts:*:delete*"},
				Conditions: []Condition{{Operator: "NotIpAddress", Key: "g:SourceIp", Values: []string{"10.0.0.0/8", "2001:db8::/32"}}}},
			{Effect: EffectAllow, Actions: []string{"obs:object:GetObject", "obs:object:PutObject"},
				Resources: []string{"obs:*:*:object:" + bucket + "/*"}},
			{Effect: EffectAllow, Actions: []string{"obs:bucket:ListBucket", "obs:bucket:HeadBucket"},
				Resources: []string{"obs:*:*:bucket:" + bucket}},
			{Effect: EffectAllow, Actions: []string{"iam:users:listUsers"}},
			{Effect: EffectDeny, Actions: []string{"obs:object:DeleteObject"},
				Resources: []string{"obs:*:*:object:" + bucket + "/keep/*"}},
			{Effect: EffectAllow, Actions: []string{"modelarts:*:list*"},
				Conditions: []Condition{{Operator: "DateLessThan", Key: "g:CurrentTime", Values: []string{"2030-01-01T00:00:00Z"}}}},
			{Effect: EffectAllow, Actions: []string{"*:*:get*"},
				Conditions: []Condition{{Operator: "ForAnyValue:StringEquals", Key: "g:TagKeys", Values: []string{"team"}},
					{Operator: "Bool", Key: "g:MFAPresent", Values: []string{"true"}}}},
			{Effect: EffectAllow, Actions: []string{"modelarts:trainJob:create"},
				Conditions: []Condition{{Operator: "StringEquals", Key: "modelarts:poolType", Values: []string{"dedicated"}},
					{Operator: "NumberLessThan", Key: "g:MFAAge", Values: []string{"3600"}}}},
		}}
		grants[i] = Grant{PolicyID: fmt.Sprintf("pol-%d", i), PolicyName: "bench", Document: doc, Scope: scopes[i%len(scopes)]}
	}
	return Compile(grants)
}

func benchRequests() []Request {
	k := testKeys()
	k.Extra["G:TagKeys"] = k.Extra["g:TagKeys"] // a key found only by the case-insensitive scan
	delete(k.Extra, "g:TagKeys")
	carol := *k
	carol.UserName = "carol"
	return []Request{
		{Action: "modelarts:trainJob:get", ProjectID: "p-1", EnterpriseProjectID: "ep-1", Keys: k},
		{Action: "modelarts:dataset:deleteDataset", ProjectID: "p-2", EnterpriseProjectID: "ep-2", Keys: k},
		{Action: "obs:object:GetObject", Resource: "obs:cn-north-4:d-1:object:bucket-9/images/0001.jpg", Keys: k},
		{Action: "obs:object:DeleteObject", Resource: "obs:cn-north-4:d-1:object:bucket-3/keep/a", Keys: k},
		{Action: "modelarts:trainJob:create", ProjectID: "p-3", Keys: &carol},
		{Action: "ecs:server:getServer", ProjectID: "p-1", Keys: k},
		{Action: "MODELARTS:DATASET:LISTDATASETS", ProjectID: "p-1", Keys: k},
	}
}

func BenchmarkDecide(b *testing.B) {
	s := benchSet()
	reqs := benchRequests()
	names := []string{"allow-first", "deny-conditions", "obs-object-last-grant", "obs-deny-resource", "implicit-deny", "other-service-wildcard", "upper-case-action"}
	for i := range reqs {
		r := &reqs[i]
		b.Run(names[i], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Decide(r)
			}
		})
	}
	b.Run("mixed", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			s.Decide(&reqs[n%len(reqs)])
			n++
		}
	})
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		benchSet()
	}
}

func BenchmarkParse(b *testing.B) {
	raw := []byte(corpus[len(corpus)-1].json)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw, testReg); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDecideDoesNotAllocate(t *testing.T) {
	s := benchSet()
	reqs := benchRequests()
	want := []bool{true, false, true, false, false, true, true}
	for i := range reqs {
		if got := s.Decide(&reqs[i]).Allowed; got != want[i] {
			t.Fatalf("benchmark request %d (%s): allowed = %v, want %v", i, reqs[i].Action, got, want[i])
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		for i := range reqs {
			s.Decide(&reqs[i])
		}
	})
	if allocs != 0 {
		t.Errorf("Decide allocates %.1f times per round of %d requests, want 0", allocs, len(reqs))
	}
}
