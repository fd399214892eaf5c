package training

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

func TestSearchJobs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fx := newFixture(t, db, 4)
		ctx := context.Background()
		a1 := fx.create(t, "alpha-1", 1, 1)
		b2 := fx.create(t, "beta-2", 1, 1)
		a3 := fx.create(t, "alpha-3", 1, 1)
		fx.pass(t)
		fx.exec.exit(b2, "worker-0", 0)
		fx.pass(t)
		other := fx.scope
		other.WorkspaceID = "ws-2"
		if _, err := fx.svc.PlanJob(ctx, other, &JobRequest{}); err == nil {
			t.Fatal("an empty request was accepted")
		}
		names := func(js []*Job) []string {
			var out []string
			for _, j := range js {
				out = append(out, j.Metadata.Name)
			}
			return out
		}
		tests := []struct {
			name      string
			q         JobQuery
			wantTotal int
			want      []string
		}{
			{"all-newest-first", JobQuery{Limit: 50, Desc: true}, 3, []string{"alpha-3", "beta-2", "alpha-1"}},
			{"phase-in", JobQuery{Limit: 50, Filters: []Filter{{"phase", "in", []string{PhaseRunning}}}}, 2, []string{"alpha-1", "alpha-3"}},
			{"phase-not", JobQuery{Limit: 50, Filters: []Filter{{"phase", "not", []string{PhaseRunning}}}}, 1, []string{"beta-2"}},
			{"name-like-any-case", JobQuery{Limit: 50, Filters: []Filter{{"name", "like", []string{"ALPHA"}}}}, 2, []string{"alpha-1", "alpha-3"}},
			{"empty-filters-ignored", JobQuery{Limit: 50, Filters: []Filter{{"phase", "in", []string{""}}, {"kind", "in", nil}}}, 3, []string{"alpha-1", "beta-2", "alpha-3"}},
			{"sort-by-name", JobQuery{Limit: 50, SortBy: "name"}, 3, []string{"alpha-1", "alpha-3", "beta-2"}},
			{"page", JobQuery{Limit: 1, Offset: 1, SortBy: "name"}, 3, []string{"alpha-3"}},
			{"other-workspace", JobQuery{Limit: 50}, 0, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				sc := fx.scope
				if tc.name == "other-workspace" {
					sc = other
				}
				total, items, err := fx.svc.SearchJobs(ctx, sc, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				if total != tc.wantTotal || !slices.Equal(names(items), tc.want) {
					t.Errorf("total %d items %v; want %d %v", total, names(items), tc.wantTotal, tc.want)
				}
			})
		}
		j1, _ := fx.svc.GetJob(ctx, "p", a1)
		j3, _ := fx.svc.GetJob(ctx, "p", a3)
		between := []string{fmt.Sprint(j1.Metadata.CreateTime), fmt.Sprint(j3.Metadata.CreateTime - 1)}
		total, items, err := fx.svc.SearchJobs(ctx, fx.scope, JobQuery{Limit: 50, Filters: []Filter{{"create_time", "between", between}}})
		if err != nil || total < 1 || slices.Contains(names(items), "alpha-3") {
			t.Errorf("create_time between %v: %d %v, %v; want the jobs before alpha-3", between, total, names(items), err)
		}
		for _, bad := range []Filter{{"password", "in", []string{"x"}}, {"name", "regex", []string{"x"}}, {"name", "between", []string{"1", "2"}}} {
			if _, _, err := fx.svc.SearchJobs(ctx, fx.scope, JobQuery{Limit: 50, Filters: []Filter{bad}}); err == nil {
				t.Errorf("filter %+v was accepted", bad)
			}
		}
		// Another project sees nothing, not even by ID.
		if _, err := fx.svc.GetJob(ctx, "other-project", a1); err == nil {
			t.Errorf("a job is visible from another project")
		}
		// Events filter by level and pattern.
		_, evs, err := fx.svc.JobEvents(ctx, "p", b2, EventQuery{Limit: 10, Level: "Info", Pattern: "Exit code"})
		if err != nil || len(evs) != 1 || evs[0].Source != "Task" {
			t.Errorf("events with pattern = %+v, %v; want the one exit event", evs, err)
		}
	})
}

