package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/atelier-dev/atelier/internal/metrics"
	"github.com/atelier-dev/atelier/internal/reqid"
	"github.com/atelier-dev/atelier/internal/store"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/autolabel"
	"github.com/atelier-dev/atelier/internal/dataset/exporter"
	"github.com/atelier-dev/atelier/internal/dataset/importer"
	"github.com/atelier-dev/atelier/internal/dataset/processing"
	"github.com/atelier-dev/atelier/internal/dataset/teamtask"
	"github.com/atelier-dev/atelier/internal/dataset/versions"
	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/iam/authn"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/training"
	"github.com/atelier-dev/atelier/internal/workforce"
)

// DefaultMaxBody bounds request bodies; routes that take larger ones say so.
const DefaultMaxBody = 8 << 20

// Config wires the server to its services.
type Config struct {
	IAM    *iam.Service
	Tokens *authn.Codec
	// Objects and Presign serve presigned object downloads; both optional.
	Objects obs.Store
	Presign *obs.URLSigner
	Region  string
	// Endpoint is the public base URL of this server (for the token catalog).
	Endpoint string
	Logger   *slog.Logger
	Now      func() time.Time
	// TokenTTL is how long issued tokens last (24 h when zero).
	TokenTTL time.Duration
	// Training serves algorithms and training jobs; without it (servers
	// built for tests of other families) those routes are not mounted.
	Training *training.Service
	// Datasets serves datasets, their labels and samples; Imports,
	// Versions and Exports the rooms of the dataset domain (imports and
	// syncs, versions, exports). Without all four the dataset routes are
	// not mounted.
	Datasets *dataset.Service
	Imports  *importer.Service
	Versions *versions.Service
	Exports  *exporter.Service
	// AutoLabel serves intelligent tasks (auto-label, pre-label,
	// auto-grouping) and the samples they labeled; without it those
	// routes are not mounted.
	AutoLabel *autolabel.Service
	// Workforces serves labeling teams and their members; without it
	// those routes are not mounted.
	Workforces *workforce.Service
	// TeamTasks serves team labeling tasks; without it those routes are
	// not mounted.
	TeamTasks *teamtask.Service
	// Processing serves data processing tasks; without it those routes
	// are not mounted.
	Processing *processing.Service
	// Console serves the web console's assets at /console/ (package
	// console); nil serves none.
	Console http.Handler
	// Metrics counts requests and authorization decisions; nil counts
	// nothing.
	Metrics *metrics.Metrics
	// ReadWait bounds how long a request's database reads wait for their
	// turn before it is refused with 429 and Retry-After (store.ErrBusy);
	// zero means DefaultReadWait.
	ReadWait time.Duration
}

// DefaultReadWait is Config.ReadWait's default: a request that has waited
// a second for the database is answered "busy, retry" at once rather than
// left to grow slower behind a queue the server cannot drain in time.
const DefaultReadWait = time.Second

// serves reports whether the service a route's handler works on is
// configured; a server assembled without one (tests of other families)
// leaves those routes unmounted rather than answering from a missing
// service. This is the one place that decides.
func (cfg Config) serves(rt *Route) bool {
	switch rt.Needs {
	case NeedsTraining:
		return cfg.Training != nil
	case NeedsDatasets:
		return cfg.Datasets != nil && cfg.Imports != nil && cfg.Versions != nil && cfg.Exports != nil
	case NeedsAutoLabel:
		return cfg.AutoLabel != nil && cfg.Datasets != nil
	case NeedsObjects:
		return cfg.Objects != nil
	case NeedsWorkforces:
		return cfg.Workforces != nil
	case NeedsTeamTasks:
		return cfg.TeamTasks != nil && cfg.Datasets != nil
	case NeedsProcessing:
		return cfg.Processing != nil
	}
	return true
}

// Server is the HTTP API.
type Server struct {
	cfg    Config
	iam    *iam.Service
	routes []Route
	mux    *http.ServeMux
	log    *slog.Logger
	now    func() time.Time
	ready  atomic.Bool
}

