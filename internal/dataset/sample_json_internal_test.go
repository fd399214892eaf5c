package dataset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

func TestSplitDoc(t *testing.T) {
	cases := []struct {
		name, doc        string
		labels, metadata string // "" is absent
		ok               bool
	}{
		{"empty", `{}`, "", "", true},
		{"labels only", `{"labels":[{"name":"cat","type":0}]}`, `[{"name":"cat","type":0}]`, "", true},
		{"metadata only", `{"metadata":{"a":1}}`, "", `{"a":1}`, true},
		{"both", `{"labels":[{"name":"a]}\"{["}],"metadata":{"k":"}\\\\","n":[1,{"x":null}]}}`,
			`[{"name":"a]}\"{["}]`, `{"k":"}\\\\","n":[1,{"x":null}]}`, true},
		{"spaces", " { \"metadata\" : {\"a\": [ ]} ,\n\t\"labels\" : [ ] } ", "[ ]", `{"a": [ ]}`, true},
		{"nulls", `{"labels":null,"metadata":null}`, "null", "null", true},
		{"another member", `{"labels":[],"extra":1}`, "", "", false},
		{"a member twice", `{"labels":[],"labels":[]}`, "", "", false},
		{"labels not an array", `{"labels":{}}`, "", "", false},
		{"metadata not an object", `{"metadata":"x"}`, "", "", false},
		{"escaped key", `{"\u006cabels":[]}`, "", "", false},
		{"bytes after", `{"labels":[]}x`, "", "", false},
		{"cut short", `{"labels":[{"name":"cat"}`, "", "", false},
		{"brackets crossed", `{"labels":[{"name":"cat"]}]}`, "", "", false},
		{"unterminated string", `{"labels":["cat]}`, "", "", false},
		{"not an object", `[]`, "", "", false},
		{"nothing", ``, "", "", false},
	}
	for _, c := range cases {
		labels, metadata, ok := splitDoc(c.doc)
		if ok != c.ok {
			t.Errorf("%s: splitDoc(%s) ok = %v, want %v", c.name, c.doc, ok, c.ok)
			continue
		}
		if ok && (string(labels) != c.labels || string(metadata) != c.metadata) {
			t.Errorf("%s: splitDoc(%s) = %q, %q; want %q, %q", c.name, c.doc, labels, metadata, c.labels, c.metadata)
		}
	}
}

// FuzzSplitDoc holds splitDoc to encoding/json on valid documents: what it
// cuts out is what encoding/json finds under the same names.
func FuzzSplitDoc(f *testing.F) {
	for _, s := range []string{`{}`, `{"labels":[{"name":"cat","type":0,"property":{"a":"]"}}],"metadata":{"k":[1,2]}}`,
		`{"metadata":{"x":"\"}"}}`, `{"labels":[]}`, `{"labels":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		labels, metadata, ok := splitDoc(string(doc))
		if !ok || !json.Valid(doc) {
			return
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(doc, &members); err != nil {
			t.Fatalf("splitDoc accepted %s, which is not an object: %v", doc, err)
		}
		for name, got := range map[string]string{"labels": labels, "metadata": metadata} {
			want, present := members[name]
			if present != (got != "") {
				t.Fatalf("splitDoc(%s): %s present = %v, encoding/json says %v", doc, name, got != "", present)
			}
			if present && !equalJSON(t, []byte(got), want) {
				t.Fatalf("splitDoc(%s): %s = %s, encoding/json reads %s", doc, name, got, want)
			}
		}
	})
}

func equalJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// TestAppendJSONOfAnOddDocument: a stored document splitDoc does not take
// is decoded, and the sample is written as from its decoded fields.
func TestAppendJSONOfAnOddDocument(t *testing.T) {
	sm := &Sample{SampleID: "s1", docKept: true, doc: `{"metadata":{"a":1},"labels":[{"name":"cat","type":0}],"later":true}`}
	got, err := sm.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"labels":[{"name":"cat","type":0}],"metadata":{"a":1},"sample_id":"s1","sample_name":"","sample_size":0,"sample_status":"","sample_time":0,"sample_type":0,"source":""}`
	if !bytes.Equal(got, []byte(want)) {
		t.Errorf("AppendJSON = %s\nwant        %s", got, want)
	}
	sm = &Sample{SampleID: "s2", docKept: true, doc: `{"labels":[`}
	if _, err := sm.AppendJSON(nil); err == nil {
		t.Errorf("AppendJSON of a broken document: no error")
	}
}

func TestParseSampleRecord(t *testing.T) {
	const id, src, name = "5d41402abc4b2a76b9719d911017c592", "obs://b/猫,1.jpg", "猫,1.jpg"
	head := fmt.Sprintf("7,0,1,120,1700000000000,%d,%d,%d,5,0,", len(id), len(src), len(name))
	good := head + id + src + name + "TRAIN" + `{"labels":[]}`
	var sm Sample
	if err := parseSampleRecord(good, &sm); err != nil {
		t.Fatalf("parse %q: %v", good, err)
	}
	want := Sample{SampleID: id, Stored: src, Source: src, SampleDir: "obs://b/", SampleName: "猫,1.jpg", SampleUsage: "TRAIN",
		SampleSize: 120, SampleTime: 1700000000000, SampleStatus: stateNames[StateLabeled],
		seq: 7, state: StateLabeled, doc: `{"labels":[]}`, docKept: true}
	if !reflect.DeepEqual(sm, want) {
		t.Errorf("parse %q:\n got %+v\nwant %+v", good, sm, want)
	}
	for _, c := range []struct{ name, rec string }{
		{"empty", ""},
		{"header cut short", "7,0,1,120,1700000000000,32,18,9"},
		{"not a number", "7,0,x,120,1700000000000,32,18,9,5,0," + id},
		{"negative length", "7,0,1,120,1700000000000,-1,18,9,5,0," + id},
		{"texts shorter than their lengths", head + id + src},
	} {
		if err := parseSampleRecord(c.rec, &sm); err == nil {
			t.Errorf("%s: parsed %q without an error", c.name, c.rec)
		}
	}
}
