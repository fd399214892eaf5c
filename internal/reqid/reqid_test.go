package reqid_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/reqid"
)

func TestHandlerAddsTheContextsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(reqid.Handler(slog.NewTextHandler(&buf, nil))).With("task", "t1")
	ctx := reqid.With(context.Background(), "abc123")
	tests := []struct {
		name string
		log  func()
		want string
		not  string
	}{
		{"with-id", func() { log.InfoContext(ctx, "started") }, "msg=started task=t1 request_id=abc123", ""},
		{"without-id", func() { log.InfoContext(context.Background(), "started") }, "msg=started task=t1", "request_id"},
		{"in-a-group", func() { log.WithGroup("g").InfoContext(ctx, "grouped", "k", 1) }, "g.k=1 g.request_id=abc123", ""},
		{"empty-id-is-none", func() { log.InfoContext(reqid.With(context.Background(), ""), "started") }, "msg=started task=t1", "request_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			tc.log()
			line := strings.TrimSpace(buf.String())
			if !strings.Contains(line, tc.want) {
				t.Errorf("log line %q does not contain %q", line, tc.want)
			}
			if tc.not != "" && strings.Contains(line, tc.not) {
				t.Errorf("log line %q contains %q", line, tc.not)
			}
		})
	}
	if got := reqid.From(ctx); got != "abc123" {
		t.Errorf("From = %q, want abc123", got)
	}
	if id := reqid.New(); len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("New() = %q, want 32 lowercase hex characters", id)
	}
}

// Without a request id in the context, the wrapper adds no allocation to
// what the wrapped handler does.
func TestHandlerAllocatesNothingWithoutAnID(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates where the build without it does not; make test runs the allocation tests without it too")
	}
	inner := slog.NewTextHandler(io.Discard, nil)
	plain, wrapped := slog.New(inner), slog.New(reqid.Handler(inner))
	ctx := context.Background()
	base := testing.AllocsPerRun(2000, func() { plain.InfoContext(ctx, "quiet", "n", 1) })
	if n := testing.AllocsPerRun(2000, func() { wrapped.InfoContext(ctx, "quiet", "n", 1) }); n > base {
		t.Errorf("logging without a request id allocated %v times through the wrapper, %v without it", n, base)
	}
}
