package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// TestPagingAsClientsPage reads lists the way python-otcextensions pages
// them: the data-management lists take offset as a page index, so the
// client asks offset 0, 1, 2 … at the default limit until a page comes
// back short, and must see every item exactly once.
func TestPagingAsClientsPage(t *testing.T) {
	t.Parallel() // its own servers and databases; the slowest suites overlap their waits
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		ctx := context.Background()
		const datasets, samples = 25, 250
		var first string
		for i := range datasets {
			id := c.create(fmt.Sprintf("paged-%02d", i), 0, nil)
			if first == "" {
				first = id
			}
		}
		for batch := 0; batch < samples; batch += 50 {
			var items []any
			for i := batch; i < batch+50; i++ {
				key := fmt.Sprintf("paged-00/s%03d.jpg", i)
				if _, err := env.App.Objects.Put(ctx, "data-in", key, strings.NewReader("img"), obs.PutOptions{}); err != nil {
					t.Fatal(err)
				}
				items = append(items, map[string]any{"data_source": map[string]any{"data_path": "obs://data-in/" + key}})
			}
			if st, out := c.do("POST", "/datasets/"+first+"/data-annotations/samples", map[string]any{"samples": items}); st != http.StatusOK || out["success"] != true {
				t.Fatalf("add samples %d…: %d %v", batch, st, out)
			}
		}

		readAll := func(path, listField, idField string) map[string]int {
			seen := map[string]int{}
			for page := 0; page < 1000; page++ {
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				st, out := c.do("GET", fmt.Sprintf("%s%soffset=%d", path, sep, page), nil)
				if st != http.StatusOK {
					t.Fatalf("GET %s page %d: %d %v", path, page, st, out)
				}
				items, _ := out[listField].([]any)
				for _, it := range items {
					seen[it.(map[string]any)[idField].(string)]++
				}
				if len(items) < 10 {
					return seen
				}
			}
			t.Fatalf("GET %s: no short page after 1000 pages", path)
			return nil
		}
		check := func(what string, seen map[string]int, want int) {
			t.Helper()
			if len(seen) != want {
				t.Errorf("paging %s read %d distinct items, want %d", what, len(seen), want)
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("paging %s read %s %d times", what, id, n)
				}
			}
		}
		check("datasets", readAll("/datasets", "datasets", "dataset_id"), datasets)
		check("samples", readAll("/datasets/"+first+"/data-annotations/samples", "samples", "sample_id"), samples)
	})
}
