package server_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	iammodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// copyScript copies every file of its input into its output (under
// out/ and out/private/), the way a job could carry data from where its
// creator may read to where they may write.
const copyScript = `import argparse, os, shutil
p = argparse.ArgumentParser()
p.add_argument("--data_url")
p.add_argument("--train_url")
a = p.parse_args()
os.makedirs(os.path.join(a.train_url, "private"), exist_ok=True)
for root, _, files in os.walk(a.data_url):
    for f in files:
        shutil.copy(os.path.join(root, f), os.path.join(a.train_url, f))
open(os.path.join(a.train_url, "private", "p.txt"), "w").write("private\n")
print("copied", flush=True)
`

// TestDenyHoldsThroughTrainingJobs: a user allowed to read and write a
// bucket but denied reading data/secret/ and writing output/private/
// cannot get a denied object into a job (the job fails to start, naming
// the object) nor have a job write where they may not (the file is not
// uploaded, and the job's events say so), although the job's input and
// output folders as a whole pass the checks at creation.
func TestDenyHoldsThroughTrainingJobs(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account
		const bucket = "train-deny"
		putObject(t, env, bucket, "code/copy.py", copyScript)
		putObject(t, env, bucket, "data/pub.txt", "public\n")
		putObject(t, env, bucket, "data/secret/s.txt", secretBytes)
		putObject(t, env, bucket, "clean/pub.txt", "public\n")
		admin := env.IAMClient(t, a.AccessKey, a.SecretKey)
		allow, deny := iammodel.GetServiceStatementEffectEnum().ALLOW, iammodel.GetServiceStatementEffectEnum().DENY
		ak, sk := newUserWithPolicy(t, admin, a.DomainID, "", "trainer-denied", "AX", []iammodel.ServiceStatement{
			{Effect: allow, Action: []string{"modelarts:trainJob:*", "obs:bucket:*"}},
			{Effect: allow, Action: []string{"obs:object:GetObject", "obs:object:PutObject"}, Resource: &[]string{"obs:*:*:object:" + bucket + "/*"}},
			{Effect: deny, Action: []string{"obs:object:GetObject"}, Resource: &[]string{"obs:*:*:object:" + bucket + "/data/secret/*"}},
			{Effect: deny, Action: []string{"obs:object:PutObject"}, Resource: &[]string{"obs:*:*:object:" + bucket + "/output/private/*"}},
		})
		c := env.ModelArtsClient(t, ak, sk, a.ProjectID)
		job := func(name, input string) string {
			t.Helper()
			resp, err := c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
				Metadata: &model.JobMetadata{Name: name},
				Algorithm: &model.JobAlgorithm{CodeDir: tp("/" + bucket + "/code/"), BootFile: tp("/" + bucket + "/code/copy.py"),
					Engine:  &model.JobEngine{EngineId: tp("python3")},
					Inputs:  &[]model.Input{{Name: "data_url", Remote: &model.InputDataInfo{Obs: &model.InputDataInfoObs{ObsUrl: "/" + bucket + "/" + input + "/"}}}},
					Outputs: &[]model.Output{{Name: "train_url", Remote: &model.Remote{Obs: &model.RemoteObs{ObsUrl: "/" + bucket + "/output/"}}}}},
				Spec: &model.Spec{Resource: &model.SpecResource{FlavorId: tp("local.cpu.1u2g"), NodeCount: 1}}}})
			if err != nil {
				t.Fatalf("CreateTrainingJob(%s): %v", name, err)
			}
			return tv(resp.Metadata.Id)
		}

		// An input folder holding a denied object: the job does not start.
		id := job("reads-secret", "data")
		done := waitPhase(t, c, id, "Completed", "Failed", "Abnormal")
		if tv(done.Status.Phase) != "Failed" {
			t.Errorf("a job whose input holds a denied object is %s; want Failed", tv(done.Status.Phase))
		}
		secretRes := "obs:" + servertest.Region + ":" + a.DomainID + ":object:" + bucket + "/data/secret/s.txt"
		if msgs := eventMessages(t, c, id); !hasMessage(msgs, "obs:object:GetObject") || !hasMessage(msgs, secretRes) {
			t.Errorf("events %q do not name the denied read of %s", msgs, secretRes)
		}

		// A job that writes where its creator may not: that file stays out.
		id = job("writes-private", "clean")
		done = waitPhase(t, c, id, "Completed", "Failed", "Abnormal")
		if tv(done.Status.Phase) != "Completed" {
			t.Errorf("the clean job is %s; want Completed (events %q)", tv(done.Status.Phase), eventMessages(t, c, id))
		}
		ctx := context.Background()
		if _, err := env.App.Objects.Head(ctx, bucket, "output/pub.txt"); err != nil {
			t.Errorf("the allowed output was not uploaded: %v", err)
		}
		if _, err := env.App.Objects.Head(ctx, bucket, "output/private/p.txt"); err == nil {
			t.Errorf("a file the creator may not write was uploaded to output/private/")
		}
		privateRes := "obs:" + servertest.Region + ":" + a.DomainID + ":object:" + bucket + "/output/private/p.txt"
		if msgs := eventMessages(t, c, id); !hasMessage(msgs, "obs:object:PutObject") || !hasMessage(msgs, privateRes) {
			t.Errorf("events %q do not name the denied write of %s", msgs, privateRes)
		}

		// No object of the bucket but the secret itself holds its bytes.
		page, err := env.App.Objects.List(ctx, bucket, obs.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Objects {
			if o.Key == "data/secret/s.txt" {
				continue
			}
			rc, _, err := env.App.Objects.Get(ctx, bucket, o.Key, nil)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(rc)
			rc.Close()
			if bytes.Contains(data, []byte(secretBytes)) || strings.Contains(o.Key, "secret") && !strings.HasPrefix(o.Key, "data/") {
				t.Errorf("%s holds the denied object's bytes", o.Key)
			}
		}
	})
}
