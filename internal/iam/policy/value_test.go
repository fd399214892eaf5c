package policy

import (
	"sync"
	"testing"
	"time"
)

func TestWildMatch(t *testing.T) {
	cases := []struct {
		pattern, text string
		fold, qmark   bool
		want          bool
	}{
		{"abc", "abc", false, true, true},
		{"abc", "abd", false, true, false},
		{"a*", "a", false, true, true},
		{"a*c", "abbbc", false, true, true},
		{"a*c", "abbbd", false, true, false},
		{"*a*b*", "xxaxxbxx", false, true, true},
		{"*a*b", "xxaxxbxxb", false, true, true},
		{"a?c", "abc", false, true, true},
		{"a?c", "ac", false, true, false},
		{"a?c", "a?c", false, false, true},
		{"a?c", "abc", false, false, false},
		{"?", "é", false, true, true},
		{"??", "é", false, true, false},
		{"*??", "éa", false, true, true},
		{"*??", "é", false, true, false},
		{"get*", "GetObject", true, true, true},
		{"get*", "GetObject", false, true, false},
		{"", "", false, true, true},
		{"*", "", false, true, true},
		{"", "a", false, true, false},
	}
	for _, tc := range cases {
		if got := wildMatch(tc.pattern, tc.text, tc.fold, tc.qmark); got != tc.want {
			t.Errorf("wildMatch(%q, %q, fold=%v, qmark=%v) = %v, want %v", tc.pattern, tc.text, tc.fold, tc.qmark, got, tc.want)
		}
	}
}

func TestParseDate(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	valid := []struct {
		in   string
		want time.Time
	}{
		{"2024-05-01", utc(2024, 5, 1, 0, 0, 0, 0)},
		{"2024-05-01T13:45", utc(2024, 5, 1, 13, 45, 0, 0)},
		{"2024-05-01T13:45Z", utc(2024, 5, 1, 13, 45, 0, 0)},
		{"2024-05-01T13:45:30", utc(2024, 5, 1, 13, 45, 30, 0)},
		{"2024-05-01T13:45:30Z", utc(2024, 5, 1, 13, 45, 30, 0)},
		{"2024-05-01t13:45:30z", utc(2024, 5, 1, 13, 45, 30, 0)},
		{"2024-05-01T13:45:30.5Z", utc(2024, 5, 1, 13, 45, 30, 500000000)},
		{"2024-05-01T13:45:30,123456789Z", utc(2024, 5, 1, 13, 45, 30, 123456789)},
		{"2024-05-01T13:45:30+02:00", utc(2024, 5, 1, 11, 45, 30, 0)},
		{"2024-05-01T13:45:30-0130", utc(2024, 5, 1, 15, 15, 30, 0)},
		{"2024-05-01T01:00:00+08", utc(2024, 4, 30, 17, 0, 0, 0)},
		{"2024-02-29", utc(2024, 2, 29, 0, 0, 0, 0)},
	}
	for _, tc := range valid {
		got, ok := parseDate(tc.in)
		if !ok || !got.Equal(tc.want) {
			t.Errorf("parseDate(%q) = %v, %v; want %v", tc.in, got, ok, tc.want)
		}
	}
	for _, in := range []string{"", "2024", "2024-5-01", "2024-05-01T", "2024-05-01 13:45", "2024-05-01T24:00",
		"2024-05-01T13:60", "2024-05-01T13:45:60", "2024-05-01T13:45:30.", "2024-05-01T13:45:30.1234567890Z",
		"2024-05-01T13:45:30+2", "2024-05-01T13:45:30+24:00", "2024-05-01T13:45:30Zjunk", "2023-02-29", "2024-00-10",
		"2024-04-31", "1714571130"} {
		if got, ok := parseDate(in); ok {
			t.Errorf("parseDate(%q) accepted as %v", in, got)
		}
	}
}

