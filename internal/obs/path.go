package obs

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Path is a location in object storage: a bucket and a key within it. Key
// is empty for the whole bucket and ends in "/" for a directory prefix.
type Path struct {
	Bucket string
	Key    string
}

// ParsePath parses a location in one of the forms users and ModelArts give:
//
//	obs://bucket/key    s3://bucket/key    /bucket/key
//
// The scheme is lowercase. The key may be empty ("obs://bucket",
// "/bucket/") or end in "/" (a directory prefix). The key is taken
// literally: "%2e%2e" is three characters, never "..", and "?" or "#" are
// part of the key. The bucket must pass ValidateBucketName and a non-empty
// key ValidateKey. Errors wrap ErrInvalidPath.
func ParsePath(s string) (Path, error) {
	var rest string
	switch {
	case strings.HasPrefix(s, "obs://"):
		rest = s[len("obs://"):]
	case strings.HasPrefix(s, "s3://"):
		rest = s[len("s3://"):]
	case strings.HasPrefix(s, "/"):
		rest = s[1:]
	default:
		return Path{}, fmt.Errorf("parse path %q: want obs://bucket/key, s3://bucket/key or /bucket/key: %w", s, ErrInvalidPath)
	}
	bucket, key, _ := strings.Cut(rest, "/")
	if err := ValidateBucketName(bucket); err != nil {
		return Path{}, fmt.Errorf("parse path %q: %w: %w", s, ErrInvalidPath, err)
	}
	if key != "" {
		if err := ValidateKey(key); err != nil {
			return Path{}, fmt.Errorf("parse path %q: %w: %w", s, ErrInvalidPath, err)
		}
	}
	return Path{Bucket: bucket, Key: key}, nil
}

// String returns the canonical form "obs://bucket/key" ("obs://bucket/" for
// the whole bucket), which ParsePath maps back to p.
func (p Path) String() string {
	return "obs://" + p.Bucket + "/" + p.Key
}

// IsDir reports whether p names a directory prefix (or the whole bucket)
// rather than one object.
func (p Path) IsDir() bool {
	return p.Key == "" || strings.HasSuffix(p.Key, "/")
}

// ValidateBucketName checks the OBS and S3 bucket naming rules: 3 to 63
// characters of lowercase letters, digits, '-' and '.', starting and ending
// with a letter or digit, without "..", "-." or ".-", and not shaped like an
// IPv4 address. Errors wrap ErrInvalidBucket.
func ValidateBucketName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("bucket name %q %s: %w", name, why, ErrInvalidBucket)
	}
	if len(name) < 3 || len(name) > 63 {
		return bad("is not 3 to 63 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		switch {
		case !alnum && c != '-' && c != '.':
			return bad("has a character other than lowercase letters, digits, '-' and '.'")
		case !alnum && (i == 0 || i == len(name)-1):
			return bad("does not start and end with a letter or digit")
		}
	}
	if strings.Contains(name, "..") || strings.Contains(name, "-.") || strings.Contains(name, ".-") {
		return bad(`contains "..", "-." or ".-"`)
	}
	if looksLikeIPv4(name) {
		return bad("is formatted as an IP address")
	}
	return nil
}

// looksLikeIPv4 reports whether s is four dot-separated groups of digits.
// Leading zeros count too ("010.0.0.1"): S3 refuses the shape, not only
// addresses net.ParseIP would accept.
func looksLikeIPv4(s string) bool {
	if strings.Count(s, ".") != 3 {
		return false
	}
	for p := range strings.SplitSeq(s, ".") {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// MaxKeyLen is the longest key in bytes, as in OBS and S3.
const MaxKeyLen = 1024

// ValidateKey checks a key or a directory prefix: 1 to MaxKeyLen bytes of
// UTF-8 with no control characters (NUL included) and no backslash; it does
// not start with "/"; split on "/" it has no empty, "." or ".." segment,
// except that it may end in a single "/", which makes it a directory prefix.
// Keys are literal: no percent-decoding happens anywhere in this package.
//
// These rules are stricter than S3's so that every valid key is also a
// safe relative file path on any filesystem (the local store maps key K of
// bucket B to <root>/B/K) and means the same on every backend: S3 would
// accept "a//b" and "a/./b" as keys distinct from "a/b", a filesystem would
// not. Store methods that take an object key refuse a trailing "/" as well
// (see ValidateObjectKey). Errors wrap ErrInvalidKey.
func ValidateKey(key string) error {
	bad := func(why string) error {
		return fmt.Errorf("key %q %s: %w", key, why, ErrInvalidKey)
	}
	switch {
	case key == "":
		return bad("is empty")
	case len(key) > MaxKeyLen:
		return fmt.Errorf("key of %d bytes is longer than %d: %w", len(key), MaxKeyLen, ErrInvalidKey)
	case !utf8.ValidString(key):
		return bad("is not valid UTF-8")
	case key[0] == '/':
		return bad(`starts with "/"`)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == 0x7f {
			return bad("contains a control character")
		} else if c == '\\' {
			return bad("contains a backslash")
		}
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(key, "/"), "/") {
		switch seg {
		case "":
			return bad(`contains an empty segment ("//")`)
		case ".", "..":
			return bad(`contains a "." or ".." segment`)
		}
	}
	return nil
}

// ValidateObjectKey checks a key that names one object, as every Store
// method taking a key does: ValidateKey's rules, and no trailing "/"
// (directory markers are not objects). Errors wrap ErrInvalidKey.
func ValidateObjectKey(key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if strings.HasSuffix(key, "/") {
		return fmt.Errorf(`key %q ends in "/": directory markers are not objects: %w`, key, ErrInvalidKey)
	}
	return nil
}

// KeyChecker is implemented by stores whose object keys follow rules of
// their own beyond ValidateObjectKey (the local store reserves ".atelier/"
// at the top of a bucket and bounds segments to what a filesystem takes).
type KeyChecker interface {
	CheckObjectKey(key string) error
}

// CheckObjectKey validates a bucket and an object key as s's methods will
// before any I/O: ValidateBucketName, ValidateObjectKey and the store's own
// rules. Callers that keep a location to read later (a dataset's samples)
// check it here, so that what they keep can be read. Errors wrap
// ErrInvalidBucket or ErrInvalidKey.
func CheckObjectKey(s Store, bucket, key string) error {
	if err := ValidateBucketName(bucket); err != nil {
		return err
	}
	if kc, ok := s.(KeyChecker); ok {
		return kc.CheckObjectKey(key)
	}
	return ValidateObjectKey(key)
}
