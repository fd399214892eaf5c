package dataset

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// codeOf is the ModelArts code of a domain error ("" for other errors).
func codeOf(err error) string {
	if e, ok := AsError(err); ok {
		return e.Code
	}
	return ""
}

// repoFixture is a repository on a fresh database with helpers that store
// rows the way the service does.
type repoFixture struct {
	t   *testing.T
	ctx context.Context
	db  *store.DB
	rp  *repo
}

func (f *repoFixture) dataset(project, workspace, name string, created int64) *Row {
	f.t.Helper()
	r := &Row{ID: store.NewID(), ProjectID: project, WorkspaceID: workspace, Name: name, Type: TypeImageClassification,
		Status: StatusNormal, CreateTime: created, UpdateTime: created, DataUpdateTime: created,
		InnerWorkPath: "/data/work/" + name + "/", Doc: doc{WorkPath: "/data/work/"}}
	if err := f.db.InTx(f.ctx, func(tx *sql.Tx) error { return f.rp.insertDataset(f.ctx, tx, r, f.docOf(r)) }); err != nil {
		f.t.Fatalf("insert dataset %s: %v", name, err)
	}
	return r
}

func (f *repoFixture) docOf(r *Row) string {
	data, err := json.Marshal(storedDoc{doc: r.Doc, InnerWorkPath: r.InnerWorkPath})
	if err != nil {
		f.t.Fatal(err)
	}
	return string(data)
}

// load reads a dataset back (its counters, label and sample sequences).
func (f *repoFixture) load(r *Row) *Row {
	f.t.Helper()
	got, err := f.rp.loadRow(f.ctx, f.db, r.ProjectID, r.ID, false)
	if err != nil {
		f.t.Fatalf("load dataset %s: %v", r.Name, err)
	}
	return got
}

// addSamples inserts n samples named <prefix><i> after the dataset's last
// seq; every second one carries label seq 1, with the counters.
func (f *repoFixture) addSamples(r *Row, prefix string, n int) {
	f.t.Helper()
	err := f.db.InTx(f.ctx, func(tx *sql.Tx) error {
		cur, err := f.rp.loadRow(f.ctx, tx, r.ProjectID, r.ID, true)
		if err != nil {
			return err
		}
		seq := cur.SampleSeq
		rows := make([]pendingRow, 0, n)
		delta := newCounterDelta()
		for i := range n {
			seq++
			p := pendingRow{in: &SampleInput{Source: fmt.Sprintf("obs://data/in/%s%d.jpg", prefix, i)}, seq: seq, doc: "{}"}
			p.id = SampleID(p.in.Source)
			if i%2 == 0 {
				p.state, p.labels = StateLabeled, map[int64]int{1: 1}
			}
			delta.add(sampleChange{newState: p.state, newLabels: p.labels})
			rows = append(rows, p)
		}
		inserted, err := f.rp.insertRows(f.ctx, tx, r.ID, rows, 1)
		if err != nil {
			return err
		}
		if len(inserted) != n {
			return fmt.Errorf("inserted %d of %d new samples", len(inserted), n)
		}
		if err := f.rp.insertLabelRows(f.ctx, tx, r.ID, rows); err != nil {
			return err
		}
		return f.rp.applyCounters(f.ctx, tx, r.ID, delta, seq, 1)
	})
	if err != nil {
		f.t.Fatalf("add samples %s*: %v", prefix, err)
	}
}

func sampleIDs(samples []*Sample) []string {
	out := make([]string, len(samples))
	for i, s := range samples {
		out[i] = s.SampleName
	}
	return out
}

