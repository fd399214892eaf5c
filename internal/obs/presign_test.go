package obs_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
)

func TestPresignHandler(t *testing.T) {
	clk := &clock{time.Unix(1_700_000_000, 0)}
	signer := obs.NewURLSigner("http://atelier.test", []byte("key"), clk.now)
	store, err := obs.NewLocal(t.TempDir(), signer)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	c := t.Context()
	if err := store.CreateBucket(c, "bkt"); err != nil {
		t.Fatal(err)
	}
	const content = "0123456789abcdefghij"
	info, err := store.Put(c, "bkt", "dir/f.txt", strings.NewReader(content), obs.PutOptions{ContentType: "text/html"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(c, "bkt", "empty", strings.NewReader(""), obs.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	h := obs.PresignHandler(store, signer)
	sign := func(key string) string {
		u, err := store.PresignGet(c, "bkt", key, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(u, "http://atelier.test")
	}
	good := sign("dir/f.txt")
	etag := `"` + info.ETag + `"`
	lastMod := info.ModTime.UTC().Format(http.TimeFormat)
	future := info.ModTime.Add(time.Hour).UTC().Format(http.TimeFormat)
	past := info.ModTime.Add(-time.Hour).UTC().Format(http.TimeFormat)

	for _, tc := range []struct {
		name       string
		method     string
		target     string
		hdr        map[string]string
		at         time.Duration // after now
		wantStatus int
		wantBody   string
		wantHdr    map[string]string
	}{
		{name: "get", target: good, wantStatus: 200, wantBody: content, wantHdr: map[string]string{
			"Content-Type": "text/html", "Content-Length": "20", "ETag": etag, "Last-Modified": lastMod,
			"Accept-Ranges": "bytes", "Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff",
		}},
		{name: "head", method: "HEAD", target: good, wantStatus: 200, wantHdr: map[string]string{"Content-Length": "20", "ETag": etag}},
		{name: "range", target: good, hdr: map[string]string{"Range": "bytes=2-5"}, wantStatus: 206, wantBody: "2345",
			wantHdr: map[string]string{"Content-Range": "bytes 2-5/20", "Content-Length": "4"}},
		{name: "range-open", target: good, hdr: map[string]string{"Range": "bytes=15-"}, wantStatus: 206, wantBody: "fghij",
			wantHdr: map[string]string{"Content-Range": "bytes 15-19/20"}},
		{name: "range-past-end", target: good, hdr: map[string]string{"Range": "bytes=18-100"}, wantStatus: 206, wantBody: "ij",
			wantHdr: map[string]string{"Content-Range": "bytes 18-19/20"}},
		{name: "range-suffix", target: good, hdr: map[string]string{"Range": "bytes=-3"}, wantStatus: 206, wantBody: "hij"},
		{name: "range-suffix-longer", target: good, hdr: map[string]string{"Range": "bytes=-300"}, wantStatus: 206, wantBody: content},
		{name: "range-unsatisfiable", target: good, hdr: map[string]string{"Range": "bytes=20-"}, wantStatus: 416,
			wantHdr: map[string]string{"Content-Range": "bytes */20"}},
		{name: "range-empty-object", target: sign("empty"), hdr: map[string]string{"Range": "bytes=0-"}, wantStatus: 416},
		{name: "range-multi-ignored", target: good, hdr: map[string]string{"Range": "bytes=0-1,4-5"}, wantStatus: 200, wantBody: content},
		{name: "range-malformed-ignored", target: good, hdr: map[string]string{"Range": "bytes=5-2"}, wantStatus: 200, wantBody: content},
		{name: "range-other-unit-ignored", target: good, hdr: map[string]string{"Range": "items=0-1"}, wantStatus: 200, wantBody: content},
		{name: "if-range-match", target: good, hdr: map[string]string{"Range": "bytes=0-0", "If-Range": etag}, wantStatus: 206, wantBody: "0"},
		{name: "if-range-stale", target: good, hdr: map[string]string{"Range": "bytes=0-0", "If-Range": `"old"`}, wantStatus: 200, wantBody: content},
		{name: "if-none-match", target: good, hdr: map[string]string{"If-None-Match": `"x", ` + etag}, wantStatus: 304},
		{name: "if-none-match-other", target: good, hdr: map[string]string{"If-None-Match": `"x"`}, wantStatus: 200, wantBody: content},
		{name: "if-modified-since-later", target: good, hdr: map[string]string{"If-Modified-Since": future}, wantStatus: 304},
		{name: "if-modified-since-earlier", target: good, hdr: map[string]string{"If-Modified-Since": past}, wantStatus: 200, wantBody: content},
		{name: "empty-object", target: sign("empty"), wantStatus: 200, wantBody: "", wantHdr: map[string]string{"Content-Length": "0"}},
		{name: "expired", target: good, at: time.Hour + time.Second, wantStatus: 403},
		{name: "not-yet-expired", target: good, at: time.Hour, wantStatus: 200, wantBody: content},
		{name: "no-signature", target: "/obs-presigned/bkt/dir/f.txt", wantStatus: 403},
		{name: "tampered-signature", target: strings.Replace(good, "Signature=", "Signature=0", 1), wantStatus: 403},
		{name: "other-key", target: strings.Replace(good, "/dir/f.txt", "/empty", 1), wantStatus: 403},
		{name: "other-bucket", target: strings.Replace(good, "/bkt/", "/bku/", 1), wantStatus: 403},
		{name: "escaped-slash-same-object", target: strings.Replace(good, "/dir/f.txt", "/dir%2Ff.txt", 1), wantStatus: 200, wantBody: content},
		{name: "missing-object", target: sign("nope"), wantStatus: 404},
		{name: "bad-path", target: "/obs-presigned/Bad/k?X-Atelier-Expires=1&X-Atelier-Signature=00", wantStatus: 400},
		{name: "no-key", target: "/obs-presigned/bkt/", wantStatus: 400},
		{name: "dot-dot", target: "/obs-presigned/bkt/a/../dir/f.txt", wantStatus: 400},
		{name: "post", method: "POST", target: good, wantStatus: 405, wantHdr: map[string]string{"Allow": "GET, HEAD"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.t = time.Unix(1_700_000_000, 0).Add(tc.at)
			defer func() { clk.t = time.Unix(1_700_000_000, 0) }()
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req := httptest.NewRequestWithContext(c, method, tc.target, nil)
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %q", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantStatus < 300 && rec.Body.String() != tc.wantBody {
				t.Errorf("body = %q, want %q", rec.Body, tc.wantBody)
			}
			if tc.wantStatus >= 400 && !strings.Contains(rec.Body.String(), "<Error><Code>") {
				t.Errorf("error body = %q, want S3-style XML", rec.Body)
			}
			for k, v := range tc.wantHdr {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestPresignHandlerOnMux checks the handler behind a ServeMux at its
// documented mount point, as the API server mounts it.
func TestPresignHandlerOnMux(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	signer := obs.NewURLSigner(srv.URL, []byte("key"), nil)
	store, err := obs.NewLocal(t.TempDir(), signer)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mux.Handle(obs.PresignPath, obs.PresignHandler(store, signer))
	c := t.Context()
	if err := store.CreateBucket(c, "bkt"); err != nil {
		t.Fatal(err)
	}
	key := "a b/%2e%2e/c+d;e=f"
	if _, err := store.Put(c, "bkt", key, strings.NewReader("odd key"), obs.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	u, err := store.PresignGet(c, "bkt", key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := url.Parse(u); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || string(body) != "odd key" {
		t.Errorf("GET %s = %d %q", u, resp.StatusCode, body)
	}
}
