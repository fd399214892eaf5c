package server_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	iammodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"

	"github.com/atelier-dev/atelier/internal/client"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// objectClient is the CLI's client for the bootstrap account: AK/SK signed
// by the SDK's signer (UNSIGNED-PAYLOAD for uploads), or a token.
func objectClient(t *testing.T, env *servertest.Env, mode string) *client.Client {
	t.Helper()
	cfg := client.Config{Endpoint: env.URL, ProjectID: env.Account.ProjectID}
	if mode == "token" {
		cfg.Token = env.AdminToken(t)
	} else {
		cfg.AccessKey, cfg.SecretKey = env.Account.AccessKey, env.Account.SecretKey
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantAPIError(t *testing.T, err error, status int, code, msgPart string) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v; want an error response %d %s", err, status, code)
	}
	if e.Status != status || e.Code != code || !strings.Contains(e.Msg, msgPart) {
		t.Fatalf("error %d %s %q; want %d %s containing %q", e.Status, e.Code, e.Msg, status, code, msgPart)
	}
}

func readAll(t *testing.T, rc io.ReadCloser, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestObjectAPIRoundTrip(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, "sqlite")
	ctx := context.Background()
	for _, mode := range []string{"token", "aksk"} {
		t.Run(mode, func(t *testing.T) {
			c := objectClient(t, env, mode)
			bucket := "round-trip-" + mode
			if err := c.CreateBucket(ctx, bucket); err != nil {
				t.Fatalf("CreateBucket: %v", err)
			}
			wantAPIError(t, c.CreateBucket(ctx, bucket), http.StatusConflict, "OBS.BucketAlreadyExists", bucket)
			wantAPIError(t, c.CreateBucket(ctx, "Bad_Name"), http.StatusBadRequest, "OBS.InvalidBucketName", "Bad_Name")
			buckets, err := c.ListBuckets(ctx)
			if err != nil || !slicesContainBucket(buckets, bucket) {
				t.Fatalf("ListBuckets = %+v, %v; want %s", buckets, err, bucket)
			}
			for key, content := range map[string]string{"code/train.py": "print('hi')\n", "code/lib/util.py": "X = 1\n", "data/a b+c.txt": "0123456789"} {
				o, err := c.PutObject(ctx, bucket, key, strings.NewReader(content), int64(len(content)))
				if err != nil {
					t.Fatalf("PutObject %s: %v", key, err)
				}
				sum := md5.Sum([]byte(content))
				if o.Key != key || o.Size != int64(len(content)) || o.ETag != hex.EncodeToString(sum[:]) || o.LastModified == "" {
					t.Errorf("PutObject %s = %+v", key, o)
				}
			}
			if _, err := c.PutObject(ctx, bucket, "empty", strings.NewReader(""), 0); err != nil {
				t.Fatalf("PutObject of an empty object: %v", err)
			}
			list, err := c.ListObjects(ctx, bucket, client.ListOptions{Prefix: "code/", Delimiter: "/"})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Objects) != 1 || list.Objects[0].Key != "code/train.py" || list.Objects[0].ContentType == "" ||
				len(list.CommonPrefixes) != 1 || list.CommonPrefixes[0] != "code/lib/" || list.IsTruncated {
				t.Errorf("list code/ with delimiter = %+v", list)
			}
			page, err := c.ListObjects(ctx, bucket, client.ListOptions{MaxKeys: 2})
			if err != nil || len(page.Objects) != 2 || !page.IsTruncated || page.NextStartAfter != page.Objects[1].Key {
				t.Fatalf("first page of 2 = %+v, %v", page, err)
			}
			rest, err := c.ListObjects(ctx, bucket, client.ListOptions{StartAfter: page.NextStartAfter})
			if err != nil || len(rest.Objects) != 2 || rest.IsTruncated {
				t.Fatalf("second page = %+v, %v", rest, err)
			}
			rc, err := c.GetObject(ctx, bucket, "data/a b+c.txt")
			if got := readAll(t, rc, err); got != "0123456789" {
				t.Errorf("GetObject = %q", got)
			}
			if err := c.DeleteObject(ctx, bucket, "data/a b+c.txt"); err != nil {
				t.Fatalf("DeleteObject: %v", err)
			}
			_, err = c.GetObject(ctx, bucket, "data/a b+c.txt")
			wantAPIError(t, err, http.StatusNotFound, "OBS.NoSuchKey", "data/a b+c.txt")
			_, err = c.ListObjects(ctx, "no-such-bucket", client.ListOptions{})
			wantAPIError(t, err, http.StatusNotFound, "OBS.NoSuchBucket", "no-such-bucket")
			_, err = c.PutObject(ctx, "no-such-bucket", "x", strings.NewReader("x"), 1)
			wantAPIError(t, err, http.StatusNotFound, "OBS.NoSuchBucket", "no-such-bucket")
		})
	}
}

