package obs_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/atelier-dev/atelier/internal/obs"
)

// TestLocalModesIgnoreUmask: under a umask that takes nothing away, every
// directory of the local store is 0700 and every file 0600, and a root an
// older version left open is tightened when the store opens.
func TestLocalModesIgnoreUmask(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })

	root := filepath.Join(t.TempDir(), "obs")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := obs.NewLocal(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if err := l.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"top.bin", "a/b/c/deep.bin", "a/b/sibling.bin"} {
		if _, err := l.Put(ctx, "bkt", key, strings.NewReader(key), obs.PutOptions{}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	seen := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %o; want %o", strings.TrimPrefix(p, root), got, want)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 10 {
		t.Errorf("walked only %d entries: the objects are not where expected", seen)
	}
}
