package store_test

import (
	"context"
	"math"
	"testing"

	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// A record read from the database gives back every column as stored, on
// both engines: texts holding commas, digits, multi-byte characters and
// nothing at all, and integers at both ends of their range.
func TestRecordReadsBackItsColumns(t *testing.T) {
	rows := []struct {
		a, b       int64
		x, y, last string
	}{
		{1, -7, "a,b", "猫 12,", `{"labels":[]}`},
		{math.MaxInt64, math.MinInt64, "", "", ""},
		{0, 42, "3,4,5", "\u2028 tab\t", "end, with a comma,"},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE record_rows (k INTEGER NOT NULL, a BIGINT NOT NULL, b BIGINT NOT NULL,
			x TEXT NOT NULL, y TEXT NOT NULL, last TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		for k, r := range rows {
			if _, err := db.ExecContext(ctx, `INSERT INTO record_rows VALUES ($1, $2, $3, $4, $5, $6)`, k, r.a, r.b, r.x, r.y, r.last); err != nil {
				t.Fatal(err)
			}
		}
		expr := store.RecordSQL([]string{"a", "b"}, []string{"x", "y", "last"})
		for k, want := range rows {
			var rec string
			if err := db.QueryRowContext(ctx, `SELECT `+expr+` FROM record_rows WHERE k=$1`, k).Scan(&rec); err != nil {
				t.Fatalf("row %d: %v", k, err)
			}
			var a, b int64
			var x, y, last string
			if err := store.ParseRecord(rec, []*int64{&a, &b}, []*string{&x, &y, &last}); err != nil {
				t.Fatalf("row %d: parse %q: %v", k, rec, err)
			}
			if a != want.a || b != want.b || x != want.x || y != want.y || last != want.last {
				t.Errorf("row %d: read %d %d %q %q %q from %q, stored %d %d %q %q %q", k, a, b, x, y, last, rec,
					want.a, want.b, want.x, want.y, want.last)
			}
		}
	})
}

func TestParseRecordRefusesMalformedRecords(t *testing.T) {
	for _, c := range []struct{ name, rec string }{
		{"empty", ""},
		{"header cut short", "1,2,"},
		{"not a number", "1,x,3,ab"},
		{"negative length", "1,2,-1,ab"},
		{"texts shorter than their lengths", "1,2,5,ab"},
	} {
		var a, b int64
		var x, y string
		if err := store.ParseRecord(c.rec, []*int64{&a, &b}, []*string{&x, &y}); err == nil {
			t.Errorf("%s: parsed %q without an error", c.name, c.rec)
		}
	}
}
