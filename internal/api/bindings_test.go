package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// declaredHandlers returns the handler methods declared in this package's
// source, by the name handlerName gives their method values
// ("(*datasetAPI).list"): every method shaped like a HandlerFunc.
func declaredHandlers(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var names []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !handlerShaped(src, fset, fn.Type) {
				continue
			}
			recv := string(src[fset.Position(fn.Recv.List[0].Type.Pos()).Offset:fset.Position(fn.Recv.List[0].Type.End()).Offset])
			if strings.HasPrefix(recv, "*") {
				recv = "(" + recv + ")"
			}
			names = append(names, recv+"."+fn.Name.Name)
		}
	}
	if len(names) == 0 {
		t.Fatal("no handler methods found in the package source")
	}
	return names
}

// handlerShaped reports whether a function type is HandlerFunc's:
// (http.ResponseWriter, *http.Request, *Call) error.
func handlerShaped(src []byte, fset *token.FileSet, ft *ast.FuncType) bool {
	text := func(n ast.Node) string {
		return string(src[fset.Position(n.Pos()).Offset:fset.Position(n.End()).Offset])
	}
	var params []string
	for _, p := range ft.Params.List {
		for range max(1, len(p.Names)) {
			params = append(params, text(p.Type))
		}
	}
	return slices.Equal(params, []string{"http.ResponseWriter", "*http.Request", "*Call"}) &&
		ft.Results != nil && len(ft.Results.List) == 1 && text(ft.Results.List[0].Type) == "error"
}

// Every handler method of the package serves exactly one row of the table
// (aliases aside), every row it serves is in the table, and a row on one
// stored resource resolves that resource's workspace, so that
// enterprise-project grants apply to it. A handler written but never bound,
// or bound twice, fails here; Route.serve on the row is the only binding.
func TestEveryHandlerServesOneRow(t *testing.T) {
	table := Table()
	patterns := make(map[string]*Route, len(table))
	for i := range table {
		patterns[table[i].Pattern()] = &table[i]
	}
	rows := make(map[string][]string) // handler name → patterns of the rows it serves (aliases aside)
	for _, rt := range table {
		if !rt.Implemented() {
			continue
		}
		name := handlerName(rt.Handler)
		if rt.AliasOf != "" {
			orig, ok := patterns[rt.AliasOf]
			switch {
			case !ok:
				t.Errorf("%s is an alias of %s, which is not in the table", rt.Pattern(), rt.AliasOf)
			case !orig.Implemented() || handlerName(orig.Handler) != name || orig.Action != rt.Action:
				t.Errorf("%s is an alias of %s but does not share its handler and action", rt.Pattern(), rt.AliasOf)
			}
			continue
		}
		rows[name] = append(rows[name], rt.Pattern())
	}
	for _, h := range declaredHandlers(t) {
		switch got := rows[h]; len(got) {
		case 0:
			t.Errorf("handler %s serves no row: bind it to its row with Route.serve, or remove it", h)
		case 1:
		default:
			t.Errorf("handler %s serves %d rows: %s", h, len(got), strings.Join(got, ", "))
		}
		delete(rows, h)
	}
	for h, ps := range rows {
		if !isClosure(h) {
			t.Errorf("rows %s are served by %s, which is not a handler method of this package", strings.Join(ps, ", "), h)
		}
	}

	stored := []string{"{dataset_id}", "{resource_id}", "{training_job_id}", "{algorithm_id}", "{workspace_id}", "/processor-tasks/{task_id}"}
	for _, rt := range table {
		if !rt.Implemented() || rt.Service != ServiceModelArts {
			continue
		}
		for _, p := range stored {
			if strings.Contains(rt.Path, p) && rt.Resolve == nil {
				t.Errorf("%s acts on the stored resource %s but has no resolver: its workspace's grants would not apply", rt.Pattern(), p)
			}
		}
	}
}

// A handler of a service's family says so on its row (Route.Needs), so that
// a server without that service leaves the row unmounted.
func TestRowsNeedTheirHandlersService(t *testing.T) {
	want := map[string]Needs{"(*trainingAPI).": NeedsTraining, "(*datasetAPI).": NeedsDatasets, "(*workforceAPI).": NeedsWorkforces,
		"(*processingAPI).": NeedsProcessing, "(*autoLabelAPI).": NeedsAutoLabel}
	for _, rt := range Table() {
		if !rt.Implemented() {
			continue
		}
		name := handlerName(rt.Handler)
		for prefix, needs := range want {
			if strings.HasPrefix(name, prefix) && rt.Needs != needs {
				t.Errorf("%s is served by %s but needs service %v, want %v", rt.Pattern(), name, rt.Needs, needs)
			}
		}
		if rt.Family == "obs" && rt.Needs != NeedsObjects {
			t.Errorf("%s serves the object store but needs service %v, want %v", rt.Pattern(), rt.Needs, NeedsObjects)
		}
	}
}

// concretePath fills a route's path template with a value per parameter.
func concretePath(tmpl string) string {
	return strings.NewReplacer("{project_id}", "p1", "{dataset_id}", "d1", "{workforce_id}", "w1", "{worker_id}", "k1",
		"{workforce_task_id}", "t1", "{task_id}", "t2", "{version_id}", "v1", "{sample_id}", "s1", "{label_name}", "l1",
		"{resource_id}", "d1", "{training_job_id}", "j1", "{algorithm_id}", "a1", "{bucket}", "b1", "{key...}", "k/1").Replace(tmpl)
}

// Routes whose service is not configured are not mounted: a request finds
// no route (404), never a handler over a missing service.
func TestRoutesOfUnconfiguredServicesAreNotMounted(t *testing.T) {
	s, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rt := range s.Routes() {
		if !rt.Implemented() || rt.Needs == NeedsNothing {
			continue
		}
		n++
		path := concretePath(rt.Path)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(rt.Method, path, nil))
		if rec.Code != http.StatusNotFound || (rt.Method != http.MethodHead && !strings.Contains(rec.Body.String(), codePathNotFound)) {
			t.Errorf("%s %s on a server without its service: %d %s; want 404 %s", rt.Method, path, rec.Code, rec.Body, codePathNotFound)
		}
	}
	if n == 0 {
		t.Fatal("no implemented route needs a service")
	}
}
