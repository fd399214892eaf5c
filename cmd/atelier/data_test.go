package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

func dataCLI(t *testing.T, env *servertest.Env, args ...string) (string, error) {
	t.Helper()
	return runCLI(t, env, "data", args...)
}

// TestDataWorkflow runs the data commands end to end: upload a folder of
// labeled images, create a dataset from it (imported at creation), import
// it again (nothing new), export it, download the export.
func TestDataWorkflow(t *testing.T) {
	pollInterval = 100 * time.Millisecond
	env := servertest.Start(t, "sqlite")
	src := t.TempDir()
	for rel, content := range map[string]string{"cat/1.jpg": "c1", "cat/2.jpg": "c2", "dog/3.jpg": "d3", "4.jpg": "u4"} {
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := dataCLI(t, env, "upload", src, "obs://pets/raw")
	if err != nil || !strings.Contains(out, "Uploaded 4/4 files") {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	out, err = dataCLI(t, env, "create", "--name", "pets", "--type", "image_classification", "--input", "obs://pets/raw/", "--work", "obs://pets/work/")
	if err != nil || !strings.Contains(out, "4 samples, 3 labeled") {
		t.Fatalf("create: %v\n%s", err, out)
	}
	id := regexp.MustCompile(`\(([0-9a-f]{32})\)`).FindStringSubmatch(out)[1]
	out, err = dataCLI(t, env, "import", id, "--path", "obs://pets/raw/")
	if err != nil || !strings.Contains(out, "Imported") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	out, err = dataCLI(t, env, "show", id)
	if err != nil || !strings.Contains(out, "4 samples") {
		t.Fatalf("show after a second import (no duplicates expected): %v\n%s", err, out)
	}
	out, err = dataCLI(t, env, "export", id, "--path", "obs://pets/export/", "--format", "1")
	if err != nil || !strings.Contains(out, "Exported to obs://pets/export/") {
		t.Fatalf("export: %v\n%s", err, out)
	}
	dst := t.TempDir()
	out, err = dataCLI(t, env, "download", "obs://pets/export/", dst)
	if err != nil || !strings.Contains(out, "Downloaded") {
		t.Fatalf("download: %v\n%s", err, out)
	}
	var files []string
	_ = filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dst, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	joined := strings.Join(files, " ")
	// The tree layout puts each file in its label's folder, named after its
	// path under the input folder.
	for _, want := range []string{"cat/cat_1.jpg", "cat/cat_2.jpg", "dog/dog_3.jpg", "4.jpg", ".manifest"} {
		if !strings.Contains(joined, want) {
			t.Errorf("downloaded export lacks %s: %v", want, files)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dst, "cat", "cat_1.jpg")); err != nil || string(data) != "c1" {
		t.Errorf("cat/cat_1.jpg: %q %v", data, err)
	}
	if _, err := dataCLI(t, env, "upload", src, "not-a-path"); err == nil {
		t.Error("upload to a non-OBS path succeeded")
	}
}

// writeTree writes files (relative path → content) under a new temporary
// folder and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestDataListAndShow: `data list` pages through every dataset (the list's
// offset is a page index), and `data show` names the type and status,
// counts each label's samples and prints paths as obs://bucket/dir/; on
// each engine, as the list's paging is SQL.
func TestDataListAndShow(t *testing.T) {
	pollInterval = 100 * time.Millisecond
	listPageSize = 2 // three datasets take two pages
	t.Cleanup(func() { listPageSize = 100 })
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) { testDataListAndShow(t, servertest.Start(t, engine)) })
	}
}

func testDataListAndShow(t *testing.T, env *servertest.Env) {
	src := writeTree(t, map[string]string{"cat/1.jpg": "c1", "cat/2.jpg": "c2", "dog/3.jpg": "d3", "4.jpg": "u4"})
	if out, err := dataCLI(t, env, "upload", src, "obs://pets/raw/"); err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	ids := map[string]string{}
	for _, name := range []string{"pets", "pets-b", "pets-c"} {
		out, err := dataCLI(t, env, "create", "--name", name, "--input", "obs://pets/raw/", "--work", "obs://pets/work-"+name+"/")
		if err != nil {
			t.Fatalf("create %s: %v\n%s", name, err, out)
		}
		ids[name] = regexp.MustCompile(`\(([0-9a-f]{32})\)`).FindStringSubmatch(out)[1]
	}

	out, err := dataCLI(t, env, "list")
	if err != nil {
		t.Fatalf("data list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1+3+1 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("data list: want a header, the three datasets once each and a count, got:\n%s", out)
	}
	for name, id := range ids {
		if n := strings.Count(out, id); n != 1 {
			t.Errorf("data list names %s (%s) %d times, want once:\n%s", name, id, n, out)
		}
	}
	row := regexp.MustCompile(ids["pets"] + `\s+pets\s+image classification \(0\)\s+3/4\s+normal`)
	if !row.MatchString(out) {
		t.Errorf("data list: the row of pets lacks its type name, labeled/total counts and status:\n%s", out)
	}
	if !strings.HasSuffix(out, "\n3 datasets\n") {
		t.Errorf("data list: no count of datasets:\n%s", out)
	}

	out, err = dataCLI(t, env, "show", ids["pets"])
	if err != nil {
		t.Fatalf("data show: %v\n%s", err, out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^Dataset\s+pets \(` + ids["pets"] + `\)$`),
		regexp.MustCompile(`(?m)^Type\s+image classification \(0\)$`),
		regexp.MustCompile(`(?m)^Status\s+normal \(1\)$`),
		regexp.MustCompile(`(?m)^Samples\s+4 samples, 3 labeled$`),
		regexp.MustCompile(`(?m)^Input\s+obs://pets/raw/$`),
		regexp.MustCompile(`(?m)^Work path\s+obs://pets/work-pets/$`),
		regexp.MustCompile(`(?m)^Labels\s+2$`),
		regexp.MustCompile(`(?m)^\s+cat\s+2 samples$`),
		regexp.MustCompile(`(?m)^\s+dog\s+1 sample$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("data show lacks a line matching %s:\n%s", want, out)
		}
	}
}

// TestDataNothingThere: importing a folder with no objects and downloading
// an empty prefix say so and fail, instead of reporting 0 and succeeding.
func TestDataNothingThere(t *testing.T) {
	pollInterval = 100 * time.Millisecond
	env := servertest.Start(t, "sqlite")
	src := writeTree(t, map[string]string{"cat/1.jpg": "c1"})
	if out, err := dataCLI(t, env, "upload", src, "obs://pets/raw/"); err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	out, err := dataCLI(t, env, "create", "--name", "pets", "--input", "obs://pets/raw/", "--work", "obs://pets/work/")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	id := regexp.MustCompile(`\(([0-9a-f]{32})\)`).FindStringSubmatch(out)[1]
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"import-missing-folder", []string{"import", id, "--path", "obs://pets/more/"}, "no objects under obs://pets/more/"},
		{"import-missing-folder-no-slash", []string{"import", id, "--path", "obs://pets/more"}, "no objects under obs://pets/more/"},
		{"download-empty-prefix", []string{"download", "obs://pets/nothing/", t.TempDir()}, "no objects under obs://pets/nothing/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := dataCLI(t, env, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("data %s: error %v; want %q. Output:\n%s", strings.Join(tc.args, " "), err, tc.want, out)
			}
		})
	}
	// A folder already imported still imports (nothing new): it is not empty.
	if out, err := dataCLI(t, env, "import", id, "--path", "obs://pets/raw/"); err != nil || !strings.Contains(out, "Imported") {
		t.Errorf("import of an imported folder: %v\n%s", err, out)
	}
}
