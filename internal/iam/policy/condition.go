package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// Condition is one condition of a statement: an operator applied to one key
// with one or more values. In the JSON document it is written
// {"Operator": {"Key": ["value", ...]}}.
type Condition struct {
	// Operator is the canonical operator name, with its optional set
	// qualifier and IfExists suffix: "StringEquals",
	// "ForAnyValue:StringLikeIfExists".
	Operator string
	// Key is the condition key as written in the policy, e.g. "g:UserName";
	// key names are compared case-insensitively.
	Key string
	// Values are the policy values as strings (JSON numbers and booleans are
	// kept as their literal text).
	Values []string
}

const (
	maxConditions     = 10
	maxConditionValue = 1024
)

type baseOp uint8

const (
	opStringEquals baseOp = iota + 1
	opStringEqualsIgnoreCase
	opStringLike // also StringMatch
	opStringStartWith
	opStringEndWith
	opNumberEquals
	opNumberLessThan
	opNumberLessThanEquals
	opNumberGreaterThan
	opNumberGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opIPAddress
	opNull
)

type opInfo struct {
	name   string
	base   baseOp
	negate bool
}

// operators lists every base operator name the grammar accepts.
var operators = []opInfo{
	{"StringEquals", opStringEquals, false},
	{"StringNotEquals", opStringEquals, true},
	{"StringEqualsIgnoreCase", opStringEqualsIgnoreCase, false},
	{"StringNotEqualsIgnoreCase", opStringEqualsIgnoreCase, true},
	{"StringLike", opStringLike, false},
	{"StringNotLike", opStringLike, true},
	{"StringMatch", opStringLike, false},
	{"StringNotMatch", opStringLike, true},
	{"StringStartWith", opStringStartWith, false},
	{"StringNotStartWith", opStringStartWith, true},
	{"StringEndWith", opStringEndWith, false},
	{"StringNotEndWith", opStringEndWith, true},
	{"NumberEquals", opNumberEquals, false},
	{"NumberNotEquals", opNumberEquals, true},
	{"NumberLessThan", opNumberLessThan, false},
	{"NumberLessThanEquals", opNumberLessThanEquals, false},
	{"NumberGreaterThan", opNumberGreaterThan, false},
	{"NumberGreaterThanEquals", opNumberGreaterThanEquals, false},
	{"DateEquals", opDateEquals, false},
	{"DateNotEquals", opDateEquals, true},
	{"DateLessThan", opDateLessThan, false},
	{"DateLessThanEquals", opDateLessThanEquals, false},
	{"DateGreaterThan", opDateGreaterThan, false},
	{"DateGreaterThanEquals", opDateGreaterThanEquals, false},
	{"Bool", opBool, false},
	{"IpAddress", opIPAddress, false},
	{"NotIpAddress", opIPAddress, true},
	{"Null", opNull, false},
}

const (
	setNone uint8 = iota
	setAnyValue
	setAllValues
)

const (
	prefixAnyValue  = "ForAnyValue:"
	prefixAllValues = "ForAllValues:"
	suffixIfExists  = "IfExists"
)

type parsedOp struct {
	opInfo
	set       uint8
	ifExists  bool
	canonical string
}

