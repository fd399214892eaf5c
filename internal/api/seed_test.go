package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The seed documents are the product's API table in prose; these tests hold
// modelArtsRoutes against them. They live outside the module, beside it:
// /work/shared/seeds for a checkout at /work/main.
var (
	seedDir      = filepath.Join("..", "..", "..", "shared", "seeds")
	referenceDir = filepath.Join("..", "..", "..", "shared", "reference", "modelarts-api")
)

// seedFamilies maps a seed file's number (its name up to "_") to the Family
// of its routes. A seed file not listed here is an error: a new seed means new
// routes to add to the table.
var seedFamilies = map[string]string{
	"000": "training", // training jobs and algorithms
	"001": "data",     // data management
}

// seedCorrections are the seed rows whose path the API reference contradicts.
// The table follows the reference for the path and keeps the seed's action.
// Each entry must still apply: when a seed is fixed, its entry goes.
var seedCorrections = []struct {
	name     string // the seed's Permission text
	seedPath string // what the seed says
	refPath  string // what the reference says, and the table uses
	refPage  string // the reference page, under referenceDir
}{
	{
		name:     "Deleting a Labeling Team",
		seedPath: "/v2/{project_id}/workforces/{workforce_id}/workers/{worker_id}", // the member-deletion path
		refPath:  "/v2/{project_id}/workforces/{workforce_id}",
		refPage:  "data-management/deleting_a_labeling_team.rst",
	},
	{
		name:     "Starting a Team Labeling Task",
		seedPath: "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}/acceptance", // the acceptance-task path
		refPath:  "/v2/{project_id}/datasets/{dataset_id}/workforce-tasks/{workforce_task_id}",
		refPage:  "data-management/starting_a_team_labeling_task.rst",
	},
	{
		name:     "Querying Details About a Data Processing Task",
		seedPath: "/v2/{project_id}/processor-tasks/{task_id}/versions/{version_id}", // the version-details path
		refPath:  "/v2/{project_id}/processor-tasks/{task_id}",
		refPage:  "data-management/querying_details_about_a_processing_task.rst",
	},
	{
		name:     "Querying Details About a Data Processing Task Version",
		seedPath: "/v2/{project_id}/processor-tasks/{task_id}/versions", // the version-list path
		refPath:  "/v2/{project_id}/processor-tasks/{task_id}/versions/{version_id}",
		refPage:  "data-management/querying_the_details_about_the_version_of_a_data_processing_task.rst",
	},
}

var (
	actionRE  = regexp.MustCompile(`^modelarts:[a-zA-Z]+:[a-zA-Z]+$`)
	relatedRE = regexp.MustCompile(`^obs:(bucket|object):[A-Za-z]+$`)
)

// seedRow is one row of a seed permission table.
type seedRow struct {
	pos     string // "file:line" of the row's first line, for messages
	table   string // the table's caption, e.g. "Table 3"
	family  string // from seedFamilies, by file
	name    string
	method  string
	path    string
	action  string
	related []string // de-duplicated, in seed order; nil for N/A or no column

	corrected bool // path replaced by seedCorrections
}

// seedRoutes are the table's seed rows; the family APIs they are bound to
// have no services, which the rows' name, method, path and actions never use.
func seedRoutes() []Route {
	return modelArtsRoutes(&trainingAPI{}, &datasetAPI{}, &autoLabelAPI{}, &workforceAPI{}, &teamTaskAPI{}, &processingAPI{})
}

