package dataset_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// encodingJSON is a value as responses encode it with encoding/json.
func encodingJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// htmlUnescaped undoes json.Marshal's HTML escapes, which stored documents
// carry and responses need not: the same characters either way.
var htmlUnescaped = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")

// TestSamplePageWritesWhatEncodingJSONWrites: a page written as its rows
// are read, their documents kept (AppendSamplePage), is byte for byte (HTML
// escapes aside) what encoding/json writes for the same page decoded, for
// samples of every shape: with and without labels and metadata, text
// samples, labels with properties and scores, strings that need escapes;
// and it names the same objects.
func TestSamplePageWritesWhatEncodingJSONWrites(t *testing.T) {
	score := 0.875
	odd := "quote \" backslash \\ newline \n tab \t html <b>&</b> unicode 猫 \u2028"
	for _, typ := range []int{dataset.TypeImageClassification, dataset.TypeTextClassification} {
		t.Run(fmt.Sprintf("type-%d", typ), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				svc, id := newDataset(t, db, typ)
				var in []dataset.SampleInput
				for i := range 12 {
					s := dataset.SampleInput{Source: fmt.Sprintf("obs://data/in/dir %d/猫,%02d.jpg", i%3, i), Size: int64(100 + i), SampleTime: 1700000000000 + int64(i)}
					if typ == dataset.TypeTextClassification {
						s = dataset.SampleInput{Source: fmt.Sprintf("%stext %d: %s", dataset.ContentScheme, i, odd), SampleType: 1}
					}
					switch i % 4 {
					case 1:
						s.Labels = cls("cat")
					case 2:
						s.Labels = []annotation.Label{{Name: "dog", Score: &score, Property: map[string]any{"color": odd, "n": 3.5}}, {Name: "cat"}}
						s.Metadata = map[string]any{"camera": map[string]any{"model": odd, "iso": 400.0}, "tags": []any{"a", 1.0, nil, true}}
					case 3:
						s.Metadata = map[string]any{"note": odd}
						s.Usage = "TRAIN"
					}
					in = append(in, s)
				}
				res, err := svc.WriteSamples(ctx, project, id, in, dataset.WriteOptions{})
				if err != nil {
					t.Fatalf("write samples: %v", err)
				}
				for i, r := range res {
					if r.Err != nil {
						t.Fatalf("dataset type %d, sample %d: %v", typ, i, r.Err)
					}
				}
				for _, q := range []dataset.SampleQuery{{Limit: 100}, {Limit: 5, Offset: 1, Asc: true}, {Limit: 100, LabelName: "dog"}, {Limit: 10, LabelName: "none"}} {
					count, decoded, err := svc.ListSamples(ctx, project, id, q)
					if err != nil {
						t.Fatal(err)
					}
					want := string(encodingJSON(t, map[string]any{"sample_count": count, "samples": decoded})) + "\n"
					prefix := "prefix "
					body, objects, err := svc.AppendSamplePage(ctx, project, id, q, []byte(prefix))
					if err != nil {
						t.Fatal(err)
					}
					got, ok := strings.CutPrefix(string(body), prefix)
					if !ok {
						t.Fatalf("type %d, query %+v: AppendSamplePage did not append: %.40s", typ, q, body)
					}
					if htmlUnescaped.Replace(got) != want {
						t.Errorf("type %d, query %+v, documents kept:\nAppendSamplePage %s\nencoding/json    %s", typ, q, got, want)
					}
					var wantObjects []string
					for _, sm := range decoded {
						if p, ok := dataset.ObjectOf(sm.Stored); ok {
							wantObjects = append(wantObjects, p.Bucket+"/"+p.Key)
						}
					}
					var gotObjects []string
					for _, p := range objects {
						gotObjects = append(gotObjects, p.Bucket+"/"+p.Key)
					}
					if !slices.Equal(gotObjects, wantObjects) {
						t.Errorf("type %d, query %+v: objects %v, want %v", typ, q, gotObjects, wantObjects)
					}
					// Decoded samples (as version pages give) are written from
					// their fields.
					b, err := dataset.AppendSampleList(nil, count, decoded)
					if err != nil {
						t.Fatal(err)
					}
					if string(b) != want {
						t.Errorf("type %d, query %+v, decoded:\nAppendSampleList %s\nencoding/json    %s", typ, q, b, want)
					}
				}
			})
		})
	}
}
