package server_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	modelarts "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

const sleepScript = `import argparse, os, time
p = argparse.ArgumentParser()
p.add_argument("--train_url")
p.add_argument("--sleep", type=float)
p.add_argument("--marker")
a = p.parse_args()
print("start", a.marker, flush=True)
time.sleep(a.sleep)
open(os.path.join(a.train_url, a.marker + ".txt"), "w").write("slept %s\n" % a.sleep)
print("end", a.marker, flush=True)
`

func createSleeper(t *testing.T, c *modelarts.ModelArtsClient, bucket, marker string, seconds float64) string {
	t.Helper()
	resp, err := c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
		Metadata: &model.JobMetadata{Name: "sleep-" + marker},
		Algorithm: &model.JobAlgorithm{CodeDir: tp("obs://" + bucket + "/code/"), BootFile: tp("obs://" + bucket + "/code/sleep.py"),
			Parameters: &[]model.Parameters{{Name: tp("sleep"), Value: tp(strconv.FormatFloat(seconds, 'f', -1, 64))}, {Name: tp("marker"), Value: tp(marker)}},
			Outputs:    &[]model.Output{{Name: "train_url", Remote: &model.Remote{Obs: &model.RemoteObs{ObsUrl: "obs://" + bucket + "/out/"}}}}},
		Spec: &model.Spec{Resource: &model.SpecResource{FlavorId: tp("local.cpu.1u2g"), NodeCount: 1}}}})
	if err != nil {
		t.Fatalf("CreateTrainingJob(%s): %v", marker, err)
	}
	return tv(resp.Metadata.Id)
}

// killByMarker SIGKILLs every process whose command line contains marker,
// wrappers (/bin/sh) first so that none records an exit status: what a
// crash of the host would leave behind.
func killByMarker(t *testing.T, marker string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var shells, others []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(marker)) {
			continue
		}
		pid, _ := strconv.Atoi(strings.Split(p, "/")[2])
		if pid == os.Getpid() {
			continue
		}
		if bytes.HasPrefix(b, []byte("/bin/sh\x00")) {
			shells = append(shells, pid)
		} else {
			others = append(others, pid)
		}
	}
	for _, pid := range append(shells, others...) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return len(shells) + len(others)
}

// TestTrainingRestart stops the server while jobs run and starts another on
// the same database and data directory: a task still running is
// re-attached and finishes normally, a task that exited while the server was
// down is finished (outputs uploaded, Completed), and a task whose process
// vanished without an exit status makes its job Abnormal, never Running
// forever.
func TestTrainingRestart(t *testing.T) {
	t.Parallel() // its own servers and databases; the slowest suites overlap their waits
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel() // the markers name the engine: each kills only its own processes
			testTrainingRestart(t, engine)
		})
	}
}

func testTrainingRestart(t *testing.T, engine store.Engine) {
	dataDir := t.TempDir()
	first := servertest.StartWith(t, servertest.Options{Engine: engine, DataDir: dataDir})
	a := first.Account
	const bucket = "restart"
	putObject(t, first, bucket, "code/sleep.py", sleepScript)
	c := first.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	short := createSleeper(t, c, bucket, "short-restart-"+string(engine), 1)
	long := createSleeper(t, c, bucket, "long-restart-"+string(engine), 6)
	waitPhase(t, c, short, "Running")
	waitPhase(t, c, long, "Running")
	first.Stop(t)
	time.Sleep(2500 * time.Millisecond) // the short task ends while no server runs

	second := servertest.StartWith(t, servertest.Options{Engine: engine, DataDir: dataDir, Database: first.Database})
	c = second.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	for _, tc := range []struct {
		id, marker string
		min        int64
	}{{short, "short-restart-" + string(engine), 1000}, {long, "long-restart-" + string(engine), 6000}} {
		done := waitPhase(t, c, tc.id, "Completed", "Failed", "Abnormal", "Terminated")
		if tv(done.Status.Phase) != "Completed" {
			t.Errorf("job %s ended %s after the restart; events %q", tc.marker, tv(done.Status.Phase), eventMessages(t, c, tc.id))
			continue
		}
		if d := tv(done.Status.Duration); d < tc.min {
			t.Errorf("job %s duration %d ms; want at least %d", tc.marker, d, tc.min)
		}
		if out, ok := getObject(t, second, bucket, "out/"+tc.marker+".txt"); !ok || !strings.HasPrefix(out, "slept") {
			t.Errorf("job %s output %q (exists %v)", tc.marker, out, ok)
		}
		prev, err := c.ShowTrainingJobLogsPreview(&model.ShowTrainingJobLogsPreviewRequest{TrainingJobId: tc.id, TaskId: "worker-0"})
		if err != nil || !strings.Contains(tv(prev.Content), "end "+tc.marker) {
			t.Errorf("job %s log after the restart: %q, %v", tc.marker, tv(prev.Content), err)
		}
	}

	lostMarker := "lost-restart-" + string(engine) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	lost := createSleeper(t, c, bucket, lostMarker, 120)
	waitPhase(t, c, lost, "Running")
	second.Stop(t)
	if n := killByMarker(t, lostMarker); n == 0 {
		t.Fatalf("found no process of the running task to kill")
	}
	time.Sleep(200 * time.Millisecond)
	_ = os.Remove(filepath.Join(dataDir, "jobs", lost, "status", "worker-0.exit"))

	third := servertest.StartWith(t, servertest.Options{Engine: engine, DataDir: dataDir, Database: first.Database})
	c = third.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	done := waitPhase(t, c, lost, "Abnormal", "Completed", "Failed", "Terminated")
	if tv(done.Status.Phase) != "Abnormal" || tv(done.Status.SecondaryPhase) != "Lost" {
		t.Errorf("a job whose task vanished is %s/%s; want Abnormal/Lost", tv(done.Status.Phase), tv(done.Status.SecondaryPhase))
	}
	if msgs := eventMessages(t, c, lost); !hasMessage(msgs, "[worker-0] The task was lost") || !hasMessage(msgs, "Training job is abnormal") {
		t.Errorf("events %q", msgs)
	}
}

