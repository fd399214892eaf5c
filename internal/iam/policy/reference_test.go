package policy

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// referenceDecide is the evaluation rule written as plainly as possible: scan
// every statement of every grant in order, no index.
func referenceDecide(grants []Grant, req *Request) Decision {
	parts, ok := splitAction(req.Action)
	if !ok {
		return Decision{}
	}
	res, hasRes := splitResource(req.Resource)
	if req.Resource == "" {
		hasRes = false
	}
	x := &evalCtx{keys: req.Keys}
	applies := func(g *Grant, cs *compiledStatement) bool {
		if !scopeValid(g.Scope) || !covers(&g.Scope, req) {
			return false
		}
		matched := false
		for i := range cs.actions {
			if cs.actions[i].match(&parts) {
				matched = true
			}
		}
		if !matched {
			return false
		}
		if cs.hasResource {
			matched = false
			for i := range cs.resources {
				if hasRes && cs.resources[i].match(&res) {
					matched = true
				}
			}
			if !matched {
				return false
			}
		}
		for i := range cs.conds {
			if !cs.conds[i].eval(x) {
				return false
			}
		}
		return true
	}
	for _, want := range []Effect{EffectDeny, EffectAllow} {
		for gi := range grants {
			g := &grants[gi]
			for si := range g.Document.Statements {
				cs := compileStatement(g, si, &g.Document.Statements[si])
				if cs != nil && cs.effect == want && applies(g, cs) {
					return decided(cs)
				}
			}
		}
	}
	return Decision{}
}

// TestDecideMatchesReference compares the indexed Decide with
// referenceDecide on random grant sets.
func TestDecideMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	actions := []string{"modelarts:trainJob:get", "modelarts:trainJob:delete", "modelarts:*:*", "modelarts:*:delete*",
		"modelarts:dataset:get*", "modelarts:train*:*", "*:*:*", "*:object:*", "obs:object:GetObject", "obs:*:Put*",
		"obs:bucket:ListBucket", "iam:users:*", "*:users:list*", "m*:dataset:*", "OBS:OBJECT:getobject", "modelarts:trainJob:?et"}
	resources := []string{"obs:*:*:object:data/*", "obs:*:*:bucket:data", "OBS:*:*:object:*", "obs:cn-*:*:object:data/out/*"}
	conditions := []Condition{
		{Operator: "StringEquals", Key: "g:UserName", Values: []string{"alice"}},
		{Operator: "NotIpAddress", Key: "g:SourceIp", Values: []string{"10.0.0.0/8"}},
		{Operator: "ForAnyValue:StringEquals", Key: "g:TagKeys", Values: []string{"team"}},
		{Operator: "StringNotEqualsIfExists", Key: "g:ResourceTag/env", Values: []string{"prod"}},
	}
	scopes := []Scope{{Kind: ScopeAccount}, {Kind: ScopeProject, ID: "p-1"}, {Kind: ScopeProject, ID: "p-2"},
		{Kind: ScopeEnterpriseProject, ID: "ep-1"}, {}}
	pick := func(n int) int { return rng.IntN(n) }
	requests := []Request{}
	for _, a := range append(testReg.Actions(), "ecs:server:getServer", "MODELARTS:TRAINJOB:GET", "obs:object:putObject") {
		for _, r := range []string{"", "obs:cn-north-4:d:object:data/out/1", "obs:ap-1:d:bucket:data", "obs:r:d:object:other/1"} {
			for _, p := range []string{"", "p-1", "p-2"} {
				for _, k := range []*Keys{nil, testKeys(), {UserName: "bob", SourceIP: "192.168.1.1"}} {
					requests = append(requests, Request{Action: a, Resource: r, ProjectID: p, EnterpriseProjectID: "ep-1", Keys: k})
				}
			}
		}
	}
	for round := 0; round < 40; round++ {
		grants := make([]Grant, 1+pick(6))
		for gi := range grants {
			doc := &Document{Version: "1.1"}
			for n := 1 + pick(6); n > 0; n-- {
				st := Statement{Effect: EffectAllow}
				if pick(3) == 0 {
					st.Effect = EffectDeny
				}
				for n := 1 + pick(3); n > 0; n-- {
					st.Actions = append(st.Actions, actions[pick(len(actions))])
				}
				if pick(3) == 0 {
					st.Resources = append(st.Resources, resources[pick(len(resources))])
				}
				if pick(3) == 0 {
					st.Conditions = append(st.Conditions, conditions[pick(len(conditions))])
				}
				doc.Statements = append(doc.Statements, st)
			}
			grants[gi] = Grant{PolicyID: fmt.Sprintf("g%d", gi), Document: doc, Scope: scopes[pick(len(scopes))]}
		}
		s := Compile(grants)
		for i := range requests {
			r := &requests[i]
			if got, want := s.Decide(r), referenceDecide(grants, r); got != want {
				t.Fatalf("round %d, request %+v:\n Decide    %+v\n reference %+v\ngrants: %+v", round, *r, got, want, grants)
			}
		}
	}
}
