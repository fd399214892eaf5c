package obs_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/obs"
)

// TestParsePath is the corpus of accepted and refused locations: dropping
// an accepted form breaks stored dataset paths.
func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  obs.Path
		isDir bool
	}{
		{"obs://b12/k", obs.Path{"b12", "k"}, false},
		{"obs://bkt/images/a.jpg", obs.Path{"bkt", "images/a.jpg"}, false},
		{"obs://bkt/images/", obs.Path{"bkt", "images/"}, true},
		{"obs://bkt", obs.Path{"bkt", ""}, true},
		{"obs://bkt/", obs.Path{"bkt", ""}, true},
		{"s3://bkt/k", obs.Path{"bkt", "k"}, false},
		{"s3://bkt/dir/", obs.Path{"bkt", "dir/"}, true},
		{"/bkt/k", obs.Path{"bkt", "k"}, false},
		{"/bkt/k/", obs.Path{"bkt", "k/"}, true},
		{"/bkt", obs.Path{"bkt", ""}, true},
		{"/bkt/", obs.Path{"bkt", ""}, true},
		{"/my.bucket-1/a b/c", obs.Path{"my.bucket-1", "a b/c"}, false},
		// Keys are literal: no percent-decoding, "?" and "#" are characters.
		{"obs://bkt/a/%2e%2e/", obs.Path{"bkt", "a/%2e%2e/"}, true},
		{"obs://bkt/a%2Fb", obs.Path{"bkt", "a%2Fb"}, false},
		{"obs://bkt/q?x=1#f", obs.Path{"bkt", "q?x=1#f"}, false},
		{"obs://bkt/..a/b..", obs.Path{"bkt", "..a/b.."}, false},
		{"obs://bkt/.hidden", obs.Path{"bkt", ".hidden"}, false},
		{"obs://bkt/é/中文", obs.Path{"bkt", "é/中文"}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := obs.ParsePath(tc.in)
			if err != nil {
				t.Fatalf("ParsePath(%q): %v", tc.in, err)
			}
			if got != tc.want || got.IsDir() != tc.isDir {
				t.Errorf("ParsePath(%q) = %#v (dir %v), want %#v (dir %v)", tc.in, got, got.IsDir(), tc.want, tc.isDir)
			}
			again, err := obs.ParsePath(got.String())
			if err != nil || again != got {
				t.Errorf("ParsePath(%q.String() = %q) = %#v, %v", tc.in, got.String(), again, err)
			}
		})
	}
}

func TestParsePathRefused(t *testing.T) {
	for _, in := range []string{
		"", "bkt/k", "obs:/bkt/k", "obs:bkt/k", "OBS://bkt/k", "https://bkt/k", "file:///bkt/k", "gs://bkt/k",
		"obs://", "obs:///k", "/", "//k", "s3://",
		// Bucket names are at least 3 characters, so the short forms
		// "obs://b/k", "/b/k/" and "s3://b/k" are refused whatever the key.
		"obs://b/k", "/b/k/", "s3://b/k", "obs://bk/k",
		"obs://B/k", "obs://Bkt/k", "obs://ab/k", "obs://bk_t/k", "obs://-bkt/k", "obs://192.168.0.1/k",
		"obs://bkt/../x", "obs://bkt/a/../x", "obs://bkt/./x", "obs://bkt/a/.", "obs://bkt/..", "obs://bkt/a/../",
		"obs://bkt//k", "obs://bkt/a//k", "/bkt//", "obs://bkt/a\x00b", "obs://bkt/a\nb", "obs://bkt/a\\..\\b",
		"obs://bkt/\xff", "obs://bkt/" + strings.Repeat("k", 1025),
	} {
		t.Run(in, func(t *testing.T) {
			p, err := obs.ParsePath(in)
			if !errors.Is(err, obs.ErrInvalidPath) {
				t.Errorf("ParsePath(%q) = %#v, %v; want ErrInvalidPath", in, p, err)
			}
		})
	}
}

func TestParsePathErrorsSayWhy(t *testing.T) {
	_, err := obs.ParsePath("obs://Bkt/k")
	if !errors.Is(err, obs.ErrInvalidBucket) {
		t.Errorf("bad bucket: %v does not wrap ErrInvalidBucket", err)
	}
	_, err = obs.ParsePath("obs://bkt/../k")
	if !errors.Is(err, obs.ErrInvalidKey) {
		t.Errorf("bad key: %v does not wrap ErrInvalidKey", err)
	}
}