// TestTrainingDeleteRunning: deleting a running job terminates it, then
// removes its records and working directory; its outputs stay.
func TestTrainingDeleteRunning(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, store.SQLite)
	a := env.Account
	const bucket = "delete-running"
	putObject(t, env, bucket, "code/sleep.py", sleepScript)
	c := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	marker := "delete-running-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	id := createSleeper(t, c, bucket, marker, 120)
	waitPhase(t, c, id, "Running")
	resp, err := c.DeleteTrainingJob(&model.DeleteTrainingJobRequest{TrainingJobId: id})
	if err != nil || resp.HttpStatusCode != 202 {
		t.Fatalf("DeleteTrainingJob(running) = %+v, %v; want 202", resp, err)
	}
	_, err = c.ShowTrainingJobDetails(&model.ShowTrainingJobDetailsRequest{TrainingJobId: id})
	if se := servertest.SDKError(t, err); se.ErrorCode != "ModelArts.2775" {
		t.Errorf("a deleted job is still visible: %d %s", se.StatusCode, se.ErrorCode)
	}
	dir := filepath.Join(env.DataDir, "jobs", id)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := os.Stat(dir)
		if os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the working directory %s is still there 30 s after the delete", dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := killByMarker(t, marker); n != 0 {
		t.Errorf("%d processes of the deleted job were still alive", n)
	}
	list, err := c.ListTrainingJobs(&model.ListTrainingJobsRequest{Body: &model.JobSearches{}})
	if err != nil || tv(list.Total) != 0 {
		t.Errorf("ListTrainingJobs after the delete = %+v, %v", list, err)
	}
}

// TestTrainingTwoReplicas runs two servers on one PostgreSQL database and one
// data directory (a shared file system): jobs created on either run exactly
// once, and when the replica running the scheduler stops, the other takes
// over.
func TestTrainingTwoReplicas(t *testing.T) {
	t.Parallel()
	if !slices.Contains(storetest.Engines(), store.Postgres) {
		t.Skipf("%s is not set: replicas share PostgreSQL", storetest.EnvPostgres)
	}
	dataDir := t.TempDir()
	one := servertest.StartWith(t, servertest.Options{Engine: store.Postgres, DataDir: dataDir})
	two := servertest.StartWith(t, servertest.Options{Engine: store.Postgres, DataDir: dataDir, Database: one.Database})
	a := one.Account
	const bucket = "replicas"
	putObject(t, one, bucket, "code/sleep.py", sleepScript)
	c1 := one.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	c2 := two.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	ids := []string{createSleeper(t, c1, bucket, "replica-a-"+suffix, 0.5), createSleeper(t, c2, bucket, "replica-b-"+suffix, 0.5)}
	for _, id := range ids {
		done := waitPhase(t, c2, id, "Completed", "Failed", "Abnormal")
		if tv(done.Status.Phase) != "Completed" {
			t.Fatalf("job %s ended %s; events %q", id, tv(done.Status.Phase), eventMessages(t, c1, id))
		}
		n := 0
		for _, m := range eventMessages(t, c1, id) {
			if m == "[worker-0] training started." {
				n++
			}
		}
		if n != 1 {
			t.Errorf("job %s started %d times; want once", id, n)
		}
	}
	// Stop both in turn: whichever held the lease, the survivor runs the next job.
	one.Stop(t)
	id := createSleeper(t, c2, bucket, "replica-c-"+suffix, 0.5)
	if done := waitPhase(t, c2, id, "Completed", "Failed", "Abnormal"); tv(done.Status.Phase) != "Completed" {
		t.Fatalf("after one replica stopped, the job ended %s", tv(done.Status.Phase))
	}
}
