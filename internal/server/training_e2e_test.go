package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	modelarts "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

func tp[T any](v T) *T { return &v }

func tv[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// putObject stores an object in the server's local object store, creating
// the bucket, as a user uploading with an OBS client would.
func putObject(t testing.TB, env *servertest.Env, bucket, key, content string) {
	t.Helper()
	ctx := context.Background()
	if err := env.App.Objects.CreateBucket(ctx, bucket); err != nil && !strings.Contains(err.Error(), obs.ErrBucketExists.Error()) {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	if _, err := env.App.Objects.Put(ctx, bucket, key, strings.NewReader(content), obs.PutOptions{}); err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

func getObject(t testing.TB, env *servertest.Env, bucket, key string) (string, bool) {
	t.Helper()
	r, _, err := env.App.Objects.Get(context.Background(), bucket, key, nil)
	if err != nil {
		return "", false
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s/%s: %v", bucket, key, err)
	}
	return string(b), true
}

// trainScript is the training program of the end-to-end tests: it reads its
// input, sleeps (so that it is seen running and sampled), writes a model to
// its output and logs to stdout.
const trainScript = `import argparse, os, sys, time
p = argparse.ArgumentParser()
p.add_argument("--data_url")
p.add_argument("--train_url")
p.add_argument("--epochs", type=int)
p.add_argument("--msg")
p.add_argument("--sleep", type=float, default=0)
a = p.parse_args()
print("epochs=%d" % a.epochs, flush=True)
print("msg=" + a.msg, flush=True)
data = open(os.path.join(a.data_url, "input.txt")).read().strip()
for e in range(a.epochs):
    print("epoch %d loss %.3f" % (e, 1.0 / (e + 1)), flush=True)
time.sleep(a.sleep)
with open(os.path.join(a.train_url, "model.txt"), "w") as f:
    f.write("trained on " + data + "\n" + a.msg + "\n")
print("job_dir=" + os.environ["MA_JOB_DIR"], file=sys.stderr, flush=True)
print("training done", flush=True)
`

// hostile is a hyperparameter value full of shell metacharacters: it must
// reach the program as one argument, verbatim.
const hostile = `x'; touch /tmp/pwned-by-atelier; echo "$(id)" && $HOME | >& *`

func waitPhase(t *testing.T, c *modelarts.ModelArtsClient, id string, want ...string) *model.ShowTrainingJobDetailsResponse {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last *model.ShowTrainingJobDetailsResponse
	for time.Now().Before(deadline) {
		resp, err := c.ShowTrainingJobDetails(&model.ShowTrainingJobDetailsRequest{TrainingJobId: id})
		if err != nil {
			t.Fatalf("ShowTrainingJobDetails(%s): %v", id, err)
		}
		last = resp
		if resp.Status != nil && slices.Contains(want, tv(resp.Status.Phase)) {
			return resp
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("job %s never reached phase %v; last status %+v", id, want, last.Status)
	return nil
}

func eventMessages(t *testing.T, c *modelarts.ModelArtsClient, id string) []string {
	t.Helper()
	resp, err := c.ListTrainingJobEvents(&model.ListTrainingJobEventsRequest{TrainingJobId: id, Limit: tp(int32(100))})
	if err != nil {
		t.Fatalf("ListTrainingJobEvents: %v", err)
	}
	var out []string
	for _, e := range tv(resp.Events) {
		out = append(out, tv(e.Message))
	}
	return out
}

func hasMessage(msgs []string, part string) bool {
	return slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, part) })
}

func TestTrainingSDK(t *testing.T) {
	t.Parallel() // its own servers and databases; the slowest suites overlap their waits
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account
		c := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
		const bucket = "train-e2e"
		putObject(t, env, bucket, "code/train.py", trainScript)
		putObject(t, env, bucket, "code/util/helper.py", "X = 1\n")
		putObject(t, env, bucket, "data/input.txt", "the data\n")

		var pythonEngine, flavorID string
		t.Run("ShowTrainingJobEngines", func(t *testing.T) {
			resp, err := c.ShowTrainingJobEngines(&model.ShowTrainingJobEnginesRequest{})
			if err != nil {
				t.Fatalf("ShowTrainingJobEngines: %v", err)
			}
			for _, e := range tv(resp.Items) {
				if tv(e.EngineName) == "Python" {
					pythonEngine = tv(e.EngineId)
					if !strings.HasPrefix(tv(e.EngineVersion), "python3.") {
						t.Errorf("python engine version %q; want the interpreter's (python3.N)", tv(e.EngineVersion))
					}
				}
			}
			if pythonEngine == "" || tv(resp.Total) != int32(len(tv(resp.Items))) {
				t.Fatalf("engines %+v: want a Python engine and total = len(items)", resp)
			}
		})
		t.Run("ShowTrainingJobFlavors", func(t *testing.T) {
			resp, err := c.ShowTrainingJobFlavors(&model.ShowTrainingJobFlavorsRequest{})
			if err != nil {
				t.Fatalf("ShowTrainingJobFlavors: %v", err)
			}
			for _, f := range tv(resp.Flavors) {
				if tv(f.FlavorId) == "local.cpu.1u2g" {
					flavorID = tv(f.FlavorId)
					info := f.FlavorInfo
					if tv(f.FlavorType) != "CPU" || info == nil || tv(info.Cpu.CoreNum) != 1 || tv(info.Memory.Size) != 2 || tv(info.Memory.Unit) != "GB" || tv(info.MaxNum) < 2 {
						t.Errorf("flavor %+v info %+v: want CPU, 1 core, 2 GB, max_num ≥ 2", f, info)
					}
				}
			}
			if flavorID == "" || tv(resp.TotalCount) != int32(len(tv(resp.Flavors))) {
				t.Fatalf("flavors %+v: want local.cpu.1u2g", resp)
			}
			gpu, err := c.ShowTrainingJobFlavors(&model.ShowTrainingJobFlavorsRequest{FlavorType: tp("GPU")})
			if err != nil {
				t.Fatalf("ShowTrainingJobFlavors(GPU): %v", err)
			}
			for _, f := range tv(gpu.Flavors) {
				if tv(f.FlavorType) != "GPU" {
					t.Errorf("flavor_type=GPU answered %s", tv(f.FlavorId))
				}
			}
		})

		var algID string
		t.Run("CreateAlgorithm", func(t *testing.T) {
			resp, err := c.CreateAlgorithm(&model.CreateAlgorithmRequest{Body: &model.Algorithm{
				Metadata: &model.AlgorithmMetadata{Name: "mnist-e2e", Description: tp("trains a tiny model")},
				JobConfig: &model.AlgorithmJobConfig{
					// The "/bucket/dir/" form, which python-otcextensions sends.
					CodeDir: tp("/" + bucket + "/code/"), BootFile: tp("/" + bucket + "/code/train.py"),
					Parameters: &[]model.Parameters{{Name: tp("epochs"), Value: tp("1"), Description: tp("epochs to train"),
						Constraint: &model.ParametersConstraint{Type: tp("Integer"), Editable: tp(true), Required: tp(true)}}},
					Inputs:  &[]model.AlgorithmCreateInput{{Name: tp("data_url"), Description: tp("training data")}},
					Outputs: &[]model.AlgorithmCreateOutput{{Name: "train_url", Description: tp("the model")}},
					Engine:  &model.AlgorithmCreateEngine{EngineId: tp(pythonEngine)},
				},
				ResourceRequirements: &[]model.ResourceRequirement{{Key: tp("flavor_type"), Values: &[]string{"CPU"}, Operator: tp("in")}},
			}})
			if err != nil {
				t.Fatalf("CreateAlgorithm: %v", err)
			}
			m, jc := resp.Metadata, resp.JobConfig
			if resp.HttpStatusCode != http.StatusCreated || m == nil || jc == nil {
				t.Fatalf("CreateAlgorithm: status %d %+v; want 201 with metadata and job_config", resp.HttpStatusCode, resp)
			}
			algID = tv(m.Id)
			if len(algID) != 32 || m.Name != "mnist-e2e" || tv(m.WorkspaceId) != "0" || tv(m.UserName) != a.UserName ||
				tv(m.DomainId) != a.DomainID || !tv(m.IsValid) || tv(m.Size) <= 0 || tv(m.CreateTime) == 0 {
				t.Errorf("metadata %+v", m)
			}
			if tv(jc.CodeDir) != "/"+bucket+"/code/" || tv(jc.BootFile) != "/"+bucket+"/code/train.py" || tv(jc.Engine.EngineId) != pythonEngine || len(tv(jc.Parameters)) != 1 ||
				len(tv(jc.Inputs)) != 1 || len(tv(jc.Outputs)) != 1 {
				t.Errorf("job_config %+v", jc)
			}
			if rr := tv(resp.ResourceRequirements); len(rr) != 1 || tv(rr[0].Key) != "flavor_type" || !slices.Equal(tv(rr[0].Value), []string{"CPU"}) {
				t.Errorf("resource_requirements %+v", rr)
			}
		})
		t.Run("ListAlgorithms", func(t *testing.T) {
			resp, err := c.ListAlgorithms(&model.ListAlgorithmsRequest{Searches: tp("name:mnist"), Limit: tp(int32(10))})
			if err != nil {
				t.Fatalf("ListAlgorithms: %v", err)
			}
			items := tv(resp.Items)
			if tv(resp.Total) != 1 || tv(resp.Count) != 1 || len(items) != 1 || tv(items[0].Metadata.Id) != algID || tv(resp.SortBy) != "create_time" {
				t.Fatalf("ListAlgorithms = %+v; want the one algorithm", resp)
			}
			none, err := c.ListAlgorithms(&model.ListAlgorithmsRequest{Searches: tp("name:nothing-like-it")})
			if err != nil || tv(none.Total) != 0 || len(tv(none.Items)) != 0 {
				t.Fatalf("ListAlgorithms(no match) = %+v, %v; want none", none, err)
			}
		})
		t.Run("ShowAlgorithmByUuid", func(t *testing.T) {
			resp, err := c.ShowAlgorithmByUuid(&model.ShowAlgorithmByUuidRequest{AlgorithmId: algID})
			if err != nil {
				t.Fatalf("ShowAlgorithmByUuid: %v", err)
			}
			if tv(resp.Metadata.Id) != algID || tv(resp.JobConfig.BootFile) != "/"+bucket+"/code/train.py" {
				t.Errorf("ShowAlgorithmByUuid = %+v", resp)
			}
		})
		t.Run("ChangeAlgorithm", func(t *testing.T) {
			resp, err := c.ChangeAlgorithm(&model.ChangeAlgorithmRequest{AlgorithmId: algID, Body: &model.Algorithm{
				Metadata: &model.AlgorithmMetadata{Name: "mnist-e2e", Description: tp("changed")}}})
			if err != nil {
				t.Fatalf("ChangeAlgorithm: %v", err)
			}
			if resp.HttpStatusCode != http.StatusCreated || tv(resp.Metadata.Description) != "changed" || tv(resp.JobConfig.BootFile) == "" {
				t.Errorf("ChangeAlgorithm = %d %+v; want 201, the new description and the job_config kept", resp.HttpStatusCode, resp.Metadata)
			}
		})

		var jobID string
		t.Run("CreateTrainingJob", func(t *testing.T) {
			resp, err := c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{
				Kind:     "job",
				Metadata: &model.JobMetadata{Name: "e2e-job", Description: tp("first")},
				Algorithm: &model.JobAlgorithm{
					Id: tp(algID),
					Parameters: &[]model.Parameters{{Name: tp("epochs"), Value: tp("3")}, {Name: tp("msg"), Value: tp(hostile)},
						{Name: tp("sleep"), Value: tp("1.5")}},
					Inputs:       &[]model.Input{{Name: "data_url", Remote: &model.InputDataInfo{Obs: &model.InputDataInfoObs{ObsUrl: "obs://" + bucket + "/data/"}}}},
					Outputs:      &[]model.Output{{Name: "train_url", Remote: &model.Remote{Obs: &model.RemoteObs{ObsUrl: "obs://" + bucket + "/output/"}}}},
					Environments: map[string]string{"MY_SETTING": "on"},
				},
				Spec: &model.Spec{
					Resource:      &model.SpecResource{FlavorId: tp(flavorID), NodeCount: 1},
					LogExportPath: &model.LogExportPath{ObsUrl: tp("obs://" + bucket + "/logs/")},
				},
			}})
			if err != nil {
				t.Fatalf("CreateTrainingJob: %v", err)
			}
			if resp.HttpStatusCode != http.StatusCreated || resp.Metadata == nil || resp.Status == nil {
				t.Fatalf("CreateTrainingJob: %d %+v", resp.HttpStatusCode, resp)
			}
			jobID = tv(resp.Metadata.Id)
			if len(jobID) != 32 || resp.Metadata.Name != "e2e-job" || tv(resp.Kind) != "job" || tv(resp.Status.Phase) != "Creating" ||
				!slices.Equal(tv(resp.Status.Tasks), []string{"worker-0"}) || tv(resp.Metadata.CreateTime) == 0 {
				t.Errorf("created job metadata %+v status %+v", resp.Metadata, resp.Status)
			}
			alg := resp.Algorithm
			if alg == nil || tv(alg.Id) != algID || tv(alg.Name) != "mnist-e2e" || tv(alg.BootFile) == "" || alg.Engine == nil ||
				tv(alg.Engine.EngineId) != pythonEngine || len(tv(alg.Parameters)) != 3 || len(tv(alg.Inputs)) != 1 {
				t.Errorf("created job algorithm %+v", alg)
			}
			if r := resp.Spec.Resource; r == nil || r.FlavorId != flavorID || r.NodeCount != 1 || r.FlavorDetail == nil || tv(r.FlavorDetail.FlavorType) != "CPU" {
				t.Errorf("created job resource %+v", resp.Spec.Resource)
			}
		})
		t.Run("Completed", func(t *testing.T) {
			running := waitPhase(t, c, jobID, "Running", "Completed", "Failed")
			if p := tv(running.Status.Phase); p == "Running" {
				if tv(running.Status.StartTime) == 0 {
					t.Errorf("running job without start_time: %+v", running.Status)
				}
				prev, err := c.ShowTrainingJobLogsPreview(&model.ShowTrainingJobLogsPreviewRequest{TrainingJobId: jobID, TaskId: "worker-0"})
				if err != nil {
					t.Fatalf("ShowTrainingJobLogsPreview while running: %v", err)
				}
				if tv(prev.FullSize) < tv(prev.CurrentSize) {
					t.Errorf("preview while running: %+v", prev)
				}
			}
			done := waitPhase(t, c, jobID, "Completed", "Failed", "Abnormal")
			st := done.Status
			if tv(st.Phase) != "Completed" || tv(st.SecondaryPhase) != "Completed" {
				t.Fatalf("job ended %s/%s; events: %q", tv(st.Phase), tv(st.SecondaryPhase), eventMessages(t, c, jobID))
			}
			if tv(st.Duration) < 1500 || tv(st.StartTime) < tv(done.Metadata.CreateTime) {
				t.Errorf("duration %d start %d (created %d); want ≥ 1.5 s of measured running", tv(st.Duration), tv(st.StartTime), tv(done.Metadata.CreateTime))
			}
			ts := tv(st.TaskStatuses)
			if len(ts) != 1 || tv(ts[0].Task) != "worker-0" || ts[0].ExitCode == nil || *ts[0].ExitCode != 0 {
				t.Errorf("task_statuses %+v", ts)
			}
			rr := tv(st.RunningRecords)
			if len(rr) != 1 || tv(rr[0].StartAt) == 0 || tv(rr[0].EndAt) < tv(rr[0].StartAt) || tv(rr[0].EndReason) != "completed" {
				t.Errorf("running_records %+v", rr)
			}
			model, ok := getObject(t, env, bucket, "output/model.txt")
			if !ok || model != "trained on the data\n"+hostile+"\n" {
				t.Errorf("output/model.txt = %q (exists %v); want the data and the hyperparameter verbatim", model, ok)
			}
		})
		t.Run("ShowTrainingJobLogsPreview", func(t *testing.T) {
			resp, err := c.ShowTrainingJobLogsPreview(&model.ShowTrainingJobLogsPreviewRequest{TrainingJobId: jobID, TaskId: "worker-0"})
			if err != nil {
				t.Fatalf("ShowTrainingJobLogsPreview: %v", err)
			}
			content := tv(resp.Content)
			for _, want := range []string{"epochs=3", "msg=" + hostile, "epoch 2 loss", "job_dir=", "training done"} {
				if !strings.Contains(content, want) {
					t.Errorf("log preview lacks %q:\n%s", want, content)
				}
			}
			if int(tv(resp.CurrentSize)) != len(content) || tv(resp.FullSize) != tv(resp.CurrentSize) {
				t.Errorf("sizes current %d full %d, content %d bytes", tv(resp.CurrentSize), tv(resp.FullSize), len(content))
			}
		})
		t.Run("ShowObsUrlOfTrainingJobLogs", func(t *testing.T) {
			resp, err := c.ShowObsUrlOfTrainingJobLogs(&model.ShowObsUrlOfTrainingJobLogsRequest{TrainingJobId: jobID, TaskId: "worker-0"})
			if err != nil {
				t.Fatalf("ShowObsUrlOfTrainingJobLogs: %v", err)
			}
			u := tv(resp.ObsUrl)
			if !strings.HasPrefix(u, env.URL+"/") {
				t.Fatalf("obs_url %q is not served by this server", u)
			}
			got, err := env.HTTP.Get(u)
			if err != nil {
				t.Fatalf("GET log URL: %v", err)
			}
			body, _ := io.ReadAll(got.Body)
			got.Body.Close()
			if got.StatusCode != http.StatusOK || !strings.Contains(string(body), "training done") {
				t.Errorf("GET log URL: %d %q", got.StatusCode, body)
			}
			if exported, ok := getObject(t, env, bucket, "logs/modelarts-job-"+jobID+"-worker-0.log"); !ok || !strings.Contains(exported, "training done") {
				t.Errorf("log not exported to log_export_path: %q", exported)
			}
		})
		t.Run("ListTrainingJobEvents", func(t *testing.T) {
			msgs := eventMessages(t, c, jobID)
			for _, want := range []string{"Training job is created.", "Training job is queuing.", "Training job is running.",
				"[worker-0] training started.", "[worker-0] Training finished. Exit code 0.", "Upload training output(parameter name: train_url) finished",
				"Training job is completed."} {
				if !hasMessage(msgs, want) {
					t.Errorf("events lack %q: %q", want, msgs)
				}
			}
			asc, err := c.ListTrainingJobEvents(&model.ListTrainingJobEventsRequest{TrainingJobId: jobID, Limit: tp(int32(2)),
				Order: tp(model.GetListTrainingJobEventsRequestOrderEnum().ASC)})
			if err != nil {
				t.Fatalf("ListTrainingJobEvents(asc, 2): %v", err)
			}
			ev := tv(asc.Events)
			if len(ev) != 2 || tv(ev[0].Message) != "Training job is created." || int(tv(asc.Total)) != len(msgs) || tv(ev[0].Time) == "" {
				t.Errorf("first two events ascending: %+v (total %d of %d)", ev, tv(asc.Total), len(msgs))
			}
		})
		t.Run("ShowTrainingJobMetrics", func(t *testing.T) {
			resp, err := c.ShowTrainingJobMetrics(&model.ShowTrainingJobMetricsRequest{TrainingJobId: jobID, TaskId: "worker-0"})
			if err != nil {
				t.Fatalf("ShowTrainingJobMetrics: %v", err)
			}
			byName := map[string][]float64{}
			for _, m := range tv(resp.Metrics) {
				byName[tv(m.Metric)] = tv(m.Value)
			}
			if len(byName["cpuUsage"]) == 0 || len(byName["memUsage"]) != len(byName["cpuUsage"]) || byName["memUsage"][0] <= 0 {
				t.Errorf("metrics %v; want CPU and memory samples of the run", byName)
			}
		})
		t.Run("ListTrainingJobs", func(t *testing.T) {
			resp, err := c.ListTrainingJobs(&model.ListTrainingJobsRequest{Body: &model.JobSearches{Limit: tp(int32(10)),
				Filters: &[]model.Filter{{Key: tp("phase"), Operator: tp("in"), Value: &[]string{"Completed"}},
					{Key: tp("name"), Operator: tp("like"), Value: &[]string{"e2e"}}}}})
			if err != nil {
				t.Fatalf("ListTrainingJobs: %v", err)
			}
			items := tv(resp.Items)
			if tv(resp.Total) != 1 || len(items) != 1 || tv(items[0].Metadata.Id) != jobID || tv(items[0].Status.Phase) != "Completed" {
				t.Errorf("ListTrainingJobs = total %d items %+v", tv(resp.Total), items)
			}
			none, err := c.ListTrainingJobs(&model.ListTrainingJobsRequest{Body: &model.JobSearches{
				Filters: &[]model.Filter{{Key: tp("phase"), Operator: tp("in"), Value: &[]string{"Running"}}}}})
			if err != nil || tv(none.Total) != 0 {
				t.Errorf("ListTrainingJobs(Running) = %+v, %v; want none", none, err)
			}
		})
		t.Run("ChangeTrainingJobDescription", func(t *testing.T) {
			resp, err := c.ChangeTrainingJobDescription(&model.ChangeTrainingJobDescriptionRequest{TrainingJobId: jobID,
				Body: &model.JobDescription{Description: tp("second")}})
			if err != nil {
				t.Fatalf("ChangeTrainingJobDescription: %v", err)
			}
			if resp.HttpStatusCode != http.StatusOK {
				t.Errorf("status %d; want 200", resp.HttpStatusCode)
			}
			got, err := c.ShowTrainingJobDetails(&model.ShowTrainingJobDetailsRequest{TrainingJobId: jobID})
			if err != nil || tv(got.Metadata.Description) != "second" {
				t.Errorf("description after change = %+v, %v", got.Metadata, err)
			}
		})

		var longID string
		t.Run("StopTrainingJob", func(t *testing.T) {
			resp, err := c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
				Metadata: &model.JobMetadata{Name: "e2e-long"},
				Algorithm: &model.JobAlgorithm{CodeDir: tp("/" + bucket + "/code/"), BootFile: tp("/" + bucket + "/code/train.py"),
					Parameters: &[]model.Parameters{{Name: tp("epochs"), Value: tp("1")}, {Name: tp("msg"), Value: tp("long")},
						{Name: tp("sleep"), Value: tp("120")}},
					Inputs:  &[]model.Input{{Name: "data_url", Remote: &model.InputDataInfo{Obs: &model.InputDataInfoObs{ObsUrl: "/" + bucket + "/data/"}}}},
					Outputs: &[]model.Output{{Name: "train_url", Remote: &model.Remote{Obs: &model.RemoteObs{ObsUrl: "/" + bucket + "/output-long/"}}}}},
				Spec: &model.Spec{Resource: &model.SpecResource{FlavorId: tp(flavorID), NodeCount: 1}}}})
			if err != nil {
				t.Fatalf("CreateTrainingJob(long): %v", err)
			}
			longID = tv(resp.Metadata.Id)
			// Paths are echoed in the caller's form.
			if got := tv(resp.Algorithm.CodeDir); got != "/"+bucket+"/code/" {
				t.Errorf("CreateTrainingJob echoed code_dir %q, want the caller's %q", got, "/"+bucket+"/code/")
			}
			waitPhase(t, c, longID, "Running")
			// The log grows while the job runs.
			deadline := time.Now().Add(30 * time.Second)
			for {
				prev, err := c.ShowTrainingJobLogsPreview(&model.ShowTrainingJobLogsPreviewRequest{TrainingJobId: longID, TaskId: "worker-0"})
				if err != nil {
					t.Fatalf("ShowTrainingJobLogsPreview(running): %v", err)
				}
				if strings.Contains(tv(prev.Content), "msg=long") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the running job's log never showed its output: %q", tv(prev.Content))
				}
				time.Sleep(100 * time.Millisecond)
			}
			stop, err := c.StopTrainingJob(&model.StopTrainingJobRequest{TrainingJobId: longID, Body: &model.JobActionType{ActionType: "terminate"}})
			if err != nil {
				t.Fatalf("StopTrainingJob: %v", err)
			}
			if stop.HttpStatusCode != http.StatusAccepted || tv(stop.Status.Phase) != "Terminating" {
				t.Errorf("StopTrainingJob = %d %+v; want 202 Terminating", stop.HttpStatusCode, stop.Status)
			}
			end := waitPhase(t, c, longID, "Terminated", "Failed", "Completed", "Abnormal")
			if tv(end.Status.Phase) != "Terminated" {
				t.Fatalf("stopped job ended %s; events %q", tv(end.Status.Phase), eventMessages(t, c, longID))
			}
			if ts := tv(end.Status.TaskStatuses); len(ts) != 1 || tv(ts[0].ExitCode) == 0 {
				t.Errorf("terminated task statuses %+v; want a signal exit code", ts)
			}
			if msgs := eventMessages(t, c, longID); !hasMessage(msgs, "terminated by the user") || !hasMessage(msgs, "Training job is terminated.") {
				t.Errorf("events %q", msgs)
			}
			_, err = c.StopTrainingJob(&model.StopTrainingJobRequest{TrainingJobId: longID, Body: &model.JobActionType{ActionType: "terminate"}})
			if se := servertest.SDKError(t, err); se.StatusCode != http.StatusBadRequest {
				t.Errorf("terminating a terminated job: %d %s", se.StatusCode, se.ErrorCode)
			}
		})
		t.Run("DeleteTrainingJob", func(t *testing.T) {
			for _, id := range []string{jobID, longID} {
				resp, err := c.DeleteTrainingJob(&model.DeleteTrainingJobRequest{TrainingJobId: id})
				if err != nil {
					t.Fatalf("DeleteTrainingJob: %v", err)
				}
				if resp.HttpStatusCode != http.StatusAccepted {
					t.Errorf("DeleteTrainingJob status %d; want 202", resp.HttpStatusCode)
				}
				_, err = c.ShowTrainingJobDetails(&model.ShowTrainingJobDetailsRequest{TrainingJobId: id})
				if se := servertest.SDKError(t, err); se.StatusCode != http.StatusBadRequest || se.ErrorCode != "ModelArts.2775" {
					t.Errorf("deleted job: %d %s; want 400 ModelArts.2775", se.StatusCode, se.ErrorCode)
				}
			}
			if _, ok := getObject(t, env, bucket, "output/model.txt"); !ok {
				t.Errorf("deleting a job removed its output from object storage")
			}
		})
		t.Run("DeleteAlgorithm", func(t *testing.T) {
			resp, err := c.DeleteAlgorithm(&model.DeleteAlgorithmRequest{AlgorithmId: algID})
			if err != nil {
				t.Fatalf("DeleteAlgorithm: %v", err)
			}
			if resp.HttpStatusCode != http.StatusAccepted {
				t.Errorf("DeleteAlgorithm status %d; want 202", resp.HttpStatusCode)
			}
			_, err = c.ShowAlgorithmByUuid(&model.ShowAlgorithmByUuidRequest{AlgorithmId: algID})
			if se := servertest.SDKError(t, err); se.StatusCode != http.StatusBadRequest || se.ErrorCode != "ModelArts.2755" {
				t.Errorf("deleted algorithm: %d %s; want 400 ModelArts.2755", se.StatusCode, se.ErrorCode)
			}
		})
	})
}

