package dataset_test

import (
	"context"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// labelList renders a dataset detail's labels as name[property=value…],
// in order.
func labelList(t *testing.T, svc *dataset.Service, id string) string {
	t.Helper()
	d, err := svc.Get(context.Background(), project, id)
	if err != nil {
		t.Fatalf("get dataset: %v", err)
	}
	var out []string
	for _, l := range d.Labels {
		s := l.Name
		if v := l.Property[dataset.PropShortcut]; v != "" {
			s += "[" + v + "]"
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

// birds counts the samples a list filtered by the label "bird" finds.
func birds(t *testing.T, svc *dataset.Service, id string) int {
	t.Helper()
	_, page, err := svc.ListSamples(context.Background(), project, id, dataset.SampleQuery{LabelName: "bird", Limit: 10})
	if err != nil {
		t.Fatalf("list samples of label bird: %v", err)
	}
	return len(page)
}

// TestDetailLabelsFollowEveryLabelWrite: the dataset detail keeps the label
// list it read, and the sample list the label index (cache.go). Two
// services on one database play two replicas: every kind of label write
// made through one is in the other's next detail and label filter, as in
// its own.
func TestDetailLabelsFollowEveryLabelWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, id := newDataset(t, db, dataset.TypeImageClassification)
		objects, err := obs.NewLocal(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { objects.Close() })
		b, err := dataset.New(dataset.Options{DB: db, Objects: objects})
		if err != nil {
			t.Fatal(err)
		}
		zero := 0
		steps := []struct {
			name  string
			write func(svc *dataset.Service) error
			want  string
			birds int
		}{
			{"create labels", func(svc *dataset.Service) error {
				_, err := svc.CreateLabels(ctx, project, id, []dataset.Label{{Name: "cat", Type: &zero}, {Name: "dog", Type: &zero}})
				return err
			}, "cat,dog", 0},
			{"change a property", func(svc *dataset.Service) error {
				_, err := svc.UpdateLabels(ctx, project, id, []dataset.Label{{Name: "dog", Property: map[string]string{dataset.PropShortcut: "d"}}})
				return err
			}, "cat,dog[d]", 0},
			{"rename", func(svc *dataset.Service) error {
				_, err := svc.UpdateLabels(ctx, project, id, []dataset.Label{{Name: "cat", Property: map[string]string{dataset.PropRenameTo: "kitten"}}})
				return err
			}, "kitten,dog[d]", 0},
			{"a sample brings a new label", func(svc *dataset.Service) error {
				_, err := svc.WriteSamples(ctx, project, id, []dataset.SampleInput{{Source: "obs://data/in/1.jpg", Labels: cls("bird")}}, dataset.WriteOptions{})
				return err
			}, "kitten,dog[d],bird", 1},
			{"delete a label", func(svc *dataset.Service) error {
				_, err := svc.DeleteLabels(ctx, project, id, []dataset.Label{{Name: "kitten"}}, 0)
				return err
			}, "dog[d],bird", 1},
		}
		for i, st := range steps {
			// Both replicas have read (and kept) the list and the index
			// before the write.
			labelList(t, a, id)
			labelList(t, b, id)
			birds(t, a, id)
			birds(t, b, id)
			writer, other := a, b
			if i%2 == 1 {
				writer, other = b, a
			}
			if err := st.write(writer); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if got := labelList(t, writer, id); got != st.want {
				t.Errorf("%s: the writing replica's detail has labels %s, want %s", st.name, got, st.want)
			}
			if got := labelList(t, other, id); got != st.want {
				t.Errorf("%s: the other replica's detail has labels %s, want %s", st.name, got, st.want)
			}
			for _, svc := range []*dataset.Service{writer, other} {
				if got := birds(t, svc, id); got != st.birds {
					t.Errorf("%s: a list of the label bird finds %d samples, want %d", st.name, got, st.birds)
				}
			}
		}
		// The list with labels reads through the same cache.
		_, list, err := b.List(ctx, dataset.Scope{ProjectID: project, WorkspaceID: "0"}, dataset.Query{Limit: 10, WithLabels: true})
		if err != nil || len(list) != 1 {
			t.Fatalf("list datasets: %v %d", err, len(list))
		}
		var got []string
		for _, l := range list[0].Labels {
			got = append(got, l.Name)
		}
		if strings.Join(got, ",") != "dog,bird" {
			t.Errorf("dataset list with labels: %v, want dog,bird", got)
		}
	})
}

// TestWorkspaceLookupIsProjectScoped: the kept workspace of a dataset is
// found through its own project only, and forgotten when the dataset is
// deleted.
func TestWorkspaceLookupIsProjectScoped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, id := newDataset(t, db, dataset.TypeImageClassification)
		for i := range 2 { // the second round reads what the first kept
			if ws, err := svc.Workspace(ctx, project, id); err != nil || ws != "0" {
				t.Fatalf("round %d: workspace of the dataset: %q %v", i, ws, err)
			}
			_, err := svc.Workspace(ctx, "another-project", id)
			if e, ok := dataset.AsError(err); !ok || e.Kind != dataset.KindNotFound {
				t.Fatalf("round %d: workspace through another project: %v, want not found", i, err)
			}
		}
		plan, err := svc.PlanDelete(ctx, project, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.CommitDelete(ctx, plan); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Workspace(ctx, project, id)
		if e, ok := dataset.AsError(err); !ok || e.Kind != dataset.KindNotFound {
			t.Fatalf("workspace of a deleted dataset: %v, want not found", err)
		}
	})
}
