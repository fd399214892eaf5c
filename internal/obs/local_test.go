package obs_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/obs/obstest"
)

// newLocal returns a Local over a fresh directory, its root, and presigned
// URLs served by an httptest server.
func newLocal(t *testing.T) (*obs.Local, string) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	signer := obs.NewURLSigner(srv.URL, []byte("test signing key"), nil)
	root := t.TempDir()
	l, err := obs.NewLocal(root, signer)
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	mux.Handle(obs.PresignPath, obs.PresignHandler(l, signer))
	return l, root
}

func TestLocalContract(t *testing.T) {
	obstest.Run(t, func(t *testing.T) obs.Store {
		l, _ := newLocal(t)
		return l
	})
}

func listKeys(t *testing.T, s obs.Store, bucket string, opts obs.ListOptions) (keys, prefixes []string) {
	t.Helper()
	page, err := s.List(t.Context(), bucket, opts)
	if err != nil {
		t.Fatalf("List(%+v): %v", opts, err)
	}
	for _, o := range page.Objects {
		keys = append(keys, o.Key)
	}
	return keys, page.CommonPrefixes
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLocalLayoutAndMD5(t *testing.T) {
	l, root := newLocal(t)
	c := t.Context()
	if err := l.CreateBucket(c, "bkt"); err != nil {
		t.Fatal(err)
	}
	data := []byte("stored as a plain file")
	info, err := l.Put(c, "bkt", "images/a.jpg", bytes.NewReader(data), obs.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	if info.ETag != hex.EncodeToString(sum[:]) || info.ContentType != "image/jpeg" {
		t.Errorf("Put info = %+v, want MD5 ETag and image/jpeg", info)
	}
	onDisk, err := os.ReadFile(filepath.Join(root, "bkt", "images", "a.jpg"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Errorf("file at <root>/bkt/images/a.jpg = %q, %v", onDisk, err)
	}
	tmp, err := os.ReadDir(filepath.Join(root, "bkt", ".atelier", "tmp"))
	if err != nil || len(tmp) != 0 {
		t.Errorf("staging directory holds %v, %v; want it empty after Put", tmp, err)
	}
}

func TestLocalDroppedFiles(t *testing.T) {
	l, root := newLocal(t)
	c := t.Context()
	// A bucket and files made by hand, not through the store.
	writeFile(t, filepath.Join(root, "my-bucket", "images", "cat.jpg"), "meow")
	writeFile(t, filepath.Join(root, "my-bucket", "images", "sub", "dog.png"), "woof")
	writeFile(t, filepath.Join(root, "my-bucket", "images", `back\slash`), "unaddressable")
	if err := os.MkdirAll(filepath.Join(root, "my-bucket", "images", "empty", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "Not_A_Bucket", "f"), "x")

	buckets, err := l.ListBuckets(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(buckets) != 1 || buckets[0].Name != "my-bucket" || buckets[0].CreatedAt.IsZero() {
		t.Errorf("ListBuckets = %+v, want my-bucket only", buckets)
	}
	p, err := obs.ParsePath("obs://my-bucket/images/")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := listKeys(t, l, p.Bucket, obs.ListOptions{Prefix: p.Key})
	if want := []string{"images/cat.jpg", "images/sub/dog.png"}; !slices.Equal(keys, want) {
		t.Errorf("List = %q, want %q", keys, want)
	}
	keys, prefixes := listKeys(t, l, p.Bucket, obs.ListOptions{Prefix: p.Key, Delimiter: "/"})
	if !slices.Equal(keys, []string{"images/cat.jpg"}) || !slices.Equal(prefixes, []string{"images/sub/"}) {
		t.Errorf("List with delimiter = %q %q; want the empty directory left out", keys, prefixes)
	}

	info, err := l.Head(c, "my-bucket", "images/cat.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 4 || info.ContentType != "image/jpeg" || !strings.HasSuffix(info.ETag, "-1") || len(info.ETag) != 34 {
		t.Errorf("Head of a dropped file = %+v, want a size+mtime ETag ending in -1", info)
	}
	again, _ := l.Head(c, "my-bucket", "images/cat.jpg")
	if again.ETag != info.ETag {
		t.Errorf("ETag of an unchanged dropped file changed: %s, then %s", info.ETag, again.ETag)
	}
	rc, ginfo, err := l.Get(c, "my-bucket", "images/cat.jpg", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "meow" || ginfo.ETag != info.ETag {
		t.Errorf("Get = %q, %+v", got, ginfo)
	}

	// A file that Put wrote and a user then replaced loses its recorded
	// MD5: its ETag must follow the new content, not the record.
	put, err := l.Put(c, "my-bucket", "images/cat.jpg", strings.NewReader("purr"), obs.PutOptions{ContentType: "text/x-cat"})
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(root, "my-bucket", "images", "cat.jpg")
	writeFile(t, name+".new", "hiss!")
	if err := os.Rename(name+".new", name); err != nil {
		t.Fatal(err)
	}
	info, err = l.Head(c, "my-bucket", "images/cat.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag == put.ETag || !strings.HasSuffix(info.ETag, "-1") || info.Size != 5 || info.ContentType != "image/jpeg" {
		t.Errorf("after replacing the file by hand, Head = %+v (Put had %s)", info, put.ETag)
	}
}

func TestLocalSymlinks(t *testing.T) {
	l, root := newLocal(t)
	c := t.Context()
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret"), "top secret")
	for _, b := range []string{"bkt", "other"} {
		if err := l.CreateBucket(c, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Put(c, "other", "file", strings.NewReader("other bucket's"), obs.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Put(c, "bkt", "real.txt", strings.NewReader("real"), obs.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	bkt := filepath.Join(root, "bkt")
	links := map[string]string{
		"abs-file":    filepath.Join(outside, "secret"), // absolute, out of the root
		"abs-dir":     outside,
		"rel-escape":  "../../" + filepath.Base(filepath.Dir(outside)) + "/" + filepath.Base(outside) + "/secret",
		"other-bkt":   "../other/file", // stays in the root, leaves the bucket
		"other-dir":   "../other",
		"inside":      "real.txt", // stays in the bucket: an object
		"dangling":    "nowhere",
		"loop":        "loop",
		"dir/to-real": "../real.txt",
	}
	for name, target := range links {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(bkt, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(bkt, name)); err != nil {
			t.Fatal(err)
		}
	}

	keys, _ := listKeys(t, l, "bkt", obs.ListOptions{})
	if want := []string{"dir/to-real", "inside", "real.txt"}; !slices.Equal(keys, want) {
		t.Errorf("List = %q, want %q", keys, want)
	}
	for _, key := range []string{"abs-file", "abs-dir/secret", "rel-escape", "other-bkt", "other-dir/file", "dangling", "loop"} {
		if _, err := l.Head(c, "bkt", key); !errors.Is(err, obs.ErrNotFound) {
			t.Errorf("Head(%q) = %v, want ErrNotFound", key, err)
		}
		if rc, _, err := l.Get(c, "bkt", key, nil); !errors.Is(err, obs.ErrNotFound) {
			if err == nil {
				b, _ := io.ReadAll(rc)
				rc.Close()
				t.Errorf("Get(%q) read %q through a link out of the bucket", key, b)
			} else {
				t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
			}
		}
	}
	if rc, _, err := l.Get(c, "bkt", "inside", nil); err != nil {
		t.Errorf("Get through a link inside the bucket: %v", err)
	} else {
		rc.Close()
	}

	// Writes through a link out of the bucket are refused, and nothing
	// outside changes.
	if _, err := l.Put(c, "bkt", "abs-dir/planted", strings.NewReader("x"), obs.PutOptions{}); !errors.Is(err, obs.ErrKeyConflict) {
		t.Errorf("Put through a link to a directory outside = %v, want ErrKeyConflict", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Put wrote outside the bucket (%v)", err)
	}
	if err := l.Delete(c, "bkt", "abs-dir/secret"); err != nil {
		t.Errorf("Delete through a link out of the bucket: %v", err)
	}
	// Put over a link replaces the link, not its target.
	if _, err := l.Put(c, "bkt", "abs-file", strings.NewReader("replaced"), obs.PutOptions{}); err != nil {
		t.Errorf("Put over a link: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(outside, "secret")); err != nil || string(b) != "top secret" {
		t.Errorf("file outside the root = %q, %v; want it untouched", b, err)
	}
	// Deleting a link removes the link.
	if err := l.Delete(c, "bkt", "other-bkt"); err != nil {
		t.Errorf("Delete(link): %v", err)
	}
	if _, err := l.Head(c, "other", "file"); err != nil {
		t.Errorf("deleting a link removed its target: %v", err)
	}

	// A bucket directory that is a link is not a bucket.
	if err := os.Symlink(outside, filepath.Join(root, "linked-bucket")); err != nil {
		t.Fatal(err)
	}
	if err := l.HeadBucket(c, "linked-bucket"); !errors.Is(err, obs.ErrBucketNotFound) {
		t.Errorf("HeadBucket(link) = %v, want ErrBucketNotFound", err)
	}
	if _, _, err := l.Get(c, "linked-bucket", "secret", nil); !errors.Is(err, obs.ErrBucketNotFound) {
		t.Errorf("Get in a linked bucket = %v, want ErrBucketNotFound", err)
	}
}

func TestLocalStagingHidden(t *testing.T) {
	l, root := newLocal(t)
	c := t.Context()
	if err := l.CreateBucket(c, "bkt"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Put(c, "bkt", "k", strings.NewReader("v"), obs.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// A Put in flight (or one that crashed) leaves a staging file.
	writeFile(t, filepath.Join(root, "bkt", ".atelier", "tmp", "put-inflight"), "partial")
	for _, opts := range []obs.ListOptions{{}, {Delimiter: "/"}, {Prefix: ".atelier"}, {Prefix: ".atelier/"}, {Prefix: "."}, {Delimiter: "/", Prefix: "."}} {
		keys, prefixes := listKeys(t, l, "bkt", opts)
		want := []string{"k"}
		if opts.Prefix != "" {
			want = nil
		}
		if !slices.Equal(keys, want) || len(prefixes) != 0 {
			t.Errorf("List(%+v) = %q %q, want %q", opts, keys, prefixes, want)
		}
	}
	for _, key := range []string{".atelier/tmp/put-inflight", ".atelier/x", ".atelier"} {
		if _, err := l.Head(c, "bkt", key); !errors.Is(err, obs.ErrInvalidKey) {
			t.Errorf("Head(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := l.Put(c, "bkt", key, strings.NewReader("x"), obs.PutOptions{}); !errors.Is(err, obs.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if _, err := l.Put(c, "bkt", "sub/.atelier/ok", strings.NewReader("x"), obs.PutOptions{}); err != nil {
		t.Errorf(".atelier is reserved only at the top of a bucket: %v", err)
	}

	// A new store removes staging files older than a day.
	old := filepath.Join(root, "bkt", ".atelier", "tmp", "put-crashed")
	writeFile(t, old, "left by a crash")
	if err := os.Chtimes(old, time.Now().Add(-48*time.Hour), time.Now().Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	l2, err := obs.NewLocal(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old staging file survived NewLocal: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "bkt", ".atelier", "tmp", "put-inflight")); err != nil {
		t.Errorf("recent staging file removed: %v", err)
	}
	if _, err := l2.PresignGet(c, "bkt", "k", time.Minute); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("PresignGet without a signer = %v, want ErrUnsupported", err)
	}
}

func TestLocalKeyLimits(t *testing.T) {
	l, _ := newLocal(t)
	c := t.Context()
	if err := l.CreateBucket(c, "bkt"); err != nil {
		t.Fatal(err)
	}
	put := func(key string) error {
		_, err := l.Put(c, "bkt", key, strings.NewReader(key), obs.PutOptions{})
		return err
	}
	if err := put("a"); err != nil {
		t.Fatal(err)
	}
	if err := put("a/b"); !errors.Is(err, obs.ErrKeyConflict) {
		t.Errorf("Put(a/b) with object a = %v, want ErrKeyConflict", err)
	}
	if err := put("c/d"); err != nil {
		t.Fatal(err)
	}
	if err := put("c"); !errors.Is(err, obs.ErrKeyConflict) {
		t.Errorf("Put(c) with object c/d = %v, want ErrKeyConflict", err)
	}
	if err := put(strings.Repeat("s", 256)); !errors.Is(err, obs.ErrInvalidKey) {
		t.Errorf("Put(256-byte segment) = %v, want ErrInvalidKey", err)
	}
	if err := put(strings.Repeat("s", 255)); err != nil {
		t.Errorf("Put(255-byte segment) = %v", err)
	}
	keys, _ := listKeys(t, l, "bkt", obs.ListOptions{})
	if want := []string{"a", "c/d", strings.Repeat("s", 255)}; !slices.Equal(keys, want) {
		t.Errorf("List = %q, want %q", keys, want)
	}
}

func TestLocalDeletePrunesDirectories(t *testing.T) {
	l, root := newLocal(t)
	c := t.Context()
	if err := l.CreateBucket(c, "bkt"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"x/y/z", "x/w", "p/q/r/s"} {
		if _, err := l.Put(c, "bkt", k, strings.NewReader(k), obs.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"x/y/z", "p/q/r/s"} {
		if err := l.Delete(c, "bkt", k); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]bool{"x": true, "x/y": false, "p": false, "x/w": true} {
		_, err := os.Lstat(filepath.Join(root, "bkt", filepath.FromSlash(name)))
		if exists := err == nil; exists != want {
			t.Errorf("after Delete, %s exists = %v, want %v", name, exists, want)
		}
	}
	// Deleting a "directory" is deleting a missing key: a no-op.
	if err := l.Delete(c, "bkt", "x"); err != nil {
		t.Errorf("Delete(x) with x/w present: %v", err)
	}
	if _, err := l.Head(c, "bkt", "x/w"); err != nil {
		t.Errorf("Delete of a prefix removed an object under it: %v", err)
	}
}

func TestLocalDeleteBucket(t *testing.T) {
	l, root := newLocal(t)
	c := t.Context()
	// Empty directories are not objects; the bucket goes with them.
	if err := os.MkdirAll(filepath.Join(root, "hollow", "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteBucket(c, "hollow"); err != nil {
		t.Errorf("DeleteBucket(only empty directories): %v", err)
	}
	// A link out of the bucket is not an object, but it is not deleted.
	if err := l.CreateBucket(c, "linked"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(root, "linked", "out")); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteBucket(c, "linked"); !errors.Is(err, obs.ErrBucketNotEmpty) {
		t.Errorf("DeleteBucket(link inside) = %v, want ErrBucketNotEmpty", err)
	}
}

func TestLocalContextCancelled(t *testing.T) {
	l, _ := newLocal(t)
	if err := l.CreateBucket(t.Context(), "bkt"); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Put(c, "bkt", "k", strings.NewReader("x"), obs.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context = %v", err)
	}
	if _, err := l.List(c, "bkt", obs.ListOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context = %v", err)
	}
}
