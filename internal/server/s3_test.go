package server_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/atelier-dev/atelier/internal/client"
	atelierconfig "github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/obs/s3store"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// s3Service is an S3-compatible service a server keeps its objects in.
type s3Service struct {
	name                                   string
	endpoint, accessKey, secretKey, region string
	// unset, when not empty, says why the service is not available here.
	unset string
}

// s3Services are the services the server's S3 tests run on: an in-process
// gofakes3, always, and the real server named by ATELIER_TEST_S3_ENDPOINT
// and its credentials (versitygw in CI, started by testinfra/s3/ci.sh;
// any path-style S3 server by hand). The real server is shared with other
// tests and packages running at the same time: every test there uses
// bucket names of its own (uniqueBucket).
func s3Services() []s3Service {
	srv := s3Service{name: "real-server",
		endpoint:  os.Getenv("ATELIER_TEST_S3_ENDPOINT"),
		accessKey: os.Getenv("ATELIER_TEST_S3_ACCESS_KEY"),
		secretKey: os.Getenv("ATELIER_TEST_S3_SECRET_KEY"),
		region:    os.Getenv("ATELIER_TEST_S3_REGION"),
	}
	if srv.endpoint == "" {
		srv.unset = "ATELIER_TEST_S3_ENDPOINT is not set (testinfra/s3/ci.sh starts a real S3 server and sets it)"
	}
	if srv.region == "" {
		srv.region = "us-east-1"
	}
	return []s3Service{{name: "gofakes3", accessKey: "ak", secretKey: "sk", region: "us-east-1"}, srv}
}

// startOnS3 runs a server whose object store is svc (a fresh gofakes3
// when svc has no endpoint).
func startOnS3(t *testing.T, svc *s3Service) *servertest.Env {
	t.Helper()
	if svc.unset != "" {
		t.Skip(svc.unset)
	}
	if svc.endpoint == "" {
		fake := httptest.NewUnstartedServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
		// gofakes3 logs through it when a client goes away mid-response.
		fake.Config.ErrorLog = log.New(io.Discard, "", 0)
		fake.Start()
		t.Cleanup(fake.Close)
		svc.endpoint = fake.URL
	}
	env := servertest.StartWith(t, servertest.Options{Configure: func(c *atelierconfig.Config) {
		c.OBSEndpoint, c.OBSAccessKey, c.OBSSecretKey, c.OBSRegion, c.OBSPathStyle = svc.endpoint, svc.accessKey, svc.secretKey, svc.region, true
	}})
	if _, ok := env.App.Objects.(*s3store.Store); !ok {
		t.Fatalf("object store is %T; want the S3 store", env.App.Objects)
	}
	return env
}

// uniqueBucket creates a bucket named prefix and random letters, and
// removes it with its objects when the test ends, so that tests sharing
// a real S3 server neither collide nor leave buckets behind.
func uniqueBucket(t *testing.T, env *servertest.Env, prefix string) string {
	t.Helper()
	name := prefix + "-" + strings.ToLower(rand.Text()[:10])
	if err := env.App.Objects.CreateBucket(context.Background(), name); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() { removeObjects(t, env.App.Objects, name, "", true) })
	return name
}

// removeObjects deletes the objects under prefix in bucket and then, if
// asked, the bucket.
func removeObjects(t *testing.T, s obs.Store, bucket, prefix string, andBucket bool) {
	ctx := context.Background()
	opts := obs.ListOptions{Prefix: prefix}
	for {
		page, err := s.List(ctx, bucket, opts)
		if err != nil {
			t.Logf("cleanup: list %s/%s: %v", bucket, prefix, err)
			return
		}
		for _, o := range page.Objects {
			if err := s.Delete(ctx, bucket, o.Key); err != nil {
				t.Logf("cleanup: %v", err)
			}
		}
		if !page.Truncated {
			break
		}
		opts.StartAfter = page.NextStartAfter
	}
	if andBucket {
		if err := s.DeleteBucket(ctx, bucket); err != nil && !errors.Is(err, obs.ErrBucketNotFound) {
			t.Logf("cleanup: %v", err)
		}
	}
}

