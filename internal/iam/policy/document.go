package policy

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/atelier-dev/atelier/internal/jsonout"
)

// Effect is the effect of a statement. The zero value is not a valid effect.
type Effect uint8

const (
	EffectAllow Effect = iota + 1
	EffectDeny
)

func (e Effect) String() string {
	switch e {
	case EffectAllow:
		return "Allow"
	case EffectDeny:
		return "Deny"
	default:
		return fmt.Sprintf("Effect(%d)", uint8(e))
	}
}

// policyVersion is the only policy language version accepted for custom policies.
const policyVersion = "1.1"

// Limits of a policy document (Huawei IAM's).
const (
	maxPolicyChars  = 6144
	maxStatements   = 8
	maxActions      = 100
	maxResources    = 20
	maxRawPolicyLen = 64 << 10 // bytes of input, whitespace included
)

// Document is a validated policy. Documents returned by Parse are valid;
// Compile also accepts documents built in code (see Compile).
type Document struct {
	Version    string
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Effect Effect
	// Actions are the Action entries as written
	// ("modelarts:trainJob:*").
	Actions []string
	// Resources are the Resource entries as written. Empty means the
	// statement has no Resource element and applies to every resource,
	// including requests without one.
	Resources []string
	// Conditions are ANDed; nil means no Condition element.
	Conditions []Condition
}

// Parse decodes and validates a policy document with IAM's limits and
// returns it. On invalid input the error is an *Error. Actions are checked
// against reg; a nil reg registers nothing, so every action is rejected.
// Parse never panics.
func Parse(raw []byte, reg ActionRegistry) (*Document, error) {
	d, e := parse(raw, reg)
	if e != nil {
		return nil, e
	}
	return d, nil
}

func parse(raw []byte, reg ActionRegistry) (*Document, *Error) {
	if len(raw) > maxRawPolicyLen {
		return nil, &Error{Code: codeTooLong, Message: fmt.Sprintf("policy: %d bytes of input; a policy is at most %d characters", len(raw), maxPolicyChars)}
	}
	root, e := decodeTree(raw)
	if e != nil {
		return nil, e
	}
	p := parser{reg: registryView{reg: reg}}
	d, e := p.document(root)
	if e != nil {
		return nil, e
	}
	// The limit is measured on the canonical form (what MarshalJSON
	// writes), so that every accepted document round-trips.
	out, err := d.MarshalJSON()
	if err != nil {
		return nil, &Error{Code: codeMalformed, Message: "policy: " + err.Error()}
	}
	if n := utf8.RuneCount(out); n > maxPolicyChars {
		return nil, &Error{Code: codeTooLong, Message: fmt.Sprintf("policy: %d characters without whitespace; the limit is %d", n, maxPolicyChars)}
	}
	return d, nil
}

type parser struct {
	reg registryView
}

func wrongType(loc, want string, n *jsonNode) *Error {
	return &Error{Code: codeWrongType, Message: fmt.Sprintf("%s: must be %s, not %s", loc, want, n.kind)}
}

func missing(loc string) *Error {
	return &Error{Code: codeMissing, Message: loc + ": required field is missing"}
}

// unsupported gives specific advice for fields of other policy grammars.
var unsupported = map[string]string{
	"NotAction":    "NotAction is not supported; list the actions in Action",
	"NotResource":  "NotResource is not supported; list the resources in Resource",
	"Principal":    "Principal is not supported: a policy applies to whoever it is granted to",
	"NotPrincipal": "NotPrincipal is not supported: a policy applies to whoever it is granted to",
}

func checkFields(loc string, n *jsonNode, known ...string) *Error {
	for _, k := range n.keys {
		ok := false
		for _, want := range known {
			if k == want {
				ok = true
				break
			}
		}
		if ok {
			continue
		}
		if msg, found := unsupported[k]; found {
			return &Error{Code: codeUnknown, Message: fmt.Sprintf("%s: %s", loc, msg)}
		}
		for _, want := range known {
			if strings.EqualFold(k, want) {
				return &Error{Code: codeUnknown, Message: fmt.Sprintf("%s: unknown field %q (field names are case-sensitive: write %q)", loc, k, want)}
			}
		}
		return &Error{Code: codeUnknown, Message: fmt.Sprintf("%s: unknown field %q; allowed are %s", loc, k, strings.Join(known, ", "))}
	}
	return nil
}