func TestAlgorithms(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fx := newFixture(t, db, 2)
		ctx := context.Background()
		create := func(name string) *Algorithm {
			t.Helper()
			p, err := fx.svc.PlanAlgorithm(fx.scope, &AlgorithmRequest{Metadata: &AlgorithmMetadataIn{Name: name},
				JobConfig: &AlgorithmJobConfig{CodeDir: "obs://bkt/code", BootFile: "obs://bkt/code/run.sh"}})
			if err != nil {
				t.Fatal(err)
			}
			a, err := fx.svc.CommitAlgorithm(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		a := create("Apple-1")
		create("berry-2")
		create("apple-3")
		// code_dir is answered as it was sent (without the trailing slash).
		if a.JobConfig.CodeDir != "obs://bkt/code" || a.Metadata.Size != int64(len("echo hi\n")) || a.JobConfig.Engine.EngineID != "" {
			t.Errorf("created %+v", a)
		}
		names := func(as []Algorithm) []string {
			var out []string
			for _, a := range as {
				out = append(out, a.Metadata.Name)
			}
			return out
		}
		for _, tc := range []struct {
			q     AlgorithmQuery
			total int
			want  []string
		}{
			{AlgorithmQuery{Limit: 50, Desc: true}, 3, []string{"apple-3", "berry-2", "Apple-1"}},
			{AlgorithmQuery{Limit: 50, SortBy: "name"}, 3, []string{"Apple-1", "apple-3", "berry-2"}},
			{AlgorithmQuery{Limit: 1, Offset: 2}, 3, []string{"apple-3"}},
			{AlgorithmQuery{Limit: 50, NameLike: "APPLE"}, 2, []string{"Apple-1", "apple-3"}},
		} {
			total, items, err := fx.svc.ListAlgorithms(ctx, fx.scope, tc.q)
			if err != nil || total != tc.total || !slices.Equal(names(items), tc.want) {
				t.Errorf("%+v: %d %v, %v; want %d %v", tc.q, total, names(items), err, tc.total, tc.want)
			}
		}
		// Modify keeps what the request does not name.
		desc := "new"
		p, err := fx.svc.PlanAlgorithmUpdate(ctx, fx.scope, a.Metadata.ID, &AlgorithmRequest{Metadata: &AlgorithmMetadataIn{Description: &desc}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := fx.svc.CommitAlgorithm(ctx, p)
		if err != nil || got.Metadata.Description != "new" || got.JobConfig.BootFile != "obs://bkt/code/run.sh" || got.Metadata.Name != "Apple-1" {
			t.Errorf("modified = %+v, %v", got, err)
		}
		// Renaming onto another algorithm's name is a conflict.
		p, err = fx.svc.PlanAlgorithmUpdate(ctx, fx.scope, a.Metadata.ID, &AlgorithmRequest{Metadata: &AlgorithmMetadataIn{Name: "berry-2"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fx.svc.CommitAlgorithm(ctx, p); err == nil {
			t.Errorf("renaming onto an existing name succeeded")
		} else if e, ok := AsError(err); !ok || e.Code != CodeAlgorithmDuplicate {
			t.Errorf("rename conflict: %v", err)
		}
		// Deleting is final: a second delete finds nothing.
		if err := fx.svc.DeleteAlgorithm(ctx, "p", a.Metadata.ID); err != nil {
			t.Fatal(err)
		}
		if err := fx.svc.DeleteAlgorithm(ctx, "p", a.Metadata.ID); err == nil {
			t.Errorf("deleting twice succeeded")
		}
	})
}

// TestEnginesConfigured: engines come from DATA_DIR/engines.json, and only
// those whose launcher exists on the host are offered.
func TestEnginesConfigured(t *testing.T) {
	dir := t.TempDir()
	conf := `[{"engine_id": "shell", "engine_name": "Shell", "engine_version": "sh", "launch": ["sh"], "extensions": [".sh"]},
		{"engine_id": "ghost", "engine_name": "Ghost", "engine_version": "1", "launch": ["/nonexistent/ghost-interpreter"]}]`
	if err := os.WriteFile(filepath.Join(dir, "engines.json"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, store.SQLite)
	svc, err := New(Options{DB: db, Objects: &obs.Local{}, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range svc.Engines() {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, []string{"shell"}) {
		t.Errorf("engines %v; want only the one whose launcher exists", ids)
	}
	if _, ok := svc.findEngine(EngineRef{EngineID: "ghost"}); ok {
		t.Errorf("an unavailable engine was found")
	}
	if e, ok := svc.engineForBootFile("obs://b/x/run.sh"); !ok || e.ID != "shell" {
		t.Errorf("engine for run.sh = %+v, %v", e, ok)
	}
	if err := os.WriteFile(filepath.Join(dir, "engines.json"), []byte(`[{"engine_id": "x"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{DB: db, Objects: &obs.Local{}, DataDir: dir}); err == nil {
		t.Errorf("an engine without a launcher was accepted")
	}
}
