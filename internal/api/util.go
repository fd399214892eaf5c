package api

import (
	"net/http"
	"time"
)

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// isoTime formats a time as Huawei's APIs do: UTC with milliseconds.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func isoTimeOrEmpty(t time.Time) string {
	if t.IsZero() || t.UnixMilli() == 0 {
		return ""
	}
	return isoTime(t)
}

// links is Keystone's collection links object.
func (s *Server) links(r *http.Request) map[string]any {
	return map[string]any{"self": s.endpoint(r) + r.URL.Path, "previous": nil, "next": nil}
}

// noContent answers 204 with no body.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}
