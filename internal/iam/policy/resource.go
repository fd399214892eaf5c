package policy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

const maxResourceLen = 1500

// resourcePattern is a compiled Resource entry
// service:region:accountID:resourceType:path. The first four segments are
// compared case-insensitively and their '*' stays within the segment; the
// path (everything after the fourth ':') is compared case-sensitively and its
// '*' matches any run of characters, '/' and ':' included.
type resourcePattern struct {
	seg  [4]segment
	path segment
}

// splitResource splits a request resource at its first four colons.
func splitResource(r string) (parts [5]string, ok bool) {
	rest := r
	for i := 0; i < 4; i++ {
		j := strings.IndexByte(rest, ':')
		if j < 0 {
			return parts, false
		}
		parts[i] = rest[:j]
		rest = rest[j+1:]
	}
	parts[4] = rest
	return parts, true
}

func compileResource(s string) (resourcePattern, *problem) {
	if s == "" {
		return resourcePattern{}, &problem{codeResourceEmpty, "resource URI is empty"}
	}
	if n := utf8.RuneCountInString(s); n > maxResourceLen {
		return resourcePattern{}, &problem{codeResourceLength, fmt.Sprintf("resource URI is %d characters long, the limit is %d", n, maxResourceLen)}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			return resourcePattern{}, &problem{codeResourceChars, fmt.Sprintf("resource URI %q contains a space", s)}
		}
		if !(c == ':' || c == '*' || c == '_' || c == '-' || c == '.' || c == '/' || c == '\\' ||
			'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return resourcePattern{}, &problem{codeResourceChars, fmt.Sprintf("resource URI %q contains the character %q; allowed are letters, digits and - _ * . / \\ :", s, r)}
		}
	}
	parts, ok := splitResource(s)
	if !ok {
		return resourcePattern{}, &problem{codeResourceFormat, fmt.Sprintf("resource URI %q does not have the form service:region:accountID:resourceType:path, for example obs:*:*:object:my-bucket/*", s)}
	}
	for i, name := range [5]string{"service", "region", "account ID", "resource type", "path"} {
		if parts[i] == "" {
			return resourcePattern{}, &problem{codeResourceFormat, fmt.Sprintf("resource URI %q has an empty %s; write * to match any", s, name)}
		}
	}
	var rp resourcePattern
	for i := 0; i < 4; i++ {
		rp.seg[i] = compileSegment(parts[i], true, false)
	}
	rp.path = compileSegment(parts[4], false, false)
	return rp, nil
}

func (rp *resourcePattern) match(parts *[5]string) bool {
	return rp.seg[3].match(parts[3]) && rp.path.match(parts[4]) &&
		rp.seg[0].match(parts[0]) && rp.seg[1].match(parts[1]) && rp.seg[2].match(parts[2])
}
