package server_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// stealScript is what an attacker with ModelArts FullAccess runs as a
// training job (issue 9, finding 1): it reads the server's files by
// relative and absolute paths, another job's code, the server's process
// and environment, prints whatever it got, and leaves links to the
// secrets in its output for the server to upload.
const stealScript = `import argparse, os, sys
p = argparse.ArgumentParser()
p.add_argument("--data_dir")
p.add_argument("--database")
p.add_argument("--other_job")
p.add_argument("--server_pid")
p.add_argument("--train_url")
a = p.parse_args()
job = os.environ["MA_JOB_DIR"]
targets = {
    "relative-bootstrap": os.path.join(job, "..", "..", "..", "bootstrap.json"),
    "bootstrap": os.path.join(a.data_dir, "bootstrap.json"),
    "database": a.database,
    "database-wal": a.database + "-wal",
    "database-shm": a.database + "-shm",
    "other-job": os.path.join(a.data_dir, "jobs", a.other_job, "user-job-dir", "victim", "train.py"),
    "server-environ": "/proc/%s/environ" % a.server_pid,
    "server-root": "/proc/%s/root%s/bootstrap.json" % (a.server_pid, a.data_dir),
    "pid1-environ": "/proc/1/environ",
}
for name, path in sorted(targets.items()):
    try:
        with open(path, "rb") as f:
            print("LEAK %s: %r" % (name, f.read(4096)), flush=True)
    except OSError as e:
        print("DENIED %s: %s" % (name, e.__class__.__name__), flush=True)
for name, path in [("data-dir", a.data_dir), ("jobs", os.path.join(a.data_dir, "jobs")), ("objects", os.path.join(a.data_dir, "obs"))]:
    try:
        print("LIST %s: %s" % (name, sorted(os.listdir(path))), flush=True)
    except OSError as e:
        print("DENIED list %s: %s" % (name, e.__class__.__name__), flush=True)
for k, v in sorted(os.environ.items()):
    if k.startswith("ATELIER"):
        print("LEAK env %s=%s" % (k, v), flush=True)
os.symlink(targets["bootstrap"], os.path.join(a.train_url, "bootstrap.json"))
os.symlink(a.database, os.path.join(a.train_url, "atelier.db"))
os.symlink(a.data_dir, os.path.join(a.train_url, "data-dir"))
with open(os.path.join(a.train_url, "model.txt"), "w") as f:
    f.write("ok\n")
print("uid=%d" % os.getuid(), flush=True)
print("attack done", flush=True)
`

