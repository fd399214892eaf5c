package training

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// codeOf is the ModelArts code of a domain error ("" for other errors).
func codeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// TestRepoContract holds training's repository to the same answers on
// every engine: scoping by project and workspace, search conditions and
// paging, fenced writes, purge, usage samples and algorithm names.
func TestRepoContract(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := &repo{db: db, replica: "replica-a"}
		sc := Scope{ProjectID: "p1", WorkspaceID: "0"}
		newJob := func(name, phase string, created int64) *jobRow {
			j := &jobRow{ID: store.NewID(), ProjectID: sc.ProjectID, WorkspaceID: sc.WorkspaceID, Phase: phase, CreateTime: created}
			j.Doc.Kind = "job"
			j.Doc.Metadata.Name = name
			if err := r.createJob(ctx, j, "u1", "alice", event{At: created, Level: "Info", Source: "Job", Message: "created " + name}); err != nil {
				t.Fatalf("create job %s: %v", name, err)
			}
			return j
		}
		a := newJob("resnet_a", PhaseCreating, 1000)
		b := newJob("resnet%b", PhaseRunning, 2000)
		c := newJob("bert", PhaseCompleted, 3000)

		// Scoping: another project sees nothing.
		if _, err := r.job(ctx, "p2", a.ID); codeOf(err) != CodeJobNotFound {
			t.Fatalf("job of another project: got %v, want %s", err, CodeJobNotFound)
		}
		if got, err := r.job(ctx, sc.ProjectID, a.ID); err != nil || got.Doc.Metadata.Name != "resnet_a" {
			t.Fatalf("job: got %+v, %v", got, err)
		}

		// Search: conditions, LIKE escaping, ordering and paging.
		searches := []struct {
			name  string
			conds []jobCond
			want  []string
		}{
			{"all, oldest first", nil, []string{"resnet_a", "resnet%b", "bert"}},
			{"IN", []jobCond{{"phase", "IN", []any{PhaseRunning, PhaseCompleted}}}, []string{"resnet%b", "bert"}},
			{"NOT IN", []jobCond{{"phase", "NOT IN", []any{PhaseRunning}}}, []string{"resnet_a", "bert"}},
			{"LIKE takes _ literally", []jobCond{{"name", "LIKE", []any{"%" + escapeLike("t_") + "%"}}}, []string{"resnet_a"}},
			{"LIKE takes % literally", []jobCond{{"name", "LIKE", []any{"%" + escapeLike("t%") + "%"}}}, []string{"resnet%b"}},
			{"time range", []jobCond{{"create_time", ">=", []any{int64(2000)}}, {"create_time", "<=", []any{int64(2500)}}}, []string{"resnet%b"}},
		}
		for _, s := range searches {
			total, jobs, err := r.searchJobs(ctx, sc, s.conds, "create_time", false, 10, 0)
			if err != nil {
				t.Fatalf("search %s: %v", s.name, err)
			}
			var got []string
			for _, j := range jobs {
				got = append(got, j.Doc.Metadata.Name)
			}
			if total != len(s.want) || fmt.Sprint(got) != fmt.Sprint(s.want) {
				t.Errorf("search %s: total %d, %v; want %v", s.name, total, got, s.want)
			}
		}
		if total, jobs, err := r.searchJobs(ctx, sc, nil, "create_time", true, 1, 1); err != nil || total != 3 || len(jobs) != 1 || jobs[0].ID != b.ID {
			t.Fatalf("second page of one, newest first: total %d, %d jobs, err %v; want job b", total, len(jobs), err)
		}
		if _, jobs, _ := r.searchJobs(ctx, Scope{ProjectID: sc.ProjectID, WorkspaceID: "other"}, nil, "create_time", false, 10, 0); len(jobs) != 0 {
			t.Fatalf("another workspace sees %d jobs", len(jobs))
		}
		if active, err := r.activeJobs(ctx); err != nil || len(active) != 2 {
			t.Fatalf("active jobs: %d, %v; want the Creating and the Running one", len(active), err)
		}

		// Fenced writes need the lease; unfenced ones do not.
		_, err := r.changeJob(ctx, b.ID, true, func(j *jobRow) ([]event, error) {
			j.Phase = PhaseCompleted
			return nil, nil
		})
		if !errors.Is(err, errLeaseLost) {
			t.Fatalf("fenced change without the lease: got %v, want errLeaseLost", err)
		}
		if held, err := r.acquireLease(ctx, time.Minute); err != nil || !held {
			t.Fatalf("acquire a free lease: %v, %v", held, err)
		}
		other := &repo{db: db, replica: "replica-b"}
		if held, err := other.acquireLease(ctx, time.Minute); err != nil || held {
			t.Fatalf("another replica took a live lease: %v, %v", held, err)
		}
		changed, err := r.changeJob(ctx, b.ID, true, func(j *jobRow) ([]event, error) {
			j.Phase = PhaseCompleted
			return []event{{At: 2500, Level: "Info", Source: "Job", Message: "done"}}, nil
		})
		if err != nil || changed.Phase != PhaseCompleted {
			t.Fatalf("fenced change with the lease: %+v, %v", changed, err)
		}
		if _, err := r.changeJob(ctx, "missing", false, func(*jobRow) ([]event, error) { return nil, nil }); codeOf(err) != CodeJobNotFound {
			t.Fatalf("change of a missing job: %v", err)
		}
		if total, evs, err := r.jobEvents(ctx, b.ID, EventQuery{Limit: 10, Pattern: "don"}); err != nil || total != 1 || evs[0].Message != "done" {
			t.Fatalf("events matching 'don': %d, %+v, %v", total, evs, err)
		}

		// Usage samples and purge.
		for i, cpu := range []float64{10, 20} {
			if err := r.recordUsage(ctx, c.ID, "worker-0", usageSample{At: int64(4000 + i), CPUPercent: cpu, MemoryMiB: 64}); err != nil {
				t.Fatalf("record usage: %v", err)
			}
		}
		if u, err := r.usage(ctx, c.ID, "worker-0"); err != nil || len(u) != 2 || u[1].CPUPercent != 20 {
			t.Fatalf("usage: %+v, %v", u, err)
		}
		if err := r.purgeJob(ctx, c.ID); err != nil {
			t.Fatalf("purge: %v", err)
		}
		if u, _ := r.usage(ctx, c.ID, "worker-0"); len(u) != 0 {
			t.Fatalf("purge left %d usage samples", len(u))
		}
		if total, _, _ := r.jobEvents(ctx, c.ID, EventQuery{Limit: 10}); total != 0 {
			t.Fatalf("purge left %d events", total)
		}
		if err := r.releaseLease(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.purgeJob(ctx, a.ID); !errors.Is(err, errLeaseLost) {
			t.Fatalf("purge without the lease: got %v, want errLeaseLost", err)
		}

		// Algorithms: names unique per workspace, paging, not found.
		algo := func(name string) *Algorithm {
			return &Algorithm{Metadata: AlgorithmMetadata{ID: store.NewID(), Name: name, WorkspaceID: sc.WorkspaceID, CreateTime: 1, UpdateTime: 1}}
		}
		first := algo("algo_1")
		for _, al := range []*Algorithm{first, algo("algo-2"), algo("other")} {
			if err := r.insertAlgorithm(ctx, sc.ProjectID, al); err != nil {
				t.Fatalf("insert algorithm %s: %v", al.Metadata.Name, err)
			}
		}
		if err := r.insertAlgorithm(ctx, sc.ProjectID, algo("algo_1")); codeOf(err) != CodeAlgorithmDuplicate {
			t.Fatalf("duplicate algorithm name: got %v, want %s", err, CodeAlgorithmDuplicate)
		}
		if total, list, err := r.algorithms(ctx, sc, "o_", "name", false, 10, 0); err != nil || total != 1 || list[0].Metadata.Name != "algo_1" {
			t.Fatalf("algorithms named like 'o_': %d, %v", total, err)
		}
		if total, list, err := r.algorithms(ctx, sc, "", "name", true, 2, 1); err != nil || total != 3 || len(list) != 2 || list[0].Metadata.Name != "algo_1" {
			t.Fatalf("second page of algorithms by name, descending: %d %+v %v", total, list, err)
		}
		if err := r.updateAlgorithm(ctx, sc.ProjectID, "missing", first); codeOf(err) != CodeAlgorithmNotFound {
			t.Fatalf("update of a missing algorithm: %v", err)
		}
		if err := r.deleteAlgorithm(ctx, "p2", first.Metadata.ID); codeOf(err) != CodeAlgorithmNotFound {
			t.Fatalf("delete from another project: %v", err)
		}
		if ws, err := r.algorithmWorkspace(ctx, sc.ProjectID, first.Metadata.ID); err != nil || ws != sc.WorkspaceID {
			t.Fatalf("algorithm workspace: %q, %v", ws, err)
		}
	})
}
