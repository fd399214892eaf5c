// Package reqid carries the id of the API request that caused some work
// in a context.Context, and puts it on every log line written with that
// context. The API sets it for each request; background tasks store the id
// of the request that queued them and set it again when they run, so that
// a task's log lines on whichever replica runs it name the request that
// asked for it, as do the lines of the replica that answered the request.
//
// It owns nothing else: no generation policy beyond New, no HTTP.
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
)

// Attr is the name log lines give the request id.
const Attr = "request_id"

type key struct{}

// With returns ctx carrying id; an empty id returns ctx unchanged.
func With(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, key{}, id)
}

// From returns the request id ctx carries, or "".
func From(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	v, _ := ctx.Value(key{}).(string)
	return v
}

// New returns a fresh random request id: 32 lowercase hex characters.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Handler wraps h so that a record logged with a context carrying a
// request id gets it as the request_id attribute. Records without one are
// passed through untouched (no allocation on that path).
func Handler(h slog.Handler) slog.Handler {
	if _, ok := h.(handler); ok {
		return h
	}
	return handler{h}
}

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if id := From(ctx); id != "" {
		r.AddAttrs(slog.String(Attr, id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(as []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(as)}
}

func (h handler) WithGroup(name string) slog.Handler {
	return handler{h.Handler.WithGroup(name)}
}
