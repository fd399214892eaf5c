package dataset_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// propsFixture is a dataset whose samples carry attributes, written
// through the service's public paths.
type propsFixture struct {
	t   *testing.T
	ctx context.Context
	svc *dataset.Service
	id  string
}

func src(name string) string { return "obs://data/in/" + name + ".jpg" }

// list lists the samples matching the search conditions (their names
// without .jpg, sorted) and checks that the count agrees with the page.
func (f *propsFixture) list(conds ...string) ([]string, error) {
	f.t.Helper()
	q := dataset.SampleQuery{Limit: 100}
	for _, c := range conds {
		q.Conditions = append(q.Conditions, dataset.SearchCondition{Metadata: json.RawMessage(c)})
	}
	n, page, err := f.svc.ListSamples(f.ctx, project, f.id, q)
	if err != nil {
		return nil, err
	}
	got := []string{}
	for _, s := range page {
		got = append(got, strings.TrimSuffix(s.SampleName, ".jpg"))
	}
	slices.Sort(got)
	if n != int64(len(got)) {
		f.t.Errorf("%v: count %d, page of %d", conds, n, len(got))
	}
	return got, nil
}

func (f *propsFixture) want(what string, want []string, conds ...string) {
	f.t.Helper()
	got, err := f.list(conds...)
	if err != nil {
		f.t.Fatalf("%s: %v", what, err)
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		f.t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func (f *propsFixture) update(items ...dataset.LabelUpdate) {
	f.t.Helper()
	errs, err := f.svc.UpdateSampleLabels(f.ctx, project, f.id, items)
	if err != nil {
		f.t.Fatal(err)
	}
	for i, e := range errs {
		if e != nil {
			f.t.Fatalf("update %d: %v", i, e)
		}
	}
}

func (f *propsFixture) write(opts dataset.WriteOptions, in ...dataset.SampleInput) {
	f.t.Helper()
	res, err := f.svc.WriteSamples(f.ctx, project, f.id, in, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			f.t.Fatalf("sample %d: %v", i, r.Err)
		}
	}
}

func TestMetadataFilter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, id := newDataset(t, db, dataset.TypeImageClassification)
		f := &propsFixture{t: t, ctx: context.Background(), svc: svc, id: id}
		f.write(dataset.WriteOptions{},
			dataset.SampleInput{Source: src("a"), Metadata: map[string]any{"group": "0"}},
			dataset.SampleInput{Source: src("b"), Labels: cls("cat"), Metadata: map[string]any{"group": "1", "color": "red"}},
			dataset.SampleInput{Source: src("c"), Metadata: map[string]any{"group": "1", "color": "blue"}},
			dataset.SampleInput{Source: src("d"), Metadata: map[string]any{"group": 2.0, "ok": true, "ratio": 0.25}},
			// The reference's keys and non-scalar values are not attributes.
			dataset.SampleInput{Source: src("e"), Metadata: map[string]any{"@modelarts:hard": 1.0, "group": []any{"1"}, "color": map[string]any{"r": 1.0}}},
			dataset.SampleInput{Source: src("f")},
			dataset.SampleInput{Source: src("g"), Metadata: map[string]any{"group": "10", "note": nil, "long": strings.Repeat("x", 1025)}},
		)
		all := []string{"a", "b", "c", "d", "e", "f", "g"}
		for _, c := range []struct {
			name  string
			conds []string
			want  []string
		}{
			{"one-value", []string{`{"op":"AND","props":{"group":["1"]}}`}, []string{"b", "c"}},
			{"values-are-ored", []string{`{"props":{"group":["0","1"]}}`}, []string{"a", "b", "c"}},
			{"and-of-attributes", []string{`{"op":"AND","props":{"group":["1"],"color":["red"]}}`}, []string{"b"}},
			{"op-defaults-to-and", []string{`{"props":{"group":["1"],"color":["red"]}}`}, []string{"b"}},
			{"op-is-case-blind", []string{`{"op":"or","props":{"group":["0"],"color":["blue"]}}`}, []string{"a", "c"}},
			{"or-of-attributes", []string{`{"op":"OR","props":{"group":["0"],"color":["blue"]}}`}, []string{"a", "c"}},
			{"number-as-text", []string{`{"props":{"group":["2"]}}`}, []string{"d"}},
			{"number-in-the-filter", []string{`{"props":{"group":[2]}}`}, []string{"d"}},
			{"fraction", []string{`{"props":{"ratio":["0.25"]}}`}, []string{"d"}},
			{"bool", []string{`{"props":{"ok":["true"]}}`}, []string{"d"}},
			{"bool-in-the-filter", []string{`{"props":{"ok":[true]}}`}, []string{"d"}},
			{"strings-match-whole", []string{`{"props":{"group":["1 "]}}`}, nil},
			{"unknown-attribute-and", []string{`{"op":"AND","props":{"group":["0"],"nope":["0"]}}`}, nil},
			{"unknown-attribute-or", []string{`{"op":"OR","props":{"group":["0"],"nope":["0"]}}`}, []string{"a"}},
			{"unknown-value", []string{`{"props":{"group":["7"]}}`}, nil},
			{"null-list-is-any-value", []string{`{"props":{"color":null}}`}, []string{"b", "c"}},
			{"empty-list-is-any-value", []string{`{"props":{"group":[]}}`}, []string{"a", "b", "c", "d", "g"}},
			{"null-value-not-indexed", []string{`{"props":{"note":null}}`}, nil},
			{"long-value-not-indexed", []string{`{"props":{"long":null}}`}, nil},
			{"empty-props", []string{`{"op":"AND","props":{}}`}, all},
			{"no-props", []string{`{"op":"OR"}`}, all},
			{"null", []string{`null`}, all},
			{"conditions-are-anded", []string{`{"props":{"group":["1","0"]}}`, `{"props":{"color":["blue","green"]}}`}, []string{"c"}},
		} {
			f.want(c.name, c.want, c.conds...)
		}
		for _, c := range []struct {
			name, cond, msg string
		}{
			{"reference-key", `{"props":{"@modelarts:hard":["1"]}}`, "not a sample attribute"},
			{"bad-op", `{"op":"XOR","props":{"group":["1"]}}`, "op must be AND or OR"},
			{"unknown-field", `{"op":"AND","prop":{"group":["1"]}}`, "unknown field"},
			{"not-an-object", `"group=1"`, "must be {"},
			{"object-value", `{"props":{"group":[{"v":1}]}}`, "must be a string"},
			{"null-value", `{"props":{"group":[null]}}`, "must be a string"},
			{"too-many-attributes", manyProps(21, 1), "at most 20"},
			{"too-many-values", manyProps(2, 51), "more than 100 values"},
		} {
			_, err := f.list(c.cond)
			if e, ok := dataset.AsError(err); !ok || e.Kind != dataset.KindInvalid || !strings.Contains(e.Msg, c.msg) {
				t.Errorf("%s: got %v, want a bad request saying %q", c.name, err, c.msg)
			}
		}
		f.want("at-the-limits", nil, manyProps(20, 5))

		// With other filters of the same condition and of the query.
		n, page, err := svc.ListSamples(f.ctx, project, id, dataset.SampleQuery{Limit: 10, LabelName: "cat",
			Conditions: []dataset.SearchCondition{{Metadata: json.RawMessage(`{"props":{"group":["1"]}}`)}}})
		if err != nil || n != 1 || len(page) != 1 || page[0].SampleName != "b.jpg" {
			t.Errorf("label cat and group 1: n=%d page=%v err=%v", n, names(page), err)
		}
		for _, name := range []string{"b", "c"} {
			n, page, err = svc.ListSamples(f.ctx, project, id, dataset.SampleQuery{Limit: 10, LabelName: "cat",
				Conditions: []dataset.SearchCondition{{Metadata: json.RawMessage(`{"props":{"group":["1"]}}`)}, {SampleName: name}}})
			if want := map[string]int64{"b": 1, "c": 0}[name]; err != nil || n != want || len(page) != int(want) {
				t.Errorf("label cat, group 1 and name %s: n=%d page=%v err=%v", name, n, names(page), err)
			}
		}
		n, page, err = svc.ListSamples(f.ctx, project, id, dataset.SampleQuery{Limit: 1, Offset: 1,
			Conditions: []dataset.SearchCondition{{SampleName: "c", Metadata: json.RawMessage(`{"props":{"group":["1"]}}`)}}})
		if err != nil || n != 1 || len(page) != 0 {
			t.Errorf("name c and group 1, second page: n=%d page=%v err=%v", n, names(page), err)
		}
		n, page, err = svc.ListSamples(f.ctx, project, id, dataset.SampleQuery{Limit: 1, Offset: 1,
			Conditions: []dataset.SearchCondition{{Metadata: json.RawMessage(`{"props":{"group":["0","1","2"]}}`)}}})
		if err != nil || n != 4 || len(page) != 1 || page[0].SampleName != "c.jpg" {
			t.Errorf("groups 0-2, newest first, second page: n=%d page=%v err=%v", n, names(page), err)
		}

		unl := dataset.StateUnlabeled
		n, page, err = svc.ListSamples(f.ctx, project, id, dataset.SampleQuery{Limit: 10, State: &unl,
			Conditions: []dataset.SearchCondition{{Metadata: json.RawMessage(`{"props":{"group":["1"]}}`)}}})
		if err != nil || n != 1 || len(page) != 1 || page[0].SampleName != "c.jpg" {
			t.Errorf("unlabeled and group 1: n=%d page=%v err=%v", n, names(page), err)
		}
		_, page, err = svc.ListSamples(f.ctx, project, id, dataset.SampleQuery{Limit: 10, Asc: true, Marker: dataset.SampleID(src("a")),
			Conditions: []dataset.SearchCondition{{Metadata: json.RawMessage(`{"props":{"group":["0","1"]}}`)}}})
		if err != nil || len(page) != 2 || page[0].SampleName != "b.jpg" {
			t.Errorf("groups 0 and 1 after a, oldest first: page=%v err=%v", names(page), err)
		}

		// The export's selection ORs its conditions through the same filter.
		r, err := svc.LoadRow(f.ctx, db, project, id, false)
		if err != nil {
			t.Fatal(err)
		}
		sel, err := svc.Select(f.ctx, r, dataset.SampleQuery{Any: true, Conditions: []dataset.SearchCondition{
			{Metadata: json.RawMessage(`{"props":{"group":["0"]}}`)},
			{Metadata: json.RawMessage(`{"props":{"color":["blue"]}}`)},
			{Metadata: json.RawMessage(`{"props":{"nope":["x"]}}`)},
		}}, r.SampleSeq)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := sel.Count(f.ctx); err != nil || n != 2 {
			t.Errorf("export selection count: %d %v, want 2", n, err)
		}
		items, _, _, err := sel.Page(f.ctx, 0, 10)
		if err != nil || len(items) != 2 || items[0].Source != src("a") || items[1].Source != src("c") {
			t.Errorf("export selection page: %+v %v", items, err)
		}
		// One condition, a new sample since the selection's seq.
		f.write(dataset.WriteOptions{}, dataset.SampleInput{Source: src("h"), Metadata: map[string]any{"group": "1"}})
		now, err := svc.LoadRow(f.ctx, db, project, id, false)
		if err != nil {
			t.Fatal(err)
		}
		sel, err = svc.Select(f.ctx, now, dataset.SampleQuery{Any: true, Conditions: []dataset.SearchCondition{
			{Metadata: json.RawMessage(`{"props":{"group":["1"]}}`)},
		}}, r.SampleSeq)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := sel.Count(f.ctx); err != nil || n != 2 {
			t.Errorf("export selection of group 1 count: %d %v, want 2", n, err)
		}
		items, _, _, err = sel.Page(f.ctx, 0, 10)
		if err != nil || len(items) != 2 || items[0].Source != src("b") || items[1].Source != src("c") {
			t.Errorf("export selection of group 1 page: %+v %v", items, err)
		}
	})
}

