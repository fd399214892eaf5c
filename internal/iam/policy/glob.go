package policy

import "unicode/utf8"

// wildMatch reports whether text matches pattern, where '*' matches any run
// of characters (including none). With qmark, '?' matches exactly one
// character (one UTF-8 sequence); without it '?' is an ordinary character.
// With fold, pattern must already be lower-case ASCII and text is compared
// ASCII-case-insensitively. It does not allocate.
//
// The algorithm keeps only the most recent '*' as a backtracking point, which
// is enough because a later '*' can absorb anything an earlier one could.
func wildMatch(pattern, text string, fold, qmark bool) bool {
	pi, ti := 0, 0
	star, mark := -1, 0
	for ti < len(text) {
		if pi < len(pattern) {
			c := pattern[pi]
			switch {
			case c == '*':
				star, mark = pi, ti
				pi++
				continue
			case c == '?' && qmark:
				ti += runeLen(text, ti)
				pi++
				continue
			case c == text[ti] || (fold && c == lowerASCII(text[ti])):
				pi++
				ti++
				continue
			}
		}
		if star < 0 {
			return false
		}
		if qmark {
			mark += runeLen(text, mark)
		} else {
			mark++
		}
		pi, ti = star+1, mark
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

func runeLen(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s[i:])
	return n
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFoldASCII compares a lower-case ASCII pattern with text, folding
// ASCII letters of text only.
func equalFoldASCII(lower, text string) bool {
	if len(lower) != len(text) {
		return false
	}
	for i := 0; i < len(text); i++ {
		if lower[i] != lowerASCII(text[i]) {
			return false
		}
	}
	return true
}

func toLowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

// segment is one compiled colon-separated part of an action or resource
// pattern. The common shapes get their own kinds so that most comparisons
// are a single prefix or suffix check.
type segment struct {
	kind uint8
	lit  string // lower-cased (folded segments) or as written (path); without the '*' for segPrefix/segSuffix
	fold bool   // compare ASCII-case-insensitively
	q    bool   // '?' is a wildcard
}

const (
	segAny    uint8 = iota // "*": matches anything
	segLit                 // no wildcard: plain comparison
	segPrefix              // "abc*"
	segSuffix              // "*abc"
	segGlob                // any other use of wildcards
)

func compileSegment(s string, fold, qmark bool) segment {
	if fold {
		s = toLowerASCII(s)
	}
	if s == "*" {
		return segment{kind: segAny}
	}
	stars, others := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '*':
			stars++
		case qmark && s[i] == '?':
			others++
		}
	}
	switch {
	case stars == 0 && others == 0:
		return segment{kind: segLit, lit: s, fold: fold}
	case stars == 1 && others == 0 && s[len(s)-1] == '*':
		return segment{kind: segPrefix, lit: s[:len(s)-1], fold: fold}
	case stars == 1 && others == 0 && s[0] == '*':
		return segment{kind: segSuffix, lit: s[1:], fold: fold}
	}
	return segment{kind: segGlob, lit: s, fold: fold, q: qmark}
}

func (g *segment) match(text string) bool {
	switch g.kind {
	case segAny:
		return true
	case segLit:
		if g.fold {
			return equalFoldASCII(g.lit, text)
		}
		return g.lit == text
	case segPrefix:
		if len(text) < len(g.lit) {
			return false
		}
		if g.fold {
			return equalFoldASCII(g.lit, text[:len(g.lit)])
		}
		return g.lit == text[:len(g.lit)]
	case segSuffix:
		if len(text) < len(g.lit) {
			return false
		}
		if g.fold {
			return equalFoldASCII(g.lit, text[len(text)-len(g.lit):])
		}
		return g.lit == text[len(text)-len(g.lit):]
	default:
		return wildMatch(g.lit, text, g.fold, g.q)
	}
}