func TestModelArtsRoutesMatchSeeds(t *testing.T) {
	seeds := readSeeds(t)
	if len(seeds) == 0 {
		t.Fatal("no seed rows read")
	}
	applySeedCorrections(t, seeds)

	// One route per seed row: the rows are matched one by one below.
	routes := seedRoutes()
	if len(routes) != len(seeds) {
		t.Errorf("modelArtsRoutes() has %d routes for %d seed rows", len(routes), len(seeds))
	}
	byName := make(map[string]Route, len(routes))
	for _, r := range routes {
		if _, dup := byName[r.Name]; dup {
			t.Errorf("modelArtsRoutes() has two routes named %q", r.Name)
		}
		byName[r.Name] = r
	}

	seen := make(map[string]bool, len(seeds))
	for _, s := range seeds {
		t.Run(s.name, func(t *testing.T) {
			if seen[s.name] {
				t.Fatalf("%s: permission %q appears twice in the seeds", s.pos, s.name)
			}
			seen[s.name] = true
			if !actionRE.MatchString(s.action) {
				t.Errorf("%s: seed action %q does not match %s", s.pos, s.action, actionRE)
			}
			for _, a := range s.related {
				if !relatedRE.MatchString(a) {
					t.Errorf("%s: seed related action %q does not match %s", s.pos, a, relatedRE)
				}
			}
			r, ok := byName[s.name]
			if !ok {
				t.Fatalf("%s: seed row %q (%s %s) has no route", s.pos, s.name, s.method, s.path)
			}
			if r.Method != s.method || r.Path != s.path {
				says := "seed says"
				if s.corrected {
					says = "corrected seed says"
				}
				t.Errorf("%s: route %q is %s %s, %s %s %s", s.pos, s.name, r.Method, r.Path, says, s.method, s.path)
			}
			if r.Action != s.action {
				t.Errorf("%s: route %q has action %q, seed says %q", s.pos, s.name, r.Action, s.action)
			}
			if !slices.Equal(r.Related, s.related) {
				t.Errorf("%s: route %q has related actions %s, seed says %s", s.pos, s.name, fmtList(r.Related), fmtList(s.related))
			}
			if r.Family != s.family {
				t.Errorf("%s: route %q has family %q, want %q", s.pos, s.name, r.Family, s.family)
			}
		})
	}
	for _, r := range routes {
		if !seen[r.Name] {
			t.Errorf("route %q (%s) is in no seed table", r.Name, r.Pattern())
		}
	}
}

// TestModelArtsRoutesWellFormed checks what the router relies on, seeds or not.
func TestModelArtsRoutesWellFormed(t *testing.T) {
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}
	patterns := make(map[string]string)
	for _, r := range seedRoutes() {
		t.Run(r.Name, func(t *testing.T) {
			if r.Name == "" {
				t.Errorf("route %s has no name", r.Pattern())
			}
			if !slices.Contains(methods, r.Method) {
				t.Errorf("method %q is not one of %v", r.Method, methods)
			}
			if !strings.HasPrefix(r.Path, "/v2/{project_id}/") {
				t.Errorf("path %q does not start with /v2/{project_id}/", r.Path)
			}
			if other, dup := patterns[r.Pattern()]; dup {
				t.Errorf("%s is also the pattern of %q", r.Pattern(), other)
			}
			patterns[r.Pattern()] = r.Name
			if !actionRE.MatchString(r.Action) {
				t.Errorf("action %q does not match %s", r.Action, actionRE)
			}
			if r.Related != nil && len(r.Related) == 0 {
				t.Errorf("related actions are empty but not nil")
			}
			for i, a := range r.Related {
				if !relatedRE.MatchString(a) {
					t.Errorf("related action %q does not match %s", a, relatedRE)
				}
				if slices.Contains(r.Related[:i], a) {
					t.Errorf("related action %q is listed twice", a)
				}
			}
			if r.Family != "training" && r.Family != "data" {
				t.Errorf("family %q, want training or data", r.Family)
			}
			if r.Service != ServiceModelArts {
				t.Errorf("service %v, want ServiceModelArts", r.Service)
			}
			if r.Public {
				t.Errorf("route is public: every ModelArts API needs authentication")
			}
		})
	}
}

