package importer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// BenchmarkImportManifest imports a manifest of ATELIER_BENCH_SAMPLES lines
// (default 1,000,000), each an image with one of 20 classification labels,
// from the local object store into a fresh dataset, through a running tasks
// manager with the default batch size: what POST import-tasks does. The
// database is SQLite, or PostgreSQL with ATELIER_BENCH_ENGINE=postgres (and
// ATELIER_TEST_POSTGRES). It reports samples/s, from queueing to the task's
// end, and the process's peak resident memory (VmHWM), which includes
// writing the manifest. Every line's source is authorized for the
// requesting user through IAM's object decision (GetObject allowed on the
// bucket, with a Deny on a prefix no line names), as the server does.
func BenchmarkImportManifest(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("ATELIER_BENCH_SAMPLES")); err == nil && v > 0 {
		n = v
	}
	engine := store.SQLite
	if os.Getenv("ATELIER_BENCH_ENGINE") == "postgres" {
		engine = store.Postgres
	}
	ctx := context.Background()
	dsn := storetest.Migrated(b, engine)
	db, err := store.Open(ctx, dsn, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	objects, err := obs.NewLocal(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer objects.Close()
	if err := objects.CreateBucket(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	if err := writeBenchManifest(ctx, objects, n); err != nil {
		b.Fatal(err)
	}
	// The server's task settings (the defaults): how often the manager
	// polls, flushes and sweeps changes what else writes to the database.
	cfg := tasks.Config{}
	m, err := tasks.New(ctx, db, cfg)
	if err != nil {
		b.Fatal(err)
	}
	who, authorize := benchRequester(ctx, b, db)
	core, err := dataset.New(dataset.Options{DB: db, Objects: objects, Authorize: authorize})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := New(Options{Datasets: core, DB: db, Objects: objects, Tasks: m})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_ = m.Stop(stopCtx)
	}()

	b.ResetTimer()
	var busy, cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		typ := dataset.TypeImageClassification
		plan, err := core.PlanCreate(dataset.Scope{ProjectID: "bench", WorkspaceID: "0"}, &dataset.CreateRequest{DatasetName: fmt.Sprintf("bench-%d", i),
			DatasetType: &typ, WorkPath: "/bench/work/", WorkPathType: new(int), DataSources: []dataset.DataSource{{DataPath: "/bench/src/"}}})
		if err != nil {
			b.Fatal(err)
		}
		plan.Requester = who
		id, err := core.CommitCreate(ctx, plan, svc.EnqueueCreateImport)
		if err != nil {
			b.Fatal(err)
		}
		// Creation imports the (empty) data source first.
		if plan.ImportTaskID != "" {
			waitBench(b, m, plan.ImportTaskID)
		}
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		ip, err := svc.PlanImport(ctx, "bench", id, &ImportRequest{ImportPath: "/bench/m/bench.manifest"})
		if err != nil {
			b.Fatal(err)
		}
		ip.Requester = who
		taskID, err := svc.CommitImport(ctx, ip)
		if err != nil {
			b.Fatal(err)
		}
		if t := waitBench(b, m, taskID); t.Succeeded != int64(n) {
			b.Fatalf("import ended with %d samples of %d", t.Succeeded, n)
		}
		busy += time.Since(start)
		cpu += cpuTime() - cpu0
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/busy.Seconds(), "samples/s")
	// CPU time per sample (user and system, every goroutine) is steadier
	// than throughput on a shared machine.
	b.ReportMetric(float64(cpu.Microseconds())/float64(n*b.N), "cpu-µs/sample")
	if hwm := peakRSS(); hwm > 0 {
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MB")
	}
}

// benchRequester makes an account and a user allowed to read the bench
// bucket's objects, except under a denied prefix, and the authorizer the
// server gives the dataset service.
func benchRequester(ctx context.Context, b *testing.B, db *store.DB) (*dataset.Requester, dataset.ObjectAuthorizer) {
	svc, err := iam.NewService(ctx, db, iam.NewCatalog([]string{"modelarts:dataset:getDataset", "modelarts:trainJob:previewLog"}), iam.Options{})
	if err != nil {
		b.Fatal(err)
	}
	acct, err := svc.CreateAccount(ctx, iam.AccountInput{DomainName: "bench", Region: "r-1"})
	if err != nil {
		b.Fatal(err)
	}
	u, err := svc.CreateUser(ctx, acct.DomainID, iam.UserInput{Name: "bencher", Password: "Bench-pass1"})
	if err != nil {
		b.Fatal(err)
	}
	g, err := svc.CreateGroup(ctx, acct.DomainID, "readers", "")
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.AddUserToGroup(ctx, acct.DomainID, g.ID, u.ID); err != nil {
		b.Fatal(err)
	}
	p, err := svc.CreateCustomPolicy(ctx, acct.DomainID, iam.PolicyInput{DisplayName: "bench-read", Type: "AX", Document: []byte(`{"Version":"1.1","Statement":[
		{"Effect":"Allow","Action":["obs:object:GetObject","obs:bucket:ListBucket"],"Resource":["OBS:*:*:object:bench/*","OBS:*:*:bucket:bench"]},
		{"Effect":"Deny","Action":["obs:object:GetObject"],"Resource":["OBS:*:*:object:bench/secret/*"]}]}`)})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.Grant(ctx, acct.DomainID, g.ID, p.ID, policy.Scope{Kind: policy.ScopeAccount, ID: acct.DomainID}); err != nil {
		b.Fatal(err)
	}
	who := &dataset.Requester{UserID: u.ID, UserName: u.Name, DomainID: acct.DomainID, DomainName: "bench", SourceIP: "127.0.0.1"}
	return who, func(ctx context.Context, r dataset.Requester) (dataset.ObjectAccess, error) {
		acc, err := svc.ObjectAccess(ctx, "r-1", iam.Actor(r), time.Time{})
		if err != nil {
			return nil, err
		}
		return acc, nil
	}
}

// waitBench polls a task until it succeeds.
func waitBench(b *testing.B, m *tasks.Manager, id string) *tasks.Task {
	for {
		t, err := m.Get(context.Background(), id)
		if err != nil {
			b.Fatal(err)
		}
		if t.Status.Final() {
			if t.Status != tasks.Succeeded {
				b.Fatalf("task %s ended %s (%q)", id, t.Status, t.ErrorMessage)
			}
			return t
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeBenchManifest streams a manifest of n labeled lines into the store,
// never holding it whole.
func writeBenchManifest(ctx context.Context, objects obs.Store, n int) error {
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 1<<20)
		for i := range n {
			fmt.Fprintf(w, `{"source":"s3://bench/img/%07d.jpg","usage":"TRAIN","annotation":[{"type":"modelarts/image_classification","name":"label-%02d","annotated-by":"human","creation-time":"2024-01-02 03:04:05"}]}`+"\n", i, i%20)
		}
		pw.CloseWithError(w.Flush())
	}()
	_, err := objects.Put(ctx, "bench", "m/bench.manifest", pr, obs.PutOptions{})
	return err
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS reads the process's peak resident set size (VmHWM), in bytes.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
