package training

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// TestOutputsNeverFollowLinks: a job that leaves links to the server's
// secrets in its outputs, in place of a directory or of its log, gets none
// of them uploaded; its regular files still are, and its events name
// what was skipped.
func TestOutputsNeverFollowLinks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fx := newFixture(t, db, 2)
		secret := filepath.Join(fx.svc.dataDir, "bootstrap.json")
		if err := os.WriteFile(secret, []byte("SECRET-PASSWORD"), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, tc := range []struct {
			name string
			// plant does what the job's code would do in its job directory.
			plant      func(t *testing.T, job string)
			wantObject []string // uploaded under out/<name>/
			wantEvent  string
		}{
			{
				name: "links-in-outputs",
				plant: func(t *testing.T, job string) {
					out := filepath.Join(job, "outputs", "train_url")
					must(t, os.WriteFile(filepath.Join(out, "model.bin"), []byte("weights"), 0o644))
					must(t, os.Symlink(secret, filepath.Join(out, "leak.json")))
					must(t, os.Symlink(fx.svc.dataDir, filepath.Join(out, "datadir")))
					must(t, os.Mkdir(filepath.Join(out, "sub"), 0o755))
					must(t, os.Symlink("../../../../bootstrap.json", filepath.Join(out, "sub", "rel.json")))
					must(t, os.Link(secret, filepath.Join(out, "hard.json")))
					must(t, syscall.Mkfifo(filepath.Join(out, "fifo"), 0o644))
				},
				wantObject: []string{"model.bin"},
				wantEvent:  "datadir (symbolic link), fifo (named pipe), hard.json (hard link), leak.json (symbolic link), sub/rel.json (symbolic link)",
			},
			{
				name: "outputs-directory-replaced",
				plant: func(t *testing.T, job string) {
					// outputs -> a directory of the server's that has a
					// train_url/ of its own.
					decoy := filepath.Join(fx.svc.dataDir, "decoy")
					must(t, os.MkdirAll(filepath.Join(decoy, "train_url"), 0o755))
					must(t, os.WriteFile(filepath.Join(decoy, "train_url", "stolen.txt"), []byte("SECRET-OBJECT"), 0o600))
					out := filepath.Join(job, "outputs")
					must(t, os.RemoveAll(out))
					must(t, os.Symlink(decoy, out))
				},
				wantEvent: "Upload training output(parameter name: train_url) failed",
			},
			{
				name: "log-replaced",
				plant: func(t *testing.T, job string) {
					log := filepath.Join(job, "logs", "worker-0.log")
					_ = os.Remove(log)
					must(t, os.Symlink(secret, log))
				},
				wantEvent: "Exporting the log failed",
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := fx.create(t, tc.name, 1, 1)
				fx.pass(t)
				if got, _ := fx.phase(t, id); got != PhaseRunning {
					t.Fatalf("job is %s", got)
				}
				tc.plant(t, fx.svc.jobDir(id))
				if p, err := fx.svc.PreviewLog(ctx, "p", id, "worker-0"); err == nil && strings.Contains(p.Content, "SECRET") {
					t.Errorf("the log preview shows the secret: %q", p.Content)
				}
				fx.exec.exit(id, "worker-0", 0)
				fx.pass(t)
				var got []string
				for _, loc := range [][2]string{{"bkt", "out/" + tc.name + "/"}, {fx.svc.opts.LogBucket, ""}} {
					prefix := loc[1]
					page, err := fx.objects.List(ctx, loc[0], obs.ListOptions{Prefix: prefix})
					if err != nil && loc[1] == "" {
						continue // no log exported at all
					}
					if err != nil {
						t.Fatal(err)
					}
					for _, o := range page.Objects {
						r, _, err := fx.objects.Get(ctx, loc[0], o.Key, nil)
						if err != nil {
							t.Fatal(err)
						}
						b, _ := io.ReadAll(r)
						r.Close()
						if strings.Contains(string(b), "SECRET") {
							t.Errorf("%s was uploaded with the secret", o.Key)
						}
						if loc[0] == "bkt" {
							got = append(got, strings.TrimPrefix(o.Key, prefix))
						}
					}
				}
				if strings.Join(got, ",") != strings.Join(tc.wantObject, ",") {
					t.Errorf("uploaded %q, want %q", got, tc.wantObject)
				}
				if evs := fx.events(t, id); !containsPart(evs, tc.wantEvent) {
					t.Errorf("events lack %q: %q", tc.wantEvent, evs)
				}
			})
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