// parseOperator reads an operator name, case-insensitively, and returns its
// canonical spelling.
func parseOperator(name string) (parsedOp, *problem) {
	var op parsedOp
	rest := name
	prefix := ""
	switch {
	case hasPrefixFold(rest, prefixAnyValue):
		op.set, prefix, rest = setAnyValue, prefixAnyValue, rest[len(prefixAnyValue):]
	case hasPrefixFold(rest, prefixAllValues):
		op.set, prefix, rest = setAllValues, prefixAllValues, rest[len(prefixAllValues):]
	}
	suffix := ""
	if len(rest) > len(suffixIfExists) && strings.EqualFold(rest[len(rest)-len(suffixIfExists):], suffixIfExists) {
		op.ifExists, suffix, rest = true, suffixIfExists, rest[:len(rest)-len(suffixIfExists)]
	}
	found := false
	for _, info := range operators {
		if strings.EqualFold(info.name, rest) {
			op.opInfo, found = info, true
			break
		}
	}
	if !found {
		return op, &problem{codeOperator, fmt.Sprintf("unknown condition operator %q", name)}
	}
	if op.base == opNull && (op.set != setNone || op.ifExists) {
		return op, &problem{codeOperator, fmt.Sprintf("operator %q: Null takes neither a ForAnyValue:/ForAllValues: qualifier nor the IfExists suffix", name)}
	}
	op.canonical = prefix + op.name + suffix
	return op, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// keyID says where Decide finds a key's value.
type keyID uint8

const (
	keyExtra keyID = iota // looked up in Keys.Extra by name
	keyUserName
	keyUserID
	keyDomainName
	keyDomainID
	keyProjectName
	keyProjectID
	keyEnterpriseProjectID
	keySourceIP
	keyCurrentTime
)

// conditionKeys lists the condition keys the grammar accepts (besides the
// tag-key families below). Names are compared case-insensitively.
var conditionKeys = []struct {
	name string
	id   keyID
}{
	{"g:UserName", keyUserName},
	{"g:UserId", keyUserID},
	{"g:DomainName", keyDomainName},
	{"g:DomainId", keyDomainID},
	{"g:ProjectName", keyProjectName},
	{"g:ProjectId", keyProjectID},
	{"g:EnterpriseProjectId", keyEnterpriseProjectID},
	{"g:SourceIp", keySourceIP},
	{"g:CurrentTime", keyCurrentTime},
	{"g:MFAPresent", keyExtra},
	{"g:MFAAge", keyExtra},
	{"g:ServiceName", keyExtra},
	{"g:TagKeys", keyExtra},
	{"modelarts:poolType", keyExtra},
}

// Tag-key families: the prefix followed by a tag key of 1–128 characters.
var conditionKeyFamilies = []string{"g:ResourceTag/", "g:RequestTag/"}

const maxTagKeyLen = 128

func lookupKey(name string) (keyID, *problem) {
	for _, k := range conditionKeys {
		if strings.EqualFold(k.name, name) {
			return k.id, nil
		}
	}
	for _, fam := range conditionKeyFamilies {
		if hasPrefixFold(name, fam) {
			tag := name[len(fam):]
			n := utf8.RuneCountInString(tag)
			if n == 0 || n > maxTagKeyLen {
				return 0, &problem{codeUnknown, fmt.Sprintf("condition key %q: the tag key after %q must be 1–%d characters", name, fam, maxTagKeyLen)}
			}
			for _, r := range tag {
				if r < 0x20 || r == 0x7f {
					return 0, &problem{codeUnknown, fmt.Sprintf("condition key %q contains a control character", name)}
				}
			}
			return keyExtra, nil
		}
	}
	return 0, &problem{codeUnknown, fmt.Sprintf("unknown condition key %q", name)}
}

// condition is a compiled Condition.
type condition struct {
	base     baseOp
	negate   bool
	ifExists bool
	set      uint8
	key      keyID
	name     string // key as written, for Keys.Extra
	lname    string // key lower-cased, for Keys.Extra
	strs     []string
	nums     []float64
	times    []time.Time
	nets     []netip.Prefix
	// Bool and Null: which request states the values accept.
	wantTrue, wantFalse bool
}

// compileCondition validates and compiles one condition. On failure it
// returns the problem and the index of the offending value, or -1 when the
// problem is not about one value.
func compileCondition(c *Condition) (condition, *problem, int) {
	op, p := parseOperator(c.Operator)
	if p != nil {
		return condition{}, p, -1
	}
	id, p := lookupKey(c.Key)
	if p != nil {
		return condition{}, p, -1
	}
	if id == keyCurrentTime && !isDateOp(op.base) && op.base != opNull {
		return condition{}, &problem{codeOperatorKey, fmt.Sprintf("g:CurrentTime is a date-time; use a Date operator or Null, not %s", op.canonical)}, -1
	}
	if len(c.Values) == 0 {
		return condition{}, &problem{codeConditionNoValue, "condition key lists no values"}, -1
	}
	cc := condition{
		base:     op.base,
		negate:   op.negate,
		ifExists: op.ifExists,
		set:      op.set,
		key:      id,
		name:     c.Key,
		lname:    strings.ToLower(c.Key),
	}
	for i, v := range c.Values {
		if p := checkValueText(v); p != nil {
			return condition{}, p, i
		}
		bad := func(what string) (condition, *problem, int) {
			return condition{}, &problem{codeValueFormat, fmt.Sprintf("%s needs %s, got %q", op.canonical, what, v)}, i
		}
		switch {
		case op.base == opNull || op.base == opBool:
			b, ok := parseBool(v)
			if !ok {
				return bad(`"true" or "false"`)
			}
			if b {
				cc.wantTrue = true
			} else {
				cc.wantFalse = true
			}
		case isNumberOp(op.base):
			f, ok := parseNumber(v)
			if !ok {
				return bad("a decimal number such as 42 or -0.5")
			}
			cc.nums = append(cc.nums, f)
		case isDateOp(op.base):
			t, ok := parseDate(v)
			if !ok {
				return bad("an ISO 8601 date or date-time such as 2024-05-01T00:00:00Z")
			}
			cc.times = append(cc.times, t)
		case op.base == opIPAddress:
			pfx, ok := parsePrefix(v)
			if !ok {
				return bad("an IPv4 or IPv6 address or CIDR block such as 10.0.0.0/8")
			}
			cc.nets = append(cc.nets, pfx)
		default:
			cc.strs = append(cc.strs, v)
		}
	}
	return cc, nil, -1
}

func checkValueText(v string) *problem {
	n := utf8.RuneCountInString(v)
	if n < 1 || n > maxConditionValue {
		return &problem{codeValueLength, fmt.Sprintf("condition value is %d characters long; it must be 1–%d", n, maxConditionValue)}
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return &problem{codeValueFormat, fmt.Sprintf("condition value %q contains a control character", v)}
		}
	}
	return nil
}

func isNumberOp(b baseOp) bool { return b >= opNumberEquals && b <= opNumberGreaterThanEquals }
func isDateOp(b baseOp) bool   { return b >= opDateEquals && b <= opDateGreaterThanEquals }

