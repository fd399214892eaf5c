package s3store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/obs/s3store"
)

func fakeConfig(t *testing.T) s3store.Config {
	return s3store.Config{Endpoint: newFake(t), AccessKey: "fake-access", SecretKey: "fake-secret", PathStyle: true}
}

// rawClient is a minio client on the same server that does not apply
// obs's key rules, to store what other S3 clients can.
func rawClient(t *testing.T, cfg s3store.Config) *minio.Client {
	t.Helper()
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Region:       region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newBucket creates a bucket with a fresh name, and removes it when the
// test ends with everything in it, keys obs cannot address included.
func newBucket(t *testing.T, cfg s3store.Config, s *s3store.Store) string {
	t.Helper()
	name := "s3store-" + strings.ToLower(rand.Text()[:10])
	if err := s.CreateBucket(t.Context(), name); err != nil {
		t.Fatalf("CreateBucket(%q): %v", name, err)
	}
	raw := rawClient(t, cfg)
	t.Cleanup(func() {
		ctx := context.Background()
		for o := range raw.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				t.Logf("cleanup: list %s: %v", name, o.Err)
				break
			}
			if err := raw.RemoveObject(ctx, name, o.Key, minio.RemoveObjectOptions{}); err != nil {
				t.Logf("cleanup: %v", err)
			}
		}
		if err := raw.RemoveBucket(ctx, name); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	return name
}

func TestNewConfig(t *testing.T) {
	ok := s3store.Config{Endpoint: "https://obs.cn-north-4.myhuaweicloud.com", AccessKey: "a", SecretKey: "s", Region: "cn-north-4"}
	if _, err := s3store.New(t.Context(), ok); err != nil {
		t.Errorf("New(%+v): %v", ok, err)
	}
	for _, bad := range []s3store.Config{
		{Endpoint: "obs.cn-north-4.myhuaweicloud.com", AccessKey: "a", SecretKey: "s"},
		{Endpoint: "ftp://host", AccessKey: "a", SecretKey: "s"},
		{Endpoint: "http://host/path", AccessKey: "a", SecretKey: "s"},
		{Endpoint: "http://host?x=1", AccessKey: "a", SecretKey: "s"},
		{Endpoint: "http://user:pw@host", AccessKey: "a", SecretKey: "s"},
		{Endpoint: "http://host", SecretKey: "s"},
		{Endpoint: "http://host", AccessKey: "a"},
		{Endpoint: "http://host", AccessKey: "a", SecretKey: "s", PartSize: 1 << 20},
	} {
		if _, err := s3store.New(t.Context(), bad); err == nil {
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
}

// TestListSkipsUnaddressableKeys stores, with another client, a directory
// marker and keys obs refuses: they are never objects, do not count
// towards MaxKeys, and a page is not Truncated when only they follow.
func TestListSkipsUnaddressableKeys(t *testing.T) {
	eachServer(t, testListSkipsUnaddressableKeys)
}

func testListSkipsUnaddressableKeys(t *testing.T, cfg s3store.Config) {
	s := newStore(t, cfg)
	raw := rawClient(t, cfg)
	c := t.Context()
	b := newBucket(t, cfg, s)
	rawPut := func(k string) {
		t.Helper()
		if _, err := raw.PutObject(c, b, k, strings.NewReader(""), 0, minio.PutObjectOptions{DisableContentSha256: true}); err != nil {
			t.Fatalf("raw PutObject(%q): %v", k, err)
		}
	}
	for _, k := range []string{"b\\c", "dir/", "dir/a", "k1", "k2", "m/", "m/n\\o", "x//y"} {
		rawPut(k)
	}
	// A server that keeps objects as files folds the empty segment away
	// (versitygw's POSIX backend stores "x//y" as the file x/y and lists
	// it as "x/y", which obs can address): there another unaddressable
	// key stands in for it under x/.
	if _, err := raw.StatObject(c, b, "x/y", minio.StatObjectOptions{}); err == nil {
		t.Log(`this server stores "x//y" as "x/y" (S3 keeps them apart); "x/y\z" takes its place`)
		if err := raw.RemoveObject(c, b, "x/y", minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		rawPut("x/y\\z")
	}
	for _, tc := range []struct {
		opts           obs.ListOptions
		keys, prefixes []string
		truncated      bool
		nextStartAfter string
	}{
		{opts: obs.ListOptions{}, keys: []string{"dir/a", "k1", "k2"}},
		{opts: obs.ListOptions{MaxKeys: 2}, keys: []string{"dir/a", "k1"}, truncated: true, nextStartAfter: "k1"},
		{opts: obs.ListOptions{MaxKeys: 1, StartAfter: "k1"}, keys: []string{"k2"}},
		// The marker dir/ is a common prefix, like the "m/" that holds
		// only a marker and an unaddressable key (S3 reports it).
		{opts: obs.ListOptions{Delimiter: "/"}, keys: []string{"k1", "k2"}, prefixes: []string{"dir/", "m/", "x/"}},
		{opts: obs.ListOptions{Prefix: "dir/", Delimiter: "/"}, keys: []string{"dir/a"}},
		{opts: obs.ListOptions{Prefix: "m/"}},
	} {
		page, err := s.List(c, b, tc.opts)
		if err != nil {
			t.Fatalf("List(%+v): %v", tc.opts, err)
		}
		var keys []string
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
		}
		if !slices.Equal(keys, tc.keys) || !slices.Equal(page.CommonPrefixes, tc.prefixes) ||
			page.Truncated != tc.truncated || page.NextStartAfter != tc.nextStartAfter {
			t.Errorf("List(%+v) = keys %q prefixes %q truncated %v next %q; want %q %q %v %q", tc.opts,
				keys, page.CommonPrefixes, page.Truncated, page.NextStartAfter,
				tc.keys, tc.prefixes, tc.truncated, tc.nextStartAfter)
		}
	}
	for _, k := range []string{"dir/", "x//y", "b\\c", "x/y\\z"} {
		if _, err := s.Head(c, b, k); !errors.Is(err, obs.ErrInvalidKey) {
			t.Errorf("Head(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

// TestErrors checks that errors wrap the obs sentinel, keep the S3 error,
// and name the operation and location.
func TestErrors(t *testing.T) { eachServer(t, testErrors) }

func testErrors(t *testing.T, cfg s3store.Config) {
	s := newStore(t, cfg)
	c := t.Context()
	b := newBucket(t, cfg, s)
	_, _, err := s.Get(c, b, "no/such.key", nil)
	var er minio.ErrorResponse
	if !errors.Is(err, obs.ErrNotFound) || !errors.As(err, &er) || er.Code != "NoSuchKey" ||
		!strings.Contains(err.Error(), `get "obs://`+b+`/no/such.key"`) {
		t.Errorf("Get of a missing key: %v", err)
	}
	_, err = s.Head(c, b, "no/such.key")
	if !errors.Is(err, obs.ErrNotFound) || !strings.Contains(err.Error(), `head "obs://`+b+`/no/such.key"`) {
		t.Errorf("Head of a missing key: %v", err)
	}
	put := func(key string) {
		if _, err := s.Put(c, b, key, strings.NewReader("x"), obs.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("k")
	if err := s.DeleteBucket(c, b); !errors.Is(err, obs.ErrBucketNotEmpty) || !strings.Contains(err.Error(), `"`+b+`"`) {
		t.Errorf("DeleteBucket of a full bucket: %v", err)
	}
	if _, err := s.PresignGet(c, b, "k", 1500*time.Millisecond); err != nil {
		t.Errorf("PresignGet for 1.5 s: %v", err)
	}
	if _, err := s.PresignGet(c, b, "k", time.Millisecond); err != nil {
		t.Errorf("PresignGet for 1 ms: %v", err)
	}
}

// endless yields bytes forever, calling at once it has yielded n.
type endless struct {
	n  int
	at func()
}

func (e *endless) Read(p []byte) (int, error) {
	if e.n -= len(p); e.n < 0 && e.at != nil {
		e.at()
		e.at = nil
	}
	clear(p)
	return len(p), nil
}

// TestPutCancel cancels Puts while they stream, before and after the
// first part has been sent: they fail with the context's error, store
// nothing, and leave no multipart upload behind.
func TestPutCancel(t *testing.T) { eachServer(t, testPutCancel) }

func testPutCancel(t *testing.T, cfg s3store.Config) {
	cfg.PartSize = s3store.MinPartSize
	s := newStore(t, cfg)
	b := newBucket(t, cfg, s)
	for _, after := range []int{100 << 10, 3 * s3store.MinPartSize} {
		c, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := s.Put(c, b, "k", &endless{n: after, at: cancel}, obs.PutOptions{})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Put cancelled after %d bytes: %v, want context.Canceled", after, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("Put cancelled after %d bytes did not return", after)
		}
		cancel()
	}
	if _, err := s.Head(t.Context(), b, "k"); !errors.Is(err, obs.ErrNotFound) {
		t.Errorf("Head after cancelled Puts: %v, want ErrNotFound", err)
	}
	raw := minio.Core{Client: rawClient(t, cfg)}
	res, err := raw.ListMultipartUploads(t.Context(), b, "", "", "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Uploads) != 0 {
		t.Errorf("cancelled Puts left multipart uploads: %+v", res.Uploads)
	}
}

// TestGetCancel cancels a Get while its content is read.
func TestGetCancel(t *testing.T) { eachServer(t, testGetCancel) }

func testGetCancel(t *testing.T, cfg s3store.Config) {
	s := newStore(t, cfg)
	c := t.Context()
	b := newBucket(t, cfg, s)
	const size = 16 << 20
	if _, err := s.Put(c, b, "big", io.LimitReader(&endless{}, size), obs.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	gc, cancel := context.WithCancel(c)
	rc, info, err := s.Get(gc, b, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if info.Size != size {
		t.Errorf("Get info = %+v, want size %d", info, size)
	}
	if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	cancel()
	n, err := io.Copy(io.Discard, rc)
	if err == nil {
		t.Errorf("reading after cancel: %d more bytes and no error", n)
	}
}

// TestVirtualHostAddressing uses bucket.host URLs (PathStyle false), as
// AWS S3 and Huawei OBS do; the transport sends every host to the fake.
func TestVirtualHostAddressing(t *testing.T) {
	fake := gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog()), gofakes3.WithHostBucketBase("s3.test"))
	srvURL := newServer(t, fake.Server())
	addr := strings.TrimPrefix(srvURL, "http://")
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	var hosts []string
	s := newStore(t, s3store.Config{
		Endpoint: "http://s3.test", AccessKey: "a", SecretKey: "s",
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			hosts = append(hosts, r.URL.Host)
			return tr.RoundTrip(r)
		}),
	})
	c := t.Context()
	if err := s.CreateBucket(c, "vhost"); err != nil {
		t.Fatal(err)
	}
	// minio-go creates buckets with a path-style request; everything
	// else must go to the bucket's host.
	hosts = nil
	if _, err := s.Put(c, "vhost", "a/b.txt", strings.NewReader("hello"), obs.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(t, s, "vhost", "a/b.txt")
	if got != "hello" {
		t.Errorf("Get = %q", got)
	}
	page, err := s.List(c, "vhost", obs.ListOptions{})
	if err != nil || len(page.Objects) != 1 {
		t.Errorf("List = %+v, %v", page, err)
	}
	if !slices.Contains(hosts, "vhost.s3.test") || slices.ContainsFunc(hosts, func(h string) bool { return h != "vhost.s3.test" }) {
		t.Errorf("requests went to hosts %q, want vhost.s3.test only", hosts)
	}
	u, err := s.PresignGet(c, "vhost", "a/b.txt", time.Minute)
	if err != nil || !strings.HasPrefix(u, "http://vhost.s3.test/a/b.txt?") {
		t.Errorf("PresignGet = %q, %v", u, err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func readAll(t *testing.T, s obs.Store, bucket, key string) (string, obs.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(t.Context(), bucket, key, nil)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return string(bytes.Clone(b)), info
}
