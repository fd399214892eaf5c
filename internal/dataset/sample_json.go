package dataset

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/atelier-dev/atelier/internal/jsonout"
)

// sample_json.go writes a sample as list responses return it without
// encoding/json: a page of 100 samples decoded from their stored
// documents and encoded again spent about 40% of its time in
// encoding/json (a profile of a label page, docs/performance.md). A sample
// read for a page keeps its document as stored, and AppendJSON copies the
// labels and metadata out of it.

// AppendJSON appends the sample as encoding/json writes it with HTML
// escaping off (the fields of Sample, in order), copying the labels and
// metadata from the stored document when the sample was read with its
// document kept (AppendSamplePage). TestSamplePageWritesWhatEncodingJSONWrites
// holds it to encoding/json: a field added to Sample is written here too.
func (sm *Sample) AppendJSON(b []byte) ([]byte, error) {
	labels, metadata, err := sm.documentJSON()
	if err != nil {
		return b, err
	}
	b = append(b, `{"labels":`...)
	b = append(b, labels...)
	b = append(b, `,"metadata":`...)
	b = append(b, metadata...)
	if len(sm.SampleData) > 0 {
		b = append(b, `,"sample_data":[`...)
		for i, s := range sm.SampleData {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonout.String(b, s)
		}
		b = append(b, ']')
	}
	b = appendStringField(b, `,"sample_dir":`, sm.SampleDir, true)
	b = appendStringField(b, `,"sample_id":`, sm.SampleID, false)
	b = appendStringField(b, `,"sample_name":`, sm.SampleName, false)
	b = append(b, `,"sample_size":`...)
	b = jsonout.Int(b, sm.SampleSize)
	b = appendStringField(b, `,"sample_status":`, sm.SampleStatus, false)
	b = append(b, `,"sample_time":`...)
	b = jsonout.Int(b, sm.SampleTime)
	b = append(b, `,"sample_type":`...)
	b = jsonout.Int(b, int64(sm.SampleType))
	b = appendStringField(b, `,"sample_usage":`, sm.SampleUsage, true)
	b = appendStringField(b, `,"source":`, sm.Source, false)
	b = appendStringField(b, `,"source_error":`, sm.SourceError, true)
	b = appendStringField(b, `,"worker_id":`, sm.WorkerID, true)
	return append(b, '}'), nil
}

// AppendSampleList appends the sample list's response,
// {"sample_count":…,"samples":[…]} and a newline, as encoding/json writes
// it.
func AppendSampleList(b []byte, count int64, samples []*Sample) ([]byte, error) {
	b = appendListHead(b, count)
	for i, sm := range samples {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = sm.AppendJSON(b); err != nil {
			return b, err
		}
	}
	return append(b, "]}\n"...), nil
}

func appendListHead(b []byte, count int64) []byte {
	b = append(b, `{"sample_count":`...)
	b = jsonout.Int(b, count)
	return append(b, `,"samples":[`...)
}

func appendStringField(b []byte, key, v string, omitEmpty bool) []byte {
	if omitEmpty && v == "" {
		return b
	}
	return jsonout.String(append(b, key...), v)
}

const (
	noLabels   = `[]`
	noMetadata = `{}`
)

// documentJSON returns the sample's labels and metadata as JSON: cut from
// the stored document when it was kept, encoded otherwise. Absent (or null)
// they are [] and {}, as the reference's examples show them.
func (sm *Sample) documentJSON() (labels, metadata string, err error) {
	if sm.docKept {
		if labels, metadata, ok := splitDoc(sm.doc); ok {
			return orDefault(labels, noLabels), orDefault(metadata, noMetadata), nil
		}
		// Not the document's usual shape: decode it, as scanSample would.
		var d sampleDoc
		if err := json.Unmarshal([]byte(sm.doc), &d); err != nil {
			return "", "", fmt.Errorf("decode sample %s: %w", sm.SampleID, err)
		}
		sm.Labels, sm.Metadata, sm.doc, sm.docKept = d.Labels, d.Metadata, "", false
	}
	labels, metadata = noLabels, noMetadata
	if len(sm.Labels) > 0 {
		if labels, err = marshalNoEscape(sm.Labels); err != nil {
			return "", "", fmt.Errorf("encode the labels of sample %s: %w", sm.SampleID, err)
		}
	}
	if len(sm.Metadata) > 0 {
		if metadata, err = marshalNoEscape(sm.Metadata); err != nil {
			return "", "", fmt.Errorf("encode the metadata of sample %s: %w", sm.SampleID, err)
		}
	}
	return labels, metadata, nil
}

func orDefault(v, empty string) string {
	if v == "" || v == "null" {
		return empty
	}
	return v
}

// marshalNoEscape is json.Marshal without HTML escaping, as responses are
// written.
func marshalNoEscape(v any) (string, error) {
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// splitDoc cuts a stored document ({"labels":[…],"metadata":{…}}, as
// json.Marshal of sampleDoc writes it: either member may be absent) into
// its two values, without decoding them. ok is false for anything else (a
// member of another name, a value that is not an array or object, bytes
// after the object), which the caller decodes instead.
func splitDoc(doc string) (labels, metadata string, ok bool) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return "", "", false
	}
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return "", "", skipSpace(doc, i+1) == len(doc)
	}
	for {
		if i >= len(doc) || doc[i] != '"' {
			return "", "", false
		}
		end, ok := skipString(doc, i)
		if !ok {
			return "", "", false
		}
		key := doc[i+1 : end-1]
		i = skipSpace(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return "", "", false
		}
		i = skipSpace(doc, i+1)
		end, ok = skipValue(doc, i)
		if !ok {
			return "", "", false
		}
		v := doc[i:end]
		switch {
		case key == "labels" && labels == "" && (v[0] == '[' || v == "null"):
			labels = v
		case key == "metadata" && metadata == "" && (v[0] == '{' || v == "null"):
			metadata = v
		default:
			return "", "", false
		}
		i = skipSpace(doc, end)
		if i >= len(doc) {
			return "", "", false
		}
		switch doc[i] {
		case ',':
			i = skipSpace(doc, i+1)
		case '}':
			return labels, metadata, skipSpace(doc, i+1) == len(doc)
		default:
			return "", "", false
		}
	}
}

func skipSpace(b string, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i] ('"').
func skipString(b string, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// skipValue returns the index after the JSON value that starts at b[i]:
// strings are skipped whole, arrays and objects to their matching bracket,
// other values (numbers, true, false, null) to the next delimiter. It
// checks nesting, not grammar: the documents it reads were written by
// json.Marshal.
func skipValue(b string, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '[', '{':
		var awaited [16]byte // the closing brackets awaited, beyond the first
		stack := awaited[:0]
		want := closing(b[i])
		for i++; i < len(b); i++ {
			switch c := b[i]; c {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = end - 1
			case '[', '{':
				stack = append(stack, want)
				want = closing(c)
			case ']', '}':
				if c != want {
					return 0, false
				}
				if len(stack) == 0 {
					return i + 1, true
				}
				want, stack = stack[len(stack)-1], stack[:len(stack)-1]
			}
		}
		return 0, false
	}
	start := i
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i, i > start
}

func closing(open byte) byte {
	if open == '[' {
		return ']'
	}
	return '}'
}
