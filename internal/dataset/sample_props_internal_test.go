package dataset

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

func TestUserProps(t *testing.T) {
	got := userProps(map[string]any{
		"group": "1", "n": 3, "f": 0.5, "big": 1e21, "t": true, "j": json.Number("1.50"),
		"@modelarts:hard": 1.0, "arr": []any{"1"}, "obj": map[string]any{}, "nul": nil,
		"nan": func() float64 { z := 0.0; return z / z }(), "bad": "\xff", "zero": "a\x00b",
		strings.Repeat("k", 257): "v", "long": strings.Repeat("v", 1025), "max": strings.Repeat("v", 1024),
	})
	want := []sampleProp{{"big", "1e+21"}, {"f", "0.5"}, {"group", "1"}, {"j", "1.50"}, {"max", strings.Repeat("v", 1024)},
		{"n", "3"}, {"t", "true"}}
	if !slices.Equal(got, want) {
		t.Errorf("userProps:\n got %q\nwant %q", got, want)
	}
	if userProps(map[string]any{"@modelarts:size": []any{1.0}}) != nil {
		t.Error("metadata without attributes gave attribute rows")
	}
}

// TestSamplePropsBackfill holds migration 00014's backfill to the write
// path: samples written with the table in place, then the table dropped
// and made again by the migration from the stored documents, give the
// same rows.
func TestSamplePropsBackfill(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := &repoFixture{t: t, ctx: context.Background(), db: db, rp: &repo{db: db}}
		ctx, rp := f.ctx, f.rp
		r := f.dataset("p1", "0", "props", 1000)
		metas := []map[string]any{
			{"group": "1", "n": 3.0, "f": 0.1, "tiny": 1e-7, "big": 1e21, "odd": 0.1 + 0.2, "neg": -2.5, "t": true, "fa": false,
				"nul": nil, "arr": []any{1.0}, "obj": map[string]any{"a": 1.0}, "@modelarts:hard": 1.0,
				"@modelarts:size": []any{1.0, 2.0, 3.0}, "@ModelArts:x": "a key of the user's", "é": "ü", "a.b": "dot",
				"sp ace": "x", "br[0]": 4.0, "": "empty name", "esc": "tab\there \"q\" \\ / \u2028 <&>",
				"long": strings.Repeat("x", 1025), "max": strings.Repeat("é", 512), "maxx": strings.Repeat("é", 513),
				strings.Repeat("k", 257): "name too long", strings.Repeat("k", 256): "longest name"},
			// SQLite reads a number under a key with a quote from the
			// parsed value: a value it prints the way Go does.
			{`q"k`: 2.5, `s\l`: "backslash"},
			nil,
			{},
			{"@modelarts:hard": 0.0},
			// A NUL anywhere in the document: the write path indexes the
			// other attributes; the backfill skips the sample, for
			// PostgreSQL cannot read the escape.
			{"zero": "a\x00b", "other": "x"},
		}
		rows := make([]pendingRow, len(metas))
		for i, m := range metas {
			data, err := json.Marshal(sampleDoc{Metadata: m})
			if err != nil {
				t.Fatal(err)
			}
			in := &SampleInput{Source: fmt.Sprintf("obs://data/in/%d.jpg", i)}
			rows[i] = pendingRow{in: in, id: SampleID(in.Source), seq: int64(i + 1), doc: string(data), props: userProps(m)}
		}
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := rp.insertRows(ctx, tx, r.ID, rows, 1); err != nil {
				return err
			}
			return rp.insertPropRows(ctx, tx, r.ID, rows)
		})
		if err != nil {
			t.Fatal(err)
		}
		want := propRows(t, db)
		if len(want) != 21 {
			t.Errorf("the write path indexed %d attributes, want 21: %q", len(want), want)
		}
		want = slices.DeleteFunc(want, func(s string) bool { return strings.HasPrefix(s, "6 ") })

		p, err := goose.NewProvider(map[store.Engine]goose.Dialect{store.SQLite: goose.DialectSQLite3, store.Postgres: goose.DialectPostgres}[db.Engine],
			db.DB, os.DirFS("../store/migrations/"+string(db.Engine)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.DownTo(ctx, 13); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Up(ctx); err != nil {
			t.Fatalf("migrate again with stored samples: %v", err)
		}
		if got := propRows(t, db); !slices.Equal(got, want) {
			t.Errorf("backfill:\n got %q\nwant %q", got, want)
		}
	})
}

func propRows(t *testing.T, db *store.DB) []string {
	t.Helper()
	out, err := store.QueryAll(context.Background(), db, func(sc store.Scanner) (string, error) {
		var seq int64
		var name, value string
		err := sc.Scan(&seq, &name, &value)
		return fmt.Sprintf("%d %q=%q", seq, name, value), err
	}, `SELECT sample_seq, name, value FROM dataset_sample_props ORDER BY sample_seq, name`)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var placeholder = regexp.MustCompile(`\$[0-9]+`)

// FuzzPropFilter holds the metadata condition's parser to its limits: any
// input is a filter or a 400, and a filter's SQL has one placeholder per
// argument, whatever the names and values hold.
func FuzzPropFilter(f *testing.F) {
	for _, s := range []string{`{"op":"AND","props":{"group":["1"]}}`, `{"op":"or","props":{"a":[1,true],"b":null}}`,
		`{"props":{}}`, `null`, `{"props":{"@modelarts:hard":["1"]}}`, `{"props":{"a'b":["$1) OR 1=1 --"]}}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := parsePropFilter("c", data)
		if err != nil {
			if e, ok := AsError(err); !ok || e.Kind != KindInvalid {
				t.Fatalf("error %v is not a bad request", err)
			}
			return
		}
		if pf == nil {
			return
		}
		values := 0
		for _, v := range pf.vals {
			values += len(v)
		}
		if len(pf.names) == 0 || len(pf.names) > maxFilterProps || values > maxFilterValues {
			t.Fatalf("%d names, %d values passed", len(pf.names), values)
		}
		// $1 is the dataset; the arguments are $2 on, each used once.
		inS := func(arg func(any) string) string { return pf.sql("s.seq", arg) }
		for _, build := range []func(func(any) string) string{inS, pf.driverSQL} {
			var args []any
			text := build(func(v any) string {
				args = append(args, v)
				return fmt.Sprintf("$%d", len(args)+1)
			})
			used := map[string]int{}
			for _, ph := range placeholder.FindAllString(text, -1) {
				used[ph]++
			}
			delete(used, "$1")
			for i := range args {
				if used[fmt.Sprintf("$%d", i+2)] != 1 {
					t.Fatalf("argument %d is not used once in %s", i+2, text)
				}
			}
			if len(used) != len(args) {
				t.Fatalf("%d placeholders for %d arguments in %s", len(used), len(args), text)
			}
		}
	})
}