func slicesContainBucket(bs []client.Bucket, name string) bool {
	for _, b := range bs {
		if b.Name == name {
			return true
		}
	}
	return false
}

// rawObjectRequest sends a request with a token, never following redirects.
func rawObjectRequest(t *testing.T, env *servertest.Env, method, rawPath, token string, body io.Reader, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, env.URL+rawPath, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawPath, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

func TestObjectAPIRangeAndHead(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, "sqlite")
	a := env.Account
	token := env.AdminToken(t)
	putObject(t, env, "ranges", "digits.txt", "0123456789")
	path := "/v1/" + a.ProjectID + "/obs/buckets/ranges/objects/digits.txt"
	tests := []struct {
		rng          string
		status       int
		body, crange string
	}{
		{"", http.StatusOK, "0123456789", ""},
		{"bytes=2-5", http.StatusPartialContent, "2345", "bytes 2-5/10"},
		{"bytes=7-", http.StatusPartialContent, "789", "bytes 7-9/10"},
		{"bytes=-3", http.StatusPartialContent, "789", "bytes 7-9/10"},
		{"bytes=8-100", http.StatusPartialContent, "89", "bytes 8-9/10"},
		{"bytes=-100", http.StatusPartialContent, "0123456789", "bytes 0-9/10"},
		{"bytes=10-", http.StatusRequestedRangeNotSatisfiable, "OBS.InvalidRange", "bytes */10"},
		{"bytes=0-1,3-4", http.StatusOK, "0123456789", ""},
	}
	for _, tc := range tests {
		t.Run(tc.rng, func(t *testing.T) {
			resp, body := rawObjectRequest(t, env, http.MethodGet, path, token, nil, map[string]string{"Range": tc.rng})
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) || resp.Header.Get("Content-Range") != tc.crange {
				t.Fatalf("Range %q: %d %q Content-Range %q; want %d %q %q", tc.rng, resp.StatusCode, body, resp.Header.Get("Content-Range"), tc.status, tc.body, tc.crange)
			}
		})
	}
	resp, body := rawObjectRequest(t, env, http.MethodHead, path, token, nil, nil)
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength != 10 || resp.Header.Get("ETag") == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("HEAD: %d len %d headers %v", resp.StatusCode, resp.ContentLength, resp.Header)
	}
	resp, _ = rawObjectRequest(t, env, http.MethodHead, path+".missing", token, nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD of a missing object: %d", resp.StatusCode)
	}
}

