package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h, err := Handler(Options{ImageOrigins: []string{"https://s3.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string, hdr map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	cases := []struct {
		path, ctype, contains string
	}{
		{"/console/", "text/html", `<script type="module" src="/console/js/app.js">`},
		{"/console/js/app.js", "text/javascript", "function route()"},
		{"/console/style.css", "text/css", ".editor"},
		{"/console/no/such/page", "text/html", "<main"}, // the app routes by fragment; any other path is the app
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			rec := get(tc.path, nil)
			if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.ctype) || !strings.Contains(rec.Body.String(), tc.contains) {
				t.Fatalf("%s: %d %s, want %s holding %q", tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.ctype, tc.contains)
			}
			csp := rec.Header().Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "https://s3.example.com"} {
				if !strings.Contains(csp, want) {
					t.Errorf("content security policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("content security policy allows inline or eval: %q", csp)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
			// An unchanged file is a 304.
			if again := get(tc.path, map[string]string{"If-None-Match": rec.Header().Get("ETag")}); again.Code != http.StatusNotModified {
				t.Errorf("revalidation: %d, want 304", again.Code)
			}
		})
	}
}
