package policy

import (
	"bytes"
	"testing"
)

// FuzzParse checks that Parse never panics and that every document it
// accepts survives MarshalJSON → Parse with the same canonical form. By
// default only the seed corpus runs; use go test -fuzz=FuzzParse to explore.
func FuzzParse(f *testing.F) {
	for _, c := range corpus {
		f.Add([]byte(c.json))
	}
	for _, s := range []string{``, `{}`, `[]`, `null`, `{"Version":"1.1"}`, `{"Version":"1.1","Statement":[{}]}`,
		pol(`{"Effect":"Allow","Action":["modelarts:*:*"],"Condition":{"DateLessThan":{"g:CurrentTime":["2024-02-30"]}}}`),
		pol(`{"Effect":"Allow","Action":["obs:*:*"],"Resource":["obs:*:*:object:a/*"]}`)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := Parse(raw, testReg)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, want *Error", err)
			}
			return
		}
		out, err := d.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of an accepted document: %v", err)
		}
		d2, err := Parse(out, testReg)
		if err != nil {
			t.Fatalf("Parse rejected MarshalJSON output %s: %v (input %q)", out, err, raw)
		}
		out2, err := d2.MarshalJSON()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("canonical form not stable (err %v):\n%s\n%s", err, out, out2)
		}
		// Deciding must not panic either.
		s := Compile([]Grant{{PolicyID: "f", Document: d, Scope: Scope{Kind: ScopeAccount}}})
		for _, a := range []string{"modelarts:trainJob:get", "obs:object:GetObject"} {
			s.Decide(&Request{Action: a, Resource: "obs:r:d:object:a/b", Keys: testKeys()})
		}
	})
}
