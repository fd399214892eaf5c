// Package obstest is the contract suite every obs.Store implementation must
// pass: the local store in its tests, an S3-compatible one against MinIO or
// a real endpoint. It owns no storage of its own.
//
// Size: one file of over 1,000 lines, because it is one suite: every case a
// driver must pass, in the order a reader checks a new driver against them.
package obstest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
)

// Run runs the suite. newStore returns a store to test; it is called once
// per test, which may run in parallel with others. The suite creates its
// own buckets, named "obstest-" and random hex so that runs against a
// shared S3 endpoint do not collide, and deletes them when a test ends.
//
// The store's PresignGet URLs must be reachable over plain HTTP from the
// test: for the local store, newStore starts an httptest.Server that
// serves obs.PresignHandler and uses its URL as the signer's base.
func Run(t *testing.T, newStore func(t *testing.T) obs.Store) {
	RunWithOptions(t, newStore, Options{})
}

// Options adjust a run of the suite.
type Options struct {
	// Skip maps the name of a case (as given to t.Run:
	// "large-object-streams", "presigned-get-expires", ...) to the reason
	// it is skipped. It exists for test servers that deviate from S3 in
	// something the suite checks (an in-process fake that keeps objects in
	// the test's heap, or does not check signatures); the reason names the
	// deviation. It is not for a store that fails a case. A name that is
	// not a case fails the run, so that a renamed case is not skipped
	// silently.
	Skip map[string]string
}

// RunWithOptions runs the suite like Run, adjusted by opts.
func RunWithOptions(t *testing.T, newStore func(t *testing.T) obs.Store, opts Options) {
	ran := map[string]bool{}
	run := func(t *testing.T, name string, parallel bool, fn func(*testing.T, obs.Store)) {
		ran[name] = true
		t.Run(name, func(t *testing.T) {
			if why, ok := opts.Skip[name]; ok {
				t.Skip(why)
			}
			if parallel {
				t.Parallel()
			}
			fn(t, newStore(t))
		})
	}
	// Measured alone: other tests would disturb the heap it watches.
	run(t, "large-object-streams", false, testLargeObject)

	t.Run("contract", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			fn   func(*testing.T, obs.Store)
		}{
			{"bucket-lifecycle", testBucketLifecycle},
			{"missing-bucket", testMissingBucket},
			{"invalid-bucket-names", testInvalidBucketNames},
			{"put-get-head-delete", testPutGetHeadDelete},
			{"content-type", testContentType},
			{"overwrite", testOverwrite},
			{"literal-keys", testLiteralKeys},
			{"ranges", testRanges},
			{"invalid-keys", testInvalidKeys},
			{"list-matches-model", testListModel},
			{"list-pagination-2500", testListPagination},
			{"list-hides-directory-markers", testListNoMarkers},
			{"concurrent-put-is-atomic", testConcurrentPut},
			{"failed-put-keeps-old-object", testFailedPut},
			{"key-conflicts", testKeyConflicts},
			{"presigned-get", testPresign},
			{"presigned-get-refuses-tampering", testPresignTamper},
			{"presigned-get-expires", testPresignExpiry},
		} {
			run(t, tc.name, true, tc.fn)
		}
	})
	for name := range opts.Skip {
		if !ran[name] {
			t.Errorf("Options.Skip names %q, which is not a case of the suite", name)
		}
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

// newBucket creates a bucket with a fresh name and deletes it, with all its
// objects, when the test ends.
func newBucket(t *testing.T, s obs.Store) string {
	t.Helper()
	name := "obstest-" + strings.ToLower(rand.Text()[:10])
	if err := s.CreateBucket(ctx(t), name); err != nil {
		t.Fatalf("CreateBucket(%q): %v", name, err)
	}
	t.Cleanup(func() { removeBucket(t, s, name) })
	return name
}

func removeBucket(t *testing.T, s obs.Store, bucket string) {
	c := context.Background()
	// Several deleters: on an S3 server each object is a request, and a
	// case leaves up to 2,500 of them.
	keys := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for k := range keys {
				if err := s.Delete(c, bucket, k); err != nil {
					t.Logf("cleanup: %v", err)
				}
			}
		})
	}
	listed := func() bool {
		defer func() {
			close(keys)
			wg.Wait()
		}()
		opts := obs.ListOptions{}
		for {
			page, err := s.List(c, bucket, opts)
			if errors.Is(err, obs.ErrBucketNotFound) {
				return false
			}
			if err != nil {
				t.Logf("cleanup: list %s: %v", bucket, err)
				return false
			}
			for _, o := range page.Objects {
				keys <- o.Key
			}
			if !page.Truncated {
				return true
			}
			opts.StartAfter = page.NextStartAfter
		}
	}()
	if !listed {
		return
	}
	if err := s.DeleteBucket(c, bucket); err != nil && !errors.Is(err, obs.ErrBucketNotFound) {
		t.Logf("cleanup: %v", err)
	}
}