func TestValidateBucketName(t *testing.T) {
	for _, name := range []string{"abc", "a-b", "a.b", "a1b", "123", "1.2.3", "1.2.3.4.5", "a.1.2.3", strings.Repeat("a", 63), "my-bucket.v2"} {
		if err := obs.ValidateBucketName(name); err != nil {
			t.Errorf("ValidateBucketName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{
		"", "a", "ab", strings.Repeat("a", 64), "Abc", "aBc", "a_b", "a b", "a/b", "a:b", "é-bucket",
		"-ab", "ab-", ".ab", "ab.", "a..b", "a.-b", "a-.b", "192.168.5.4", "010.0.0.1", "1.2.3.4",
	} {
		if err := obs.ValidateBucketName(name); !errors.Is(err, obs.ErrInvalidBucket) {
			t.Errorf("ValidateBucketName(%q) = %v, want ErrInvalidBucket", name, err)
		}
	}
}

func TestValidateKey(t *testing.T) {
	for _, key := range []string{
		"k", "a/b", "dir/", "a/b/", "..a", "a..", "a/...", ".hidden", "a/.b", "%2e%2e", "a b", "q?#",
		"é/中文", strings.Repeat("k", 1024), strings.Repeat("k", 1023) + "/",
	} {
		if err := obs.ValidateKey(key); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", key, err)
		}
	}
	for _, key := range []string{
		"", ".", "..", "./", "../", "a/.", "a/..", "./a", "../a", "a/./b", "a/../b", "a/../",
		"/", "/a", "a//b", "a//", "//", "a\x00", "\x00", "a\tb", "a\rb", "a\x1fb", "a\x7fb",
		"a\\b", `..\a`, "\xff", "a\xc3", strings.Repeat("k", 1025),
	} {
		if err := obs.ValidateKey(key); !errors.Is(err, obs.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
}

func TestPathString(t *testing.T) {
	for p, want := range map[obs.Path]string{
		{"bkt", "a/b.jpg"}: "obs://bkt/a/b.jpg",
		{"bkt", "dir/"}:    "obs://bkt/dir/",
		{"bkt", ""}:        "obs://bkt/",
	} {
		if got := p.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", p, got, want)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"obs://b12/k", "/bkt/k/", "s3://bkt/k", "obs://B/k", "obs://bkt/../x", "obs://bkt/a/%2e%2e/",
		"obs://bkt", "/bkt/a/./b", "obs://bkt/a\\..\\b", "obs://bkt//x", "obs://1.2.3.4/k", "s3://bkt/é/",
	} {
		f.Add(s)
	}
	root := filepath.Join(f.TempDir(), "root")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := obs.ParsePath(s)
		if err != nil {
			if !errors.Is(err, obs.ErrInvalidPath) {
				t.Fatalf("ParsePath(%q) error %v does not wrap ErrInvalidPath", s, err)
			}
			return
		}
		if err := obs.ValidateBucketName(p.Bucket); err != nil {
			t.Fatalf("ParsePath(%q) accepted bucket %q: %v", s, p.Bucket, err)
		}
		if p.Key != "" {
			if err := obs.ValidateKey(p.Key); err != nil {
				t.Fatalf("ParsePath(%q) accepted key %q: %v", s, p.Key, err)
			}
		}
		again, err := obs.ParsePath(p.String())
		if err != nil || again != p {
			t.Fatalf("ParsePath(%q).String() = %q parses to %#v, %v", s, p.String(), again, err)
		}
		// The local store puts the key at <root>/<bucket>/<key>: it must
		// stay inside the bucket, and mean the same path once cleaned.
		bucketDir := filepath.Join(root, p.Bucket)
		joined := filepath.Join(bucketDir, filepath.FromSlash(p.Key))
		rel, err := filepath.Rel(bucketDir, joined)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			t.Fatalf("key %q of %q escapes the bucket directory: %q", p.Key, s, joined)
		}
		if p.Key != "" && filepath.ToSlash(rel) != strings.TrimSuffix(p.Key, "/") {
			t.Fatalf("key %q of %q is altered by cleaning: %q", p.Key, s, rel)
		}
	})
}

func TestValidateObjectKey(t *testing.T) {
	for key, ok := range map[string]bool{
		"k": true, "a/b": true, ".hidden": true,
		"dir/": false, "a/b/": false, "": false, "a/../b": false,
	} {
		if err := obs.ValidateObjectKey(key); (err == nil) != ok || err != nil && !errors.Is(err, obs.ErrInvalidKey) {
			t.Errorf("ValidateObjectKey(%q) = %v, want ok %v", key, err, ok)
		}
	}
}
