package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	atelierconfig "github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// A training job created with the official SDK runs on the Slurm cluster
// testinfra/slurm starts: two tasks on two nodes, with the topology, the
// logs and the output a job on the local executor has, while the job
// cannot read the server's data directory. Another is terminated while it
// runs.
func TestTrainingOnSlurm(t *testing.T) {
	if os.Getenv("ATELIER_TEST_SLURM") == "" {
		t.Skip("ATELIER_TEST_SLURM is unset: no Slurm cluster (source testinfra/slurm/ci.sh as root to start one)")
	}
	t.Parallel()
	// The jobs directory is outside the data directory and reachable by
	// the job account, as on a cluster's shared file system.
	jobs := t.TempDir()
	for d := jobs; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	user := os.Getenv("ATELIER_TEST_SLURM_USER")
	if user == "" {
		user = "atelier-job"
	}
	// The interpreter must be one the job account can run on the nodes,
	// not the server user's own (pyenv's under /root, say): operators name
	// it in engines.json.
	data := t.TempDir()
	engines := `[{"engine_id": "python3", "engine_name": "Python", "engine_version": "python3", "launch": ["/usr/bin/python3", "-u"], "extensions": [".py"]}]`
	if err := os.WriteFile(filepath.Join(data, "engines.json"), []byte(engines), 0o600); err != nil {
		t.Fatal(err)
	}
	env := servertest.StartWith(t, servertest.Options{DataDir: data, Configure: func(c *atelierconfig.Config) {
		c.Executor, c.JobsDir = "slurm", jobs
		c.Slurm = atelierconfig.SlurmConfig{JobUser: user, Partition: os.Getenv("ATELIER_TEST_SLURM_PARTITION")}
	}})
	a := env.Account
	c := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	const bucket = "on-slurm"
	const script = `import json, os, sys
out = sys.argv[1].split("=", 1)[1]
keys = ["VC_TASK_INDEX", "VC_WORKER_NUM", "VC_WORKER_HOSTS", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"]
seen = {k: os.environ.get(k) for k in keys}
seen["uid"] = os.getuid()
try:
    os.listdir(sys.argv[2].split("=", 1)[1])
    seen["data_dir"] = "readable"
except OSError:
    seen["data_dir"] = "hidden"
with open(os.path.join(out, "rank-%s.json" % os.environ["RANK"]), "w") as f:
    json.dump(seen, f)
print("rank", os.environ["RANK"], "of", os.environ["WORLD_SIZE"], flush=True)
`
	putObject(t, env, bucket, "code/dist.py", script)
	resp, err := c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
		Metadata: &model.JobMetadata{Name: "on-slurm"},
		Algorithm: &model.JobAlgorithm{CodeDir: tp("obs://" + bucket + "/code/"), BootFile: tp("obs://" + bucket + "/code/dist.py"),
			Outputs:    &[]model.Output{{Name: "train_url", Remote: &model.Remote{Obs: &model.RemoteObs{ObsUrl: "obs://" + bucket + "/out/"}}}},
			Parameters: &[]model.Parameters{{Name: tp("data_dir"), Value: tp(env.DataDir)}}},
		Spec: &model.Spec{Resource: &model.SpecResource{FlavorId: tp("slurm.cpu.1u2g"), NodeCount: 2}}}})
	if err != nil {
		t.Fatalf("CreateTrainingJob on Slurm: %v", err)
	}
	id := tv(resp.Metadata.Id)
	done := waitPhase(t, c, id, "Completed", "Failed", "Abnormal")
	if tv(done.Status.Phase) != "Completed" {
		var logs []string
		for _, task := range []string{"worker-0", "worker-1"} {
			if prev, err := c.ShowTrainingJobLogsPreview(&model.ShowTrainingJobLogsPreviewRequest{TrainingJobId: id, TaskId: task}); err == nil {
				logs = append(logs, tv(prev.Content))
			}
		}
		t.Fatalf("job on Slurm ended %s; events %q; logs %q", tv(done.Status.Phase), eventMessages(t, c, id), logs)
	}
	var hosts string
	for rank := range 2 {
		data, ok := getObject(t, env, bucket, "out/rank-"+string(rune('0'+rank))+".json")
		if !ok {
			t.Fatalf("rank %d wrote no output", rank)
		}
		var seen map[string]any
		if err := json.Unmarshal([]byte(data), &seen); err != nil {
			t.Fatalf("rank %d output %q: %v", rank, data, err)
		}
		idx := string(rune('0' + rank))
		if seen["RANK"] != idx || seen["VC_TASK_INDEX"] != idx || seen["WORLD_SIZE"] != "2" || seen["MASTER_PORT"] == "" {
			t.Errorf("rank %d saw %v", rank, seen)
		}
		if uid, _ := seen["uid"].(float64); uid == 0 || int(uid) == os.Geteuid() {
			t.Errorf("rank %d ran as uid %v, the server's", rank, seen["uid"])
		}
		if seen["data_dir"] != "hidden" {
			t.Errorf("rank %d could list the server's data directory", rank)
		}
		if rank == 0 {
			hosts, _ = seen["VC_WORKER_HOSTS"].(string)
		} else if seen["VC_WORKER_HOSTS"] != hosts || len(strings.Split(hosts, ",")) != 2 {
			t.Errorf("hosts %q and %v: want the same two", hosts, seen["VC_WORKER_HOSTS"])
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

	putObject(t, env, bucket, "long/sleep.py", "import time\nprint('started', flush=True)\ntime.sleep(120)\n")
	resp, err = c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
		Metadata:  &model.JobMetadata{Name: "on-slurm-long"},
		Algorithm: &model.JobAlgorithm{CodeDir: tp("obs://" + bucket + "/long/"), BootFile: tp("obs://" + bucket + "/long/sleep.py")},
		Spec:      &model.Spec{Resource: &model.SpecResource{FlavorId: tp("slurm.cpu.1u2g"), NodeCount: 1}}}})
	if err != nil {
		t.Fatalf("CreateTrainingJob(long) on Slurm: %v", err)
	}
	long := tv(resp.Metadata.Id)
	waitPhase(t, c, long, "Running")
	deadline := time.Now().Add(30 * time.Second)
	for {
		prev, err := c.ShowTrainingJobLogsPreview(&model.ShowTrainingJobLogsPreviewRequest{TrainingJobId: long, TaskId: "worker-0"})
		if err == nil && strings.Contains(tv(prev.Content), "started") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the long job's log never showed it started: %+v, %v", prev, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := c.StopTrainingJob(&model.StopTrainingJobRequest{TrainingJobId: long, Body: &model.JobActionType{ActionType: "terminate"}}); err != nil {
		t.Fatalf("StopTrainingJob on Slurm: %v", err)
	}
	end := waitPhase(t, c, long, "Terminated", "Failed", "Completed", "Abnormal")
	if tv(end.Status.Phase) != "Terminated" {
		t.Fatalf("the stopped job on Slurm ended %s; events %q", tv(end.Status.Phase), eventMessages(t, c, long))
	}
	if ts := tv(end.Status.TaskStatuses); len(ts) != 1 || tv(ts[0].ExitCode) != 143 {
		t.Errorf("terminated task statuses %+v; want exit code 143 (SIGTERM)", ts)
	}
}
