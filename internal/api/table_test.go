package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/iam"
)

func TestTableInvariants(t *testing.T) {
	routes := Table()
	var actions []string
	for _, rt := range routes {
		actions = append(actions, rt.Action)
	}
	catalog := iam.NewCatalog(actions)
	// The setup link's token is its caller's only credential (iam.RedeemPasswordSetup).
	public := map[string]bool{"GET /health": true, "POST /v3/auth/tokens": true, "POST /v3.0/OS-USER/password-setup": true}
	self := map[string]bool{"GET /v3/auth/tokens": true, "GET /v3/auth/projects": true, "GET /v3/auth/domains": true, "POST /v3/users/{user_id}/password": true}
	seen := map[string]bool{}
	for _, rt := range routes {
		t.Run(rt.Pattern(), func(t *testing.T) {
			if seen[rt.Pattern()] {
				t.Fatalf("pattern declared twice")
			}
			seen[rt.Pattern()] = true
			if rt.Name == "" || rt.Family == "" {
				t.Errorf("route needs a name and a family: %+v", rt)
			}
			switch {
			case rt.Public:
				if !public[rt.Pattern()] {
					t.Errorf("route is public but not on the list of public routes")
				}
				if rt.Action != "" {
					t.Errorf("public route declares action %q that would never be checked", rt.Action)
				}
			case rt.Self:
				if !self[rt.Pattern()] {
					t.Errorf("route is self-service but not on the list of self-service routes")
				}
			default:
				if rt.Action == "" {
					t.Fatalf("route has no action")
				}
				if !catalog.IsRegistered(rt.Action) {
					t.Errorf("action %q is not in the catalog, so no policy could grant it", rt.Action)
				}
			}
			for _, rel := range rt.Related {
				if !catalog.IsRegistered(rel) {
					t.Errorf("related action %q is not registered", rel)
				}
			}
			if rt.Family == "iam" && rt.Service != ServiceGlobal {
				t.Errorf("IAM route must be scoped as a global service")
			}
			if strings.Contains(rt.Path, "{project_id}") && rt.Family != "iam" && rt.Service != ServiceModelArts {
				t.Errorf("project route of family %s must be a ModelArts-scoped route", rt.Family)
			}
		})
	}
	// Every public and self-service route named above exists.
	for p := range public {
		if !seen[p] {
			t.Errorf("public route %s is missing from the table", p)
		}
	}
	for p := range self {
		if !seen[p] {
			t.Errorf("self-service route %s is missing from the table", p)
		}
	}
}

func TestNewRefusesUnguardedRoute(t *testing.T) {
	_, err := newServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, func(s *Server) []Route {
		return []Route{{Name: "x", Method: "GET", Path: "/x", Family: "system", Handler: func(w http.ResponseWriter, r *http.Request, c *Call) error { return nil }}}
	})
	if err == nil || !strings.Contains(err.Error(), "no action") {
		t.Fatalf("a route without action, public or self flag must be refused; got err=%v", err)
	}
}

// A handler of a route with related OBS actions that succeeds without naming
// the objects it touches must not get its success out: the client sees 500.
func TestRelatedActionsGuard(t *testing.T) {
	ok := func(w http.ResponseWriter, r *http.Request, c *Call) error {
		return WriteJSON(w, http.StatusOK, map[string]string{"leaked": "yes"})
	}
	fails := func(w http.ResponseWriter, r *http.Request, c *Call) error {
		return BadRequest("name: too long")
	}
	s, err := newServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, func(s *Server) []Route {
		return []Route{
			{Name: "skips", Method: "GET", Path: "/skips", Family: "system", Public: true, Related: []string{"obs:object:GetObject"}, Handler: ok},
			{Name: "fails", Method: "GET", Path: "/fails", Family: "system", Public: true, Related: []string{"obs:object:GetObject"}, Handler: fails},
			{Name: "plain", Method: "GET", Path: "/plain", Family: "system", Public: true, Handler: ok},
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path       string
		wantStatus int
		wantLeak   bool
	}{
		{"/skips", http.StatusInternalServerError, false},
		{"/fails", http.StatusBadRequest, false},
		{"/plain", http.StatusOK, true},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %s)", rec.Code, tc.wantStatus, rec.Body)
			}
			if leaked := strings.Contains(rec.Body.String(), "leaked"); leaked != tc.wantLeak {
				t.Fatalf("body %q: leaked=%v, want %v", rec.Body, leaked, tc.wantLeak)
			}
			var env map[string]any
			if rec.Code >= 400 {
				if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env["error_code"] == nil || env["error_msg"] == nil {
					t.Fatalf("error body is not the envelope: %s", rec.Body)
				}
			}
		})
	}
}