// TestRepoContract holds the dataset core's repository to the same answers
// on every engine: scoping by project, not found, unique names, what a
// failed transaction leaves, counters written with their samples, the
// batch writers' chunks, and the sample pages (offset as rows, marker,
// the label-driven scan).
func TestRepoContract(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := &repoFixture{t: t, ctx: context.Background(), db: db, rp: &repo{db: db}}
		ctx, rp := f.ctx, f.rp
		a := f.dataset("p1", "0", "alpha", 1000)
		b := f.dataset("p1", "0", "b_2", 2000)
		f.dataset("p1", "0", "bx2", 3000)
		f.dataset("p1", "ws2", "alpha", 4000) // another workspace may reuse a name
		f.dataset("p2", "0", "other", 5000)

		t.Run("scoping and not found", func(t *testing.T) {
			if _, err := rp.loadRow(ctx, db, "p2", a.ID, false); codeOf(err) != CodeDatasetNotFound {
				t.Fatalf("load another project's dataset: got %v, want %s", err, CodeDatasetNotFound)
			}
			if _, err := rp.workspace(ctx, "p2", a.ID); codeOf(err) != CodeDatasetNotFound {
				t.Fatalf("workspace of another project's dataset: got %v, want %s", err, CodeDatasetNotFound)
			}
			if err := rp.deleteDataset(ctx, "p2", a.ID); codeOf(err) != CodeDatasetNotFound {
				t.Fatalf("delete another project's dataset: got %v, want %s", err, CodeDatasetNotFound)
			}
			if ws, err := rp.workspace(ctx, "p1", a.ID); err != nil || ws != "0" {
				t.Fatalf("workspace: got %q, %v; the failed delete must leave the dataset", ws, err)
			}
		})

		t.Run("a row reads back every column", func(t *testing.T) {
			odd := f.dataset("p1", "0", "odd, 猫 1", 6000)
			if _, err := db.ExecContext(ctx, `UPDATE datasets SET description=$1, current_version_id=$2, current_version_name=$3,
				status=$4, deleted_sample_count=$5, dataset_version_count=$6, next_version_num=$7, labels_rev=$8 WHERE id=$9`,
				"a, b\n\u2028 猫", "v1,2", "V002", 2, int64(1)<<40, 3, 4, -5, odd.ID); err != nil {
				t.Fatal(err)
			}
			got, err := rp.loadRow(ctx, db, "p1", odd.ID, false)
			if err != nil {
				t.Fatal(err)
			}
			// What loadRow reads (one record on SQLite) is what the
			// columns hold.
			want, err := scanRow(db.QueryRowContext(ctx, `SELECT `+rowColumns+` FROM datasets WHERE id=$1`, odd.ID))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("loadRow read\n%+v\nthe columns hold\n%+v", got, want)
			}
			if got.Name != "odd, 猫 1" || got.Description != "a, b\n\u2028 猫" || got.CurrentVersionName != "V002" ||
				got.Deleted != 1<<40 || got.LabelsRev != -5 || got.InnerWorkPath != odd.InnerWorkPath {
				t.Errorf("loadRow read %+v", got)
			}
			if err := rp.deleteDataset(ctx, "p1", odd.ID); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("unique names", func(t *testing.T) {
			dup := &Row{ID: store.NewID(), ProjectID: "p1", WorkspaceID: "0", Name: "alpha", Type: TypeImageClassification}
			err := db.InTx(ctx, func(tx *sql.Tx) error { return rp.insertDataset(ctx, tx, dup, f.docOf(dup)) })
			if codeOf(err) != CodeDatasetExists {
				t.Fatalf("insert a taken name: got %v, want %s", err, CodeDatasetExists)
			}
			err = db.InTx(ctx, func(tx *sql.Tx) error { return rp.renameDataset(ctx, tx, "p1", b.ID, "alpha", "", 9) })
			if codeOf(err) != CodeDatasetExists {
				t.Fatalf("rename to a taken name: got %v, want %s", err, CodeDatasetExists)
			}
			if got := f.load(b); got.Name != "b_2" {
				t.Fatalf("a refused rename changed the name to %q", got.Name)
			}
		})

		t.Run("a failed transaction leaves nothing", func(t *testing.T) {
			gone := &Row{ID: store.NewID(), ProjectID: "p1", WorkspaceID: "0", Name: "gone", Type: TypeImageClassification}
			typ := TypeImageClassification
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				if err := rp.insertDataset(ctx, tx, gone, f.docOf(gone)); err != nil {
					return err
				}
				if err := rp.insertLabel(ctx, tx, gone.ID, 1, Label{Name: "cat", Type: &typ}); err != nil {
					return err
				}
				return errors.New("rollback")
			})
			if err == nil || err.Error() != "rollback" {
				t.Fatalf("transaction: got %v", err)
			}
			if _, err := rp.loadRow(ctx, db, "p1", gone.ID, false); codeOf(err) != CodeDatasetNotFound {
				t.Fatalf("dataset of a rolled back transaction: got %v, want not found", err)
			}
			if es, err := rp.labelEntries(ctx, db, gone.ID, 0, -1); err != nil || len(es) != 0 {
				t.Fatalf("labels of a rolled back transaction: %d, %v", len(es), err)
			}
		})

		t.Run("dataset list", func(t *testing.T) {
			cases := []struct {
				name  string
				q     Query
				total int
				want  []string
			}{
				{"oldest first", Query{Limit: 10}, 3, []string{"alpha", "b_2", "bx2"}},
				{"newest first, second page of two", Query{Limit: 2, Offset: 2, Desc: true}, 3, []string{"alpha"}},
				{"search takes _ literally", Query{Limit: 10, Search: "B_"}, 1, []string{"b_2"}},
				{"by name, descending", Query{Limit: 10, SortBy: "dataset_name", Desc: true}, 3, []string{"bx2", "b_2", "alpha"}},
			}
			for _, c := range cases {
				total, rows, err := rp.listDatasets(ctx, Scope{ProjectID: "p1", WorkspaceID: "0"}, c.q)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				var got []string
				for _, r := range rows {
					got = append(got, r.Name)
				}
				if total != c.total || !slices.Equal(got, c.want) {
					t.Errorf("%s: got %d %v, want %d %v", c.name, total, got, c.total, c.want)
				}
			}
		})

		t.Run("labels in creation order, paged", func(t *testing.T) {
			typ := TypeImageClassification
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				for i, n := range []string{"cat", "dog", "bird"} {
					if err := rp.insertLabel(ctx, tx, a.ID, int64(i+1), Label{Name: n, Type: &typ}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("insert labels: %v", err)
			}
			err = db.InTx(ctx, func(tx *sql.Tx) error { return rp.insertLabel(ctx, tx, a.ID, 4, Label{Name: "dog", Type: &typ}) })
			if !store.IsConflict(err) {
				t.Fatalf("a second label called dog: got %v, want a conflict", err)
			}
			es, err := rp.labelEntries(ctx, db, a.ID, 1, 5)
			if err != nil || len(es) != 2 || es[0].l.Name != "dog" || es[1].l.Name != "bird" {
				t.Fatalf("labels from offset 1: got %d entries, %v", len(es), err)
			}
			if n, err := rp.countLabels(ctx, a.ID); err != nil || n != 3 {
				t.Fatalf("count labels: %d, %v", n, err)
			}
		})

		// 600 samples: the loads and deletes work in chunks of 500.
		f.addSamples(a, "s", 600)
		f.addSamples(b, "s", 3) // the same sources in another dataset

		t.Run("counters follow their samples", func(t *testing.T) {
			got := f.load(a)
			if got.Total != 600 || got.Annotated != 300 || got.SampleSeq != 600 {
				t.Fatalf("counters: total %d annotated %d seq %d, want 600 300 600", got.Total, got.Annotated, got.SampleSeq)
			}
			if n, err := rp.labelSampleCount(ctx, a.ID, 1); err != nil || n != 300 {
				t.Fatalf("label counter: %d, %v", n, err)
			}
			// A list reads the same counters, with the label's, in one
			// statement scoped like loadRow.
			var catName string
			if err := db.QueryRowContext(ctx, `SELECT name FROM dataset_labels WHERE dataset_id=$1 AND seq=1`, a.ID).Scan(&catName); err != nil {
				t.Fatalf("name of label 1: %v", err)
			}
			for _, c := range []struct {
				label string
				want  int64
			}{{catName, 300}, {"no such label", -1}, {"", -1}} {
				r, n, err := rp.listRow(ctx, "p1", a.ID, c.label)
				if err != nil || n != c.want {
					t.Fatalf("list row with label %q: label count %d, %v; want %d", c.label, n, err, c.want)
				}
				if r.ID != a.ID || r.Total != got.Total || r.Annotated != got.Annotated || r.Unconfirmed != got.Unconfirmed ||
					r.LabelSeq != got.LabelSeq || r.LabelsRev != got.LabelsRev || r.Type != got.Type {
					t.Fatalf("list row %+v does not hold the row's counters %+v", r, got)
				}
			}
			if _, _, err := rp.listRow(ctx, "p2", a.ID, catName); codeOf(err) != CodeDatasetNotFound {
				t.Fatalf("list row of another project's dataset: got %v, want %s", err, CodeDatasetNotFound)
			}
			// A failed transaction leaves the counters and the samples.
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				if err := rp.deleteSamples(ctx, tx, a.ID, []int64{1, 2}, func(*existingSample) {}); err != nil {
					return err
				}
				d := newCounterDelta()
				d.add(sampleChange{existed: true, deleted: true})
				if err := rp.applyCounters(ctx, tx, a.ID, d, 600, 2); err != nil {
					return err
				}
				return errors.New("rollback")
			})
			if err == nil || err.Error() != "rollback" {
				t.Fatalf("transaction: got %v", err)
			}
			if got := f.load(a); got.Total != 600 {
				t.Fatalf("a rolled back delete left total %d", got.Total)
			}
			if _, err := rp.sampleSeq(ctx, a.ID, SampleID("obs://data/in/s0.jpg")); err != nil {
				t.Fatalf("a rolled back delete removed the sample: %v", err)
			}
		})

		t.Run("samples are scoped by dataset", func(t *testing.T) {
			id := SampleID("obs://data/in/s0.jpg")
			other := f.dataset("p1", "0", "empty", 6000)
			for name, err := range map[string]error{
				"sample": func() error { _, err := rp.sample(ctx, other.ID, id); return err }(),
				"seq":    func() error { _, err := rp.sampleSeq(ctx, other.ID, id); return err }(),
				"source": func() error { _, _, err := rp.sampleSource(ctx, other.ID, id); return err }(),
			} {
				if codeOf(err) != CodeSampleNotFound {
					t.Errorf("%s of another dataset's sample: got %v, want %s", name, err, CodeSampleNotFound)
				}
			}
			if seq, src, err := rp.sampleSource(ctx, b.ID, id); err != nil || seq != 1 || src != "obs://data/in/s0.jpg" {
				t.Fatalf("source in the second dataset: %d %q %v", seq, src, err)
			}
		})

		t.Run("existing samples across chunks", func(t *testing.T) {
			var ids []string
			for i := range 600 {
				ids = append(ids, SampleID(fmt.Sprintf("obs://data/in/s%d.jpg", i)))
			}
			ids = append(ids, SampleID("obs://data/in/none.jpg"))
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				found, err := rp.loadExisting(ctx, tx, a.ID, ids)
				if err != nil {
					return err
				}
				if len(found) != 600 {
					return fmt.Errorf("found %d of 600 samples", len(found))
				}
				if e := found[ids[598]]; e.seq != 599 || e.state != StateLabeled || e.labels[1] != 1 {
					return fmt.Errorf("sample 598 (second chunk): %+v", e)
				}
				// A second insert of the same sources inserts nothing.
				again := []pendingRow{{in: &SampleInput{Source: "obs://data/in/s0.jpg"}, id: ids[0], seq: 601, doc: "{}"}}
				inserted, err := rp.insertRows(ctx, tx, a.ID, again, 3)
				if err != nil || len(inserted) != 0 {
					return fmt.Errorf("insert an existing sample: inserted %v, %v", inserted, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})

		t.Run("sample pages", func(t *testing.T) {
			cur := f.load(a)
			ix, err := rp.loadLabelIndex(ctx, db, cur)
			if err != nil {
				t.Fatal(err)
			}
			labeled := StateLabeled
			seq598 := int64(598)
			cases := []struct {
				name   string
				q      SampleQuery
				marker *int64
				want   []string
			}{
				{"newest first", SampleQuery{Limit: 3}, nil, []string{"s599.jpg", "s598.jpg", "s597.jpg"}},
				{"offset counts samples", SampleQuery{Limit: 2, Offset: 2}, nil, []string{"s597.jpg", "s596.jpg"}},
				{"oldest first", SampleQuery{Limit: 2, Asc: true}, nil, []string{"s0.jpg", "s1.jpg"}},
				{"after a marker", SampleQuery{Limit: 2}, &seq598, []string{"s596.jpg", "s595.jpg"}},
				{"one label drives the scan", SampleQuery{Limit: 2, LabelName: "cat"}, nil, []string{"s598.jpg", "s596.jpg"}},
				{"label and state", SampleQuery{Limit: 2, Offset: 1, LabelName: "cat", State: &labeled, Asc: true}, nil, []string{"s2.jpg", "s4.jpg"}},
			}
			for _, c := range cases {
				w, err := buildSampleFilter(cur, ix, c.q)
				if err != nil {
					t.Fatalf("%s: filter: %v", c.name, err)
				}
				got, err := rp.listSamples(ctx, w, c.q.Asc, c.marker, c.q.Limit, c.q.Offset)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if !slices.Equal(sampleIDs(got), c.want) {
					t.Errorf("%s: got %v, want %v", c.name, sampleIDs(got), c.want)
				}
				// The pages as the API reads them (one record per row on
				// SQLite) hold the same samples, field for field.
				var each []*Sample
				err = rp.eachSample(ctx, w, c.q.Asc, c.marker, c.q.Limit, c.q.Offset, func(sm *Sample) error {
					kept := *sm
					each = append(each, &kept)
					return nil
				})
				if err != nil || len(each) != len(got) {
					t.Fatalf("%s: eachSample read %d samples, %v; want %d", c.name, len(each), err, len(got))
				}
				for i, sm := range each {
					labels, metadata, err := sm.documentJSON()
					if err != nil {
						t.Fatalf("%s: document of %s: %v", c.name, sm.SampleID, err)
					}
					want := *got[i]
					wantLabels, _ := json.Marshal(want.Labels)
					wantMetadata, _ := json.Marshal(want.Metadata)
					if labels != string(wantLabels) || metadata != string(wantMetadata) {
						t.Errorf("%s: sample %s: eachSample's document %s %s, listSamples' %s %s", c.name, sm.SampleID, labels, metadata, wantLabels, wantMetadata)
					}
					sm.doc, sm.docKept, want.Labels, want.Metadata = "", false, nil, nil
					if !reflect.DeepEqual(*sm, want) {
						t.Errorf("%s: eachSample read %+v, listSamples %+v", c.name, *sm, want)
					}
				}
				if c.name == "label and state" {
					if n, err := rp.countMatching(ctx, w); err != nil || n != 300 {
						t.Errorf("%s: count %d, %v; want 300", c.name, n, err)
					}
				}
			}
			// Pages one index selects alone are read to the end even when
			// the request is gone; a page with a condition on rows is not.
			gone, cancel := context.WithCancel(ctx)
			cancel()
			for _, c := range []struct {
				name    string
				q       SampleQuery
				bounded bool
			}{
				{"the dataset's samples", SampleQuery{Limit: 2}, true},
				{"one state", SampleQuery{Limit: 2, State: &labeled}, true},
				{"one label", SampleQuery{Limit: 2, LabelName: "cat"}, true},
				{"a label and a state", SampleQuery{Limit: 2, LabelName: "cat", State: &labeled}, false},
				{"a sample name", SampleQuery{Limit: 2, Conditions: []SearchCondition{{SampleName: "s1"}}}, false},
			} {
				w, err := buildSampleFilter(cur, ix, c.q)
				if err != nil || w.bounded != c.bounded {
					t.Fatalf("%s: bounded %v, %v; want %v", c.name, w != nil && w.bounded, err, c.bounded)
				}
				n := 0
				err = rp.eachSample(gone, w, false, nil, c.q.Limit, 0, func(*Sample) error { n++; return nil })
				if c.bounded && (err != nil || n != 2) {
					t.Errorf("%s: a cancelled request read %d samples, %v; want the page of 2", c.name, n, err)
				}
				if !c.bounded && !errors.Is(err, context.Canceled) {
					t.Errorf("%s: a cancelled request read %d samples, %v; want %v", c.name, n, err, context.Canceled)
				}
			}
			// A selection stops at its maxSeq and pages in seq order.
			w, _ := buildSampleFilter(cur, ix, SampleQuery{LabelName: "cat"})
			if n, err := rp.countSelection(ctx, w, 10); err != nil || n != 5 {
				t.Fatalf("count the selection up to seq 10: %d, %v", n, err)
			}
			page, err := rp.selectionPage(ctx, w, 4, 10, 100)
			if err != nil || len(page) != 3 || page[0].Seq != 5 || page[2].Seq != 9 {
				t.Fatalf("selection after seq 4 up to 10: %+v, %v", page, err)
			}
		})

		t.Run("deleting samples gives their state and clears their rows", func(t *testing.T) {
			var seqs []int64
			for s := int64(1); s <= 520; s++ {
				seqs = append(seqs, s)
			}
			var labeled int
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				return rp.deleteSamples(ctx, tx, a.ID, seqs, func(e *existingSample) {
					if e.state == StateLabeled && e.labels[1] == 1 {
						labeled++
					}
				})
			})
			if err != nil || labeled != 260 {
				t.Fatalf("delete 520 samples: %d labeled given back, %v", labeled, err)
			}
			page, err := rp.samplePage(ctx, a.ID, 0, 1)
			if err != nil || len(page) != 1 || page[0].Seq != 521 {
				t.Fatalf("first sample left: %+v, %v", page, err)
			}
			err = db.InTx(ctx, func(tx *sql.Tx) error {
				left, err := rp.samplesWithLabels(ctx, tx, a.ID, []int64{1})
				if err != nil {
					return err
				}
				if len(left) != 40 {
					return fmt.Errorf("%d samples still carry the label, want 40", len(left))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})

		t.Run("deleting a dataset takes its rows", func(t *testing.T) {
			if err := rp.deleteDataset(ctx, "p1", a.ID); err != nil {
				t.Fatal(err)
			}
			if page, err := rp.samplePage(ctx, a.ID, 0, 10); err != nil || len(page) != 0 {
				t.Fatalf("samples of a deleted dataset: %d, %v", len(page), err)
			}
			if es, err := rp.labelEntries(ctx, db, a.ID, 0, -1); err != nil || len(es) != 0 {
				t.Fatalf("labels of a deleted dataset: %d, %v", len(es), err)
			}
		})
	})
}