// TestModelArtsRoutesOnServeMux registers every pattern on one ServeMux, which
// panics on conflicting patterns, and checks that a request for each route's
// path reaches that route and not a more specific or wildcard neighbour.
func TestModelArtsRoutesOnServeMux(t *testing.T) {
	routes := seedRoutes()
	mux := http.NewServeMux()
	for _, r := range routes {
		t.Run("register/"+r.Name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("registering %q panicked: %v", r.Pattern(), p)
				}
			}()
			mux.HandleFunc(r.Pattern(), func(http.ResponseWriter, *http.Request) {})
		})
	}
	for _, r := range routes {
		t.Run("dispatch/"+r.Name, func(t *testing.T) {
			// Each wildcard gets its own name as value: "/v2/project_id/datasets/dataset_id".
			path := strings.NewReplacer("{", "", "}", "").Replace(r.Path)
			req := httptest.NewRequest(r.Method, path, nil)
			if _, got := mux.Handler(req); got != r.Pattern() {
				t.Errorf("%s %s is routed to %q, want %q", r.Method, path, got, r.Pattern())
			}
		})
	}
}

// TestModelArtsRoutesDocumented holds every route to the URI line of the API
// reference pages, and each corrected route to the page its correction names.
func TestModelArtsRoutesDocumented(t *testing.T) {
	if _, err := os.Stat(referenceDir); os.IsNotExist(err) {
		t.Skipf("API reference not found at %s (it sits beside the module, in shared/): nothing to check against", referenceDir)
	}
	pageURI := make(map[string]string)  // page (relative to referenceDir) → "METHOD /path"
	documented := make(map[string]bool) // "METHOD /path"
	for _, sub := range []string{"data-management", "training_management"} {
		pages, err := filepath.Glob(filepath.Join(referenceDir, sub, "*.rst"))
		if err != nil || len(pages) == 0 {
			t.Fatalf("no reference pages in %s (err %v)", filepath.Join(referenceDir, sub), err)
		}
		for _, page := range pages {
			b, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
			uri := referenceURI(string(b))
			pageURI[sub+"/"+filepath.Base(page)] = uri
			documented[uri] = true
		}
	}
	byName := make(map[string]Route)
	for _, r := range seedRoutes() {
		byName[r.Name] = r
		if !documented[r.Pattern()] {
			t.Errorf("route %q: %s is on no reference page's URI line", r.Name, r.Pattern())
		}
	}
	for _, c := range seedCorrections {
		uri, ok := pageURI[c.refPage]
		if !ok {
			t.Errorf("correction for %q: no reference page %s", c.name, c.refPage)
			continue
		}
		if r := byName[c.name]; r.Pattern() != uri {
			t.Errorf("correction for %q: route is %q, %s gives %q", c.name, r.Pattern(), c.refPage, uri)
		}
	}
}

// referenceURI returns the "METHOD /path" under a reference page's URI heading.
func referenceURI(page string) string {
	lines := strings.Split(page, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "URI" || !strings.HasPrefix(lines[i+1], "---") {
			continue
		}
		for _, l := range lines[i+2:] {
			if l = strings.TrimSpace(l); l != "" {
				return strings.Join(strings.Fields(l), " ")
			}
		}
	}
	return ""
}