func TestParseNumber(t *testing.T) {
	for in, want := range map[string]float64{"0": 0, "42": 42, "-3": -3, "+7": 7, "0.25": 0.25, "-1.5": -1.5, "007": 7} {
		if got, ok := parseNumber(in); !ok || got != want {
			t.Errorf("parseNumber(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-", "+", "1.", ".5", "1e3", "0x10", "NaN", "Inf", "1 ", " 1", "1,5", "--1"} {
		if got, ok := parseNumber(in); ok {
			t.Errorf("parseNumber(%q) accepted as %v", in, got)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/8": "10.0.0.0/8", "10.1.2.3/8": "10.0.0.0/8", "10.1.2.3": "10.1.2.3/32",
		"2001:db8::/32": "2001:db8::/32", "2001:db8::1": "2001:db8::1/128",
		"::ffff:10.0.0.0/104": "10.0.0.0/8", "::ffff:10.1.2.3": "10.1.2.3/32",
	} {
		got, ok := parsePrefix(in)
		if !ok || got.String() != want {
			t.Errorf("parsePrefix(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "10.0.0.0/33", "10.0.0.256", "fe80::1%eth0", "host", "10.0.0.0/", "::/129"} {
		if got, ok := parsePrefix(in); ok {
			t.Errorf("parsePrefix(%q) accepted as %v", in, got)
		}
	}
}

// TestDecideConcurrent runs decisions from many goroutines on one Set; run
// with -race.
func TestDecideConcurrent(t *testing.T) {
	s := benchSet()
	reqs := benchRequests()
	want := make([]Decision, len(reqs))
	for i := range reqs {
		want[i] = s.Decide(&reqs[i])
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				i := n % len(reqs)
				if got := s.Decide(&reqs[i]); got != want[i] {
					t.Errorf("concurrent Decide(%s) = %+v, want %+v", reqs[i].Action, got, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestCompileHandBuilt covers documents built in code, which Compile accepts
// without validation.
func TestCompileHandBuilt(t *testing.T) {
	doc := &Document{Version: "1.1", Statements: []Statement{
		{Effect: 0, Actions: []string{"*:*:*"}},                                       // invalid effect: ignored
		{Effect: EffectAllow, Actions: []string{"bad action"}},                        // no valid action: ignored
		{Effect: EffectAllow, Actions: []string{"obs:*:*"}, Resources: []string{"*"}}, // no valid resource: matches nothing
		{Effect: EffectAllow, Actions: []string{"iam:*:*"}, Conditions: []Condition{{Operator: "Foo", Key: "g:UserName", Values: []string{"x"}}}},
		{Effect: EffectDeny, Actions: []string{"modelarts:trainJob:delete"}, Conditions: []Condition{{Operator: "Foo", Key: "g:UserName", Values: []string{"x"}}}},
		{Effect: EffectAllow, Actions: []string{"modelarts:*:*"}},
	}}
	s := Compile([]Grant{{PolicyID: "h", Document: doc, Scope: Scope{Kind: ScopeAccount}}, {PolicyID: "nil-doc"}})
	cases := []struct {
		name string
		req  Request
		want Decision
	}{
		{"invalid-effect-ignored", Request{Action: "ecs:server:list"}, implicit},
		{"invalid-resource-matches-nothing", Request{Action: "obs:object:GetObject", Resource: "obs:r:d:object:a/b"}, implicit},
		{"invalid-condition-inert-allow", Request{Action: "iam:users:listUsers"}, implicit},
		{"invalid-condition-holds-in-deny", Request{Action: "modelarts:trainJob:delete"}, Decision{Effect: EffectDeny, Matched: true, PolicyID: "h", Statement: 4}},
		{"valid-statement-still-works", Request{Action: "modelarts:trainJob:get"}, Decision{Allowed: true, Effect: EffectAllow, Matched: true, PolicyID: "h", Statement: 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Decide(&tc.req); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, err := doc.MarshalJSON(); err == nil {
		t.Error("MarshalJSON of a statement without a valid effect succeeded")
	}
}
