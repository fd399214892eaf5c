package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/server/servertest"
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
