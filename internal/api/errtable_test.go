package api

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// appendixCodes reads the reference's error-code appendix: ModelArts code →
// HTTP statuses (a few codes appear twice, with two meanings).
func appendixCodes(t *testing.T) map[string][]int {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "shared", "reference", "modelarts-api", "appendix", "error_codes.rst"))
	if err != nil {
		t.Fatalf("open the error-code appendix: %v", err)
	}
	defer f.Close()
	row := regexp.MustCompile(`^\| (\d{3}) \| (ModelArts\.\d{4}) \|`)
	out := map[string][]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := row.FindStringSubmatch(sc.Text()); m != nil {
			status, _ := strconv.Atoi(m[1])
			out[m[2]] = append(out[m[2]], status)
		}
	}
	if err := sc.Err(); err != nil || len(out) < 500 {
		t.Fatalf("read %d codes from the appendix (%v); the table's format changed?", len(out), err)
	}
	return out
}

// ownCodes are the codes Atelier emits that the ModelArts appendix does not
// list, by family, and why they exist.
var ownCodes = map[string]string{
	"IAM.":  "Huawei IAM's own error codes, which IAM routes answer as Huawei IAM does (docs/iam.md)",
	"APIG.": "Huawei's API gateway's throttling code (APIG.0308), answered with 429 when password checks are saturated",
	"OBS.":  "Atelier's object API (docs/objects.md), which has no ModelArts reference: S3's error names under OBS.",
}

// sourceFiles lists the Go files (not tests) of the module.
func sourceFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, root := range []string{"../../internal", "../../cmd"} {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// TestErrorTableMatchesTheReference: every ModelArts code of the status
// table, and every code literal in the source, is the appendix's with the
// appendix's status — or the difference is listed, with why — and every
// other code is of a family Atelier answers on its own.
func TestErrorTableMatchesTheReference(t *testing.T) {
	ref := appendixCodes(t)
	for code, status := range codeStatus {
		want, ok := ref[code]
		switch {
		case !ok:
			t.Errorf("codeStatus has %s, which the appendix does not list", code)
		case !slices.Contains(want, status) && statusDeviations[code] == "":
			t.Errorf("codeStatus answers %s with %d; the appendix says %d (list it in statusDeviations with why, or follow the appendix)", code, status, want)
		}
	}
	for code, why := range statusDeviations {
		if status, ok := codeStatus[code]; !ok || why == "" || slices.Contains(ref[code], status) {
			t.Errorf("statusDeviations[%s]: not a deviation of codeStatus from the appendix, or no reason", code)
		}
	}

	literal := regexp.MustCompile(`"((?:ModelArts|IAM|APIG|OBS)\.[0-9A-Za-z]+)"`)
	constant := regexp.MustCompile(`(?m)^\s*((?:c|C)ode[A-Z]\w*)\s*=\s*"([A-Za-z]+\.[0-9A-Za-z]+)"`)
	pkgConsts := map[string]map[string]string{} // package dir base → constant → code
	files := sourceFiles(t)
	domain := map[string]bool{"iam": true, "training": true, "dataset": true}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pkg := filepath.Base(filepath.Dir(f))
		for _, m := range constant.FindAllStringSubmatch(string(data), -1) {
			if pkgConsts[pkg] == nil {
				pkgConsts[pkg] = map[string]string{}
			}
			pkgConsts[pkg][m[1]] = m[2]
		}
		for _, m := range literal.FindAllStringSubmatch(string(data), -1) {
			code := m[1]
			if strings.HasPrefix(code, "ModelArts.") {
				if _, ok := ref[code]; !ok {
					t.Errorf("%s emits %s, which the appendix does not list", f, code)
				}
				// A domain package's code reaches callers through
				// codeStatus: it must have its status there.
				if _, ok := codeStatus[code]; domain[pkg] && !ok {
					t.Errorf("%s (package %s) emits %s, which codeStatus does not map", f, pkg, code)
				}
				continue
			}
			known := false
			for prefix := range ownCodes {
				known = known || strings.HasPrefix(code, prefix)
			}
			if !known {
				t.Errorf("%s emits %s, neither the appendix's nor of a family Atelier answers on its own", f, code)
			}
		}
	}

	// The statuses the API layer writes itself with a ModelArts code.
	written := regexp.MustCompile(`Errorf\(http\.(Status\w+), (?:(\w+)\.)?(\w+|"[^"]+")`)
	statuses := map[string]int{"StatusBadRequest": 400, "StatusUnauthorized": 401, "StatusForbidden": 403, "StatusNotFound": 404,
		"StatusConflict": 409, "StatusRequestEntityTooLarge": 413, "StatusUnsupportedMediaType": 415,
		"StatusRequestedRangeNotSatisfiable": 416, "StatusTooManyRequests": 429, "StatusInternalServerError": 500}
	for _, f := range files {
		if filepath.Base(filepath.Dir(f)) != "api" {
			continue
		}
		data, _ := os.ReadFile(f)
		for _, m := range written.FindAllStringSubmatch(string(data), -1) {
			status, ok := statuses[m[1]]
			if !ok {
				t.Errorf("%s: status %s is not in the test's list", f, m[1])
				continue
			}
			code := strings.Trim(m[3], `"`)
			if !strings.Contains(code, ".") {
				pkg := m[2]
				if pkg == "" {
					pkg = "api"
				}
				c, ok := pkgConsts[pkg][code]
				if !ok {
					continue // a variable (the IAM or ModelArts code of the route)
				}
				code = c
			}
			want, ok := ref[code]
			if !strings.HasPrefix(code, "ModelArts.") || !ok || slices.Contains(want, status) {
				continue
			}
			if statusDeviations[code] == "" && !sizeOrMediaStatus(status) {
				t.Errorf("%s answers %s with %d; the appendix says %d (list it in statusDeviations with why)", f, code, status, want)
			}
		}
	}
}

// sizeOrMediaStatus reports the statuses that qualify an invalid argument
// (a body too large, not JSON, a range that cannot be served): they carry
// the invalid-argument code of their family, and the status says which.
func sizeOrMediaStatus(status int) bool {
	return status == http.StatusRequestEntityTooLarge || status == http.StatusUnsupportedMediaType || status == http.StatusRequestedRangeNotSatisfiable
}