// readSeeds parses every seed file, or skips the test when there are none.
func readSeeds(t *testing.T) []seedRow {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(wd, seedDir)
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		t.Skipf("seed tables not found at %s (they sit beside the module, in shared/seeds; CI has them)", dir)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(seedFamilies) {
		t.Fatalf("%s holds %d seed files, want %d (one per entry of seedFamilies)", dir, len(files), len(seedFamilies))
	}
	var rows []seedRow
	for _, f := range files {
		num, _, _ := strings.Cut(filepath.Base(f), "_")
		family, ok := seedFamilies[num]
		if !ok {
			t.Fatalf("seed %s: number %q is not in seedFamilies", f, num)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := parseSeed(filepath.Base(f), string(b))
		if err != nil {
			t.Fatalf("parse seed: %v", err)
		}
		if len(rs) == 0 {
			t.Fatalf("seed %s: no rows found", f)
		}
		for i := range rs {
			rs[i].family = family
		}
		rows = append(rows, rs...)
	}
	return rows
}

// applySeedCorrections replaces the path of each corrected seed row, failing
// when a correction no longer matches its seed row.
func applySeedCorrections(t *testing.T, seeds []seedRow) {
	t.Helper()
	for _, c := range seedCorrections {
		n := 0
		for i := range seeds {
			if seeds[i].name != c.name {
				continue
			}
			n++
			if seeds[i].path != c.seedPath {
				t.Errorf("%s: correction for %q expects the seed to say %s, it says %s: is the seed fixed?", seeds[i].pos, c.name, c.seedPath, seeds[i].path)
				continue
			}
			seeds[i].path, seeds[i].corrected = c.refPath, true
		}
		if n != 1 {
			t.Errorf("correction for %q matches %d seed rows, want 1", c.name, n)
		}
	}
}

func fmtList(l []string) string {
	if l == nil {
		return "N/A"
	}
	return "[" + strings.Join(l, " ") + "]"
}

// parseSeed reads one seed document: an RST grid table (000_*) or the plain
// text of a web page (001_*), where each cell is a paragraph of its own.
func parseSeed(file, text string) ([]seedRow, error) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for _, l := range lines {
		if isGridBorder(l) {
			return parseGridSeed(file, lines)
		}
	}
	return parseTextSeed(file, lines)
}

// Column headers. The IAM Project / Enterprise Project columns are not read.
const (
	colPermission = "Permission"
	colAPI        = "API"
	colAction     = "Action"
	colRelated    = "Related Action"
)

var (
	gridBorderRE  = regexp.MustCompile(`^\s*\+([-=]+\+)+\s*$`)
	gridCaptionRE = regexp.MustCompile(`^\s*\.\. table::\s*\*\*(Table \d+)\*\*`)
	textCaptionRE = regexp.MustCompile(`^(Table \d+)\b`)
	apiRE         = regexp.MustCompile(`^(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS)(?:\s+(\S+))?$`)
)

func isGridBorder(l string) bool { return gridBorderRE.MatchString(l) }

