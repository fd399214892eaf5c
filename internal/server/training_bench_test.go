package server_test

import (
	"slices"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
)

// BenchmarkCreateToRunning measures, on an idle local executor, the time
// from sending CreateTrainingJob to the job's tasks running: the server's own
// start_time minus its create_time (p50 and p99), and the latency a client
// polling every 2 ms observes. Each job is a shell script that exits at
// once; the next is created when it has completed, so nothing queues.
func BenchmarkCreateToRunning(b *testing.B) {
	env := servertest.Start(b, store.SQLite)
	a := env.Account
	c := env.ModelArtsClient(b, a.AccessKey, a.SecretKey, a.ProjectID)
	putObject(b, env, "bench-create", "code/run.sh", "echo ok\n")
	req := func() *model.CreateTrainingJobRequest {
		return &model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job", Metadata: &model.JobMetadata{Name: "bench"},
			Algorithm: &model.JobAlgorithm{CodeDir: tp("obs://bench-create/code/"), BootFile: tp("obs://bench-create/code/run.sh")},
			Spec:      &model.Spec{Resource: &model.SpecResource{FlavorId: tp("local.cpu.1u2g"), NodeCount: 1}}}}
	}
	var server, client []time.Duration
	for b.Loop() {
		t0 := time.Now()
		resp, err := c.CreateTrainingJob(req())
		if err != nil {
			b.Fatalf("CreateTrainingJob: %v", err)
		}
		id := tv(resp.Metadata.Id)
		seen := false
		for {
			d, err := c.ShowTrainingJobDetails(&model.ShowTrainingJobDetailsRequest{TrainingJobId: id})
			if err != nil {
				b.Fatalf("ShowTrainingJobDetails: %v", err)
			}
			ph := tv(d.Status.Phase)
			if !seen && ph != "Creating" && ph != "Pending" {
				client = append(client, time.Since(t0))
				seen = true
			}
			if ph == "Completed" || ph == "Failed" {
				if ph == "Failed" {
					b.Fatalf("job %s failed", id)
				}
				server = append(server, time.Duration(tv(d.Status.StartTime)-tv(d.Metadata.CreateTime))*time.Millisecond)
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	pct := func(ds []time.Duration, p int) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[min(len(s)-1, len(s)*p/100)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(server, 50), "p50-ms")
	b.ReportMetric(pct(server, 99), "p99-ms")
	b.ReportMetric(pct(client, 50), "client-p50-ms")
}

// BenchmarkSearchJobs10kHTTP measures POST /training-job-searches through
// the SDK (signing, routing, authorization, JSON both ways) over 10,000
// stored jobs: a page of 50 with a phase filter matching a quarter of them. The jobs are clones of one
// job created through the API, inserted straight into the database: running
// 10,000 real jobs would measure the executor, not the search.
func BenchmarkSearchJobs10kHTTP(b *testing.B) {
	env := servertest.Start(b, store.SQLite)
	a := env.Account
	c := env.ModelArtsClient(b, a.AccessKey, a.SecretKey, a.ProjectID)
	putObject(b, env, "bench-search", "code/run.sh", "echo ok\n")
	resp, err := c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job", Metadata: &model.JobMetadata{Name: "seed"},
		Algorithm: &model.JobAlgorithm{CodeDir: tp("obs://bench-search/code/"), BootFile: tp("obs://bench-search/code/run.sh")},
		Spec:      &model.Spec{Resource: &model.SpecResource{FlavorId: tp("local.cpu.1u2g"), NodeCount: 1}}}})
	if err != nil {
		b.Fatal(err)
	}
	seed := tv(resp.Metadata.Id)
	ctx := b.Context()
	tx, err := env.App.DB.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	// History: jobs in final phases (active ones would keep the scheduler busy).
	phases := []string{"Completed", "Failed", "Terminated", "Abnormal"}
	for i := range 10000 {
		ph := phases[i%len(phases)]
		if _, err := tx.ExecContext(ctx, `INSERT INTO training_jobs (id, project_id, workspace_id, name, kind, user_id, user_name, algorithm_id,
			algorithm_name, description, phase, secondary_phase, priority, create_time, doc, run)
			SELECT $1, project_id, workspace_id, name, kind, user_id, user_name, algorithm_id, algorithm_name, description, $2, $2, priority,
			create_time + $3, doc, '{}' FROM training_jobs WHERE id = $4`, store.NewID(), ph, i+1, seed); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	req := &model.ListTrainingJobsRequest{Body: &model.JobSearches{Limit: tp(int32(50)),
		Filters: &[]model.Filter{{Key: tp("phase"), Operator: tp("in"), Value: &[]string{"Completed"}}}}}
	var times []time.Duration
	for i := 0; b.Loop(); i++ {
		req.Body.Offset = tp(int32(i * 50 % 2500))
		t0 := time.Now()
		got, err := c.ListTrainingJobs(req)
		times = append(times, time.Since(t0))
		if err != nil || len(tv(got.Items)) != 50 || tv(got.Total) < 2500 {
			b.Fatalf("ListTrainingJobs: %d items of %d, %v", len(tv(got.Items)), tv(got.Total), err)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}