func TestDecodeErrorsNameTheField(t *testing.T) {
	type item struct {
		Name  string            `json:"name"`
		Attrs map[string]string `json:"attrs"`
	}
	type body struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
		Size  int32  `json:"size"`
		Score float64
		Inner struct {
			Flag bool `json:"flag"`
		} `json:"inner"`
		Items []item `json:"items"`
	}
	tests := []struct{ name, in, want string }{
		{"wrong-type", `{"count":"x"}`, "count: must be a whole number from -9223372036854775808 to 9223372036854775807, not a string"},
		{"integer-overflow", `{"count":1e30}`, "count: must be a whole number from -9223372036854775808 to 9223372036854775807, not 1e30"},
		{"integer-fraction", `{"size":1.5}`, "size: must be a whole number from -2147483648 to 2147483647, not 1.5"},
		{"nested-wrong-type", `{"inner":{"flag":"yes"}}`, "inner.flag: must be a boolean, not a string"},
		{"unknown-field", `{"nme":"x"}`, `unknown field "nme"`},
		{"malformed", `{"name":`, "malformed JSON"},
		{"empty", ``, "request body is empty"},
		{"trailing", `{"name":"a"} {}`, "data after the JSON value"},
		{"duplicate-key", `{"name":"a","count":1,"name":"b"}`, `duplicate key "name"`},
		{"duplicate-key-nested", `{"items":[{"name":"a"},{"name":"b","attrs":{"k":"1","k":"2"}}]}`, `duplicate key "k" in items[1].attrs`},
		{"duplicate-key-in-array-element", `{"items":[{"name":"a","name":"b"}]}`, `duplicate key "name" in items[0]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b body
			err := Decode(httptest.NewRequest("POST", "/", strings.NewReader(tc.in)), &b)
			e, ok := err.(*Error)
			if !ok || e.Status != http.StatusBadRequest || !strings.Contains(e.Msg, tc.want) {
				t.Fatalf("Decode(%s) = %v, want 400 containing %q", tc.in, err, tc.want)
			}
		})
	}
}

// Keys repeated in different objects, or nested under the same name, are
// not duplicates.
func TestDecodeAcceptsRepeatedKeysInDifferentObjects(t *testing.T) {
	var v struct {
		Name  string `json:"name"`
		Items []struct {
			Name  string         `json:"name"`
			Inner map[string]any `json:"inner"`
		} `json:"items"`
	}
	in := `{"items":[{"name":"a","inner":{"name":{"name":1}}},{"name":"b","inner":{}}],"name":"top"}`
	if err := Decode(httptest.NewRequest("POST", "/", strings.NewReader(in)), &v); err != nil {
		t.Fatalf("Decode(%s) = %v, want success", in, err)
	}
	if v.Name != "top" || len(v.Items) != 2 || v.Items[1].Name != "b" {
		t.Errorf("Decode(%s) = %+v", in, v)
	}
}

func TestJSONContentType(t *testing.T) {
	for _, tc := range []struct {
		contentType string
		ok          bool
	}{
		{"", true},
		{"application/json", true},
		{"application/json;charset=UTF-8", true},
		{"Application/JSON; charset=utf-8", true},
		{"application/merge-patch+json", true},
		{"text/plain", false},
		{"application/x-www-form-urlencoded", false},
		{"multipart/form-data; boundary=x", false},
		{"json", false},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		err := checkJSONContentType(r)
		if e, _ := err.(*Error); (err == nil) != tc.ok || (!tc.ok && (e == nil || e.Status != http.StatusUnsupportedMediaType)) {
			t.Errorf("Content-Type %q: %v; want ok=%v (415 otherwise)", tc.contentType, err, tc.ok)
		}
	}
}

func TestUnbuiltRoutesAnswerNotImplemented(t *testing.T) {
	s, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range s.Routes() {
		if rt.Implemented() {
			continue
		}
		path := concretePath(rt.Path)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(rt.Method, path, nil))
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), codeAPINotBuilt) {
			t.Errorf("%s %s: got %d %s, want 404 %s", rt.Method, path, rec.Code, rec.Body, codeAPINotBuilt)
		}
	}
}

// A value that cannot be encoded is an error before anything is written, so
// the router can still answer with its 500 envelope.
func TestWriteJSONEncodesBeforeTheStatus(t *testing.T) {
	rec := httptest.NewRecorder()
	err := WriteJSON(rec, http.StatusOK, map[string]any{"bad": func() {}})
	if err == nil {
		t.Fatal("WriteJSON of a function succeeded")
	}
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || len(rec.Header()) != 0 || rec.Flushed {
		t.Errorf("WriteJSON wrote before failing: status %d, body %q, headers %v", rec.Code, rec.Body, rec.Header())
	}
	if err := WriteJSON(rec, http.StatusCreated, map[string]int{"n": 1}); err != nil || rec.Code != http.StatusCreated || rec.Body.String() != "{\"n\":1}\n" {
		t.Errorf("WriteJSON = %v, %d %q", err, rec.Code, rec.Body)
	}
}

// twoRows is a handler family for TestNewRefusesHandlerOnTwoRows: handlers
// are method values, as in the product's families.
type twoRows struct{}

func (twoRows) serve(w http.ResponseWriter, r *http.Request, c *Call) error { return nil }
func (twoRows) other(w http.ResponseWriter, r *http.Request, c *Call) error { return nil }

// A handler bound to two rows would serve two APIs under one row's guard
// or the other's: the server refuses to start, naming both rows, unless the
// second row is declared an alias of the first with the same action. The
// same method on two receivers is the same handler.
func TestNewRefusesHandlerOnTwoRows(t *testing.T) {
	a, b := &twoRows{}, &twoRows{}
	row := func(path, action string, h HandlerFunc) Route {
		return Route{Name: path, Method: "GET", Path: path, Action: action, Family: "system", Handler: h}
	}
	first := row("/a", "x:y:get", a.serve)
	renamed := first.alias("b", "GET", "/b")
	renamed.Action = "x:y:list"
	tests := []struct {
		name    string
		routes  []Route
		wantErr []string // substrings of the error; none: the table is accepted
	}{
		{"same method value", []Route{first, row("/b", "x:y:get", a.serve)}, []string{"twoRows.serve", "GET /a", "GET /b"}},
		{"same method, other receiver", []Route{first, row("/b", "x:y:get", b.serve)}, []string{"GET /a", "GET /b"}},
		{"alias with another action", []Route{first, renamed}, []string{"alias of GET /a", "x:y:list"}},
		{"alias", []Route{first, first.alias("b", "HEAD", "/a")}, nil},
		{"two methods", []Route{first, row("/b", "x:y:get", a.other)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, func(s *Server) []Route { return tc.routes })
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("table refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("table accepted; want an error naming %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}
