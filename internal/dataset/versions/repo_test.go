package versions

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// codeOf is the ModelArts code of a domain error ("" for other errors).
func codeOf(err error) string {
	if e, ok := dataset.AsError(err); ok {
		return e.Code
	}
	return ""
}

// TestRepoContract holds the versions room's repository to the same answers
// on every engine: versions scoped by dataset, unique names, the status
// guards of publishing, failing and deleting, the newest normal version,
// list order and paging, and what a failed transaction leaves.
func TestRepoContract(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		objects, err := obs.NewLocal(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { objects.Close() })
		if err := objects.CreateBucket(ctx, "data"); err != nil {
			t.Fatal(err)
		}
		core, err := dataset.New(dataset.Options{DB: db, Objects: objects})
		if err != nil {
			t.Fatal(err)
		}
		newDataset := func(name string) string {
			plan, err := core.PlanCreate(dataset.Scope{ProjectID: "p1", WorkspaceID: "0"}, &dataset.CreateRequest{
				DatasetName: name, WorkPath: "/data/work/", WorkPathType: new(int), DataSources: []dataset.DataSource{{DataPath: "/data/in/"}}})
			if err != nil {
				t.Fatalf("plan dataset %s: %v", name, err)
			}
			id, err := core.CommitCreate(ctx, plan, nil)
			if err != nil {
				t.Fatalf("create dataset %s: %v", name, err)
			}
			return id
		}
		a, b := newDataset("a"), newDataset("b")
		rp := &repo{db: db}
		add := func(datasetID, id, name string, created int64) error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				return rp.insertVersion(ctx, tx, id, datasetID, name, "task-"+id, 0.8, `{"dir":"/data/work/`+name+`/"}`, created)
			})
		}
		publish := func(datasetID, id string, now int64) bool {
			t.Helper()
			var ok bool
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				var err error
				ok, err = rp.recordPublished(ctx, tx, datasetID, id, 10, 4, `{"dir":"/data/work/x/"}`, `[{"name":"cat"}]`, `[100,200]`, now)
				return err
			})
			if err != nil {
				t.Fatalf("publish %s: %v", id, err)
			}
			return ok
		}
		for _, v := range []struct {
			id, name string
			at       int64
		}{{"v1", "V001", 1000}, {"v2", "V002", 2000}, {"v3", "V003", 2000}} {
			if err := add(a, v.id, v.name, v.at); err != nil {
				t.Fatalf("add version %s: %v", v.name, err)
			}
		}

		t.Run("scoped by dataset, unique names", func(t *testing.T) {
			if _, err := rp.loadVersion(ctx, db, b, "v1"); codeOf(err) != dataset.CodeVersionNotFound {
				t.Fatalf("load another dataset's version: got %v, want %s", err, dataset.CodeVersionNotFound)
			}
			if err := add(a, "v4", "V001", 3000); codeOf(err) != CodeVersionExists {
				t.Fatalf("a taken name: got %v, want %s", err, CodeVersionExists)
			}
			if err := add(b, "b1", "V001", 3000); err != nil {
				t.Fatalf("another dataset's name: %v", err)
			}
			v, err := rp.loadVersion(ctx, db, a, "v1")
			if err != nil || v.Name != "V001" || v.Status != VersionCreating || v.TaskID != "task-v1" || v.Doc.Dir != "/data/work/V001/" {
				t.Fatalf("load version: %+v, %v", v, err)
			}
		})

		t.Run("a failed transaction leaves nothing", func(t *testing.T) {
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				if err := rp.insertVersion(ctx, tx, "gone", a, "GONE", "t", 1, "{}", 5000); err != nil {
					return err
				}
				return errors.New("rollback")
			})
			if err == nil || err.Error() != "rollback" {
				t.Fatalf("transaction: %v", err)
			}
			if _, err := rp.loadVersion(ctx, db, a, "gone"); codeOf(err) != dataset.CodeVersionNotFound {
				t.Fatalf("version of a rolled back transaction: %v", err)
			}
		})

		t.Run("status guards", func(t *testing.T) {
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				busy, err := rp.versionInStatus(ctx, tx, a, VersionCreating)
				if err != nil || busy == "" {
					return errors.New("no version found being published")
				}
				if v, err := rp.newestVersion(ctx, tx, a); err != nil || v != nil {
					return errors.New("a newest normal version before any is published")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if marked, err := rp.markDeleting(ctx, a, "v1", 1); err != nil || marked {
				t.Fatalf("mark a version being published deleting: %v, %v; want refused", marked, err)
			}
			for _, id := range []string{"v1", "v2", "v3"} {
				if !publish(a, id, 4000) {
					t.Fatalf("publish %s: not recorded", id)
				}
			}
			if publish(a, "v1", 4001) {
				t.Fatal("a published version was published again")
			}
			if err := rp.failVersion(ctx, a, "v1", `{"message":"late"}`, 4002); err != nil {
				t.Fatal(err)
			}
			v, err := rp.loadVersion(ctx, db, a, "v1")
			if err != nil || v.Status != VersionNormal || v.Total != 10 || v.Annotated != 4 || v.UpdateTime != 4000 {
				t.Fatalf("a failure after publishing changed the version: %+v, %v", v, err)
			}
			labels, err := rp.versionLabels(ctx, "v1")
			if err != nil || len(labels) != 1 || labels[0].Name != "cat" {
				t.Fatalf("version labels: %+v, %v", labels, err)
			}
			if ix, err := rp.lineIndex(ctx, "v1"); err != nil || !slices.Equal(ix, []int64{100, 200}) {
				t.Fatalf("line index: %v, %v", ix, err)
			}
		})

		t.Run("newest normal version", func(t *testing.T) {
			// v2 and v3 share a create time: the greater ID is newer.
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				v, err := rp.newestVersion(ctx, tx, a)
				if err != nil || v == nil || v.ID != "v3" {
					return errors.New("newest version is not v3")
				}
				id, name, err := rp.newestNormal(ctx, tx, a)
				if err != nil || id != "v3" || name != "V003" {
					return errors.New("newest normal is not v3")
				}
				if id, _, err := rp.newestNormal(ctx, tx, b); err != nil || id != "" {
					return errors.New("a dataset without normal versions has a newest one")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})

		t.Run("list", func(t *testing.T) {
			creating := VersionCreating
			cases := []struct {
				name  string
				ds    string
				q     VersionQuery
				total int
				want  []string
			}{
				{"newest first", a, VersionQuery{Limit: 10}, 3, []string{"v3", "v2", "v1"}},
				{"offset counts rows", a, VersionQuery{Limit: 1, Offset: 1}, 3, []string{"v2"}},
				{"status", b, VersionQuery{Limit: 10, Status: &creating}, 1, []string{"b1"}},
				{"ratio out of range", a, VersionQuery{Limit: 10, RatioSet: true, RatioMin: 0.9, RatioMax: 1}, 0, nil},
			}
			for _, c := range cases {
				total, vs, err := rp.listVersions(ctx, c.ds, c.q)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				var got []string
				for _, v := range vs {
					got = append(got, v.ID)
				}
				if total != c.total || !slices.Equal(got, c.want) {
					t.Errorf("%s: got %d %v, want %d %v", c.name, total, got, c.total, c.want)
				}
			}
		})

		t.Run("delete", func(t *testing.T) {
			if marked, err := rp.markDeleting(ctx, a, "v3", 5000); err != nil || !marked {
				t.Fatalf("mark v3 deleting: %v, %v", marked, err)
			}
			for i, want := range []bool{true, false} {
				var deleted bool
				err := db.InTx(ctx, func(tx *sql.Tx) error {
					var err error
					deleted, err = rp.deleteVersion(ctx, tx, a, "v3")
					return err
				})
				if err != nil || deleted != want {
					t.Fatalf("delete %d: deleted %v, %v; want %v", i+1, deleted, err, want)
				}
			}
			if marked, err := rp.markDeleting(ctx, a, "v3", 5001); err != nil || marked {
				t.Fatalf("mark a deleted version: %v, %v; want refused", marked, err)
			}
		})
	})
}
