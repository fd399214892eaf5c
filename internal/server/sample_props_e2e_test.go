package server_test

import (
	"encoding/base64"
	"net/url"
	"slices"
	"testing"

	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// TestSampleListByAttribute filters the sample list by a sample attribute,
// the way a user finds the images auto grouping put in one group: the
// attribute written when samples are added and by a label update, then
// search_conditions' metadata in the query string.
func TestSampleListByAttribute(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		id := c.create("grouped", 0, nil)
		base := "/datasets/" + id + "/data-annotations"
		inline := func(name string, meta map[string]any) map[string]any {
			return map[string]any{"name": name, "data": base64.StdEncoding.EncodeToString([]byte("image " + name)), "metadata": meta}
		}
		st, out := c.do("POST", base+"/samples", map[string]any{"samples": []any{
			inline("a.jpg", map[string]any{"group": "0"}),
			inline("b.jpg", map[string]any{"group": "1"}),
			inline("c.jpg", map[string]any{"group": 1}),
			inline("d.jpg", nil),
		}})
		if st != 200 || out["success"] != true {
			t.Fatalf("add samples: %d %v", st, out)
		}
		list := func(conds string) (int, map[string]any, []string) {
			t.Helper()
			st, out := c.do("GET", base+"/samples?limit=10&search_conditions="+url.QueryEscape(conds), nil)
			var names []string
			if samples, ok := out["samples"].([]any); ok {
				for _, s := range samples {
					names = append(names, s.(map[string]any)["sample_name"].(string))
				}
			}
			slices.Sort(names)
			return st, out, names
		}
		group1 := `[{"metadata":{"op":"AND","props":{"group":["1"]}}}]`
		if st, out, names := list(group1); st != 200 || out["sample_count"] != 2.0 || !slices.Equal(names, []string{"b.jpg", "c.jpg"}) {
			t.Fatalf("group 1: %d %v %v", st, out, names)
		}

		// A label update that writes the attribute moves d into group 1.
		_, out = c.do("GET", base+"/samples?limit=10&sample_state=__NONE__", nil)
		var dID string
		for _, s := range out["samples"].([]any) {
			if m := s.(map[string]any); m["sample_name"] == "d.jpg" {
				dID = m["sample_id"].(string)
			}
		}
		st, out = c.do("PUT", base+"/samples", map[string]any{"samples": []any{
			map[string]any{"sample_id": dID, "labels": []any{}, "metadata": map[string]any{"group": "1"}},
		}})
		if st != 200 || out["success"] != true {
			t.Fatalf("update d: %d %v", st, out)
		}
		if st, out, names := list(group1); st != 200 || out["sample_count"] != 3.0 || !slices.Equal(names, []string{"b.jpg", "c.jpg", "d.jpg"}) {
			t.Errorf("group 1 after the update: %d %v %v", st, out, names)
		}
		if st, out, names := list(`[{"metadata":{"op":"OR","props":{"group":["0"]}}},{"sample_name":"a"}]`); st != 200 || out["sample_count"] != 1.0 || !slices.Equal(names, []string{"a.jpg"}) {
			t.Errorf("group 0 and name a: %d %v %v", st, out, names)
		}
		st, out, _ = list(`[{"metadata":{"props":{"@modelarts:hard":["1"]}}}]`)
		c.wantErr(400, out, st, "ModelArts.4200", "not a sample attribute")
	})
}
