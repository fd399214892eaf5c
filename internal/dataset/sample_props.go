package dataset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// sample_props.go decides which of a sample's metadata the attribute
// filter (search_conditions' metadata, the reference's SearchProp) can
// find: the user's attributes, such as the group auto grouping writes,
// indexed in dataset_sample_props beside the sample. The reference's own
// keys (@modelarts:…) are not attributes: hard has its own filter, size
// and the rest are not searchable. The migration that made the table
// (00014_sample_props.sql) backfills stored samples by the same rules.

const (
	// reservedPrefix marks the reference's metadata keys.
	reservedPrefix = "@modelarts:"
	// An attribute with a longer name or value is stored but not indexed:
	// PostgreSQL refuses index entries over about 2.7 kB, and a filter is
	// not the way to find a long text.
	maxPropName  = 256
	maxPropValue = 1024
	// Limits of one metadata condition, so that a filter stays a handful
	// of index lookups.
	maxFilterProps  = 20
	maxFilterValues = 100
)

// sampleProp is one indexed attribute of a sample.
type sampleProp struct {
	name, value string
}

// userProps lists the indexed attributes of sample metadata, by name: user
// keys (not @modelarts:…) with a string, number or boolean value, numbers
// and booleans as their JSON text ("3", "0.5", "true"). Arrays, objects,
// nulls, and names or values too long or not text are left out. nil when
// there are none, which is most samples: they cost no index write.
func userProps(meta map[string]any) []sampleProp {
	var out []sampleProp
	for k, v := range meta {
		if strings.HasPrefix(k, reservedPrefix) || !indexable(k, maxPropName) {
			continue
		}
		text, ok := propText(v)
		if !ok || !indexable(text, maxPropValue) {
			continue
		}
		out = append(out, sampleProp{k, text})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// propText is a scalar metadata value as the filter matches it: a string
// as it is, a number or boolean as JSON writes it into the sample's
// document (so the migration's backfill, which reads the document, finds
// the same text).
func propText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number:
		data, err := json.Marshal(v)
		if err != nil { // NaN and infinities have no JSON form
			return "", false
		}
		return string(data), true
	}
	return "", false
}

// indexable: PostgreSQL text holds neither NUL nor invalid UTF-8.
func indexable(s string, max int) bool {
	return len(s) <= max && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// propFilter is a parsed metadata condition: attributes in name order,
// each with the values it may have (none: any value).
type propFilter struct {
	and   bool
	names []string
	vals  [][]string
}

// parsePropFilter reads the metadata of a search condition ({"op": "AND"
// or "OR", "props": {"name": ["v1", …]}}). op defaults to AND: the
// reference gives no default, and the fields of one condition are ANDed.
// A value list of null or [] matches any value of the attribute, the way
// the reference's label property filter reads a null list. An empty props
// is no condition (nil).
func parsePropFilter(field string, raw json.RawMessage) (*propFilter, error) {
	field += ".metadata"
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var sp struct {
		Op    string                       `json:"op"`
		Props map[string][]json.RawMessage `json:"props"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sp); err != nil {
		return nil, badRequest(`%s must be {"op": "AND" or "OR", "props": {"attribute": ["value", …]}}: %v`, field, err)
	}
	f := &propFilter{}
	switch strings.ToUpper(sp.Op) {
	case "", "AND":
		f.and = true
	case "OR":
	default:
		return nil, badRequest("%s.op must be AND or OR", field)
	}
	if len(sp.Props) == 0 {
		return nil, nil
	}
	if len(sp.Props) > maxFilterProps {
		return nil, badRequest("%s.props names %d attributes; at most %d", field, len(sp.Props), maxFilterProps)
	}
	for name := range sp.Props {
		f.names = append(f.names, name)
	}
	sort.Strings(f.names)
	total := 0
	for _, name := range f.names {
		if strings.HasPrefix(name, reservedPrefix) {
			return nil, badRequest("%s.props: %q is a ModelArts key, not a sample attribute (filter hard samples with hard)", field, name)
		}
		raws := sp.Props[name]
		total += len(raws)
		if total > maxFilterValues {
			return nil, badRequest("%s.props lists more than %d values in all", field, maxFilterValues)
		}
		vals := make([]string, 0, len(raws))
		for j, rv := range raws {
			var v any
			if err := json.Unmarshal(rv, &v); err != nil {
				return nil, badRequest("%s.props.%s[%d]: %v", field, name, j, err)
			}
			text, ok := propText(v)
			if !ok {
				return nil, badRequest("%s.props.%s[%d] must be a string (a number or boolean is matched as its text)", field, name, j)
			}
			vals = append(vals, text)
		}
		f.vals = append(f.vals, vals)
	}
	return f, nil
}

// term is the condition on a row of dataset_sample_props (columns
// prefixed by col) for the i-th attribute.
func (f *propFilter) term(i int, col string, arg func(any) string) string {
	t := col + "name=" + arg(f.names[i])
	if len(f.vals[i]) > 0 {
		ph := make([]string, len(f.vals[i]))
		for j, v := range f.vals[i] {
			ph[j] = arg(v)
		}
		t += " AND " + col + "value IN (" + strings.Join(ph, ",") + ")"
	}
	return t
}

// propSamples is the subquery of the samples of the dataset $1 whose
// attribute rows meet a condition: read from the (dataset, name, value,
// sample) index once, not probed per sample.
const propSamples = "IN (SELECT sample_seq FROM dataset_sample_props WHERE dataset_id=$1 AND %s)"

// sql is the filter as a condition on the sample seq key of the dataset
// $1; arg adds an argument and returns its placeholder.
func (f *propFilter) sql(key string, arg func(any) string) string {
	terms := make([]string, len(f.names))
	for i := range f.names {
		terms[i] = "(" + f.term(i, "", arg) + ")"
	}
	if !f.and {
		return key + " " + fmt.Sprintf(propSamples, strings.Join(terms, " OR "))
	}
	for i, t := range terms {
		terms[i] = key + " " + fmt.Sprintf(propSamples, t)
	}
	return strings.Join(terms, " AND ")
}

// drives reports whether the rows of the first attribute are the samples
// the filter selects, each once, so that they can drive the scan: not so
// for an OR of attributes, where a sample may have a row for each.
func (f *propFilter) drives() bool { return f.and || len(f.names) == 1 }

// driverSQL is the filter as a condition on the driving attribute rows p.
func (f *propFilter) driverSQL(arg func(any) string) string {
	parts := []string{f.term(0, "p.", arg)}
	for i := 1; i < len(f.names); i++ {
		parts = append(parts, "p.sample_seq "+fmt.Sprintf(propSamples, f.term(i, "", arg)))
	}
	return strings.Join(parts, " AND ")
}
