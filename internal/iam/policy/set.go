package policy

import (
	"slices"
	"time"
)

// ScopeKind is the kind of scope a policy is granted at. The zero value is
// not a valid kind: a grant with it applies nowhere.
type ScopeKind uint8

const (
	// ScopeAccount covers every request of the account: global services
	// and all projects.
	ScopeAccount ScopeKind = iota + 1
	// ScopeProject covers requests that target one IAM project.
	ScopeProject
	// ScopeEnterpriseProject covers requests whose target resource (or
	// workspace) belongs to one enterprise project.
	ScopeEnterpriseProject
)

func (k ScopeKind) String() string {
	switch k {
	case ScopeAccount:
		return "account"
	case ScopeProject:
		return "project"
	case ScopeEnterpriseProject:
		return "enterprise project"
	default:
		return "invalid scope"
	}
}

// Scope is where a grant applies. ID is the project or enterprise project ID;
// it is ignored for ScopeAccount.
type Scope struct {
	Kind ScopeKind
	ID   string
}

// Grant binds a policy to the caller at a scope. PolicyID and PolicyName are
// reported back in decisions.
type Grant struct {
	PolicyID   string
	PolicyName string
	Document   *Document
	Scope      Scope
}

// Request is one question: may the caller perform Action on Resource in
// this context?
type Request struct {
	// Action is "service:resourceType:operation", e.g.
	// "modelarts:trainJob:get" or "obs:object:GetObject".
	Action string
	// Resource is "" for actions without resource paths (ModelArts, IAM);
	// for OBS "obs:<region>:<domain_id>:bucket:NAME" or
	// "obs:<region>:<domain_id>:object:NAME/KEY".
	Resource string
	// ProjectID is the project the request targets; "" for global services
	// (IAM, OBS).
	ProjectID string
	// EnterpriseProjectID is the enterprise project of the target resource
	// or workspace; "" when none.
	EnterpriseProjectID string
	// Keys are the condition key values; nil means no key is present.
	Keys *Keys
}

// Keys carries the condition key values of a request in fields rather than
// a map, so that evaluation does not allocate. An empty string or the zero
// time means the key is absent.
type Keys struct {
	UserName            string    // g:UserName
	UserID              string    // g:UserId
	DomainName          string    // g:DomainName
	DomainID            string    // g:DomainId
	ProjectName         string    // g:ProjectName
	ProjectID           string    // g:ProjectId
	EnterpriseProjectID string    // g:EnterpriseProjectId
	SourceIP            string    // g:SourceIp
	CurrentTime         time.Time // g:CurrentTime
	// Extra holds every other key (g:MFAPresent, g:MFAAge, g:ServiceName,
	// g:TagKeys, g:ResourceTag/<k>, g:RequestTag/<k>,
	// modelarts:poolType); names are compared case-insensitively, and
	// lower-case names are found fastest. A key with no values is absent.
	// Keys that have a field above are read from the field only.
	Extra map[string][]string
}

func (k *Keys) field(id keyID) string {
	switch id {
	case keyUserName:
		return k.UserName
	case keyUserID:
		return k.UserID
	case keyDomainName:
		return k.DomainName
	case keyDomainID:
		return k.DomainID
	case keyProjectName:
		return k.ProjectName
	case keyProjectID:
		return k.ProjectID
	case keyEnterpriseProjectID:
		return k.EnterpriseProjectID
	case keySourceIP:
		return k.SourceIP
	}
	return ""
}

// Decision is the answer to a Request.
type Decision struct {
	Allowed bool
	// Effect is the effect of the deciding statement; meaningless when
	// Matched is false.
	Effect Effect
	// Matched is false for an implicit deny: no statement matched.
	Matched bool
	// PolicyID and PolicyName identify the grant's policy that decided:
	// the Deny, or the first Allow found.
	PolicyID, PolicyName string
	// Statement is the index of the deciding statement in that policy.
	Statement int
}

// Set is the compiled form of all grants of one user. Build it once with
// Compile, cache it, and call Decide from any number of goroutines: a Set is
// never modified after Compile.
type Set struct {
	// byType holds, for each lower-case "service:resourceType" pair that
	// some pattern names without wildcards, every statement entry that can
	// match an action of that pair. other holds the entries with a
	// wildcard in the service or resource type, for the pairs not in
	// byType.
	byType map[string]*bucket
	other  bucket
	// enterpriseProjects are the IDs of the enterprise projects the
	// grants are scoped to, in grant order without repeats.
	enterpriseProjects []string
}

// bucket holds the statements that can match one service, grouped by grant
// (in grant order) so that a grant whose scope does not cover the request is
// skipped with one comparison.
type bucket struct {
	groups []group
}

type group struct {
	scope       Scope
	grant       *Grant
	deny, allow []entry
}