// New builds the server and mounts every implemented route of the table.
func New(cfg Config) (*Server, error) {
	return newServer(cfg, (*Server).table)
}

// newServer builds a server over the routes that table returns.
func newServer(cfg Config, table func(*Server) []Route) (*Server, error) {
	s := &Server{cfg: cfg, iam: cfg.IAM, log: cfg.Logger, now: cfg.Now, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cfg.TokenTTL == 0 {
		s.cfg.TokenTTL = 24 * time.Hour
	}
	if s.cfg.ReadWait == 0 {
		s.cfg.ReadWait = DefaultReadWait
	}
	s.routes = table(s)
	if err := checkBindings(s.routes); err != nil {
		return nil, err
	}
	for i := range s.routes {
		rt := &s.routes[i]
		if !rt.Implemented() || !cfg.serves(rt) {
			continue
		}
		if rt.Action == "" && !rt.Public && !rt.Self {
			return nil, fmt.Errorf("route %s has no action: every route must be guarded", rt.Pattern())
		}
		s.mux.Handle(rt.Pattern(), s.wrap(rt))
	}
	if cfg.Objects != nil && cfg.Presign != nil {
		s.mux.Handle("GET /obs-presigned/", obs.PresignHandler(cfg.Objects, cfg.Presign))
		s.mux.Handle("HEAD /obs-presigned/", obs.PresignHandler(cfg.Objects, cfg.Presign))
	}
	if cfg.Console != nil {
		// The console is not an API: static files, no action to guard.
		// It calls the API like any client.
		s.mux.Handle("GET /console/", cfg.Console)
		s.mux.Handle("HEAD /console/", cfg.Console)
		toConsole := http.RedirectHandler("/console/", http.StatusFound)
		s.mux.Handle("GET /console", toConsole)
		s.mux.Handle("GET /{$}", toConsole)
	}
	s.mux.HandleFunc("/", s.notFound)
	return s, nil
}

// checkBindings refuses a table in which one handler serves two rows,
// unless the second is declared an alias of the first (Route.alias): each
// row's guard (action, related actions, resolver) is written for the one
// API its handler implements. Handlers are compared by their code: a
// method value's code is its method's, whatever the receiver, so the same
// method bound to two rows is caught. Closures are not compared: the ones a
// factory returns (s.grant(scope, add)) share their code by design and
// differ in what they capture, which Go cannot compare.
func checkBindings(routes []Route) error {
	bound := make(map[uintptr]*Route, len(routes))
	for i := range routes {
		rt := &routes[i]
		if rt.Handler == nil || isClosure(handlerName(rt.Handler)) {
			continue
		}
		pc := reflect.ValueOf(rt.Handler).Pointer()
		first, dup := bound[pc]
		switch {
		case !dup:
			bound[pc] = rt
		case rt.AliasOf != first.Pattern():
			return fmt.Errorf("handler %s is bound to both %s and %s: each handler serves one row of the route table (or the second row is an alias of the first)",
				handlerName(rt.Handler), first.Pattern(), rt.Pattern())
		case rt.Action != first.Action:
			return fmt.Errorf("route %s is an alias of %s but has action %q, not %q", rt.Pattern(), first.Pattern(), rt.Action, first.Action)
		}
	}
	return nil
}

// isClosure reports whether a function name is a func literal's
// ("outer.func1", "(*Server).grant.func2").
func isClosure(name string) bool {
	for _, part := range strings.Split(name, ".") {
		if n := strings.TrimPrefix(part, "func"); n != part && n != "" && strings.Trim(n, "0123456789") == "" {
			return true
		}
	}
	return false
}

// handlerName is the Go name of a handler's code, for error messages and
// tests: "(*datasetAPI).list" for the method value d.list.
func handlerName(h HandlerFunc) string {
	name := runtime.FuncForPC(reflect.ValueOf(h).Pointer()).Name()
	name = strings.TrimSuffix(name, "-fm") // a method value's wrapper
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.Index(name, "."); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// Routes returns the whole table, implemented or not.
func (s *Server) Routes() []Route { return s.routes }

// SetReady marks the server ready (GET /health answers 200 from then on).
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

// ServeHTTP applies the outer envelope (request id, panic recovery, access
// log) to every request, routed or not.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	rid := r.Header.Get("X-Request-Id")
	if rid == "" || len(rid) > 64 {
		rid = reqid.New()
	}
	w.Header().Set("X-Request-Id", rid)
	rec := &recorder{ResponseWriter: w}
	// The mux records the matched pattern on the request it routes.
	routed := r.WithContext(store.WithReadWait(reqid.With(r.Context(), rid), s.cfg.ReadWait))
	defer func() {
		if p := recover(); p != nil {
			s.log.ErrorContext(routed.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if !rec.wrote {
				writeError(rec, &Error{Status: 500, Code: codeInternal, Msg: "Internal error."}, strings.HasPrefix(r.URL.Path, "/v3"))
			}
		}
		took := s.now().Sub(start)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		route := routed.Pattern
		if route == "/" { // the catch-all that answers unknown paths
			route = metrics.Unmatched
		}
		s.cfg.Metrics.ObserveRequest(route, r.Method, status, took)
		s.log.DebugContext(routed.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", took)
	}()
	s.mux.ServeHTTP(rec, routed)
}

// recorder remembers the status for the access log and whether anything was written.
type recorder struct {
	http.ResponseWriter
	status  int
	wrote   bool
	blocked bool
	// guard, when set, is consulted before a success status is written.
	guard func(status int) bool
}

func (r *recorder) WriteHeader(code int) {
	if r.wrote {
		return
	}
	if r.guard != nil && code < 300 && !r.guard(code) {
		code = http.StatusInternalServerError
		r.ResponseWriter.Header().Set("Content-Type", "application/json")
		r.ResponseWriter.Header().Del("Content-Length") // the refused body's
		r.status, r.wrote = code, true
		r.ResponseWriter.WriteHeader(code)
		_, _ = io.WriteString(r.ResponseWriter, `{"error_code":"ModelArts.0010","error_msg":"Internal error."}`+"\n")
		r.blocked = true
		return
	}
	r.status, r.wrote = code, true
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	if r.blocked {
		return len(b), nil
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	iamPath := strings.HasPrefix(r.URL.Path, "/v3")
	// Authenticate first, as a built route would: callers without
	// credentials learn nothing about which APIs exist, built or not.
	authenticated := func() bool {
		if s.iam == nil {
			return true
		}
		body, err := readBody(w, r, DefaultMaxBody)
		if err == nil {
			_, err = s.authenticate(r, body, false)
		}
		if err != nil {
			e, _ := toError(err, false)
			writeError(w, e, false)
			return false
		}
		return true
	}
	for _, rt := range s.routes {
		if !rt.Implemented() && matchTemplate(rt.Method, rt.Path, r.Method, r.URL.Path) {
			if authenticated() {
				writeError(w, Errorf(http.StatusNotFound, codeAPINotBuilt, "API %s %s is not implemented by this Atelier build yet.", rt.Method, rt.Path), false)
			}
			return
		}
	}
	if projectPath(r.URL.Path) && !authenticated() {
		return
	}
	writeError(w, Errorf(http.StatusNotFound, codePathNotFound, "Path not found: %s %s", r.Method, r.URL.Path), iamPath)
}

// projectPath reports whether a path is under a project of the ModelArts
// APIs (/v1/{project_id}/… or /v2/{project_id}/…), where every route
// authenticates.
func projectPath(p string) bool {
	seg := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	return len(seg) == 3 && (seg[0] == "v1" || seg[0] == "v2") && seg[1] != "" && seg[2] != ""
}

// matchTemplate reports whether a concrete request matches a {param} template.
func matchTemplate(tm, tpath, method, path string) bool {
	if tm != method {
		return false
	}
	ts := strings.Split(strings.Trim(tpath, "/"), "/")
	ps := strings.Split(strings.Trim(path, "/"), "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") {
			if ps[i] == "" {
				return false
			}
			continue
		}
		if ts[i] != ps[i] {
			return false
		}
	}
	return true
}

// wrap is the one place where a route's table row is enforced: body limit,
// authentication, project scoping, workspace resolution, authorization of
// the action, and the related-actions guard, before the handler runs.
func (s *Server) wrap(rt *Route) http.Handler {
	iamRoute := rt.Family == "iam"
	limit := rt.MaxBody
	if limit == 0 {
		limit = DefaultMaxBody
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, _ := w.(*recorder)
		fail := func(err error) {
			e, ok := toError(err, iamRoute)
			if !ok {
				s.log.ErrorContext(r.Context(), "request failed", "route", rt.Pattern(), "err", err)
			}
			if iamRoute && strings.HasPrefix(e.Code, "ModelArts.") {
				// Errors raised before the handler (body limits, decoding)
				// speak ModelArts; IAM clients expect IAM codes.
				e = &Error{Status: e.Status, Code: defaultCode(e.Status, true), Msg: e.Msg}
			}
			writeError(w, e, iamRoute)
		}
		var body []byte
		var err error
		if rt.StreamBody {
			err = streamBody(w, r, limit)
		} else {
			body, err = readBody(w, r, limit)
		}
		if err == nil && len(body) > 0 {
			err = checkJSONContentType(r)
		}
		if err != nil {
			fail(err)
			return
		}
		c := &Call{Route: rt, srv: s, Request: r, Body: body}
		if !rt.Public {
			p, err := s.authenticate(r, body, iamRoute)
			if err != nil {
				fail(err)
				return
			}
			c.Principal = p
			if err := s.scope(r, c); err != nil {
				fail(err)
				return
			}
			if !rt.ObjectAction {
				if err := s.authorizeRoute(r, c); err != nil {
					fail(err)
					return
				}
			}
		}
		if len(rt.Related) > 0 && rec != nil {
			// A handler of a route with related actions must name the
			// objects it touches (AuthorizeObjects) before it may succeed.
			rec.guard = func(int) bool {
				if !c.objectsAuthorized {
					s.log.Error("handler succeeded without authorizing its related actions", "route", rt.Pattern())
				}
				return c.objectsAuthorized
			}
		}
		if err := rt.Handler(w, r, c); err != nil {
			if rec != nil && rec.wrote {
				s.log.Error("handler failed after writing a response", "route", rt.Pattern(), "err", err)
				return
			}
			fail(err)
		}
	})
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, Errorf(http.StatusRequestEntityTooLarge, codeInvalid, "request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, Errorf(http.StatusRequestEntityTooLarge, codeInvalid, "request body exceeds the limit of %d bytes", limit)
		}
		return nil, BadRequest("read request body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// streamBody bounds the body of a StreamBody route without reading it, and
// refuses AK/SK signatures that cover a body: verifying one would need the
// whole body before the handler could stream it. (A signature over an
// empty body is verified as usual.)
func streamBody(w http.ResponseWriter, r *http.Request, limit int64) error {
	if r.ContentLength > limit {
		return Errorf(http.StatusRequestEntityTooLarge, codeInvalid, "request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit)
	}
	if r.ContentLength != 0 && r.Header.Get("X-Auth-Token") == "" && r.Header.Get("Authorization") != "" && authn.BodySigned(r) {
		return BadRequest("this API streams its request body, so an AK/SK signature must not cover it: sign with %s: %s (the SDK signers do for any Content-Type other than JSON)",
			authn.HeaderSDKContentSHA256, authn.UnsignedPayload)
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	return nil
}

func requestID(r *http.Request) string { return reqid.From(r.Context()) }

// sourceIP is the client address of the connection (proxies are not trusted).
func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
