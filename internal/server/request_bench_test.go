package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/datasettest"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
)

// BenchmarkAuthenticatedGET is one authenticated request through the whole
// API handler (envelope, route, token, authorization, handler, JSON)
// without the network: the per-request work issue 15 holds against the
// floors (../shared/floors/httpfloor measures the network side). Routes:
// the project list (the HTTP floor's route), a dataset's detail, and a
// label's first page of 100 samples of a dataset of ATELIER_BENCH_SAMPLES
// (default 20,000 here: the page's cost does not grow with the dataset,
// BenchmarkListSamples shows it at a million).
func BenchmarkAuthenticatedGET(b *testing.B) {
	env := servertest.Start(b, store.SQLite)
	token := env.AdminToken(b)
	ctx := context.Background()
	if err := env.App.Objects.CreateBucket(ctx, "data"); err != nil {
		b.Fatal(err)
	}
	resp, body := env.Do(b, http.MethodPost, "/v2/"+env.Account.ProjectID+"/datasets", map[string]any{
		"dataset_name": "bench", "dataset_type": 0, "work_path_type": 0, "work_path": "/data/work/",
		"data_sources": []any{map[string]any{"data_type": 0, "data_path": "/data/in/"}}, "import_data": false,
	}, map[string]string{"X-Auth-Token": token})
	var created struct {
		DatasetID string `json:"dataset_id"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &created) != nil {
		b.Fatalf("create the dataset: %d %s", resp.StatusCode, body)
	}
	n := 20_000
	if testing.Short() || datasettest.BenchSize() < n {
		n = min(n, datasettest.BenchSize())
	}
	for i := 0; i < n; i += 5000 {
		if _, err := env.App.Datasets.WriteSamples(ctx, env.Account.ProjectID, created.DatasetID,
			datasettest.BenchInputs(i, min(5000, n-i)), dataset.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	prefix := "/v2/" + env.Account.ProjectID + "/datasets/" + created.DatasetID
	for _, c := range []struct{ name, path string }{
		{"auth-projects", "/v3/auth/projects"},
		{"dataset-detail", prefix},
		{"label-page-100", prefix + "/data-annotations/samples?label_name=label-07&limit=100"},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, c.path, nil)
			req.Header.Set("X-Auth-Token", token)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				env.App.API.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", c.path, rec.Code, rec.Body)
				}
			}
		})
	}
}
