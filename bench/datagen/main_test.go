package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
)

func TestDatagen(t *testing.T) {
	for _, kind := range []string{"image_classification", "object_detection", "text_classification"} {
		t.Run(kind, func(t *testing.T) {
			dirs := [2]string{t.TempDir(), t.TempDir()}
			for _, dir := range dirs {
				var out bytes.Buffer
				c := config{out: dir, bucket: "bench-data", kind: kind, scheme: "obs", n: 1500, labels: 5, files: true, verify: true, seed: 7}
				if err := run(c, &out); err != nil {
					t.Fatalf("run: %v\n%s", err, out.String())
				}
				if !strings.Contains(out.String(), "wrote 1500 lines") || !strings.Contains(out.String(), "read back 1500 records") {
					t.Errorf("output does not report what was written and read:\n%s", out.String())
				}
			}
			manifest := filepath.Join("obs", "bench-data", "manifest", "dataset.manifest")
			a, err := os.ReadFile(filepath.Join(dirs[0], manifest))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dirs[1], manifest))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Error("the same seed gave two different manifests")
			}
			checkRecords(t, dirs[0], a)
		})
	}
}

// checkRecords reads the manifest as an import would, following the VOC
// locations and sample sources into the data directory.
func checkRecords(t *testing.T, dir string, manifest []byte) {
	t.Helper()
	object := func(loc string) string {
		rest, ok := strings.CutPrefix(loc, "obs://")
		if !ok {
			t.Fatalf("location %q is not obs://", loc)
		}
		return filepath.Join(dir, "obs", filepath.FromSlash(rest))
	}
	r := formats.NewReader(bytes.NewReader(manifest))
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Labels)+len(rec.AnnotationLocs) == 0 {
			t.Fatalf("line %d has no labels", r.Line())
		}
		if _, text := rec.Content(); !text {
			if _, err := os.Stat(object(rec.Source)); err != nil {
				t.Fatalf("line %d: sample file: %v", r.Line(), err)
			}
		}
		for _, loc := range rec.AnnotationLocs {
			f, err := os.Open(object(loc.Loc))
			if err != nil {
				t.Fatal(err)
			}
			doc, err := formats.ParseVOC(f)
			f.Close()
			if err != nil {
				t.Fatalf("line %d: %v", r.Line(), err)
			}
			rec.AddVOC(loc, doc)
			if len(rec.Labels) == 0 || rec.Labels[0].Type != annotation.TypeObjectDetection || rec.Metadata[annotation.MetaSize] == nil {
				t.Fatalf("line %d: labels from its VOC file: %+v", r.Line(), rec)
			}
		}
	}
}

func TestDatagenRefuses(t *testing.T) {
	ok := config{out: t.TempDir(), bucket: "bench-data", kind: "object_detection", scheme: "obs", n: 1, labels: 1, seed: 1}
	for _, c := range []struct {
		name   string
		change func(*config)
	}{
		{"no-out", func(c *config) { c.out = "" }},
		{"bad-bucket", func(c *config) { c.bucket = "Bench_Data" }},
		{"type", func(c *config) { c.kind = "video" }},
		{"scheme", func(c *config) { c.scheme = "http" }},
		{"files-for-many", func(c *config) { c.files, c.n = true, maxFiles+1 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.change(&cfg)
			if err := run(cfg, io.Discard); err == nil {
				t.Error("run took it")
			}
		})
	}
}