// evalCtx is the per-decision evaluation state; it lives on Decide's stack.
type evalCtx struct {
	keys *Keys
	// The parsed g:SourceIp, read at most once per decision.
	addrRead, addrOK bool
	addr             netip.Addr
}

func (x *evalCtx) sourceAddr() (netip.Addr, bool) {
	if !x.addrRead {
		x.addrRead = true
		x.addr, x.addrOK = parseAddr(x.keys.SourceIP)
	}
	return x.addr, x.addrOK
}

// eval reports whether the condition holds for the request keys.
func (c *condition) eval(x *evalCtx) bool {
	k := x.keys
	if c.key == keySourceIP && c.base == opIPAddress && k != nil && k.SourceIP != "" {
		a, ok := x.sourceAddr()
		m := false
		if ok {
			for _, p := range c.nets {
				if p.Contains(a) {
					m = true
					break
				}
			}
		}
		return m != c.negate
	}
	if c.key == keyCurrentTime {
		var t time.Time
		if k != nil {
			t = k.CurrentTime
		}
		if t.IsZero() {
			return c.absent()
		}
		if c.base == opNull {
			return c.wantFalse
		}
		return c.matchTime(t) != c.negate
	}
	var one [1]string
	var vals []string
	if k != nil {
		if c.key == keyExtra {
			vals = lookupExtra(k.Extra, c.name, c.lname)
		} else if s := k.field(c.key); s != "" {
			one[0] = s
			vals = one[:]
		}
	}
	if len(vals) == 0 {
		return c.absent()
	}
	if c.base == opNull {
		return c.wantFalse
	}
	switch c.set {
	case setAnyValue:
		for _, v := range vals {
			if c.match(v) != c.negate {
				return true
			}
		}
		return false
	case setAllValues:
		for _, v := range vals {
			if c.match(v) == c.negate {
				return false
			}
		}
		return true
	default:
		for _, v := range vals {
			if c.match(v) {
				return !c.negate
			}
		}
		return c.negate
	}
}

// absent is the outcome when the request has no value for the key: Null
// with "true" holds; IfExists holds; ForAllValues holds (vacuously);
// ForAnyValue fails; otherwise negated operators hold and the rest fail
// (AWS IAM's rule).
func (c *condition) absent() bool {
	switch {
	case c.base == opNull:
		return c.wantTrue
	case c.ifExists:
		return true
	case c.set == setAllValues:
		return true
	case c.set == setAnyValue:
		return false
	default:
		return c.negate
	}
}

// match reports whether one request value matches any policy value under
// the base (not negated) operator. A request value that cannot be read as
// the operator's type matches nothing.
func (c *condition) match(v string) bool {
	switch c.base {
	case opStringEquals:
		for _, p := range c.strs {
			if v == p {
				return true
			}
		}
	case opStringEqualsIgnoreCase:
		for _, p := range c.strs {
			if strings.EqualFold(v, p) {
				return true
			}
		}
	case opStringLike:
		for _, p := range c.strs {
			if wildMatch(p, v, false, true) {
				return true
			}
		}
	case opStringStartWith:
		for _, p := range c.strs {
			if strings.HasPrefix(v, p) {
				return true
			}
		}
	case opStringEndWith:
		for _, p := range c.strs {
			if strings.HasSuffix(v, p) {
				return true
			}
		}
	case opNumberEquals, opNumberLessThan, opNumberLessThanEquals, opNumberGreaterThan, opNumberGreaterThanEquals:
		f, ok := parseNumber(v)
		if !ok {
			return false
		}
		for _, p := range c.nums {
			if compareOrdered(c.base-opNumberEquals, f < p, f == p) {
				return true
			}
		}
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		t, ok := parseDate(v)
		return ok && c.matchTime(t)
	case opBool:
		b, ok := parseBool(v)
		return ok && (b && c.wantTrue || !b && c.wantFalse)
	case opIPAddress:
		a, ok := parseAddr(v)
		if !ok {
			return false
		}
		for _, p := range c.nets {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

func (c *condition) matchTime(t time.Time) bool {
	for _, p := range c.times {
		if compareOrdered(c.base-opDateEquals, t.Before(p), t.Equal(p)) {
			return true
		}
	}
	return false
}

// compareOrdered applies the comparison at offset rel from the family's
// Equals operator (Equals, LessThan, LessThanEquals, GreaterThan,
// GreaterThanEquals) given whether request < policy and request == policy.
func compareOrdered(rel baseOp, less, equal bool) bool {
	switch rel {
	case 0:
		return equal
	case 1:
		return less
	case 2:
		return less || equal
	case 3:
		return !less && !equal
	default:
		return !less
	}
}

// lookupExtra finds a key in Keys.Extra case-insensitively without
// allocating: first in lower case (the recommended spelling), then as the
// policy spells it, then by a scan.
func lookupExtra(m map[string][]string, name, lname string) []string {
	if len(m) == 0 {
		return nil
	}
	if v, ok := m[lname]; ok {
		return v
	}
	if name != lname {
		if v, ok := m[name]; ok {
			return v
		}
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}
