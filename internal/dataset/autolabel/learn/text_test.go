package learn

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCountTerms(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		has  []string // terms, with their kind prefix
		not  []string
	}{
		{
			name: "english",
			doc:  "Stock prices rose. Markets rallied!",
			has: []string{kindWord + "stock", kindBigram + "stock prices", kindBigram + "prices rose",
				kindChar + " st", kindChar + "ock ", kindChar + "rose ", kindBigram + "markets rallied"},
			// A sentence end breaks the bigram chain; case is folded.
			not: []string{kindBigram + "rose markets", kindWord + "Stock", kindChar + "k p"},
		},
		{
			name: "chinese",
			doc:  "股票上涨，市场",
			has: []string{kindWord + "股", kindWord + "涨", kindBigram + "股 票", kindBigram + "上 涨",
				kindChar + " 股票", kindChar + "股票上涨 ", kindWord + "市"},
			// A comma ends the run: no n-gram spans it.
			not: []string{kindChar + "涨市", kindChar + "涨，市"},
		},
		{
			name: "mixed",
			doc:  "GPU服务器down",
			has:  []string{kindWord + "gpu", kindWord + "服", kindWord + "down", kindBigram + "gpu 服", kindBigram + "器 down"},
			not:  []string{kindWord + "gpu服务器down"},
		},
		{
			name: "accents-and-digits",
			doc:  "café 2024",
			has:  []string{kindWord + "café", kindWord + "2024", kindChar + "afé ", kindBigram + "café 2024"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tf := map[string]int{}
			countTerms(tc.doc, tf)
			for _, term := range tc.has {
				if tf[term] == 0 {
					t.Errorf("no term %q in %q; terms: %v", term, tc.doc, keys(tf))
				}
			}
			for _, term := range tc.not {
				if tf[term] != 0 {
					t.Errorf("unexpected term %q in %q", term, tc.doc)
				}
			}
		})
	}
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, strings.ReplaceAll(k, "\x00", ":"))
	}
	slices.Sort(out)
	return out
}

func TestTextFeatures(t *testing.T) {
	docs := []string{
		"the bond market fell",
		"the bond yield rose",
		"the striker scored a goal",
		"the keeper saved a goal",
		"",
		"债券市场下跌",
		"债券收益率上涨",
	}
	x, err := TextFeatures(context.Background(), docs, TextOptions{MinDF: 2})
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != len(docs) {
		t.Fatalf("%d rows for %d documents", x.Len(), len(docs))
	}
	for i, r := range x.sparse {
		n := norm(r.val)
		switch {
		case docs[i] == "" && len(r.idx) != 0:
			t.Errorf("the empty document has %d terms", len(r.idx))
		case docs[i] != "" && math.Abs(n-1) > 1e-5:
			t.Errorf("row %d has length %.6f, want 1", i, n)
		}
		if !slices.IsSorted(r.idx) {
			t.Errorf("row %d's columns are not sorted", i)
		}
	}
	// Documents about the same thing share terms; others share less.
	cos := func(a, b int) float64 { return dot(x.Row(a), x.Row(b)) }
	if cos(0, 1) <= cos(0, 2) || cos(2, 3) <= cos(2, 1) || cos(5, 6) <= cos(5, 0) {
		t.Errorf("similarities: bond/bond %.3f vs bond/goal %.3f, goal/goal %.3f vs goal/bond %.3f, 债券 %.3f vs %.3f",
			cos(0, 1), cos(0, 2), cos(2, 3), cos(2, 1), cos(5, 6), cos(5, 0))
	}
	// "the" is in four documents, "债券" in two: rarer terms weigh more.
	capped, err := TextFeatures(context.Background(), docs, TextOptions{MinDF: 1, MaxTerms: 10})
	if err != nil {
		t.Fatal(err)
	}
	if capped.Dim() != 10 {
		t.Errorf("MaxTerms 10 gave %d columns", capped.Dim())
	}
	again, _ := TextFeatures(context.Background(), docs, TextOptions{MinDF: 1, MaxTerms: 10})
	for i := range docs {
		if distance(capped.Row(i), again.Row(i)) != 0 {
			t.Fatal("two fits of the same documents differ: the vocabulary cut depends on map order")
		}
	}
	if _, err := TextFeatures(context.Background(), nil, TextOptions{}); err == nil {
		t.Error("no documents: no error")
	}
	if _, err := TextFeatures(context.Background(), []string{"alpha", "omega"}, TextOptions{MinDF: 2}); err == nil {
		t.Error("documents that share no term: no error")
	}
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func FuzzCountTerms(f *testing.F) {
	for _, s := range []string{"Hello, world.", "股票上涨，市场", "a\x00b", "\xff\xfe", "x y z. 中 文!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		tf := map[string]int{}
		countTerms(doc, tf)
		for term, n := range tf {
			if n <= 0 || len(term) < 3 || term[1] != 0 {
				t.Fatalf("term %q counted %d", term, n)
			}
			if utf8.ValidString(doc) && !utf8.ValidString(term) {
				t.Fatalf("term %q of a valid document is not valid UTF-8", term)
			}
		}
	})
}