func (p *parser) document(n *jsonNode) (*Document, *Error) {
	if n.kind != jsonObject {
		return nil, wrongType("policy", "a JSON object", n)
	}
	if e := checkFields("policy", n, "Version", "Statement"); e != nil {
		return nil, e
	}
	v := n.get("Version")
	switch {
	case v == nil:
		return nil, missing("Version")
	case v.kind != jsonString:
		return nil, wrongType("Version", `the string "1.1"`, v)
	case v.text == "1.0":
		return nil, &Error{Code: codeVersion, Message: `Version: "1.0" denotes a role; custom policies use "1.1"`}
	case v.text != policyVersion:
		return nil, &Error{Code: codeVersion, Message: fmt.Sprintf("Version: %q is not supported; custom policies use %q", v.text, policyVersion)}
	}
	s := n.get("Statement")
	var stmts []*jsonNode
	switch {
	case s == nil:
		return nil, missing("Statement")
	case s.kind == jsonArray:
		stmts = s.vals
	case s.kind == jsonObject:
		stmts = []*jsonNode{s}
	default:
		return nil, wrongType("Statement", "an array of statements", s)
	}
	if len(stmts) == 0 || len(stmts) > maxStatements {
		return nil, &Error{Code: codeStatementCount, Message: fmt.Sprintf("Statement: has %d statements; a policy has 1–%d", len(stmts), maxStatements)}
	}
	d := &Document{Version: v.text, Statements: make([]Statement, len(stmts))}
	for i, sn := range stmts {
		if e := p.statement(fmt.Sprintf("Statement[%d]", i), sn, &d.Statements[i]); e != nil {
			return nil, e
		}
	}
	return d, nil
}

// stringList reads a string or an array of strings.
func stringList(loc string, n *jsonNode) ([]string, *Error) {
	switch n.kind {
	case jsonString:
		return []string{n.text}, nil
	case jsonArray:
		out := make([]string, len(n.vals))
		for i, v := range n.vals {
			if v.kind != jsonString {
				return nil, wrongType(fmt.Sprintf("%s[%d]", loc, i), "a string", v)
			}
			out[i] = v.text
		}
		return out, nil
	default:
		return nil, wrongType(loc, "an array of strings", n)
	}
}

func (p *parser) statement(loc string, n *jsonNode, st *Statement) *Error {
	if n.kind != jsonObject {
		return wrongType(loc, "a JSON object", n)
	}
	if e := checkFields(loc, n, "Effect", "Action", "Resource", "Condition"); e != nil {
		return e
	}
	eff := n.get("Effect")
	switch {
	case eff == nil:
		return missing(loc + ".Effect")
	case eff.kind != jsonString:
		return wrongType(loc+".Effect", `"Allow" or "Deny"`, eff)
	case strings.EqualFold(eff.text, "Allow"):
		st.Effect = EffectAllow
	case strings.EqualFold(eff.text, "Deny"):
		st.Effect = EffectDeny
	default:
		return &Error{Code: codeEffect, Message: fmt.Sprintf("%s.Effect: %q is neither Allow nor Deny", loc, eff.text)}
	}

	act := n.get("Action")
	if act == nil {
		return missing(loc + ".Action")
	}
	actions, e := stringList(loc+".Action", act)
	if e != nil {
		return e
	}
	if len(actions) == 0 || len(actions) > maxActions {
		return &Error{Code: codeActionCount, Message: fmt.Sprintf("%s.Action: has %d actions; a statement has 1–%d", loc, len(actions), maxActions)}
	}
	for i, a := range actions {
		aloc := fmt.Sprintf("%s.Action[%d]", loc, i)
		ap, pr := compileAction(a)
		if pr != nil {
			return pr.at(aloc)
		}
		if pr := p.reg.check(a, &ap); pr != nil {
			return pr.at(aloc)
		}
	}
	st.Actions = actions

	if res := n.get("Resource"); res != nil {
		resources, e := stringList(loc+".Resource", res)
		if e != nil {
			return e
		}
		if len(resources) == 0 || len(resources) > maxResources {
			return &Error{Code: codeResourceCount, Message: fmt.Sprintf("%s.Resource: has %d resources; a statement has 1–%d", loc, len(resources), maxResources)}
		}
		for i, r := range resources {
			if _, pr := compileResource(r); pr != nil {
				return pr.at(fmt.Sprintf("%s.Resource[%d]", loc, i))
			}
		}
		st.Resources = resources
	}

	if cond := n.get("Condition"); cond != nil {
		conds, e := conditions(loc+".Condition", cond)
		if e != nil {
			return e
		}
		st.Conditions = conds
	}
	return nil
}

