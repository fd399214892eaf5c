package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// TestStrictRequestBodies holds every route to the one strict decoder: a
// key given twice, a body declared as something other than JSON, a search
// condition with a key the reference does not define, and numbers out of
// an integer's range are refused with a message that names the problem.
func TestStrictRequestBodies(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		id := c.create("strict", 0, nil)
		datasets := "/v2/" + c.project + "/datasets"
		auth := map[string]string{"X-Auth-Token": c.token}
		withType := func(ct string) map[string]string {
			return map[string]string{"X-Auth-Token": c.token, "Content-Type": ct}
		}
		good := `{"dataset_name":"plain","dataset_type":0,"data_sources":[{"data_type":0,"data_path":"/data-in/plain/"}],"work_path":"/data-out/plain/","work_path_type":0}`
		search := func(cond string) string {
			return datasets + "/" + id + "/data-annotations/samples?search_conditions=" + url.QueryEscape(cond)
		}
		cases := []struct {
			name, method, path, body string
			headers                  map[string]string
			wantStatus               int
			wantMsg                  string
		}{
			{"duplicate-key", "POST", datasets, strings.Replace(good, `"dataset_name":"plain"`, `"dataset_name":"first","dataset_name":"second"`, 1), auth, 400, `duplicate key "dataset_name"`},
			{"duplicate-nested-key", "POST", datasets, strings.Replace(good, `"data_type":0,`, `"data_type":0,"data_type":1,`, 1), auth, 400, `duplicate key "data_type" in data_sources[0]`},
			{"text-plain", "POST", datasets, good, withType("text/plain"), 415, "Content-Type"},
			{"form-encoded", "POST", datasets, good, withType("application/x-www-form-urlencoded"), 415, "application/json"},
			{"json-with-charset", "POST", datasets, strings.ReplaceAll(good, "plain", "charset"), withType("application/json;charset=UTF-8"), 201, ""},
			{"integer-overflow", "POST", datasets, strings.Replace(good, `"dataset_type":0`, `"dataset_type":1e30`, 1), auth, 400, "dataset_type: must be a whole number"},
			{"search-condition-unknown-key", "GET", search(`[{"x":1}]`), "", auth, 400, `unknown field "x"`},
			{"search-condition-unknown-key-single", "GET", search(`{"label_list":{"labels":[]},"surprise":true}`), "", auth, 400, `unknown field "surprise"`},
			{"search-condition-known-keys", "GET", search(`[{"sample_name":"x"}]`), "", auth, 200, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var body any
				if tc.body != "" {
					body = tc.body
				}
				resp, data := env.Do(t, tc.method, tc.path, body, tc.headers)
				if resp.StatusCode != tc.wantStatus {
					t.Fatalf("%s %s: %d %s; want %d", tc.method, tc.path, resp.StatusCode, data, tc.wantStatus)
				}
				if tc.wantMsg != "" {
					if e := servertest.DecodeError(t, data); !strings.Contains(e.ErrorMsg, tc.wantMsg) {
						t.Errorf("%s: error %s %q; want a message mentioning %q", tc.name, e.ErrorCode, e.ErrorMsg, tc.wantMsg)
					}
				}
			})
		}
		// Nothing was created by the refused bodies.
		st, out := c.do("GET", "/datasets?limit=100", nil)
		if st != http.StatusOK {
			t.Fatalf("list datasets: %d %v", st, out)
		}
		for _, d := range out["datasets"].([]any) {
			if name := d.(map[string]any)["dataset_name"]; name != "strict" && name != "charset" {
				t.Errorf("a refused body left dataset %v behind", name)
			}
		}
	})
}