// manyProps is a metadata condition of n attributes with k values each.
func manyProps(n, k int) string {
	props := map[string][]string{}
	for i := range n {
		for j := range k {
			props[fmt.Sprintf("a%d", i)] = append(props[fmt.Sprintf("a%d", i)], fmt.Sprint(j))
		}
	}
	data, _ := json.Marshal(map[string]any{"op": "AND", "props": props})
	return string(data)
}

// TestMetadataFilterFollowsWrites changes attributes through every path
// that writes sample metadata and checks the filter sees each change.
func TestMetadataFilterFollowsWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, id := newDataset(t, db, dataset.TypeImageClassification)
		f := &propsFixture{t: t, ctx: context.Background(), svc: svc, id: id}
		group := func(v string) string { return `{"props":{"group":["` + v + `"]}}` }
		f.write(dataset.WriteOptions{},
			dataset.SampleInput{Source: src("a"), Labels: cls("cat"), Metadata: map[string]any{"group": "0"}},
			dataset.SampleInput{Source: src("b"), Labels: cls("dog"), Metadata: map[string]any{"group": "1"}},
			dataset.SampleInput{Source: src("c"), Labels: cls("cat")},
			dataset.SampleInput{Source: src("d"), Metadata: map[string]any{"group": "1", "@modelarts:hard": 1.0}},
		)
		f.want("written", []string{"b", "d"}, group("1"))

		// A label update with metadata replaces the attributes (what auto
		// grouping does); one without metadata keeps them.
		f.update(
			dataset.LabelUpdate{SampleID: dataset.SampleID(src("a")), Labels: cls("cat"), Metadata: map[string]any{"group": "1", "shade": "dark"}},
			dataset.LabelUpdate{SampleID: dataset.SampleID(src("b")), Labels: cls("cat", "dog")},
			dataset.LabelUpdate{SampleID: dataset.SampleID(src("c")), Labels: cls("cat"), Metadata: map[string]any{"group": "2"}},
			dataset.LabelUpdate{SampleID: dataset.SampleID(src("d")), Metadata: map[string]any{}},
		)
		f.want("group 0 after updates", nil, group("0"))
		f.want("group 1 after updates", []string{"a", "b"}, group("1"))
		f.want("group 2 after updates", []string{"c"}, group("2"))
		f.want("shade", []string{"a"}, `{"props":{"shade":["dark"]}}`)

		// A re-import replaces metadata; a sync that keeps existing
		// samples leaves it.
		f.write(dataset.WriteOptions{}, dataset.SampleInput{Source: src("a"), Metadata: map[string]any{"group": "3"}})
		f.write(dataset.WriteOptions{KeepExisting: true},
			dataset.SampleInput{Source: src("b"), Metadata: map[string]any{"group": "3"}},
			dataset.SampleInput{Source: src("e"), Metadata: map[string]any{"group": "3"}})
		f.want("group 1 after re-import", []string{"b"}, group("1"))
		f.want("group 3 after re-import", []string{"a", "e"}, group("3"))
		f.want("shade after re-import", nil, `{"props":{"shade":null}}`)

		// Label renames and deletes rewrite samples but not their metadata.
		if res, err := svc.UpdateLabels(f.ctx, project, id, []dataset.Label{{Name: "cat", Property: map[string]string{"@modelarts:rename_to": "lynx"}}}); err != nil || !res.Success {
			t.Fatalf("rename: %+v %v", res, err)
		}
		if res, err := svc.DeleteLabels(f.ctx, project, id, []dataset.Label{{Name: "dog"}}, dataset.DeleteLabelOnly); err != nil || !res.Success {
			t.Fatalf("delete dog: %+v %v", res, err)
		}
		f.want("group 1 after label changes", []string{"b"}, group("1"))
		f.want("group 2 after label changes", []string{"c"}, group("2"))

		// Deleted samples leave the filter: one by the sample delete, one
		// with the only label it carried.
		plan, errs, err := svc.PlanDeleteSamples(f.ctx, project, id, []string{dataset.SampleID(src("b"))})
		if err != nil || errs[0] != nil {
			t.Fatalf("plan delete: %v %v", errs, err)
		}
		if err := svc.CommitDeleteSamples(f.ctx, plan); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.DeleteLabelWithSamples(f.ctx, project, id, "lynx", nil); err != nil {
			t.Fatal(err)
		}
		f.want("group 1 after deletes", nil, group("1"))
		f.want("group 2 after deletes", nil, group("2"))
		f.want("any group after deletes", []string{"a", "e"}, `{"props":{"group":null}}`)
		var orphans int
		if err := db.QueryRowContext(f.ctx, `SELECT COUNT(*) FROM dataset_sample_props p WHERE NOT EXISTS (SELECT 1
			FROM dataset_samples s WHERE s.dataset_id=p.dataset_id AND s.seq=p.sample_seq)`).Scan(&orphans); err != nil || orphans != 0 {
			t.Errorf("attribute rows of deleted samples: %d %v", orphans, err)
		}

		// The dataset goes with every row of its samples.
		dp, err := svc.PlanDelete(f.ctx, project, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.CommitDelete(f.ctx, dp); err != nil {
			t.Fatalf("delete the dataset: %v", err)
		}
		var left int
		if err := db.QueryRowContext(f.ctx, `SELECT COUNT(*) FROM dataset_sample_props`).Scan(&left); err != nil || left != 0 {
			t.Errorf("attribute rows left after the dataset's delete: %d %v", left, err)
		}
	})
}
