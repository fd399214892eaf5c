package api

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in   string
		want byteRange
		ok   bool
	}{
		{"bytes=0-9", byteRange{start: 0, end: 9}, true},
		{"bytes=5-", byteRange{start: 5, end: -1}, true},
		{"bytes=-3", byteRange{suffix: true, length: 3}, true},
		{"bytes=9-5", byteRange{}, false},
		{"bytes=0-1,4-5", byteRange{}, false},
		{"items=0-1", byteRange{}, false},
		{"bytes=a-b", byteRange{}, false},
		{"bytes=+1-2", byteRange{}, false},
		{"", byteRange{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseRange(tc.in)
			if ok != tc.ok || ok && got != tc.want {
				t.Fatalf("parseRange(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// A StreamBody route's handler runs while the body is still arriving: the
// client here sends the second half only after the handler has read the
// first, which would deadlock if the router read the body first.
func TestStreamBodyIsNotBuffered(t *testing.T) {
	const half = 1 << 20
	firstHalf := make(chan struct{})
	var got int64
	s, err := newServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, func(s *Server) []Route {
		return []Route{{Name: "upload", Method: "PUT", Path: "/upload", Family: "system", Public: true, StreamBody: true, MaxBody: 4 * half,
			Handler: func(w http.ResponseWriter, r *http.Request, c *Call) error {
				if c.Body != nil {
					t.Errorf("Call.Body of a StreamBody route holds %d bytes", len(c.Body))
				}
				n, err := io.CopyN(io.Discard, r.Body, half)
				if err != nil {
					return err
				}
				close(firstHalf)
				m, err := io.Copy(io.Discard, r.Body)
				got = n + m
				if err != nil {
					return err
				}
				w.WriteHeader(http.StatusNoContent)
				return nil
			}}}
	})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte("x"), half)
		if _, err := pw.Write(chunk); err != nil {
			pw.CloseWithError(err)
			return
		}
		select {
		case <-firstHalf:
		case <-time.After(10 * time.Second):
			pw.CloseWithError(io.ErrNoProgress) // the router waited for the whole body
			return
		}
		_, err := pw.Write(chunk)
		pw.CloseWithError(err)
	}()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("PUT", "/upload", pr))
	if rec.Code != http.StatusNoContent || got != 2*half {
		t.Fatalf("status %d, handler read %d bytes; want 204 and %d (body %s)", rec.Code, got, 2*half, rec.Body)
	}
}

func TestStreamBodyLimits(t *testing.T) {
	s, err := newServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, func(s *Server) []Route {
		return []Route{{Name: "upload", Method: "PUT", Path: "/upload", Family: "system", Public: true, StreamBody: true, MaxBody: 10,
			Handler: func(w http.ResponseWriter, r *http.Request, c *Call) error {
				if _, err := io.Copy(io.Discard, r.Body); err != nil {
					return Errorf(http.StatusRequestEntityTooLarge, codeInvalid, "too large")
				}
				w.WriteHeader(http.StatusNoContent)
				return nil
			}}}
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		body    io.Reader
		headers map[string]string
		status  int
		want    string
	}{
		{"fits", strings.NewReader("0123456789"), nil, http.StatusNoContent, ""},
		{"content-length-over-limit", strings.NewReader("0123456789a"), nil, http.StatusRequestEntityTooLarge, "exceeds the limit"},
		{"chunked-over-limit", io.MultiReader(strings.NewReader("0123456789"), strings.NewReader("a")), nil, http.StatusRequestEntityTooLarge, ""},
		{"aksk-signed-payload", strings.NewReader("x"), map[string]string{"Authorization": "SDK-HMAC-SHA256 Access=a, SignedHeaders=x-sdk-date, Signature=0"},
			http.StatusBadRequest, "UNSIGNED-PAYLOAD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("PUT", "/upload", tc.body)
			if _, ok := tc.body.(*strings.Reader); !ok {
				req.ContentLength = -1
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("status %d body %s; want %d containing %q", rec.Code, rec.Body, tc.status, tc.want)
			}
		})
	}
}

// An ObjectAction route skips the router's own decision, so it must repeat
// its action in Related: then the router refuses a success from a handler
// that did not decide it on the objects (TestRelatedActionsGuard).
func TestObjectActionRoutesAreGuarded(t *testing.T) {
	n := 0
	for _, rt := range Table() {
		if !rt.ObjectAction {
			continue
		}
		n++
		if !strings.HasPrefix(rt.Action, "obs:") || len(rt.Related) != 1 || rt.Related[0] != rt.Action {
			t.Errorf("%s: ObjectAction route with action %q and related %v; want an OBS action repeated in Related", rt.Pattern(), rt.Action, rt.Related)
		}
	}
	if n != 7 {
		t.Errorf("%d ObjectAction routes; want the 7 routes of the object API", n)
	}
}
