package policy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ActionRegistry says which actions exist, in the form
// "service:resourceType:operation". Policies may only name registered
// actions, and a pattern with wildcards must match at least one registered
// action. Registered names are compared case-insensitively.
type ActionRegistry interface {
	IsRegistered(action string) bool
	Actions() []string
}

const maxActionLen = 128

// actionPattern is a compiled Action entry: three segments, each lower-cased,
// matched case-insensitively; '*' and '?' never match across ':'.
type actionPattern struct {
	seg [3]segment
}

// splitAction splits a request action into its three segments. A request
// action without exactly three non-empty segments matches no pattern.
func splitAction(a string) (parts [3]string, ok bool) {
	i := strings.IndexByte(a, ':')
	if i <= 0 {
		return parts, false
	}
	rest := a[i+1:]
	j := strings.IndexByte(rest, ':')
	if j <= 0 || j == len(rest)-1 || strings.IndexByte(rest[j+1:], ':') >= 0 {
		return parts, false
	}
	return [3]string{a[:i], rest[:j], rest[j+1:]}, true
}

// checkActionSyntax validates one Action entry without consulting a
// registry.
func checkActionSyntax(s string) *problem {
	if n := utf8.RuneCountInString(s); n > maxActionLen {
		return &problem{codeActionLength, fmt.Sprintf("action is %d characters long, the limit is %d", n, maxActionLen)}
	}
	bad := func(why string) *problem {
		return &problem{codeActionFormat, fmt.Sprintf("action %q %s; write service:resourceType:operation, for example modelarts:trainJob:get", s, why)}
	}
	if s == "" {
		return bad("is empty")
	}
	if strings.Count(s, ":") != 2 {
		return bad("does not have three parts separated by ':'")
	}
	for _, part := range strings.Split(s, ":") {
		if part == "" {
			return bad("has an empty part")
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == ':' || c == '*' || c == '?' || c == '_' || c == '-' || c == '.' ||
			'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return bad(fmt.Sprintf("contains the character %q", c))
		}
	}
	return nil
}

func compileAction(s string) (actionPattern, *problem) {
	if p := checkActionSyntax(s); p != nil {
		return actionPattern{}, p
	}
	parts, _ := splitAction(s)
	var ap actionPattern
	for i, part := range parts {
		ap.seg[i] = compileSegment(part, true, true)
	}
	return ap, nil
}

func (ap *actionPattern) hasWildcard() bool {
	return ap.seg[0].kind != segLit || ap.seg[1].kind != segLit || ap.seg[2].kind != segLit
}

func (ap *actionPattern) match(parts *[3]string) bool {
	return ap.seg[0].match(parts[0]) && ap.seg[1].match(parts[1]) && ap.seg[2].match(parts[2])
}

// matchString matches a whole action string (used at Parse time against the
// registry).
func (ap *actionPattern) matchString(a string) bool {
	parts, ok := splitAction(a)
	return ok && ap.match(&parts)
}

// registryView answers registration questions for one Parse call, reading
// the registry's list at most once.
type registryView struct {
	reg    ActionRegistry
	list   []string
	loaded bool
}

func (r *registryView) actions() []string {
	if !r.loaded {
		r.loaded = true
		if r.reg != nil {
			r.list = r.reg.Actions()
		}
	}
	return r.list
}

func (r *registryView) check(s string, ap *actionPattern) *problem {
	if !ap.hasWildcard() {
		if r.reg != nil && r.reg.IsRegistered(s) {
			return nil
		}
		for _, a := range r.actions() {
			if strings.EqualFold(a, s) {
				return nil
			}
		}
		return &problem{codeActionUnknown, fmt.Sprintf("action %q is not registered", s)}
	}
	for _, a := range r.actions() {
		if ap.matchString(a) {
			return nil
		}
	}
	return &problem{codeActionUnknown, fmt.Sprintf("action pattern %q matches no registered action", s)}
}
