// Package jsonout appends JSON to byte slices: the pieces of the hand-written
// encoders of what is written often enough for encoding/json's reflection to
// show in profiles (sample pages, policy documents). Each function writes
// exactly what encoding/json writes for the same value with HTML escaping
// off, so a hand-written encoder and encoding/json can answer the same
// route interchangeably.
package jsonout

import (
	"strconv"
	"unicode/utf8"
)

// String appends s as a JSON string: quotes, backslashes and control
// characters escaped, U+2028 and U+2029 escaped (encoding/json does, for
// JavaScript embedding), invalid UTF-8 replaced by U+FFFD.
func String(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0 // s[start:i] is yet to be appended, and needs no escape
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Int appends n as a JSON number.
func Int(b []byte, n int64) []byte {
	return strconv.AppendInt(b, n, 10)
}