// An upload is streamed into the store: a 20 MB object goes through without
// the process allocating anything near its size.
func TestObjectAPIStreamsUploads(t *testing.T) {
	env := servertest.Start(t, "sqlite")
	ctx := context.Background()
	c := objectClient(t, env, "aksk")
	if err := c.CreateBucket(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	const size = 20 << 20
	want := md5.New()
	_, _ = io.Copy(want, io.LimitReader(pattern{}, size))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	o, err := c.PutObject(ctx, "big", "blob.bin", io.LimitReader(pattern{}, size), size)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("PutObject of 20 MB: %v", err)
	}
	if o.Size != size || o.ETag != hex.EncodeToString(want.Sum(nil)) {
		t.Fatalf("stored %+v; want %d bytes with the content's MD5", o, size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/2 {
		t.Errorf("uploading %d bytes allocated %d bytes: the body was buffered", size, alloc)
	}
	rc, err := c.GetObject(ctx, "big", "blob.bin")
	if err != nil {
		t.Fatal(err)
	}
	got := md5.New()
	n, err := io.Copy(got, rc)
	rc.Close()
	if err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("download: %d bytes, %v; content differs: %v", n, err, !bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
	// AK/SK requests whose signature covers the body are refused on the
	// streamed route (the SDK signs JSON bodies).
	a := env.Account
	resp, body := env.Send(t, env.SignedRequest(t, http.MethodPut, "/v1/"+a.ProjectID+"/obs/buckets/big/objects/signed.json", []byte(`{}`), a.AccessKey, a.SecretKey, nil))
	if e := servertest.DecodeError(t, body); resp.StatusCode != http.StatusBadRequest || !strings.Contains(e.ErrorMsg, "UNSIGNED-PAYLOAD") {
		t.Fatalf("signed payload upload: %d %s; want 400 asking for UNSIGNED-PAYLOAD", resp.StatusCode, body)
	}
	// A signature over an empty body is verified as usual.
	resp, body = env.Send(t, env.SignedRequest(t, http.MethodPut, "/v1/"+a.ProjectID+"/obs/buckets/big/objects/empty.txt", nil, a.AccessKey, a.SecretKey, nil))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"size":0`) {
		t.Fatalf("signed empty upload: %d %s; want 200", resp.StatusCode, body)
	}
}

// pattern is an endless deterministic byte stream.
type pattern struct{}

func (pattern) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i*7 + i>>8)
	}
	return len(p), nil
}

func TestObjectAPIAuthorization(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, "sqlite")
	ctx := context.Background()
	a := env.Account
	admin := env.IAMClient(t, a.AccessKey, a.SecretKey)
	putObject(t, env, "scoped", "allowed/old.txt", "old")
	putObject(t, env, "scoped", "private/secret.txt", "secret")
	userClient := func(ak, sk string) *client.Client {
		c, err := client.New(client.Config{Endpoint: env.URL, ProjectID: a.ProjectID, AccessKey: ak, SecretKey: sk})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("no-obs-grants", func(t *testing.T) {
		ak, sk := newUserWithActions(t, admin, a.DomainID, a.ProjectID, "no-obs", "modelarts:trainJob:*")
		c := userClient(ak, sk)
		_, err := c.ListBuckets(ctx)
		wantAPIError(t, err, http.StatusForbidden, "ModelArts.0108", "obs:bucket:ListAllMyBuckets")
		_, err = c.PutObject(ctx, "scoped", "allowed/new.txt", strings.NewReader("new"), 3)
		wantAPIError(t, err, http.StatusForbidden, "ModelArts.0108", "(obs:object:PutObject) operation on obs:"+servertest.Region+":"+a.DomainID+":object:scoped/allowed/new.txt")
		_, err = c.GetObject(ctx, "scoped", "allowed/old.txt")
		wantAPIError(t, err, http.StatusForbidden, "ModelArts.0108", "obs:object:GetObject")
		wantAPIError(t, c.DeleteObject(ctx, "scoped", "allowed/old.txt"), http.StatusForbidden, "ModelArts.0108", "obs:object:DeleteObject")
		_, err = c.ListObjects(ctx, "scoped", client.ListOptions{})
		wantAPIError(t, err, http.StatusForbidden, "ModelArts.0108", "obs:bucket:ListBucket")
		wantAPIError(t, c.CreateBucket(ctx, "mine"), http.StatusForbidden, "ModelArts.0108", "obs:bucket:CreateBucket")
		if got, _ := getObject(t, env, "scoped", "allowed/old.txt"); got != "old" {
			t.Errorf("a denied delete removed the object")
		}
	})

	t.Run("prefix-policy", func(t *testing.T) {
		ak, sk := newUserWithPolicy(t, admin, a.DomainID, "", "prefix-only", "AX", []iammodel.ServiceStatement{{
			Effect:   iammodel.GetServiceStatementEffectEnum().ALLOW,
			Action:   []string{"obs:object:GetObject", "obs:object:PutObject"},
			Resource: &[]string{"obs:*:*:object:scoped/allowed/*"},
		}})
		c := userClient(ak, sk)
		if _, err := c.PutObject(ctx, "scoped", "allowed/new.txt", strings.NewReader("new"), 3); err != nil {
			t.Fatalf("PutObject under the allowed prefix: %v", err)
		}
		rc, err := c.GetObject(ctx, "scoped", "allowed/old.txt")
		if got := readAll(t, rc, err); got != "old" {
			t.Errorf("GetObject under the allowed prefix = %q", got)
		}
		_, err = c.PutObject(ctx, "scoped", "private/new.txt", strings.NewReader("new"), 3)
		wantAPIError(t, err, http.StatusForbidden, "ModelArts.0108", "object:scoped/private/new.txt")
		_, err = c.GetObject(ctx, "scoped", "private/secret.txt")
		wantAPIError(t, err, http.StatusForbidden, "ModelArts.0108", "obs:object:GetObject")
		wantAPIError(t, c.DeleteObject(ctx, "scoped", "allowed/new.txt"), http.StatusForbidden, "ModelArts.0108", "obs:object:DeleteObject")
		if _, ok := getObject(t, env, "scoped", "private/new.txt"); ok {
			t.Errorf("a denied upload was stored")
		}
	})
}

// Keys that would leave the bucket, or mean different things on different
// backends, are refused (or never reach the handler), and nothing is
// written outside the bucket.
func TestObjectAPIRefusesTraversal(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, "sqlite")
	a := env.Account
	token := env.AdminToken(t)
	putObject(t, env, "jail", "inside.txt", "in")
	base := "/v1/" + a.ProjectID + "/obs/buckets/jail/objects/"
	for _, raw := range []string{"../escape.txt", "a/../../escape.txt", "%2e%2e/escape.txt", "a/%2e%2e/%2e%2e/escape.txt",
		"..%2fescape.txt", "a%2f..%2f..%2fescape.txt", "a//b.txt", "./a.txt", "a%5c..%5cescape.txt", "a%00b", "dir/"} {
		t.Run(raw, func(t *testing.T) {
			resp, body := rawObjectRequest(t, env, http.MethodPut, base+raw, token, strings.NewReader("evil"), nil)
			if resp.StatusCode < 300 {
				t.Fatalf("PUT %s: %d %s; want it refused", raw, resp.StatusCode, body)
			}
			if resp.StatusCode == http.StatusBadRequest {
				var e servertest.ErrorBody
				if err := json.Unmarshal(body, &e); err != nil || e.ErrorCode != "OBS.InvalidObjectName" {
					t.Errorf("PUT %s: 400 %s; want OBS.InvalidObjectName", raw, body)
				}
			}
		})
	}
	// Only the bucket's own object exists, and nothing was written beside it.
	entries, _ := os.ReadDir(filepath.Join(env.DataDir, "obs"))
	for _, e := range entries {
		if strings.Contains(e.Name(), "escape") {
			t.Errorf("a file escaped the bucket: %s", e.Name())
		}
	}
	page, err := env.App.Objects.List(context.Background(), "jail", obs.ListOptions{})
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Key != "inside.txt" {
		t.Errorf("objects of the bucket after the attempts: %+v, %v", page.Objects, err)
	}
	if _, err := os.Stat(filepath.Join(env.DataDir, "escape.txt")); err == nil {
		t.Errorf("escape.txt was written into the data dir")
	}
}
