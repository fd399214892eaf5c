package jsonout

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// stdlib is what encoding/json writes for v with HTML escaping off, without
// the encoder's trailing newline.
func stdlib(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

var stringCases = []string{
	"",
	"plain ascii",
	`quote " and backslash \`,
	"controls \x00\x01\x1f \b\f\n\r\t end",
	"html <b>&amp;</b> stays as is",
	"unicode: 猫 🐈 é",
	"line separators \u2028 and \u2029",
	"invalid utf-8: \xff\xfe and a cut rune \xe7\x8c",
	"\x7f delete is not a control in JSON",
	"obs://bucket/datasets/raw/IMG_0001.jpg",
}

func TestStringWritesWhatEncodingJSONWrites(t *testing.T) {
	for _, s := range stringCases {
		got, want := String(nil, s), stdlib(t, s)
		if !bytes.Equal(got, want) {
			t.Errorf("String(%q) = %s, encoding/json writes %s", s, got, want)
		}
		if !json.Valid(got) {
			t.Errorf("String(%q) = %s: not valid JSON", s, got)
		}
	}
}

func TestStringAppends(t *testing.T) {
	got := String([]byte(`{"k":`), "v")
	if string(got) != `{"k":"v"` {
		t.Errorf("String appended to a prefix = %s", got)
	}
}

func TestIntWritesWhatEncodingJSONWrites(t *testing.T) {
	for _, n := range []int64{0, 1, -1, 42, math.MaxInt64, math.MinInt64} {
		if got, want := Int(nil, n), stdlib(t, n); !bytes.Equal(got, want) {
			t.Errorf("Int(%d) = %s, encoding/json writes %s", n, got, want)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range stringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := String(nil, s), stdlib(t, s); !bytes.Equal(got, want) {
			t.Errorf("String(%q) = %s, encoding/json writes %s", s, got, want)
		}
	})
}
