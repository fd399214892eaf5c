package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecodeJSON holds the strict decoder to encoding/json: it never
// panics, accepts nothing that encoding/json refuses, and what it accepts
// decodes to the same value; a body it refuses for a duplicate key really
// repeats a key in one object (re-encoding the decoded value drops it).
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `{"a":1,"a":2}`, `{"a":{"b":[{"c":1},{"c":2,"c":3}]}}`, `[{"a":1},{"a":1}]`,
		`{"a":[1,{"b":2}],"b":{"a":{}}}`, `{"a":1} {}`, `{"a":`, `"x"`, `{"":1,"":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var strict, loose any
		err := DecodeJSON(data, &strict)
		dec := json.NewDecoder(bytes.NewReader(data))
		looseErr := dec.Decode(&loose)
		if looseErr == nil && dec.More() {
			looseErr = errDataAfter
		}
		switch {
		case err == nil && looseErr != nil:
			t.Fatalf("DecodeJSON accepted %q, which encoding/json refuses: %v", data, looseErr)
		case err == nil:
			a, _ := json.Marshal(strict)
			b, _ := json.Marshal(loose)
			if !bytes.Equal(a, b) {
				t.Fatalf("DecodeJSON(%q) = %s, encoding/json = %s", data, a, b)
			}
		case looseErr == nil && checkDuplicateKeys(data) == nil:
			t.Fatalf("DecodeJSON refused %q (%v), which is valid and has no duplicate key", data, err)
		}
	})
}

var errDataAfter = errors.New("data after the JSON value")
