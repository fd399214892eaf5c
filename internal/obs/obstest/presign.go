package obstest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
)

// Presigned URLs, fetched over HTTP as a client would.

func fetch(t *testing.T, u string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, u, nil)
	if err != nil {
		t.Fatalf("presigned URL %q: %v", u, err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET presigned URL: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET presigned URL: read: %v", err)
	}
	return resp, body
}

func testPresign(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := newBucket(t, s)
	data := []byte("presigned bytes 0123456789")
	keys := []string{"plain.txt", "dir/sp ace/q?x=1#f%2F+é.txt"}
	for _, k := range keys {
		if _, err := s.Put(c, b, k, bytes.NewReader(data), obs.PutOptions{ContentType: "text/plain"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range keys {
		u, err := s.PresignGet(c, b, k, time.Hour)
		if err != nil {
			t.Fatalf("PresignGet(%q): %v", k, err)
		}
		if pu, err := url.Parse(u); err != nil || !pu.IsAbs() {
			t.Fatalf("PresignGet(%q) = %q, not an absolute URL", k, u)
		}
		resp, body := fetch(t, u, nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
			t.Fatalf("GET %q = %d %q, want 200 %q", u, resp.StatusCode, body, data)
		}
		if resp.ContentLength != int64(len(data)) || resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("ETag") == "" {
			t.Errorf("GET %q headers: length %d, %v", u, resp.ContentLength, resp.Header)
		}
		resp, body = fetch(t, u, map[string]string{"Range": "bytes=2-5"})
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[2:6]) {
			t.Errorf("GET %q with Range 2-5 = %d %q, want 206 %q", u, resp.StatusCode, body, data[2:6])
		}
		if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes 2-5/%d", len(data)) {
			t.Errorf("Content-Range = %q", cr)
		}
	}

	missing, err := s.PresignGet(c, b, "missing", time.Hour)
	if err != nil {
		t.Fatalf("PresignGet of a missing key: %v", err)
	}
	// 404, or 403 where the signer may not list the bucket (AWS).
	if resp, _ := fetch(t, missing, nil); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET presigned missing key = %d, want 404", resp.StatusCode)
	}
	for _, d := range []time.Duration{0, -time.Second, obs.MaxPresignExpiry + time.Second} {
		_, err := s.PresignGet(c, b, "plain.txt", d)
		wantErr(t, fmt.Sprintf("PresignGet expiring in %v", d), err, obs.ErrInvalidExpiry)
	}
}

// testPresignTamper checks that a presigned URL whose signature or key was
// changed is refused.
func testPresignTamper(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := newBucket(t, s)
	for _, k := range []string{"plain.txt", "dir/sp ace/q?x=1#f%2F+é.txt"} {
		put(t, s, b, k, []byte("presigned bytes"))
	}
	u, err := s.PresignGet(c, b, "plain.txt", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"signature": tamperSignature(t, u),
		"key":       strings.Replace(u, "/plain.txt", "/dir/sp%20ace/q%3Fx=1%23f%252F+%C3%A9.txt", 1),
	} {
		if bad == u {
			t.Fatalf("tampering with the %s changed nothing in %q", name, u)
		}
		if resp, _ := fetch(t, bad, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET with tampered %s = %d, want 403", name, resp.StatusCode)
		}
	}

}

// tamperSignature changes one hex digit of the signature parameter (any
// query parameter whose name contains "signature").
func tamperSignature(t *testing.T, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := pu.Query()
	for name, vals := range q {
		if strings.Contains(strings.ToLower(name), "signature") && len(vals) == 1 && vals[0] != "" {
			sig := []byte(vals[0])
			if sig[0] == '0' {
				sig[0] = '1'
			} else {
				sig[0] = '0'
			}
			q.Set(name, string(sig))
			pu.RawQuery = q.Encode()
			return pu.String()
		}
	}
	t.Fatalf("no signature parameter in %q", u)
	return ""
}

func testPresignExpiry(t *testing.T, s obs.Store) {
	b := newBucket(t, s)
	put(t, s, b, "k", []byte("soon gone"))
	u, err := s.PresignGet(ctx(t), b, "k", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if resp, _ := fetch(t, u, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET expired presigned URL = %d, want 403", resp.StatusCode)
	}
}
