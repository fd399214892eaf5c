package learn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// TextOptions bounds the vocabulary TextFeatures fits.
type TextOptions struct {
	// MinDF drops terms found in fewer documents: a term seen once says
	// nothing about any other document. 0 means 2.
	MinDF int
	// MaxTerms keeps the terms found in the most documents; it bounds the
	// model (terms × labels weights, and the optimiser's history of them).
	// 0 means 50,000.
	MaxTerms int
}

// Term kinds, kept apart in the vocabulary so that the word "tax" and the
// character n-gram "tax" are different features.
const (
	kindWord   = "w\x00"
	kindBigram = "b\x00"
	kindChar   = "c\x00"
)

// Character n-gram lengths within a word. 3 to 5 characters catch stems and
// endings ("comput", "-ing"), so that an inflection or a typo still shares
// most of its n-grams with the word it came from.
const charMin, charMax = 3, 5

// TextFeatures returns one TF-IDF row per document over a vocabulary fitted
// on docs: word unigrams and bigrams, and character n-grams of 3 to 5
// characters within word boundaries (a word padded with a space on each
// side, so that n-grams at a word's start and end differ from those inside).
//
// Text is lower-cased and cut into words at anything that is not a letter
// or digit. A run of Chinese, Japanese or Korean characters has no spaces to
// cut at: each of its characters is a word (so word bigrams are character
// bigrams, the usual unit of Chinese text classification) and the whole run
// is the "word" its character n-grams are taken within.
//
// Term frequency is sublinear (1 + ln tf), so that a word repeated ten
// times is not ten times the evidence; inverse document frequency is
// smoothed, ln((1+n)/(1+df)) + 1; rows have unit length. A document with no
// term of the vocabulary is a row of zeros, not an absent one.
func TextFeatures(ctx context.Context, docs []string, opt TextOptions) (*Matrix, error) {
	if len(docs) == 0 {
		return nil, errors.New("learn: no documents")
	}
	minDF, maxTerms := opt.MinDF, opt.MaxTerms
	if minDF <= 0 {
		minDF = 2
	}
	if maxTerms <= 0 {
		maxTerms = 50000
	}
	df, err := documentFrequencies(ctx, docs)
	if err != nil {
		return nil, err
	}
	type term struct {
		s  string
		df int
	}
	var terms []term
	for s, n := range df {
		if n >= minDF {
			terms = append(terms, term{s, n})
		}
	}
	// Most frequent first, then by spelling so that the cut is the same on
	// every run (map order is random).
	slices.SortFunc(terms, func(a, b term) int { return cmp.Or(cmp.Compare(b.df, a.df), strings.Compare(a.s, b.s)) })
	if len(terms) == 0 {
		return nil, fmt.Errorf("learn: no term occurs in %d documents or more: the texts share no words to learn from", minDF)
	}
	terms = terms[:min(len(terms), maxTerms)]
	// Columns in spelling order, for rows whose non-zeros come out sorted.
	slices.SortFunc(terms, func(a, b term) int { return strings.Compare(a.s, b.s) })
	vocab := make(map[string]int32, len(terms))
	idf := make([]float64, len(terms))
	n := float64(len(docs))
	for i, t := range terms {
		vocab[t.s] = int32(i)
		idf[i] = math.Log((1+n)/(1+float64(t.df))) + 1
	}
	m := &Matrix{n: len(docs), dim: len(terms), sparse: make([]sparseRow, len(docs))}
	err = forDocs(ctx, len(docs), func(i int, tf map[string]int) {
		clear(tf)
		countTerms(docs[i], tf)
		row := sparseRow{}
		for s, c := range tf {
			if j, ok := vocab[s]; ok {
				row.idx = append(row.idx, j)
				row.val = append(row.val, float32((1+math.Log(float64(c)))*idf[j]))
			}
		}
		sortRow(&row)
		var norm float64
		for _, v := range row.val {
			norm += float64(v) * float64(v)
		}
		if norm > 0 {
			inv := float32(1 / math.Sqrt(norm))
			for j := range row.val {
				row.val[j] *= inv
			}
		}
		m.sparse[i] = row
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// documentFrequencies counts, for every term, the documents it occurs in.
func documentFrequencies(ctx context.Context, docs []string) (map[string]int, error) {
	workers := min(runtime.GOMAXPROCS(0), len(docs))
	partial := make([]map[string]int, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			df := map[string]int{}
			tf := map[string]int{}
			for i := w; i < len(docs); i += workers {
				if i%256 == 0 && ctx.Err() != nil {
					return
				}
				clear(tf)
				countTerms(docs[i], tf)
				for s := range tf {
					df[s]++
				}
			}
			partial[w] = df
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	df := partial[0]
	for _, p := range partial[1:] {
		for s, n := range p {
			df[s] += n
		}
	}
	return df, nil
}

// forDocs calls fn for every document index on GOMAXPROCS goroutines, each
// with its own term-count map to reuse.
func forDocs(ctx context.Context, n int, fn func(i int, tf map[string]int)) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			tf := map[string]int{}
			for i := w; i < n; i += workers {
				if i%256 == 0 && ctx.Err() != nil {
					return
				}
				fn(i, tf)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

func sortRow(r *sparseRow) {
	order := make([]int, len(r.idx))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(r.idx[a], r.idx[b]) })
	idx := make([]int32, len(order))
	val := make([]float32, len(order))
	for i, o := range order {
		idx[i], val[i] = r.idx[o], r.val[o]
	}
	r.idx, r.val = idx, val
}

// countTerms adds doc's terms to tf.
func countTerms(doc string, tf map[string]int) {
	var prev string // the previous word, for bigrams; "" at the start
	var word []rune
	flush := func(cjk bool) {
		if len(word) == 0 {
			return
		}
		if cjk {
			for _, r := range word {
				w := string(r)
				tf[kindWord+w]++
				if prev != "" {
					tf[kindBigram+prev+" "+w]++
				}
				prev = w
			}
		} else {
			w := string(word)
			tf[kindWord+w]++
			if prev != "" {
				tf[kindBigram+prev+" "+w]++
			}
			prev = w
		}
		charGrams(word, tf)
		word = word[:0]
	}
	inCJK := false
	for _, r := range strings.ToLower(doc) {
		switch {
		case isCJK(r):
			if !inCJK {
				flush(false)
			}
			inCJK = true
			word = append(word, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			if inCJK {
				flush(true)
			}
			inCJK = false
			word = append(word, r)
		default:
			flush(inCJK)
			inCJK = false
			// Sentence punctuation ends a bigram chain: the last word of one
			// sentence and the first of the next are not a phrase.
			if r == '.' || r == '!' || r == '?' || r == '。' || r == '！' || r == '？' || r == ';' || r == '；' {
				prev = ""
			}
		}
	}
	flush(inCJK)
}

// charGrams adds the character n-grams of word, padded with a space at each
// end.
func charGrams(word []rune, tf map[string]int) {
	padded := make([]rune, 0, len(word)+2)
	padded = append(padded, ' ')
	padded = append(padded, word...)
	padded = append(padded, ' ')
	buf := make([]byte, 0, len(kindChar)+charMax*utf8.UTFMax)
	for n := charMin; n <= charMax; n++ {
		for i := 0; i+n <= len(padded); i++ {
			buf = append(buf[:0], kindChar...)
			for _, r := range padded[i : i+n] {
				buf = utf8.AppendRune(buf, r)
			}
			tf[string(buf)]++
		}
	}
}

func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}