// parseGridSeed reads every grid table of an RST document. Cells may span
// several lines; column edges come from the table's top border.
func parseGridSeed(file string, lines []string) ([]seedRow, error) {
	var rows []seedRow
	caption := ""
	for i := 0; i < len(lines); {
		if m := gridCaptionRE.FindStringSubmatch(lines[i]); m != nil {
			caption = m[1]
		}
		if !isGridBorder(lines[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(lines) && (isGridBorder(lines[j]) || strings.HasPrefix(strings.TrimSpace(lines[j]), "|")) {
			j++
		}
		rs, err := parseGridTable(file, caption, lines[i:j], i+1)
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
		i = j
	}
	return rows, nil
}

func parseGridTable(file, caption string, block []string, first int) ([]seedRow, error) {
	edges := plusPositions(block[0])
	var (
		header  []string
		rows    []seedRow
		cells   []string // the row being read, one entry per column
		rowLine int
	)
	for k, l := range block {
		n := first + k
		if isGridBorder(l) {
			if !slices.Equal(plusPositions(l), edges) {
				return nil, fmt.Errorf("%s:%d: border does not line up with the table's top border", file, n)
			}
			switch {
			case cells == nil:
			case header == nil:
				header = cells
			default:
				r, err := gridRow(header, cells)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %v", file, rowLine, err)
				}
				r.pos, r.table = fmt.Sprintf("%s:%d", file, rowLine), caption
				rows = append(rows, r)
			}
			cells = nil
			continue
		}
		// Columns are counted in characters, as the table is drawn.
		rs := []rune(strings.TrimRight(l, " \t"))
		if len(rs) != edges[len(edges)-1]+1 {
			return nil, fmt.Errorf("%s:%d: row is %d characters wide, its border %d", file, n, len(rs), edges[len(edges)-1]+1)
		}
		for _, e := range edges {
			if rs[e] != '|' {
				return nil, fmt.Errorf("%s:%d: no cell edge '|' at column %d", file, n, e+1)
			}
		}
		if cells == nil {
			cells, rowLine = make([]string, len(edges)-1), n
		}
		for c := range cells {
			cells[c] = strings.TrimSpace(cells[c] + " " + strings.TrimSpace(string(rs[edges[c]+1:edges[c+1]])))
		}
	}
	if cells != nil {
		return nil, fmt.Errorf("%s:%d: table ends without a border", file, rowLine)
	}
	return rows, nil
}

// plusPositions returns the character columns of the '+' of a border line.
func plusPositions(l string) []int {
	var ps []int
	for i, r := range []rune(l) {
		if r == '+' {
			ps = append(ps, i)
		}
	}
	return ps
}

// gridRow reads one body row of a grid table by its header names.
func gridRow(header, cells []string) (seedRow, error) {
	cell := func(name string) (string, error) {
		i := slices.Index(header, name)
		if i < 0 {
			return "", fmt.Errorf("no %q column in header %q", name, header)
		}
		if cells[i] == "" {
			return "", fmt.Errorf("empty %q cell", name)
		}
		return cells[i], nil
	}
	var (
		r   seedRow
		api string
		err error
	)
	if r.name, err = cell(colPermission); err != nil {
		return r, err
	}
	if api, err = cell(colAPI); err != nil {
		return r, err
	}
	if r.action, err = cell(colAction); err != nil {
		return r, err
	}
	m := apiRE.FindStringSubmatch(api)
	if m == nil || m[2] == "" {
		return r, fmt.Errorf("API cell %q is not METHOD /path", api)
	}
	r.method, r.path = m[1], m[2]
	if slices.Contains(header, colRelated) {
		rel, err := cell(colRelated)
		if err != nil {
			return r, err
		}
		if rel != "N/A" {
			r.related = appendUnique(nil, strings.Fields(rel)...)
		}
	}
	return r, nil
}

// parseTextSeed reads the plain text of a web page: after each "Table N"
// caption come the header cells, then each row's cells, one paragraph per
// cell: permission, API (the method and path may be two paragraphs), action,
// then the related actions ("N/A" or one obs:... per paragraph) when the table
// has that column. Empty cells (IAM Project, Enterprise Project) leave no
// paragraph at all, so rows are told apart by what each paragraph looks like.
func parseTextSeed(file string, lines []string) ([]seedRow, error) {
	type para struct {
		n int
		s string
	}
	var ps []para
	for i, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			ps = append(ps, para{i + 1, l})
		}
	}
	isToken := func(s string) bool { return strings.Contains(s, ":") && !strings.ContainsAny(s, " \t") }
	isText := func(s string) bool {
		return !apiRE.MatchString(s) && !strings.HasPrefix(s, "/") && s != "N/A" && !isToken(s) && !textCaptionRE.MatchString(s)
	}
	headers := []string{colPermission, colAPI, colAction, colRelated, "IAM Project", "Enterprise Project"}

	var rows []seedRow
	i := 0
	for i < len(ps) && !textCaptionRE.MatchString(ps[i].s) {
		i++ // preamble: page date and title
	}
	for i < len(ps) {
		caption := textCaptionRE.FindStringSubmatch(ps[i].s)[1]
		capLine := ps[i].n
		i++
		var cols []string
		for i < len(ps) && slices.Contains(headers, ps[i].s) {
			cols = append(cols, ps[i].s)
			i++
		}
		for _, c := range []string{colPermission, colAPI, colAction} {
			if !slices.Contains(cols, c) {
				return nil, fmt.Errorf("%s:%d: %s has no %q column (header %q)", file, capLine, caption, c, cols)
			}
		}
		hasRelated := slices.Contains(cols, colRelated)

		for i < len(ps) && !textCaptionRE.MatchString(ps[i].s) {
			r := seedRow{pos: fmt.Sprintf("%s:%d", file, ps[i].n), table: caption}
			var name []string
			for i < len(ps) && isText(ps[i].s) {
				name = append(name, ps[i].s)
				i++
			}
			if len(name) == 0 {
				return nil, fmt.Errorf("%s: expected a permission, found %q", r.pos, ps[i].s)
			}
			r.name = strings.Join(name, " ")
			if i == len(ps) || !apiRE.MatchString(ps[i].s) {
				return nil, fmt.Errorf("%s: row %q: no METHOD /path after the permission", r.pos, r.name)
			}
			m := apiRE.FindStringSubmatch(ps[i].s)
			r.method, r.path = m[1], m[2]
			i++
			if r.path == "" {
				if i == len(ps) || !strings.HasPrefix(ps[i].s, "/") {
					return nil, fmt.Errorf("%s: row %q: method %s with no path after it", r.pos, r.name, r.method)
				}
				r.path = ps[i].s
				i++
			}
			if i == len(ps) || !isToken(ps[i].s) {
				return nil, fmt.Errorf("%s: row %q: no action after the API", r.pos, r.name)
			}
			r.action = ps[i].s
			i++
			if hasRelated {
				switch {
				case i < len(ps) && ps[i].s == "N/A":
					i++
				case i < len(ps) && isToken(ps[i].s):
					for ; i < len(ps) && isToken(ps[i].s); i++ {
						r.related = appendUnique(r.related, ps[i].s)
					}
				default:
					return nil, fmt.Errorf("%s: row %q: no related actions (N/A or obs:...) after the action", r.pos, r.name)
				}
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// appendUnique appends the values of vs not already in dst, in order.
func appendUnique(dst []string, vs ...string) []string {
	for _, v := range vs {
		if !slices.Contains(dst, v) {
			dst = append(dst, v)
		}
	}
	return dst
}

// TestParseSeed pins the two seed formats, including the layouts the real
// seeds do not (yet) use, so that a reformatted seed fails loudly rather than
// losing rows.
func TestParseSeed(t *testing.T) {
	paras := func(ps ...string) string { return strings.Join(ps, "\n\n") + "\n" }
	tests := []struct {
		name    string
		text    string
		want    []seedRow
		wantErr string
	}{
		{
			name: "text-rows-split-api-and-duplicate-related",
			text: paras("Updated on 2023-12-14", "Some Permissions",
				"Table 1 Fine-grained permissions for things",
				"Permission", "API", "Action", "Related Action", "IAM Project", "Enterprise Project",
				"Listing Things", "GET /v2/{project_id}/things", "modelarts:thing:list", "N/A",
				"Updating Things", "PUT", "/v2/{project_id}/things", "modelarts:thing:update",
				"obs:object:PutObject", "obs:bucket:ListBucket", "obs:object:PutObject",
				"Table 2 Without related actions",
				"Permission", "API", "Action", "IAM Project", "Enterprise Project",
				"Getting a Thing", "GET /v2/{project_id}/things/{thing_id}", "modelarts:thing:get"),
			want: []seedRow{
				{pos: "s.txt:19", table: "Table 1", name: "Listing Things", method: "GET", path: "/v2/{project_id}/things", action: "modelarts:thing:list"},
				{pos: "s.txt:27", table: "Table 1", name: "Updating Things", method: "PUT", path: "/v2/{project_id}/things", action: "modelarts:thing:update",
					related: []string{"obs:object:PutObject", "obs:bucket:ListBucket"}},
				{pos: "s.txt:53", table: "Table 2", name: "Getting a Thing", method: "GET", path: "/v2/{project_id}/things/{thing_id}", action: "modelarts:thing:get"},
			},
		},
		{
			name: "text-missing-action",
			text: paras("Table 1 Things", "Permission", "API", "Action", "Related Action",
				"Listing Things", "GET /v2/{project_id}/things", "N/A"),
			wantErr: `s.txt:11: row "Listing Things": no action after the API`,
		},
		{
			name: "text-method-without-path",
			text: paras("Table 1 Things", "Permission", "API", "Action",
				"Updating Things", "PUT", "modelarts:thing:update"),
			wantErr: `s.txt:9: row "Updating Things": method PUT with no path after it`,
		},
		{
			name: "text-missing-related",
			text: paras("Table 1 Things", "Permission", "API", "Action", "Related Action",
				"Listing Things", "GET /v2/{project_id}/things", "modelarts:thing:list",
				"Getting a Thing", "GET /v2/{project_id}/things/{thing_id}", "modelarts:thing:get", "N/A"),
			wantErr: `s.txt:11: row "Listing Things": no related actions`,
		},
		{
			name: "grid-multiline-cells-and-wide-characters",
			text: `.. table:: **Table 1** Things

   +------------------+-------------------------------+-----------------------+-----------------------+
   | Permission       | API                           | Action                | Related Action        |
   +==================+===============================+=======================+=======================+
   | Créer une chose  | POST /v2/{project_id}/things  | modelarts:thing:new   | obs:object:PutObject  |
   | (sur plusieurs   |                               |                       | obs:bucket:ListBucket |
   | lignes)          |                               |                       | obs:object:PutObject  |
   +------------------+-------------------------------+-----------------------+-----------------------+
   | Listing Things   | GET /v2/{project_id}/things   | modelarts:thing:list  | N/A                   |
   +------------------+-------------------------------+-----------------------+-----------------------+
`,
			want: []seedRow{
				{pos: "s.txt:6", table: "Table 1", name: "Créer une chose (sur plusieurs lignes)", method: "POST", path: "/v2/{project_id}/things", action: "modelarts:thing:new",
					related: []string{"obs:object:PutObject", "obs:bucket:ListBucket"}},
				{pos: "s.txt:10", table: "Table 1", name: "Listing Things", method: "GET", path: "/v2/{project_id}/things", action: "modelarts:thing:list"},
			},
		},
		{
			name: "grid-misaligned-cell",
			text: `   +------------+-----------------------------+----------------------+
   | Permission | API                         | Action               |
   +============+=============================+======================+
   | Listing      | GET /v2/{project_id}/things | modelarts:thing:list |
   +------------+-----------------------------+----------------------+
`,
			wantErr: "s.txt:4: row is 72 characters wide, its border 70",
		},
		{
			name: "grid-missing-cell-edge",
			text: `   +------------+-----------------------------+----------------------+
   | Permission | API                         | Action               |
   +============+=============================+======================+
   | Listing      GET /v2/{project_id}/things | modelarts:thing:list |
   +------------+-----------------------------+----------------------+
`,
			wantErr: "s.txt:4: no cell edge '|' at column 17",
		},
		{
			name: "grid-empty-action",
			text: `   +------------+-----------------------------+----------------------+
   | Permission | API                         | Action               |
   +============+=============================+======================+
   | Listing    | GET /v2/{project_id}/things |                      |
   +------------+-----------------------------+----------------------+
`,
			wantErr: `s.txt:4: empty "Action" cell`,
		},
		{
			name: "grid-api-without-method",
			text: `   +------------+-------------------------+----------------------+
   | Permission | API                     | Action               |
   +============+=========================+======================+
   | Listing    | /v2/{project_id}/things | modelarts:thing:list |
   +------------+-------------------------+----------------------+
`,
			wantErr: `s.txt:4: API cell "/v2/{project_id}/things" is not METHOD /path`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSeed("s.txt", tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseSeed error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseSeed: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("parseSeed returned %d rows, want %d:\n%+v", len(got), len(tt.want), got)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.pos != w.pos || g.table != w.table || g.name != w.name || g.method != w.method ||
					g.path != w.path || g.action != w.action || !slices.Equal(g.related, w.related) {
					t.Errorf("row %d:\n got %+v\nwant %+v", i, g, w)
				}
			}
		})
	}
}