// entry is one statement as seen from one service: only the statement's
// action patterns that can match that service are kept.
type entry struct {
	actions []actionPattern
	st      *compiledStatement
	// checkAll is set in the other bucket, where all three segments have
	// to be matched; in a byType bucket every kept pattern already matches
	// the service and resource type, and only the operation is compared.
	checkAll bool
}

type compiledStatement struct {
	grant       *Grant
	index       int
	effect      Effect
	actions     []actionPattern
	hasResource bool
	resources   []resourcePattern
	conds       []condition
}

// Compile compiles the grants of one user into a Set. Grants without a
// document, and grants whose scope is invalid or names no ID, are skipped.
//
// Compile expects documents from Parse. For documents built in code it does
// not fail: a statement without a valid effect is ignored; action and
// resource entries that Parse would reject are dropped (a statement left
// without actions matches nothing, one whose resources were all dropped
// matches no request); an invalid condition makes an Allow statement match
// nothing and is treated as satisfied in a Deny statement, so that a broken
// condition never widens what an Allow grants or narrows what a Deny denies.
func Compile(grants []Grant) *Set {
	s := &Set{byType: make(map[string]*bucket)}
	var stmts []*compiledStatement
	for gi := range grants {
		g := &grants[gi]
		if g.Document == nil || !scopeValid(g.Scope) {
			continue
		}
		grant := *g // the Set keeps its own copy of the IDs and scope
		if g.Scope.Kind == ScopeEnterpriseProject && !slices.Contains(s.enterpriseProjects, g.Scope.ID) {
			s.enterpriseProjects = append(s.enterpriseProjects, g.Scope.ID)
		}
		for si := range g.Document.Statements {
			if cs := compileStatement(&grant, si, &g.Document.Statements[si]); cs != nil {
				stmts = append(stmts, cs)
			}
		}
	}
	// Collect the service:resourceType pairs named without wildcards.
	type pair struct{ svc, typ string }
	var pairs []pair
	for _, cs := range stmts {
		for i := range cs.actions {
			ap := &cs.actions[i]
			if ap.seg[0].kind != segLit || ap.seg[1].kind != segLit {
				continue
			}
			key := ap.seg[0].lit + ":" + ap.seg[1].lit
			if _, ok := s.byType[key]; !ok {
				s.byType[key] = &bucket{}
				pairs = append(pairs, pair{ap.seg[0].lit, ap.seg[1].lit})
			}
		}
	}
	for _, cs := range stmts {
		for _, p := range pairs {
			var pats []actionPattern
			for i := range cs.actions {
				if cs.actions[i].seg[0].match(p.svc) && cs.actions[i].seg[1].match(p.typ) {
					pats = append(pats, cs.actions[i])
				}
			}
			s.byType[p.svc+":"+p.typ].add(cs, pats, false)
		}
		var wild []actionPattern
		for i := range cs.actions {
			if cs.actions[i].seg[0].kind != segLit || cs.actions[i].seg[1].kind != segLit {
				wild = append(wild, cs.actions[i])
			}
		}
		s.other.add(cs, wild, true)
	}
	return s
}

func (b *bucket) add(cs *compiledStatement, pats []actionPattern, checkAll bool) {
	if len(pats) == 0 {
		return
	}
	n := len(b.groups)
	if n == 0 || b.groups[n-1].grant != cs.grant {
		b.groups = append(b.groups, group{scope: cs.grant.Scope, grant: cs.grant})
		n++
	}
	g := &b.groups[n-1]
	e := entry{st: cs, actions: pats, checkAll: checkAll}
	if cs.effect == EffectDeny {
		g.deny = append(g.deny, e)
	} else {
		g.allow = append(g.allow, e)
	}
}

func scopeValid(sc Scope) bool {
	switch sc.Kind {
	case ScopeAccount:
		return true
	case ScopeProject, ScopeEnterpriseProject:
		return sc.ID != ""
	}
	return false
}

func compileStatement(g *Grant, index int, st *Statement) *compiledStatement {
	if st.Effect != EffectAllow && st.Effect != EffectDeny {
		return nil
	}
	cs := &compiledStatement{grant: g, index: index, effect: st.Effect}
	for _, a := range st.Actions {
		if ap, p := compileAction(a); p == nil {
			cs.actions = append(cs.actions, ap)
		}
	}
	if len(cs.actions) == 0 {
		return nil
	}
	if len(st.Resources) > 0 {
		cs.hasResource = true
		for _, r := range st.Resources {
			if rp, p := compileResource(r); p == nil {
				cs.resources = append(cs.resources, rp)
			}
		}
	}
	for i := range st.Conditions {
		c, p, _ := compileCondition(&st.Conditions[i])
		if p != nil {
			if st.Effect == EffectAllow {
				return nil
			}
			continue
		}
		cs.conds = append(cs.conds, c)
	}
	return cs
}