func conditions(loc string, n *jsonNode) ([]Condition, *Error) {
	if n.kind != jsonObject {
		return nil, wrongType(loc, "a JSON object of operators", n)
	}
	if len(n.keys) == 0 {
		return nil, &Error{Code: codeConditionCount, Message: fmt.Sprintf("%s: is empty; omit Condition or give 1–%d conditions", loc, maxConditions)}
	}
	var out []Condition
	seen := make([]string, 0, len(n.keys))
	for i, opName := range n.keys {
		oloc := loc + "." + opName
		op, pr := parseOperator(opName)
		if pr != nil {
			return nil, pr.at(oloc)
		}
		for _, s := range seen {
			if s == op.canonical {
				return nil, &Error{Code: codeOperator, Message: fmt.Sprintf("%s: operator %s appears twice (names are case-insensitive); merge the two", oloc, op.canonical)}
			}
		}
		seen = append(seen, op.canonical)
		keys := n.vals[i]
		if keys.kind != jsonObject {
			return nil, wrongType(oloc, "a JSON object of condition keys", keys)
		}
		if len(keys.keys) == 0 {
			return nil, &Error{Code: codeConditionCount, Message: oloc + ": names no condition key"}
		}
		for j, key := range keys.keys {
			kloc := oloc + "." + key
			if len(out) == maxConditions {
				return nil, &Error{Code: codeConditionCount, Message: fmt.Sprintf("%s: more than %d conditions in one statement", kloc, maxConditions)}
			}
			values, e := conditionValues(kloc, keys.vals[j])
			if e != nil {
				return nil, e
			}
			c := Condition{Operator: op.canonical, Key: key, Values: values}
			if _, pr, vi := compileCondition(&c); pr != nil {
				if vi >= 0 {
					return nil, pr.at(fmt.Sprintf("%s[%d]", kloc, vi))
				}
				return nil, pr.at(kloc)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// conditionValues reads a value or an array of values; JSON numbers and
// booleans are kept as their literal text.
func conditionValues(loc string, n *jsonNode) ([]string, *Error) {
	scalar := func(v *jsonNode) bool {
		return v.kind == jsonString || v.kind == jsonNumber || v.kind == jsonBool
	}
	if scalar(n) {
		return []string{n.text}, nil
	}
	if n.kind != jsonArray {
		return nil, wrongType(loc, "a string or an array of strings", n)
	}
	if len(n.vals) == 0 {
		return nil, &Error{Code: codeConditionNoValue, Message: loc + ": lists no values"}
	}
	out := make([]string, len(n.vals))
	for i, v := range n.vals {
		if !scalar(v) {
			return nil, wrongType(fmt.Sprintf("%s[%d]", loc, i), "a string", v)
		}
		out[i] = v.text
	}
	return out, nil
}

// MarshalJSON writes the document in canonical form: compact, fields in the
// order Version, Statement, Effect, Action, Resource, Condition; Effect as
// "Allow" or "Deny"; every list as an array; conditions grouped by operator
// in order of first appearance. Parse accepts the result and it means the
// same.
func (d Document) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, `{"Version":`...)
	b = jsonout.String(b, d.Version)
	b = append(b, `,"Statement":[`...)
	for i := range d.Statements {
		st := &d.Statements[i]
		if st.Effect != EffectAllow && st.Effect != EffectDeny {
			return nil, errors.New("statement " + fmt.Sprint(i) + " has no valid effect")
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Effect":`...)
		b = jsonout.String(b, st.Effect.String())
		b = append(b, `,"Action":`...)
		b = appendStringArray(b, st.Actions)
		if len(st.Resources) > 0 {
			b = append(b, `,"Resource":`...)
			b = appendStringArray(b, st.Resources)
		}
		if len(st.Conditions) > 0 {
			b = append(b, `,"Condition":{`...)
			done := make([]bool, len(st.Conditions))
			for j := range st.Conditions {
				if done[j] {
					continue
				}
				op := st.Conditions[j].Operator
				if j > 0 {
					b = append(b, ',')
				}
				b = jsonout.String(b, op)
				b = append(b, ":{"...)
				first := true
				for k := j; k < len(st.Conditions); k++ {
					c := &st.Conditions[k]
					if done[k] || c.Operator != op {
						continue
					}
					done[k] = true
					if !first {
						b = append(b, ',')
					}
					first = false
					b = jsonout.String(b, c.Key)
					b = append(b, ':')
					b = appendStringArray(b, c.Values)
				}
				b = append(b, '}')
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	return b, nil
}

func appendStringArray(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonout.String(b, s)
	}
	return append(b, ']')
}