// With --obs-endpoint the server keeps objects in an S3-compatible
// service: training code and outputs, datasets' files, imports and
// exports, and the object API all go there. One server per service; the
// parts share it and run in parallel.
func TestServerOnS3ObjectStore(t *testing.T) {
	t.Parallel()
	for _, svc := range s3Services() {
		t.Run(svc.name, func(t *testing.T) {
			t.Parallel()
			env := startOnS3(t, &svc)
			for _, part := range []struct {
				name string
				fn   func(*testing.T, *servertest.Env, s3Service)
			}{
				{"training-job", trainOnS3},
				{"dataset-import-export", datasetOnS3},
				{"object-api", objectAPIOnS3},
			} {
				t.Run(part.name, func(t *testing.T) {
					t.Parallel()
					part.fn(t, env, svc)
				})
			}
		})
	}
}

// trainOnS3 runs a training job that reads its code from the S3 service
// and writes its output and log back there; the log is fetched through
// the presigned URL the API gives, from the S3 service itself.
func trainOnS3(t *testing.T, env *servertest.Env, svc s3Service) {
	a := env.Account
	c := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	bucket := uniqueBucket(t, env, "s3-train")
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
	// The job's log goes to the system log bucket, under the project's
	// folder: remove it, not the bucket other tests' jobs share.
	t.Cleanup(func() { removeObjects(t, env.App.Objects, "atelier-system-training-logs", a.ProjectID+"/", false) })
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
	if !strings.HasPrefix(tv(u.ObsUrl), svc.endpoint+"/") {
		t.Fatalf("log URL %q is not served by the S3 service %s", tv(u.ObsUrl), svc.endpoint)
	}
	got, err := http.Get(tv(u.ObsUrl))
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	body, _ := io.ReadAll(got.Body)
	if got.StatusCode != http.StatusOK || !strings.Contains(string(body), "rank 0 of 1") {
		t.Fatalf("log download from the presigned URL: %d %q", got.StatusCode, body)
	}
}

// datasetOnS3 imports a folder of labeled images from the S3 service into
// a dataset whose work path is there too, and exports it back as a
// folder per label.
func datasetOnS3(t *testing.T, env *servertest.Env, _ s3Service) {
	in, out := uniqueBucket(t, env, "s3-data-in"), uniqueBucket(t, env, "s3-data-out")
	c := &dsClient{t: t, env: env, project: env.Account.ProjectID, token: env.AdminToken(t)}
	st, res := c.do("POST", "/datasets", map[string]any{"dataset_name": "on-s3", "dataset_type": 0,
		"data_sources": []any{map[string]any{"data_type": 0, "data_path": "/" + in + "/imgs/"}},
		"work_path":    "/" + out + "/work/", "work_path_type": 0})
	if st != http.StatusCreated {
		t.Fatalf("create dataset: %d %v", st, res)
	}
	id := res["dataset_id"].(string)
	c.waitIdle(id)

	files := map[string]string{"imgs/cat/1.jpg": "cat one", "imgs/cat/2.jpg": "cat two", "imgs/dog/3.jpg": "dog three", "imgs/top.jpg": "unlabeled"}
	for k, v := range files {
		c.put(in, k, v)
	}
	task := c.importTask(id, map[string]any{"import_type": "dir", "import_path": "s3://" + in + "/imgs/",
		"included_labels": []any{}, "import_annotations": true, "difficult_only": false})
	if v := c.waitImport(id, task); v["status"] != "COMPLETED" || v["imported_sample_count"] != 4.0 || v["annotated_sample_count"] != 3.0 {
		t.Fatalf("import from S3: %v", v)
	}
	if st, res := c.do("GET", "/datasets/"+id+"/data-annotations/samples?label_name=cat", nil); st != http.StatusOK || res["sample_count"] != 2.0 {
		t.Errorf("cat samples after the import: %d %v", st, res)
	}

	base := "/datasets/" + id + "/export-tasks"
	st, res = c.do("POST", base, map[string]any{"path": "/" + out + "/exp/", "export_type": 2, "export_format": 1, "source_type_header": "s3://"})
	if st != http.StatusOK {
		t.Fatalf("create export: %d %v", st, res)
	}
	et := c.waitFor(base+"/"+res["task_id"].(string), func(m map[string]any) bool { return m["status"] == "SUCCESSED" || m["status"] == "FAILED" })
	if et["status"] != "SUCCESSED" || et["finished_sample_count"] != 4.0 {
		t.Fatalf("export to S3: %v", et)
	}
	// The tree layout an import reads back: a folder per label, the files
	// of the input's subfolders flattened into it.
	got := objectsUnder(t, env, out, "exp/")
	want := []string{"exp/cat/cat_1.jpg", "exp/cat/cat_2.jpg", "exp/dog/dog_3.jpg", "exp/on-s3.manifest", "exp/top.jpg"}
	if !slices.Equal(got, want) {
		t.Fatalf("exported objects %q, want %q", got, want)
	}
	for k, v := range map[string]string{"exp/cat/cat_2.jpg": "cat two", "exp/dog/dog_3.jpg": "dog three", "exp/top.jpg": "unlabeled"} {
		if data, _ := getObject(t, env, out, k); data != v {
			t.Errorf("exported %s = %q, want %q", k, data, v)
		}
	}
	lines := manifestLines(t, object(t, env, "/"+out+"/exp/on-s3.manifest"))
	if len(lines) != 4 {
		t.Fatalf("exported manifest has %d lines, want 4: %v", len(lines), lines)
	}
	for _, l := range lines {
		if src, _ := l["source"].(string); !strings.HasPrefix(src, "s3://"+out+"/exp/") {
			t.Errorf("manifest source %q: want the copy in s3://%s/exp/", src, out)
		}
	}
}