func put(t *testing.T, s obs.Store, bucket, key string, data []byte) obs.ObjectInfo {
	t.Helper()
	info, err := s.Put(ctx(t), bucket, key, bytes.NewReader(data), obs.PutOptions{})
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return info
}

func get(t *testing.T, s obs.Store, bucket, key string, rng *obs.Range) ([]byte, obs.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(ctx(t), bucket, key, rng)
	if err != nil {
		t.Fatalf("Get(%q, %v): %v", key, rng, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return b, info
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// checkETag checks the ETag rule: unquoted, and the content's hex MD5
// unless it contains '-'.
func checkETag(t *testing.T, what, etag string, content []byte) {
	t.Helper()
	switch {
	case etag == "" || strings.ContainsAny(etag, `"`):
		t.Errorf("%s: ETag %q is empty or quoted", what, etag)
	case !strings.Contains(etag, "-") && etag != md5hex(content):
		t.Errorf("%s: ETag %q is neither the content's MD5 %s nor marked with '-'", what, etag, md5hex(content))
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func testBucketLifecycle(t *testing.T, s obs.Store) {
	c := ctx(t)
	name := "obstest-" + strings.ToLower(rand.Text()[:10])
	wantErr(t, "HeadBucket before create", s.HeadBucket(c, name), obs.ErrBucketNotFound)
	wantErr(t, "DeleteBucket before create", s.DeleteBucket(c, name), obs.ErrBucketNotFound)
	if err := s.CreateBucket(c, name); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	t.Cleanup(func() { removeBucket(t, s, name) })
	if err := s.HeadBucket(c, name); err != nil {
		t.Errorf("HeadBucket: %v", err)
	}
	wantErr(t, "CreateBucket again", s.CreateBucket(c, name), obs.ErrBucketExists)

	buckets, err := s.ListBuckets(c)
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	if !slices.IsSortedFunc(buckets, func(a, b obs.BucketInfo) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("ListBuckets not sorted by name: %v", buckets)
	}
	i := slices.IndexFunc(buckets, func(b obs.BucketInfo) bool { return b.Name == name })
	if i < 0 {
		t.Fatalf("ListBuckets lacks %s: %v", name, buckets)
	}
	if buckets[i].CreatedAt.IsZero() {
		t.Errorf("bucket %s has no CreatedAt", name)
	}

	put(t, s, name, "dir/obj", []byte("x"))
	wantErr(t, "DeleteBucket with an object", s.DeleteBucket(c, name), obs.ErrBucketNotEmpty)
	if err := s.Delete(c, name, "dir/obj"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.DeleteBucket(c, name); err != nil {
		t.Fatalf("DeleteBucket emptied: %v", err)
	}
	wantErr(t, "HeadBucket after delete", s.HeadBucket(c, name), obs.ErrBucketNotFound)
	wantErr(t, "DeleteBucket after delete", s.DeleteBucket(c, name), obs.ErrBucketNotFound)
}

func testMissingBucket(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := "obstest-missing-" + strings.ToLower(rand.Text()[:10])
	_, err := s.Put(c, b, "k", strings.NewReader("x"), obs.PutOptions{})
	wantErr(t, "Put", err, obs.ErrBucketNotFound)
	_, _, err = s.Get(c, b, "k", nil)
	wantErr(t, "Get", err, obs.ErrBucketNotFound)
	_, err = s.Head(c, b, "k")
	wantErr(t, "Head", err, obs.ErrBucketNotFound)
	_, err = s.List(c, b, obs.ListOptions{})
	wantErr(t, "List", err, obs.ErrBucketNotFound)
	wantErr(t, "Delete", s.Delete(c, b, "k"), obs.ErrBucketNotFound)
}

func testInvalidBucketNames(t *testing.T, s obs.Store) {
	c := ctx(t)
	for _, b := range []string{"", "ab", strings.Repeat("a", 64), "Upper", "a_b", "-ab", "ab-", ".ab", "ab.", "a..b", "a-.b", "a.-b", "192.168.1.1", "a b", "a/b"} {
		wantErr(t, fmt.Sprintf("CreateBucket(%q)", b), s.CreateBucket(c, b), obs.ErrInvalidBucket)
		wantErr(t, fmt.Sprintf("HeadBucket(%q)", b), s.HeadBucket(c, b), obs.ErrInvalidBucket)
		wantErr(t, fmt.Sprintf("DeleteBucket(%q)", b), s.DeleteBucket(c, b), obs.ErrInvalidBucket)
		_, err := s.Put(c, b, "k", strings.NewReader("x"), obs.PutOptions{})
		wantErr(t, fmt.Sprintf("Put(%q)", b), err, obs.ErrInvalidBucket)
		_, _, err = s.Get(c, b, "k", nil)
		wantErr(t, fmt.Sprintf("Get(%q)", b), err, obs.ErrInvalidBucket)
		_, err = s.Head(c, b, "k")
		wantErr(t, fmt.Sprintf("Head(%q)", b), err, obs.ErrInvalidBucket)
		_, err = s.List(c, b, obs.ListOptions{})
		wantErr(t, fmt.Sprintf("List(%q)", b), err, obs.ErrInvalidBucket)
		wantErr(t, fmt.Sprintf("Delete(%q)", b), s.Delete(c, b, "k"), obs.ErrInvalidBucket)
		_, err = s.PresignGet(c, b, "k", time.Minute)
		wantErr(t, fmt.Sprintf("PresignGet(%q)", b), err, obs.ErrInvalidBucket)
	}
}

func testPutGetHeadDelete(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := newBucket(t, s)
	data := []byte("hello, object storage\n")
	pinfo, err := s.Put(c, b, "a/b/c.txt", bytes.NewReader(data), obs.PutOptions{ContentType: "text/x-test"})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if pinfo.Bucket != b || pinfo.Key != "a/b/c.txt" || pinfo.Size != int64(len(data)) || pinfo.ModTime.IsZero() {
		t.Errorf("Put info = %+v", pinfo)
	}
	checkETag(t, "Put", pinfo.ETag, data)

	hinfo, err := s.Head(c, b, "a/b/c.txt")
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if hinfo.Bucket != b || hinfo.Key != "a/b/c.txt" || hinfo.Size != int64(len(data)) ||
		hinfo.ETag != pinfo.ETag || hinfo.ContentType != "text/x-test" || hinfo.ModTime.IsZero() {
		t.Errorf("Head info = %+v, Put info = %+v", hinfo, pinfo)
	}
	got, ginfo := get(t, s, b, "a/b/c.txt", nil)
	if !bytes.Equal(got, data) {
		t.Errorf("Get = %q, want %q", got, data)
	}
	if ginfo.Size != hinfo.Size || ginfo.ETag != hinfo.ETag || ginfo.ContentType != hinfo.ContentType || !ginfo.ModTime.Equal(hinfo.ModTime) {
		t.Errorf("Get info = %+v, Head info = %+v", ginfo, hinfo)
	}

	// A prefix of a key is not an object.
	_, err = s.Head(c, b, "a/b")
	wantErr(t, "Head of a prefix", err, obs.ErrNotFound)
	_, err = s.Head(c, b, "a/b/c.tx")
	wantErr(t, "Head of a key prefix", err, obs.ErrNotFound)

	empty := put(t, s, b, "empty", nil)
	checkETag(t, "Put empty", empty.ETag, nil)
	if got, info := get(t, s, b, "empty", nil); len(got) != 0 || info.Size != 0 {
		t.Errorf("Get empty = %q, size %d", got, info.Size)
	}

	if err := s.Delete(c, b, "a/b/c.txt"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = s.Head(c, b, "a/b/c.txt")
	wantErr(t, "Head after Delete", err, obs.ErrNotFound)
	_, _, err = s.Get(c, b, "a/b/c.txt", nil)
	wantErr(t, "Get after Delete", err, obs.ErrNotFound)
	if err := s.Delete(c, b, "a/b/c.txt"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if err := s.Delete(c, b, "never/was"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	page, err := s.List(c, b, obs.ListOptions{Delimiter: "/"})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(page.CommonPrefixes) != 0 || len(page.Objects) != 1 || page.Objects[0].Key != "empty" {
		t.Errorf("List after Delete = %+v, want only \"empty\" and no prefixes", page)
	}
}

func testContentType(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := newBucket(t, s)
	for key, want := range map[string]string{
		"pic.png":           "image/png",
		"data.unknown-ext1": "application/octet-stream",
		"noext":             "application/octet-stream",
	} {
		put(t, s, b, key, []byte("x"))
		info, err := s.Head(c, b, key)
		if err != nil {
			t.Fatalf("Head: %v", err)
		}
		if info.ContentType != want {
			t.Errorf("ContentType of %q put without one = %q, want %q", key, info.ContentType, want)
		}
	}
}

func testOverwrite(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := newBucket(t, s)
	v1, v2 := []byte("first version, longer"), []byte("second")
	if _, err := s.Put(c, b, "k", bytes.NewReader(v1), obs.PutOptions{ContentType: "text/one"}); err != nil {
		t.Fatal(err)
	}
	i2, err := s.Put(c, b, "k", bytes.NewReader(v2), obs.PutOptions{ContentType: "text/two"})
	if err != nil {
		t.Fatal(err)
	}
	got, info := get(t, s, b, "k", nil)
	if !bytes.Equal(got, v2) {
		t.Errorf("Get after overwrite = %q, want %q", got, v2)
	}
	if info.Size != int64(len(v2)) || info.ContentType != "text/two" || info.ETag != i2.ETag {
		t.Errorf("info after overwrite = %+v", info)
	}
	checkETag(t, "overwrite", info.ETag, v2)
	page, err := s.List(c, b, obs.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 1 || page.Objects[0].Size != int64(len(v2)) || page.Objects[0].ETag != i2.ETag {
		t.Errorf("List after overwrite = %+v", page.Objects)
	}
}

// testLiteralKeys stores keys that look escaped or hold URL syntax; they
// must come back byte for byte.
func testLiteralKeys(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := newBucket(t, s)
	keys := []string{"a/%2e%2e/b", "a/%2F", "q?x=1#frag", "sp ace/tab+plus", "é/ünï/中文.txt", "..a/b..", ".hidden", "a/.dot", "~tilde/$&'()*,;=@"}
	for i, k := range keys {
		put(t, s, b, k, []byte{byte(i)})
	}
	for i, k := range keys {
		if got, _ := get(t, s, b, k, nil); !bytes.Equal(got, []byte{byte(i)}) {
			t.Errorf("Get(%q) = %v, want [%d]", k, got, i)
		}
	}
	page, err := s.List(c, b, obs.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, o := range page.Objects {
		listed = append(listed, o.Key)
	}
	want := slices.Sorted(slices.Values(keys))
	if !slices.Equal(listed, want) {
		t.Errorf("List = %q, want %q", listed, want)
	}
}

func testRanges(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := newBucket(t, s)
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	put(t, s, b, "r", data)
	put(t, s, b, "empty", nil)
	for _, tc := range []struct {
		rng        obs.Range
		start, end int
	}{
		{obs.Range{Offset: 0, Length: 10}, 0, 10},
		{obs.Range{Offset: 0, Length: -1}, 0, 1000},
		{obs.Range{Offset: 990, Length: -1}, 990, 1000},
		{obs.Range{Offset: 995, Length: 100}, 995, 1000},
		{obs.Range{Offset: 999, Length: 1}, 999, 1000},
		{obs.Range{Offset: 123, Length: 456}, 123, 579},
	} {
		got, info := get(t, s, b, "r", &tc.rng)
		if !bytes.Equal(got, data[tc.start:tc.end]) {
			t.Errorf("Get range %+v = %d bytes, want bytes [%d, %d)", tc.rng, len(got), tc.start, tc.end)
		}
		if info.Size != 1000 {
			t.Errorf("Get range %+v: info.Size = %d, want the object's 1000", tc.rng, info.Size)
		}
	}
	for _, tc := range []struct {
		key string
		rng obs.Range
	}{
		{"r", obs.Range{Offset: -1, Length: 5}},
		{"r", obs.Range{Offset: 1000, Length: 1}},
		{"r", obs.Range{Offset: 2000, Length: -1}},
		{"r", obs.Range{Offset: 0, Length: 0}},
		{"r", obs.Range{Offset: 5, Length: -2}},
		{"empty", obs.Range{Offset: 0, Length: -1}},
	} {
		rc, _, err := s.Get(c, b, tc.key, &tc.rng)
		if err == nil {
			rc.Close()
		}
		wantErr(t, fmt.Sprintf("Get(%q, %+v)", tc.key, tc.rng), err, obs.ErrInvalidRange)
	}
	_, _, err := s.Get(c, b, "missing", &obs.Range{Offset: 0, Length: 1})
	wantErr(t, "Get range of a missing key", err, obs.ErrNotFound)
}

// invalidKeys are keys every Store refuses with ErrInvalidKey.
var invalidKeys = []string{
	"", ".", "..", "./a", "a/.", "a/./b", "../a", "a/..", "a/../b",
	"a\x00b", "\x00", "a\nb", "a\x7fb", "/a", "a//b", "a/",
	"a\\b", "..\\a", "\xff\xfe", strings.Repeat("k", 1025),
}

func testInvalidKeys(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := newBucket(t, s)
	for _, k := range invalidKeys {
		_, err := s.Put(c, b, k, strings.NewReader("x"), obs.PutOptions{})
		wantErr(t, fmt.Sprintf("Put(%q)", k), err, obs.ErrInvalidKey)
		_, _, err = s.Get(c, b, k, nil)
		wantErr(t, fmt.Sprintf("Get(%q)", k), err, obs.ErrInvalidKey)
		_, err = s.Head(c, b, k)
		wantErr(t, fmt.Sprintf("Head(%q)", k), err, obs.ErrInvalidKey)
		wantErr(t, fmt.Sprintf("Delete(%q)", k), s.Delete(c, b, k), obs.ErrInvalidKey)
		_, err = s.PresignGet(c, b, k, time.Minute)
		wantErr(t, fmt.Sprintf("PresignGet(%q)", k), err, obs.ErrInvalidKey)
	}
	// The longest key is fine as far as validation goes; the local store
	// also limits segments to 255 bytes, so split it.
	long := strings.Repeat(strings.Repeat("k", 200)+"/", 6)[:1018] + "/z.txt"
	if len(long) != 1024 {
		t.Fatalf("test key is %d bytes", len(long))
	}
	put(t, s, b, long, []byte("long"))
	if got, _ := get(t, s, b, long, nil); string(got) != "long" {
		t.Errorf("Get(1024-byte key) = %q", got)
	}
	page, err := s.List(c, b, obs.ListOptions{})
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Key != long {
		t.Errorf("List = %+v, %v; want the 1024-byte key", page, err)
	}
}

// listKeys exercise key ordering: '.' and '-' sort before '/', so "a.txt"
// and "a-b/x" come before "a/b", and "a0" after it.
var listKeys = []string{
	"a.txt", "a/b", "a/c/d", "a/c/e", "a/.dot", "a-b/x", "a0", "b",
	"photos/2024/01/x.jpg", "photos/2024/02/y.jpg", "photos/2024/02/z.jpg",
	"photos/readme", "photos-old/z", "z", "é/unicode.txt", "space dir/f i.txt",
	".hidden", "x/y/z/deep/er/file", "x/y/z2",
}

// testConcurrentPut overwrites one key from several writers, each version a
// run of one byte, while readers check that every read is one whole
// version whose ETag matches it.
func testConcurrentPut(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := newBucket(t, s)
	const size = 256 << 10
	version := func(v byte) []byte { return bytes.Repeat([]byte{v}, size) }
	put(t, s, b, "hot", version(0))

	var writers, readers sync.WaitGroup
	var stop atomic.Bool
	for w := range 4 {
		writers.Go(func() {
			for i := range 6 {
				v := byte(1 + w*6 + i)
				// Drip the content in small pieces so the write is slow.
				r := io.MultiReader(bytes.NewReader(version(v)[:size/2]), slowReader{bytes.NewReader(version(v)[size/2:])})
				if _, err := s.Put(c, b, "hot", r, obs.PutOptions{}); err != nil {
					t.Errorf("Put version %d: %v", v, err)
				}
			}
		})
	}
	var reads atomic.Int64
	for range 4 {
		readers.Go(func() {
			for !stop.Load() {
				rc, info, err := s.Get(c, b, "hot", nil)
				if err != nil {
					t.Errorf("Get during Puts: %v", err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Errorf("read during Puts: %v", err)
					return
				}
				if len(got) != size || !bytes.Equal(got, version(got[0])) {
					if len(got) == 0 {
						got = []byte{0}
					}
					t.Errorf("read a partial or mixed object: %d bytes, first %d", len(got), got[0])
					return
				}
				if info.Size != size {
					t.Errorf("Get info.Size = %d, want %d", info.Size, size)
				}
				checkETag(t, "Get during Puts", info.ETag, got)
				reads.Add(1)
			}
		})
	}
	writers.Wait()
	stop.Store(true)
	readers.Wait()
	if reads.Load() == 0 {
		t.Error("no read completed")
	}
}

type slowReader struct{ r io.Reader }

func (s slowReader) Read(p []byte) (int, error) {
	return s.r.Read(p[:min(len(p), 4096)])
}

// failingReader yields n bytes then fails, calling before first.
type failingReader struct {
	n      int
	before func()
	err    error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		if f.before != nil {
			f.before()
		}
		return 0, f.err
	}
	k := min(len(p), f.n)
	for i := range p[:k] {
		p[i] = 'N'
	}
	f.n -= k
	return k, nil
}

// testFailedPut checks that a Put whose reader fails, or whose context is
// cancelled, changes nothing.
func testFailedPut(t *testing.T, s obs.Store) {
	b := newBucket(t, s)
	old := []byte("old content")
	put(t, s, b, "k", old)

	errBroken := errors.New("broken reader")
	_, err := s.Put(ctx(t), b, "k", &failingReader{n: 100 << 10, err: errBroken}, obs.PutOptions{})
	if err == nil {
		t.Error("Put from a failing reader succeeded")
	}
	c, cancel := context.WithCancel(ctx(t))
	_, err = s.Put(c, b, "k", &failingReader{n: 100 << 10, before: cancel, err: io.ErrNoProgress}, obs.PutOptions{})
	if err == nil {
		t.Error("Put with a cancelled context succeeded")
	}
	if got, info := get(t, s, b, "k", nil); !bytes.Equal(got, old) || info.Size != int64(len(old)) {
		t.Errorf("after failed Puts, Get = %q, want %q", got, old)
	}
	if _, err := s.Put(ctx(t), b, "new", &failingReader{n: 10, err: errBroken}, obs.PutOptions{}); err == nil {
		t.Error("Put from a failing reader succeeded")
	}
	_, err = s.Head(ctx(t), b, "new")
	wantErr(t, "Head after a failed first Put", err, obs.ErrNotFound)
	page, err := s.List(ctx(t), b, obs.ListOptions{})
	if err != nil || len(page.Objects) != 1 {
		t.Errorf("List after failed Puts = %+v, %v; want only k", page.Objects, err)
	}
}

// testKeyConflicts puts "a" beside "a/b", in both orders. S3 keeps both;
// a store on a file system (the local store, an S3 server that keeps
// objects as files) cannot, and must refuse the second with
// ErrKeyConflict and leave the first as it was. Deleting a key that is
// only a prefix of others deletes nothing.
func testKeyConflicts(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := newBucket(t, s)
	for _, tc := range []struct{ first, second string }{{"file", "file/under"}, {"dir/under", "dir"}} {
		put(t, s, b, tc.first, []byte("first "+tc.first))
		_, err := s.Put(c, b, tc.second, strings.NewReader("second "+tc.second), obs.PutOptions{})
		if err != nil && !errors.Is(err, obs.ErrKeyConflict) {
			t.Errorf("Put(%q) beside %q: %v, want success or ErrKeyConflict", tc.second, tc.first, err)
		}
		want := map[string]string{tc.first: "first " + tc.first}
		if err == nil {
			want[tc.second] = "second " + tc.second
		} else {
			_, herr := s.Head(c, b, tc.second)
			wantErr(t, fmt.Sprintf("Head(%q) after its refused Put", tc.second), herr, obs.ErrNotFound)
		}
		for k, v := range want {
			if got, _ := get(t, s, b, k, nil); string(got) != v {
				t.Errorf("Get(%q) after Put(%q) = %q, want %q", k, tc.second, got, v)
			}
		}
	}
	if err := s.Delete(c, b, "dir"); err != nil && !errors.Is(err, obs.ErrNotFound) {
		t.Errorf("Delete(%q), a prefix of dir/under: %v", "dir", err)
	}
	if got, _ := get(t, s, b, "dir/under", nil); string(got) != "first dir/under" {
		t.Errorf("Get(dir/under) after Delete(dir) = %q", got)
	}
}

var httpClient = &http.Client{Timeout: time.Minute}

// pattern is an endless deterministic byte stream, generated on the fly.
type pattern struct {
	off, n int64
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(b)), p.n-p.off))
	for i := range b[:k] {
		x := p.off + int64(i)
		b[i] = byte(x ^ x>>8 ^ x>>16)
	}
	p.off += int64(k)
	return k, nil
}

// testLargeObject streams a 50 MB object in and out and checks that the
// heap never grows by more than half of it: nothing holds it whole.
func testLargeObject(t *testing.T, s obs.Store) {
	size := int64(50 << 20)
	if testing.Short() {
		size = 8 << 20
	}
	c := ctx(t)
	b := newBucket(t, s)
	h := md5.New()
	io.Copy(h, &pattern{n: size})
	want := hex.EncodeToString(h.Sum(nil))

	var info obs.ObjectInfo
	var got string
	peak := PeakHeap(func() {
		var err error
		info, err = s.Put(c, b, "big/object.bin", &pattern{n: size}, obs.PutOptions{})
		if err != nil {
			t.Errorf("Put: %v", err)
			return
		}
		rc, _, err := s.Get(c, b, "big/object.bin", nil)
		if err != nil {
			t.Errorf("Get: %v", err)
			return
		}
		defer rc.Close()
		h := md5.New()
		if n, err := io.Copy(h, rc); err != nil || n != size {
			t.Errorf("Get: read %d bytes, %v; want %d", n, err, size)
		}
		got = hex.EncodeToString(h.Sum(nil))
	})
	if t.Failed() {
		return
	}
	if info.Size != size {
		t.Errorf("Put size = %d, want %d", info.Size, size)
	}
	if !strings.Contains(info.ETag, "-") && info.ETag != want {
		t.Errorf("Put ETag = %s, want MD5 %s", info.ETag, want)
	}
	if got != want {
		t.Errorf("content read back has MD5 %s, want %s", got, want)
	}
	if limit := uint64(size / 2); peak > limit {
		t.Errorf("heap grew by %d MiB while streaming a %d MiB object; want at most %d MiB", peak>>20, size>>20, limit>>20)
	}
	t.Logf("heap grew by at most %d KiB", peak>>10)

	tail, _ := get(t, s, b, "big/object.bin", &obs.Range{Offset: size - 1000, Length: -1})
	wantTail := make([]byte, 1000)
	io.ReadFull(&pattern{off: size - 1000, n: size}, wantTail)
	if !bytes.Equal(tail, wantTail) {
		t.Error("the last 1000 bytes differ")
	}
}

// PeakHeap runs f and returns the most the live heap grew over its
// starting size while f ran, sampled every few milliseconds: drivers' own
// streaming tests use it to prove bounded memory.
func PeakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > base && ms.HeapAlloc-base > peak.Load() {
					peak.Store(ms.HeapAlloc - base)
				}
			}
		}
	})
	f()
	close(stop)
	wg.Wait()
	return peak.Load()
}