// multiNodeScript writes what each task sees of the job's topology.
const multiNodeScript = `import json, os, sys
out = sys.argv[1].split("=", 1)[1]
keys = ["VC_TASK_INDEX", "VC_WORKER_NUM", "VC_WORKER_HOSTS", "MA_NUM_HOSTS", "MA_CURRENT_IP", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "MA_NUM_GPUS", "MA_JOB_DIR", "MA_LOG_DIR"]
seen = {k: os.environ.get(k) for k in keys}
with open(os.path.join(out, "rank-%s.json" % os.environ["RANK"]), "w") as f:
    json.dump(seen, f)
print("rank", os.environ["RANK"], "of", os.environ["WORLD_SIZE"], flush=True)
`

func TestTrainingMultiNode(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, "sqlite")
	a := env.Account
	c := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	const bucket = "multi-node"
	putObject(t, env, bucket, "code/dist.py", multiNodeScript)
	resp, err := c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
		Metadata: &model.JobMetadata{Name: "two-nodes"},
		Algorithm: &model.JobAlgorithm{CodeDir: tp("obs://" + bucket + "/code/"), BootFile: tp("obs://" + bucket + "/code/dist.py"),
			Outputs: &[]model.Output{{Name: "train_url", Remote: &model.Remote{Obs: &model.RemoteObs{ObsUrl: "obs://" + bucket + "/out/"}}}}},
		Spec: &model.Spec{Resource: &model.SpecResource{FlavorId: tp("local.cpu.1u2g"), NodeCount: 2}}}})
	if err != nil {
		t.Fatalf("CreateTrainingJob(node_count 2): %v", err)
	}
	id := tv(resp.Metadata.Id)
	if !slices.Equal(tv(resp.Status.Tasks), []string{"worker-0", "worker-1"}) {
		t.Errorf("tasks %v; want worker-0 and worker-1", tv(resp.Status.Tasks))
	}
	done := waitPhase(t, c, id, "Completed", "Failed", "Abnormal")
	if tv(done.Status.Phase) != "Completed" {
		t.Fatalf("two-node job ended %s; events %q", tv(done.Status.Phase), eventMessages(t, c, id))
	}
	if ts := tv(done.Status.TaskStatuses); len(ts) != 2 {
		t.Errorf("task_statuses %+v; want two", ts)
	}
	var hosts string
	for rank := range 2 {
		data, ok := getObject(t, env, bucket, "out/rank-"+string(rune('0'+rank))+".json")
		if !ok {
			t.Fatalf("rank %d wrote no output", rank)
		}
		var seen map[string]string
		if err := json.Unmarshal([]byte(data), &seen); err != nil {
			t.Fatalf("rank %d output %q: %v", rank, data, err)
		}
		idx := string(rune('0' + rank))
		if seen["RANK"] != idx || seen["VC_TASK_INDEX"] != idx || seen["WORLD_SIZE"] != "2" || seen["VC_WORKER_NUM"] != "2" ||
			seen["MA_NUM_HOSTS"] != "2" || seen["MASTER_ADDR"] == "" || seen["MASTER_PORT"] == "" || seen["MA_NUM_GPUS"] != "0" ||
			seen["MA_JOB_DIR"] == "" || seen["MA_LOG_DIR"] == "" {
			t.Errorf("rank %d saw %v", rank, seen)
		}
		if h := strings.Split(seen["VC_WORKER_HOSTS"], ","); len(h) != 2 {
			t.Errorf("rank %d VC_WORKER_HOSTS %q; want two hosts", rank, seen["VC_WORKER_HOSTS"])
		}
		if rank == 0 {
			hosts = seen["VC_WORKER_HOSTS"]
		} else if seen["VC_WORKER_HOSTS"] != hosts {
			t.Errorf("the tasks disagree on the hosts: %q and %q", hosts, seen["VC_WORKER_HOSTS"])
		}
	}
	for _, task := range []string{"worker-0", "worker-1"} {
		prev, err := c.ShowTrainingJobLogsPreview(&model.ShowTrainingJobLogsPreviewRequest{TrainingJobId: id, TaskId: task})
		if err != nil {
			t.Fatalf("ShowTrainingJobLogsPreview(%s): %v", task, err)
		}
		if want := "rank " + task[len(task)-1:] + " of 2"; !strings.Contains(tv(prev.Content), want) {
			t.Errorf("%s log %q lacks %q", task, tv(prev.Content), want)
		}
	}
}

// rawCreate posts a training job body as is (signed with the account's AK/SK).
func rawCreate(t *testing.T, env *servertest.Env, path string, body any) (*http.Response, servertest.ErrorBody) {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	a := env.Account
	resp, got := env.Send(t, env.SignedRequest(t, http.MethodPost, "/v2/"+a.ProjectID+path, data, a.AccessKey, a.SecretKey, nil))
	var e servertest.ErrorBody
	if resp.StatusCode >= 400 {
		e = servertest.DecodeError(t, got)
	}
	return resp, e
}
