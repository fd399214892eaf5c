package store

import (
	"fmt"
	"strconv"
	"strings"
)

// A record is many columns of a row read as one text value, for SQLite's
// hot reads. Through modernc's driver every column a statement returns
// costs, per statement, its name and declared type (two calls into
// SQLite and two Go strings) and, per row, three calls and a Go value
// of its own, and every call takes the connection's mutex. One text
// column is one set of calls and one string, which ParseRecord slices
// without a copy. PostgreSQL's driver reads a row from one message and
// keeps its columns: callers read records on SQLite only.
//
// A record is the integer columns in decimal and the byte lengths of the
// text columns but the last, each followed by a comma, then the texts
// back to back (the last runs to the end). The columns must not be NULL:
// concat would write nothing for them and ParseRecord refuses the record.

// RecordSQL is the SQL expression of the record of the integer columns
// ints and the text columns texts (SQL expressions, at least one text).
func RecordSQL(ints, texts []string) string {
	args := make([]string, 0, 2*len(ints)+2*len(texts))
	for _, c := range ints {
		args = append(args, c, "','")
	}
	for _, c := range texts[:len(texts)-1] {
		args = append(args, "octet_length("+c+")", "','")
	}
	return "concat(" + strings.Join(append(args, texts...), ", ") + ")"
}

// ParseRecord reads a record of RecordSQL(ints, texts) into ints and texts
// (as many of each as the expression had), the texts slices of rec.
func ParseRecord(rec string, ints []*int64, texts []*string) error {
	// The header is len(ints)+len(texts)-1 numbers; the texts follow it.
	fields := len(ints) + len(texts) - 1
	header, body := rec, rec
	for i := range fields {
		_, after, ok := strings.Cut(body, ",")
		if !ok {
			return fmt.Errorf("record %.40q: %d header fields, want %d", rec, i, fields)
		}
		body = after
	}
	next := func(i int) (int64, error) {
		num, after, _ := strings.Cut(header, ",")
		header = after
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("record %.40q: header field %d: %w", rec, i, err)
		}
		return v, nil
	}
	for i, p := range ints {
		v, err := next(i)
		if err != nil {
			return err
		}
		*p = v
	}
	last := len(texts) - 1
	for i, p := range texts[:last] {
		size, err := next(len(ints) + i)
		if err != nil {
			return err
		}
		if size < 0 || size > int64(len(body)) {
			return fmt.Errorf("record %.40q: text %d of %d bytes, %d left", rec, i, size, len(body))
		}
		*p, body = body[:size], body[size:]
	}
	*texts[last] = body
	return nil
}
