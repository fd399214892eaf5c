package server_test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	atelierconfig "github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/obs/s3store"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// With --obs-endpoint the server keeps objects in an S3-compatible service
// (here an in-process one): a training job reads its code from there and
// writes its output and log back there.
func TestServerOnS3ObjectStore(t *testing.T) {
	t.Parallel()
	fake := httptest.NewUnstartedServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	fake.Config.ErrorLog = log.New(io.Discard, "", 0)
	fake.Start()
	t.Cleanup(fake.Close)

	env := servertest.StartWith(t, servertest.Options{Configure: func(c *atelierconfig.Config) {
		c.OBSEndpoint, c.OBSAccessKey, c.OBSSecretKey, c.OBSRegion, c.OBSPathStyle = fake.URL, "ak", "sk", "us-east-1", true
	}})
	if _, ok := env.App.Objects.(*s3store.Store); !ok {
		t.Fatalf("object store is %T; want the S3 store", env.App.Objects)
	}
	a := env.Account
	c := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	const bucket = "s3-backed"
	putObject(t, env, bucket, "code/dist.py", multiNodeScript)
	resp, err := c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
		Metadata: &model.JobMetadata{Name: "on-s3"},
		Algorithm: &model.JobAlgorithm{CodeDir: tp("obs://" + bucket + "/code/"), BootFile: tp("obs://" + bucket + "/code/dist.py"),
			Outputs: &[]model.Output{{Name: "train_url", Remote: &model.Remote{Obs: &model.RemoteObs{ObsUrl: "obs://" + bucket + "/out/"}}}}},
		Spec: &model.Spec{Resource: &model.SpecResource{FlavorId: tp("local.cpu.1u2g"), NodeCount: 1}}}})
	if err != nil {
		t.Fatalf("CreateTrainingJob: %v", err)
	}
	id := tv(resp.Metadata.Id)
	if done := waitPhase(t, c, id, "Completed", "Failed", "Abnormal"); tv(done.Status.Phase) != "Completed" {
		t.Fatalf("job on the S3 store ended %s; events %q", tv(done.Status.Phase), eventMessages(t, c, id))
	}
	if data, ok := getObject(t, env, bucket, "out/rank-0.json"); !ok || !strings.Contains(data, `"RANK"`) {
		t.Fatalf("output in S3: %q (found %v)", data, ok)
	}
	u, err := c.ShowObsUrlOfTrainingJobLogs(&model.ShowObsUrlOfTrainingJobLogsRequest{TrainingJobId: id, TaskId: "worker-0"})
	if err != nil {
		t.Fatalf("ShowObsUrlOfTrainingJobLogs: %v", err)
	}
	if !strings.HasPrefix(tv(u.ObsUrl), fake.URL) {
		t.Fatalf("log URL %q is not served by the S3 service %s", tv(u.ObsUrl), fake.URL)
	}
	got, err := http.Get(tv(u.ObsUrl))
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	body, _ := io.ReadAll(got.Body)
	if got.StatusCode != http.StatusOK || !strings.Contains(string(body), "rank 0 of 1") {
		t.Fatalf("log download: %d %q", got.StatusCode, body)
	}
}