func TestTrainingJobCannotReadServerSecrets(t *testing.T) {
	t.Setenv("ATELIER_CANARY_SECRET", "canary-from-the-server-environment")
	env := servertest.Start(t, "sqlite")
	a := env.Account
	c := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	const bucket = "sandbox-attack"
	putObject(t, env, bucket, "victim/train.py", "# SECRET-OF-ANOTHER-JOB\nimport time\ntime.sleep(60)\n")
	putObject(t, env, bucket, "attack/train.py", stealScript)

	// Another user's job is running while the attack runs.
	victim, err := c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
		Metadata:  &model.JobMetadata{Name: "victim"},
		Algorithm: &model.JobAlgorithm{CodeDir: tp("obs://" + bucket + "/victim/"), BootFile: tp("obs://" + bucket + "/victim/train.py")},
		Spec:      &model.Spec{Resource: &model.SpecResource{FlavorId: tp("local.cpu.1u2g"), NodeCount: 1}}}})
	if err != nil {
		t.Fatalf("create the victim job: %v", err)
	}
	victimID := tv(victim.Metadata.Id)
	waitPhase(t, c, victimID, "Running")
	t.Cleanup(func() {
		_, _ = c.DeleteTrainingJob(&model.DeleteTrainingJobRequest{TrainingJobId: victimID})
	})

	params := []model.Parameters{
		{Name: tp("data_dir"), Value: tp(env.DataDir)},
		{Name: tp("database"), Value: tp(env.Database)},
		{Name: tp("other_job"), Value: tp(victimID)},
		{Name: tp("server_pid"), Value: tp(strconv.Itoa(os.Getpid()))},
	}
	resp, err := c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
		Metadata: &model.JobMetadata{Name: "attack"},
		Algorithm: &model.JobAlgorithm{CodeDir: tp("obs://" + bucket + "/attack/"), BootFile: tp("obs://" + bucket + "/attack/train.py"),
			Parameters: &params,
			Outputs:    &[]model.Output{{Name: "train_url", Remote: &model.Remote{Obs: &model.RemoteObs{ObsUrl: "obs://" + bucket + "/out/"}}}}},
		Spec: &model.Spec{Resource: &model.SpecResource{FlavorId: tp("local.cpu.1u2g"), NodeCount: 1}}}})
	if err != nil {
		t.Fatalf("create the attack job: %v", err)
	}
	id := tv(resp.Metadata.Id)
	done := waitPhase(t, c, id, "Completed", "Failed", "Abnormal")
	prev, err := c.ShowTrainingJobLogsPreview(&model.ShowTrainingJobLogsPreviewRequest{TrainingJobId: id, TaskId: "worker-0"})
	if err != nil {
		t.Fatalf("ShowTrainingJobLogsPreview: %v", err)
	}
	log := tv(prev.Content)
	if tv(done.Status.Phase) != "Completed" || !strings.Contains(log, "attack done") {
		t.Fatalf("the attack job did not run to its end: %s; events %q; log:\n%s", tv(done.Status.Phase), eventMessages(t, c, id), log)
	}
	bootstrap, err := os.ReadFile(filepath.Join(env.DataDir, "bootstrap.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{a.Password, a.SecretKey, "SECRET-OF-ANOTHER-JOB", "canary-from-the-server-environment", "SQLite format", "LEAK"} {
		if secret != "" && strings.Contains(log, secret) {
			t.Errorf("the job's log shows %q:\n%s", secret, log)
		}
	}
	for _, want := range []string{"DENIED relative-bootstrap", "DENIED bootstrap", "DENIED database", "DENIED other-job", "DENIED server-environ"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "LIST data-dir") && !strings.Contains(log, "LIST data-dir: ['jobs']") ||
		strings.Contains(log, "LIST jobs") && !strings.Contains(log, "LIST jobs: ['"+id+"']") || strings.Contains(log, "LIST objects") {
		t.Errorf("the job can list the server's files:\n%s", log)
	}
	if os.Geteuid() == 0 && !strings.Contains(log, "uid=65534") {
		t.Errorf("the job of a root server does not run as nobody:\n%s", log)
	}
	// The links it left in its output are not followed by the upload.
	for _, key := range []string{"out/bootstrap.json", "out/atelier.db", "out/data-dir/bootstrap.json"} {
		if got, ok := getObject(t, env, bucket, key); ok {
			t.Errorf("the upload followed the job's link %s: %q", key, got)
		}
	}
	if got, ok := getObject(t, env, bucket, "out/model.txt"); !ok || got != "ok\n" {
		t.Errorf("the job's real output was not uploaded: %q", got)
	}
	if evs := eventMessages(t, c, id); !hasMessage(evs, "atelier.db (symbolic link)") {
		t.Errorf("events do not name the skipped links: %q", evs)
	}
	if bytes.Contains([]byte(log), bootstrap) {
		t.Error("the log holds bootstrap.json")
	}
}

// TestTrainingRefusedWithoutSandbox: a server whose job sandbox cannot
// work says so in its log and refuses jobs with a clear error; an operator
// who opted out gets jobs and a loud warning.
func TestTrainingRefusedWithoutSandbox(t *testing.T) {
	t.Parallel()
	// A data directory inside /usr, which every job sees, is one way a
	// sandbox fails its check on any machine.
	if os.Geteuid() != 0 {
		t.Skip("needs root to place a data directory under /usr")
	}
	for _, tc := range []struct {
		name     string
		optOut   bool
		wantLog  string
		wantJobs bool
	}{
		{"refused", false, "training jobs are refused: the job sandbox does not work", false},
		{"opted-out", true, "UNSAFE: training jobs run WITHOUT a sandbox", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := os.MkdirTemp("/usr/local/share", "atelier-sandbox-test-")
			if err != nil {
				t.Skipf("cannot create a directory under /usr: %v", err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			var buf syncBuffer
			env := servertest.StartWith(t, servertest.Options{Engine: "sqlite", DataDir: dir,
				Logger:    slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})),
				Configure: func(c *config.Config) { c.UnsafeNoJobSandbox = tc.optOut }})
			if !strings.Contains(buf.String(), tc.wantLog) {
				t.Errorf("server log lacks %q:\n%s", tc.wantLog, buf.String())
			}
			a := env.Account
			c := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
			putObject(t, env, "refused", "code/train.py", "print('hi')\n")
			_, err = c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
				Metadata:  &model.JobMetadata{Name: "refused"},
				Algorithm: &model.JobAlgorithm{CodeDir: tp("obs://refused/code/"), BootFile: tp("obs://refused/code/train.py")},
				Spec:      &model.Spec{Resource: &model.SpecResource{FlavorId: tp("local.cpu.1u2g"), NodeCount: 1}}}})
			if tc.wantJobs {
				if err != nil {
					t.Fatalf("an opted-out server refused a job: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "job sandbox is not available") || strings.Contains(err.Error(), dir) {
				t.Errorf("CreateTrainingJob = %v; want a refusal that names the sandbox and no path", err)
			}
		})
	}
}
