package obs_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestURLSignerFormat(t *testing.T) {
	clk := &clock{time.Unix(1_700_000_000, 0)}
	key := []byte("k3y")
	s := obs.NewURLSigner("https://atelier.example.com/prefix/", key, clk.now)
	got := s.Sign("bkt", "dir/sp ace/q?#é.jpg", 90*time.Second)
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != "atelier.example.com" {
		t.Errorf("URL %q: wrong origin", got)
	}
	if want := "/prefix/obs-presigned/bkt/dir/sp%20ace/q%3F%23%C3%A9.jpg"; u.EscapedPath() != want {
		t.Errorf("escaped path = %q, want %q", u.EscapedPath(), want)
	}
	if u.Path != "/prefix/obs-presigned/bkt/dir/sp ace/q?#é.jpg" {
		t.Errorf("path = %q", u.Path)
	}
	q := u.Query()
	exp := q.Get("X-Atelier-Expires")
	if exp != strconv.FormatInt(1_700_000_090, 10) {
		t.Errorf("X-Atelier-Expires = %q, want 1700000090", exp)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("GET\nbkt\ndir/sp ace/q?#é.jpg\n" + exp))
	if sig := q.Get("X-Atelier-Signature"); sig != hex.EncodeToString(m.Sum(nil)) {
		t.Errorf("X-Atelier-Signature = %q, want HMAC-SHA256 of the documented string", sig)
	}
	if err := s.Verify("bkt", "dir/sp ace/q?#é.jpg", exp, q.Get("X-Atelier-Signature")); err != nil {
		t.Errorf("Verify(own URL): %v", err)
	}
}

func TestURLSignerVerify(t *testing.T) {
	clk := &clock{time.Unix(1_700_000_000, 0)}
	s := obs.NewURLSigner("http://h", []byte("secret"), clk.now)
	u, _ := url.Parse(s.Sign("bkt", "a/b", time.Minute))
	exp, sig := u.Query().Get("X-Atelier-Expires"), u.Query().Get("X-Atelier-Signature")
	other := obs.NewURLSigner("http://h", []byte("other secret"), clk.now)
	ou, _ := url.Parse(other.Sign("bkt", "a/b", time.Minute))

	for _, tc := range []struct {
		name                  string
		bucket, key, exp, sig string
		at                    time.Time
		want                  error
	}{
		{"valid", "bkt", "a/b", exp, sig, clk.t, nil},
		{"valid-at-expiry", "bkt", "a/b", exp, sig, clk.t.Add(time.Minute), nil},
		{"expired", "bkt", "a/b", exp, sig, clk.t.Add(time.Minute + time.Second), obs.ErrSignatureExpired},
		{"other-key", "bkt", "a/c", exp, sig, clk.t, obs.ErrSignatureInvalid},
		{"other-bucket", "bku", "a/b", exp, sig, clk.t, obs.ErrSignatureInvalid},
		{"extended-expiry", "bkt", "a/b", "1800000000", sig, clk.t, obs.ErrSignatureInvalid},
		{"other-secret", "bkt", "a/b", exp, ou.Query().Get("X-Atelier-Signature"), clk.t, obs.ErrSignatureInvalid},
		{"empty-signature", "bkt", "a/b", exp, "", clk.t, obs.ErrSignatureInvalid},
		{"not-hex", "bkt", "a/b", exp, "zz" + sig[2:], clk.t, obs.ErrSignatureInvalid},
		{"truncated", "bkt", "a/b", exp, sig[:62], clk.t, obs.ErrSignatureInvalid},
		{"uppercase-is-same-bytes", "bkt", "a/b", exp, upper(sig), clk.t, nil},
		{"empty-expiry", "bkt", "a/b", "", sig, clk.t, obs.ErrSignatureInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.t = tc.at
			defer func() { clk.t = time.Unix(1_700_000_000, 0) }()
			err := s.Verify(tc.bucket, tc.key, tc.exp, tc.sig)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestNewURLSignerRefusesEmptyKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewURLSigner with an empty key did not panic")
		}
	}()
	obs.NewURLSigner("http://h", nil, nil)
}