// Decide answers one request: an applicable Deny denies, else an applicable
// Allow allows, else the request is implicitly denied. A statement applies
// when its grant's scope covers the request, one of its actions matches
// Action, its resources (if any) match Resource, and all its conditions hold.
// Decide does not allocate.
func (s *Set) Decide(req *Request) Decision {
	if s == nil || req == nil {
		return Decision{}
	}
	parts, ok := splitAction(req.Action)
	if !ok {
		return Decision{}
	}
	b := s.lookup(req.Action[:len(parts[0])+1+len(parts[1])])
	var res [5]string
	hasRes := false
	x := evalCtx{keys: req.Keys}
	if req.Resource != "" {
		res, hasRes = splitResource(req.Resource)
	}
	for gi := range b.groups {
		g := &b.groups[gi]
		if len(g.deny) == 0 || !covers(&g.scope, req) {
			continue
		}
		for i := range g.deny {
			if e := &g.deny[i]; e.applies(&x, &parts, &res, hasRes) {
				return decided(e.st)
			}
		}
	}
	for gi := range b.groups {
		g := &b.groups[gi]
		if len(g.allow) == 0 || !covers(&g.scope, req) {
			continue
		}
		for i := range g.allow {
			if e := &g.allow[i]; e.applies(&x, &parts, &res, hasRes) {
				return decided(e.st)
			}
		}
	}
	return Decision{}
}

// MayAllow reports whether the request would be allowed for some resource
// of its project: in the project as a whole, or in one of the enterprise
// projects the grants are scoped to, whichever the request names. It
// answers "could this caller perform the action on anything of that kind?"
// before the target is known, so that a caller who could not learns
// nothing about whether a given resource exists.
func (s *Set) MayAllow(req *Request) bool {
	if s == nil || req == nil {
		return false
	}
	trial := *req
	trial.EnterpriseProjectID = ""
	if s.Decide(&trial).Allowed {
		return true
	}
	var keys Keys
	if req.Keys != nil {
		keys = *req.Keys
	}
	for _, ep := range s.enterpriseProjects {
		trial.EnterpriseProjectID = ep
		keys.EnterpriseProjectID = ep
		if req.Keys != nil {
			trial.Keys = &keys
		}
		if s.Decide(&trial).Allowed {
			return true
		}
	}
	return false
}

func covers(sc *Scope, req *Request) bool {
	switch sc.Kind {
	case ScopeAccount:
		return true
	case ScopeProject:
		return req.ProjectID != "" && sc.ID == req.ProjectID
	case ScopeEnterpriseProject:
		return req.EnterpriseProjectID != "" && sc.ID == req.EnterpriseProjectID
	}
	return false
}

func decided(cs *compiledStatement) Decision {
	return Decision{
		Allowed:    cs.effect == EffectAllow,
		Effect:     cs.effect,
		Matched:    true,
		PolicyID:   cs.grant.PolicyID,
		PolicyName: cs.grant.PolicyName,
		Statement:  cs.index,
	}
}

// lookup finds the bucket for a request's "service:resourceType" without
// allocating.
func (s *Set) lookup(key string) *bucket {
	lower := true
	for i := 0; i < len(key); i++ {
		if 'A' <= key[i] && key[i] <= 'Z' {
			lower = false
			break
		}
	}
	if lower {
		if b, ok := s.byType[key]; ok {
			return b
		}
		return &s.other
	}
	var buf [maxActionLen]byte
	if len(key) > len(buf) {
		return &s.other
	}
	for i := 0; i < len(key); i++ {
		buf[i] = lowerASCII(key[i])
	}
	if b, ok := s.byType[string(buf[:len(key)])]; ok {
		return b
	}
	return &s.other
}

func (e *entry) applies(x *evalCtx, parts *[3]string, res *[5]string, hasRes bool) bool {
	st := e.st
	matched := false
	for i := range e.actions {
		ap := &e.actions[i]
		if ap.seg[2].match(parts[2]) && (!e.checkAll || ap.seg[1].match(parts[1]) && ap.seg[0].match(parts[0])) {
			matched = true
			break
		}
	}
	if !matched {
		return false
	}
	if st.hasResource {
		if !hasRes {
			return false
		}
		matched = false
		for i := range st.resources {
			if st.resources[i].match(res) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	for i := range st.conds {
		if !st.conds[i].eval(x) {
			return false
		}
	}
	return true
}

// Covers reports whether a grant at scope s takes part in deciding req: an
// account grant always, a project grant for requests on that project, an
// enterprise-project grant for resources in that enterprise project.
func (s Scope) Covers(req *Request) bool { return covers(&s, req) }
