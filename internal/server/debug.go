package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// The profiling listener (--debug-listen) serves Go's runtime profiles so
// that an operator can see where a server's time and memory go: CPU
// (/debug/pprof/profile?seconds=N), heap and allocations, goroutines,
// mutex and block contention, and the execution trace. It is a listener of
// its own, on loopback only (config refuses anything else), never a route
// of the API: the API's authorization has no notion of it, and a tenant
// must never reach it. The command line (/debug/pprof/cmdline) is not
// served, since flags may carry secrets.

// debugHandler routes the runtime profiles; nothing else is served.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/{$}", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	for _, name := range []string{"allocs", "block", "goroutine", "heap", "mutex", "threadcreate"} {
		mux.Handle("GET /debug/pprof/"+name, pprof.Handler(name))
	}
	return mux
}

// Contention sampling while the profiling listener is on: one mutex
// contention event in 10 and blocking of 100 µs or more. Both cost a
// little on every contended lock, so they stay off without the listener.
const (
	debugMutexFraction = 10
	debugBlockRate     = int(100 * time.Microsecond)
)

// serveDebug serves the profiles on addr until ctx ends (see serveAside),
// with contention sampling on meanwhile.
func (a *App) serveDebug(ctx context.Context, addr string) (func(), error) {
	// Not a named result: the function returned calls this one, and would
	// call itself once the result is assigned.
	served, err := a.serveAside(ctx, "profiles are served (loopback only)", "debug_listen", addr, debugHandler())
	if err != nil {
		return nil, err
	}
	runtime.SetMutexProfileFraction(debugMutexFraction)
	runtime.SetBlockProfileRate(debugBlockRate)
	return func() {
		served()
		runtime.SetMutexProfileFraction(0)
		runtime.SetBlockProfileRate(0)
	}, nil
}

// serveAside serves h on a listener of its own at addr until ctx ends, for
// the operator's endpoints that are not the API (profiles, metrics). It
// returns once the listener is open (or failed to open), having logged msg
// with the address under key; the returned function waits for the
// listener to shut down.
func (a *App) serveAside(ctx context.Context, msg, key, addr string, h http.Handler) (wait func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (%s): %w", addr, key, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Warn("listener stopped", key, addr, "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		// A profile, trace or scrape in progress is cut off: the server
		// is stopping.
		_ = srv.Close()
	}()
	a.Log.Info(msg, key, ln.Addr().String())
	return func() { <-done }, nil
}