// objectAPIOnS3 serves the S3 store through Atelier's object API, errors
// included.
func objectAPIOnS3(t *testing.T, env *servertest.Env, _ s3Service) {
	ctx := context.Background()
	c := objectClient(t, env, "aksk")
	bucket := "s3-api-" + strings.ToLower(rand.Text()[:10])
	if err := c.CreateBucket(ctx, bucket); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	t.Cleanup(func() { removeObjects(t, env.App.Objects, bucket, "", true) })
	wantAPIError(t, c.CreateBucket(ctx, bucket), http.StatusConflict, "OBS.BucketAlreadyExists", bucket)
	for _, key := range []string{"code/train.py", "code/lib/util.py"} {
		if _, err := c.PutObject(ctx, bucket, key, strings.NewReader("0123456789"), 10); err != nil {
			t.Fatalf("PutObject %s: %v", key, err)
		}
	}
	// "code/lib" beside code/lib/util.py: S3 keeps both; a server that
	// keeps objects as files refuses it as the local store does.
	if _, err := c.PutObject(ctx, bucket, "code/lib", strings.NewReader("0123456789"), 10); err != nil {
		wantAPIError(t, err, http.StatusConflict, "OBS.KeyConflict", "code/lib")
	} else if err := c.DeleteObject(ctx, bucket, "code/lib"); err != nil {
		t.Fatalf("DeleteObject code/lib: %v", err)
	}
	list, err := c.ListObjects(ctx, bucket, client.ListOptions{Prefix: "code/", Delimiter: "/"})
	if err != nil || len(list.Objects) != 1 || list.Objects[0].Key != "code/train.py" || len(list.CommonPrefixes) != 1 {
		t.Fatalf("ListObjects = %+v, %v", list, err)
	}
	resp, body := rawObjectRequest(t, env, http.MethodGet, "/v1/"+env.Account.ProjectID+"/obs/buckets/"+bucket+"/objects/code/train.py",
		env.AdminToken(t), nil, map[string]string{"Range": "bytes=-4"})
	if resp.StatusCode != http.StatusPartialContent || string(body) != "6789" || resp.Header.Get("Content-Range") != "bytes 6-9/10" {
		t.Fatalf("range on S3: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	if err := c.DeleteObject(ctx, bucket, "code/train.py"); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	_, err = c.GetObject(ctx, bucket, "code/train.py")
	wantAPIError(t, err, http.StatusNotFound, "OBS.NoSuchKey", "code/train.py")
	missing := "s3-missing-" + strings.ToLower(rand.Text()[:10])
	_, err = c.GetObject(ctx, missing, "x")
	wantAPIError(t, err, http.StatusNotFound, "OBS.NoSuchBucket", missing)
}
