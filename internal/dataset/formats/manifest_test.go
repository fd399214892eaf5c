package formats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// show renders a value for a failure message; JSON shows maps sorted and
// pointers followed.
func show(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

func assertEqual(t *testing.T, what string, want, got any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s differs\nwant: %s\n got: %s", what, show(want), show(got))
	}
}

func f64(f float64) *float64 { return &f }

func readAll(t *testing.T, r *Reader) ([]Record, []*LineError) {
	t.Helper()
	var recs []Record
	var lerrs []*LineError
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, lerrs
		}
		var le *LineError
		if errors.As(err, &le) {
			lerrs = append(lerrs, le)
			continue
		}
		if err != nil {
			t.Fatalf("Next after line %d: %v", r.Line(), err)
		}
		recs = append(recs, rec)
	}
}

// TestReaderReference reads every manifest example of the reference
// ("Specifications for Importing a Manifest File").
func TestReaderReference(t *testing.T) {
	ct := func(s string) map[string]any { return map[string]any{PropCreationTime: s} }
	const t19 = "2019-01-23 11:30:30"
	want := []Record{
		{ // image classification
			Source: "s3://path/to/image1.jpg", Usage: UsageTrain, ID: "0162005993f8065ef47eefb59d1e4970",
			SampleType: annotation.SampleImage,
			Labels: []annotation.Label{
				{Name: "cat", Type: annotation.TypeImageClassification, AnnotatedBy: "human", Property: map[string]any{
					"color": "white", "kind": "Persian cat", PropCreationTime: t19,
					annotation.PropHard: "true", annotation.PropHardCoefficient: "0.8",
				}},
				{Name: "animal", Type: annotation.TypeImageClassification, AnnotatedBy: "modelarts/active-learning",
					Score: f64(0.8), Property: ct(t19)},
			},
			Metadata:  map[string]any{annotation.MetaHard: 1.0, annotation.MetaHardCoefficient: 0.8},
			Inference: "/path/to/inference-output",
		},
		{ // image segmentation
			Source: "s3://path/to/image1.jpg", Usage: UsageTrain, ID: "16d196c19bf61994d7deccafa435398c",
			SampleType: annotation.SampleImage,
			AnnotationLocs: []AnnotationLoc{{Loc: "s3://path/to/annotation/image1.xml", Type: annotation.TypeImageSegmentation,
				AnnotatedBy: "human", CreationTime: "2020-12-16 21:36:27"}},
		},
		{ // text classification
			Source: "content://I like this product ", ID: "XGDVGS", SampleType: annotation.SampleText,
			Labels: []annotation.Label{{Name: " positive", Type: annotation.TypeTextClassification, AnnotatedBy: "human", Property: ct(t19)}},
		},
		{ // named entities
			Source: "content://Michael Jordan is the most famous basketball player in the world.", Usage: UsageTrain,
			SampleType: annotation.SampleText,
			Labels: []annotation.Label{
				{Name: "Person", Type: annotation.TypeNamedEntity, AnnotatedBy: "human", Property: map[string]any{
					annotation.PropStartIndex: 0.0, annotation.PropEndIndex: 14.0, PropCreationTime: t19}},
				{Name: "Category", Type: annotation.TypeNamedEntity, AnnotatedBy: "human", Property: map[string]any{
					annotation.PropStartIndex: 34.0, annotation.PropEndIndex: 44.0, PropCreationTime: t19}},
			},
		},
		{ // text triplet
			Source: `content://"Three Body" is a series of long science fiction novels created by Liu Cix.`, Usage: UsageTrain,
			SampleType: annotation.SampleText,
			Labels: []annotation.Label{
				{Name: "Person", ID: "E1", Type: annotation.TypeTripletEntity, AnnotatedBy: "human", Property: map[string]any{
					annotation.PropStartIndex: 67.0, annotation.PropEndIndex: 74.0, PropCreationTime: t19}},
				{Name: "Book", ID: "E2", Type: annotation.TypeTripletEntity, AnnotatedBy: "human", Property: map[string]any{
					annotation.PropStartIndex: 0.0, annotation.PropEndIndex: 12.0, PropCreationTime: t19}},
				{Name: "Author", ID: "R1", Type: annotation.TypeTripletRelation, AnnotatedBy: "human", Property: map[string]any{
					annotation.PropFrom: "E1", annotation.PropTo: "E2", PropCreationTime: t19}},
				{Name: "Works", ID: "R2", Type: annotation.TypeTripletRelation, AnnotatedBy: "human", Property: map[string]any{
					annotation.PropFrom: "E2", annotation.PropTo: "E1", PropCreationTime: t19}},
			},
		},
		{ // object detection
			Source: "s3://path/to/image1.jpg", Usage: UsageTrain, SampleType: annotation.SampleImage,
			AnnotationLocs: []AnnotationLoc{{Loc: "s3://path/to/annotation1.xml", Type: annotation.TypeObjectDetection,
				AnnotatedBy: "human", CreationTime: t19}},
			Metadata: map[string]any{annotation.MetaHard: 1.0, annotation.MetaHardCoefficient: 0.8},
		},
		{ // sound classification
			Source: "s3://path/to/pets.wav", SampleType: annotation.SampleAudio,
			Labels: []annotation.Label{{Name: "cat", Type: annotation.TypeSoundClassification, AnnotatedBy: "human", Property: ct(t19)}},
		},
		{ // speech content
			Source: "s3://path/to/audio1.wav", SampleType: annotation.SampleAudio,
			Labels: []annotation.Label{{Type: annotation.TypeSpeechContent, AnnotatedBy: "human", Property: map[string]any{
				annotation.PropContent: "Today is a good day.", PropCreationTime: t19}}},
		},
		{ // speech paragraphs
			Source: "s3://path/to/audio1.wav", Usage: UsageTrain, SampleType: annotation.SampleAudio,
			Labels: []annotation.Label{
				{Type: annotation.TypeSpeechParagraph, AnnotatedBy: "human", Property: map[string]any{
					annotation.PropStartTime: "00:01:10.123", annotation.PropEndTime: "00:01:15.456",
					annotation.PropSource: "Tom", annotation.PropContent: "How are you?", PropCreationTime: t19}},
				{Type: annotation.TypeSpeechParagraph, AnnotatedBy: "human", Property: map[string]any{
					annotation.PropStartTime: "00:01:22.754", annotation.PropEndTime: "00:01:24.145",
					annotation.PropSource: "Jerry", annotation.PropContent: "I'm fine, thank you.", PropCreationTime: t19}},
			},
		},
		{ // video frame
			Source: "s3://input/path/to/annotation1_t1.473722.jpg", Usage: UsageTrain, ID: "43d88677c1e9a971eeb692a80534b5d5",
			SampleType: annotation.SampleImage,
			AnnotationLocs: []AnnotationLoc{{Loc: "s3://path/to/annotation1_t1.473722.xml", Type: annotation.TypeObjectDetection,
				AnnotatedBy: "human", CreationTime: "2020-10-09 14:08:24"}},
			Metadata: map[string]any{"@modelarts:parent_duration": 8.0, "@modelarts:parent_source": "s3://path/to/annotation1.mp4",
				"@modelarts:time_in_video": 1.473722},
		},
	}
	f, err := os.Open("testdata/reference.manifest")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, lerrs := readAll(t, NewReader(f))
	for _, le := range lerrs {
		t.Errorf("reference example refused: %v", le)
	}
	if len(recs) != len(want) {
		t.Fatalf("read %d records, want %d", len(recs), len(want))
	}
	for i := range want {
		assertEqual(t, fmt.Sprintf("record of reference line %d", i+1), want[i], recs[i])
	}
}

// TestReaderLineErrors checks that each bad line is reported with its
// number and a reason, and that reading goes on with the next line.
func TestReaderLineErrors(t *testing.T) {
	ann := func(a string) string { return `{"source":"s3://b/x.jpg","annotation":[` + a + `]}` }
	cases := []struct {
		name, line, reason string
	}{
		{"not-json", `{"source":`, "not JSON"},
		{"not-an-object", `[1,2]`, "not a JSON object"},
		{"no-source", `{"usage":"TRAIN"}`, `no "source"`},
		{"source-not-a-string", `{"source":5}`, `"source" has the wrong type`},
		{"http-source", `{"source":"http://host/x.jpg"}`, "is not s3://"},
		{"bucket-only", `{"source":"s3://bucket"}`, "does not name an object"},
		{"directory-source", `{"source":"obs://bucket/dir/"}`, "does not name an object"},
		{"dot-dot", `{"source":"images/../x.jpg"}`, `".." segment`},
		{"empty-content", `{"source":"content://"}`, "empty content"},
		{"usage", `{"source":"x.jpg","usage":"VALIDATE"}`, `"usage" "VALIDATE"`},
		{"sample-type", `{"source":"x.jpg","sample-type":3}`, `"sample-type" 3`},
		{"sample-type-fraction", `{"source":"x.jpg","sample-type":0.5}`, `"sample-type" has the wrong type`},
		{"hard", `{"source":"x.jpg","hard":"maybe"}`, `"hard"`},
		{"hard-coefficient", `{"source":"x.jpg","hard-coefficient":2}`, `"hard-coefficient"`},
		{"size", `{"source":"x.jpg","property":{"@modelarts:size":[1]}}`, "@modelarts:size"},
		{"inference-loc", `{"source":"x.jpg","inference-loc":"ftp://x/y"}`, `"inference-loc"`},
		{"no-type", ann(`{"name":"cat"}`), `no "type"`},
		{"unknown-type", ann(`{"type":"modelarts/named_entity","name":"x"}`), `unknown type "modelarts/named_entity"`},
		{"classification-without-name", ann(`{"type":"modelarts/image_classification"}`), `has no "name"`},
		{"detection-without-loc", ann(`{"type":"modelarts/object_detection"}`), `no "annotation-loc"`},
		{"detection-loc-content", ann(`{"type":"modelarts/object_detection","annotation-loc":"content://x"}`), "inline content"},
		{"detection-coco", ann(`{"type":"modelarts/object_detection","annotation-loc":"s3://b/x.json","annotation-format":"COCO"}`), `"annotation-format" "COCO"`},
		{"confidence", ann(`{"type":"modelarts/image_classification","name":"cat","confidence":1.5}`), `"confidence"`},
		{"confidence-string", ann(`{"type":"modelarts/image_classification","name":"cat","confidence":"0.5"}`), `"annotation.confidence" has the wrong type`},
		{"label-hard", ann(`{"type":"modelarts/image_classification","name":"cat","hard":"often"}`), `"hard"`},
		{"property-not-object", ann(`{"type":"modelarts/image_classification","name":"cat","property":[]}`), "wrong type"},
		{"start-index-string", ann(`{"type":"text_entity","name":"P","property":{"@modelarts:start_index":"0","@modelarts:end_index":3}}`), "@modelarts:start_index is not a whole number"},
		{"start-index-fraction", ann(`{"type":"text_entity","name":"P","property":{"@modelarts:start_index":0.5,"@modelarts:end_index":3}}`), "@modelarts:start_index is not a whole number"},
		{"entity-empty", ann(`{"type":"text_entity","name":"P","property":{"@modelarts:start_index":3,"@modelarts:end_index":3}}`), "is not before"},
		{"entity-without-end", ann(`{"type":"text_entity","name":"P","property":{"@modelarts:start_index":3}}`), "no @modelarts:end_index"},
		{"relation-without-to", ann(`{"type":"text_triplet","name":"R","id":"R1","property":{"@modelarts:from":"E1"}}`), "no @modelarts:to"},
		{"relation-without-id", ann(`{"type":"text_triplet","name":"R","property":{"@modelarts:from":"E1","@modelarts:to":"E1"}}`), `needs a "name" and an "id"`},
		{"relation-to-nothing", ann(`{"type":"text_entity","name":"P","id":"E1","property":{"@modelarts:start_index":0,"@modelarts:end_index":1}},` +
			`{"type":"text_triplet","name":"R","id":"R1","property":{"@modelarts:from":"E1","@modelarts:to":"E9"}}`), `"E9" is no text_entity id`},
		{"entity-id-twice", ann(`{"type":"text_entity","name":"P","id":"E1","property":{"@modelarts:start_index":0,"@modelarts:end_index":1}},` +
			`{"type":"text_entity","name":"Q","id":"E1","property":{"@modelarts:start_index":1,"@modelarts:end_index":2}},` +
			`{"type":"text_triplet","name":"R","id":"R1","property":{"@modelarts:from":"E1","@modelarts:to":"E1"}}`), `"E1" is used twice`},
		{"triplet-entity-id", ann(`{"type":"text_entity","name":"P","id":"P1","property":{"@modelarts:start_index":0,"@modelarts:end_index":1}},` +
			`{"type":"text_triplet","name":"R","id":"R1","property":{"@modelarts:from":"P1","@modelarts:to":"P1"}}`), `"P1" of a triplet sample is not E<number>`},
		{"entity-ids-of-two-forms", ann(`{"type":"text_entity","name":"P","id":"E1","property":{"@modelarts:start_index":0,"@modelarts:end_index":1}},` +
			`{"type":"text_entity","name":"Q","property":{"@modelarts:start_index":1,"@modelarts:end_index":2}}`), `"" of a triplet sample is not E<number>`},
		{"metadata-hard", `{"source":"x.jpg","property":{"@modelarts:hard":"often"}}`, "@modelarts:hard is not"},
		{"from-not-string", ann(`{"type":"text_triplet","name":"R","id":"R1","property":{"@modelarts:from":1,"@modelarts:to":"E1"}}`), "@modelarts:from is not a string"},
		{"content-missing", ann(`{"type":"modelarts/audio_content"}`), "no @modelarts:content"},
		{"time-format", ann(`{"type":"audio_segmentation","property":{"@modelarts:start_time":"1:2:3","@modelarts:end_time":"00:00:04.000"}}`), "is not hh:mm:ss.SSS"},
		{"time-order", ann(`{"type":"audio_segmentation","property":{"@modelarts:start_time":"00:00:05.000","@modelarts:end_time":"00:00:04.999"}}`), "is after"},
		{"feature-without-shape", ann(`{"type":"image_classification","name":"c","property":{"@modelarts:feature":[[0,0],[1,1]]}}`), "without @modelarts:shape"},
		{"bad-feature", ann(`{"type":"image_classification","name":"c","property":{"@modelarts:shape":"bndbox","@modelarts:feature":[[5,5],[1,1]]}}`), "upper-left"},
		{"mixed-kinds", ann(`{"type":"image_classification","name":"c"},{"type":"audio_content","property":{"@modelarts:content":"x"}}`), "another kind of sample"},
		{"not-utf8", "{\"source\":\"x\xff.jpg\"}", "not UTF-8"},
	}
	const good = `{"source":"s3://bucket/good.jpg"}`
	var in strings.Builder
	for _, c := range cases {
		in.WriteString(c.line + "\n" + good + "\n")
	}
	r := NewReader(strings.NewReader(in.String()))
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := r.Next()
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("line %q: got %v, want a *LineError", c.line, err)
			}
			if le.Line != 2*i+1 {
				t.Errorf("LineError.Line = %d, want %d", le.Line, 2*i+1)
			}
			if !strings.Contains(le.Reason, c.reason) {
				t.Errorf("reason %q does not say %q", le.Reason, c.reason)
			}
			rec, err := r.Next()
			if err != nil || rec.Source != "s3://bucket/good.jpg" {
				t.Errorf("the good line after it: got %+v, %v", rec, err)
			}
		})
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last line: got %v, want io.EOF", err)
	}
}

func TestReaderLines(t *testing.T) {
	in := "\xef\xbb\xbf" + `{"source":"a.jpg"}` + "\r\n" +
		"\n   \t\r\n" +
		`{"source":"/bucket/b.wav"}` + "\n" +
		`{"source":"content://last, without newline"}`
	r := NewReader(strings.NewReader(in))
	want := []struct {
		line       int
		source     string
		sampleType int
	}{
		{1, "a.jpg", annotation.SampleImage},
		{4, "/bucket/b.wav", annotation.SampleAudio},
		{5, "content://last, without newline", annotation.SampleText},
	}
	for _, w := range want {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("want line %d, got %v", w.line, err)
		}
		if rec.Source != w.source || r.Line() != w.line || rec.SampleType != w.sampleType {
			t.Errorf("got %q (sample type %d) at line %d, want %q (%d) at line %d", rec.Source, rec.SampleType, r.Line(), w.source, w.sampleType, w.line)
		}
	}
	for range 2 {
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("at the end: got %v, want io.EOF every time", err)
		}
	}
}

func TestReaderLongLine(t *testing.T) {
	long := `{"source":"content://` + strings.Repeat("a", MaxLine) + `"}`
	fits := `{"source":"content://` + strings.Repeat("b", MaxLine-len(`{"source":"content://"}`)) + `"}`
	in := `{"source":"a.jpg"}` + "\n" + long + "\n" + fits + "\n" + `{"source":"c.jpg"}` + "\n"
	r := NewReader(strings.NewReader(in))
	if rec, err := r.Next(); err != nil || rec.Source != "a.jpg" {
		t.Fatalf("line 1: %+v, %v", rec, err)
	}
	_, err := r.Next()
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || !strings.Contains(le.Reason, "longer than") {
		t.Fatalf("line 2 of %d bytes: got %v, want a LineError saying it is too long", len(long), err)
	}
	rec, err := r.Next()
	if err != nil || len(rec.Source) != MaxLine-len(`{"source":""}`) {
		t.Fatalf("line 3 of exactly MaxLine bytes: got %d bytes of source, %v", len(rec.Source), err)
	}
	if rec, err := r.Next(); err != nil || rec.Source != "c.jpg" || r.Line() != 4 {
		t.Fatalf("line 4: %+v, %v at line %d", rec, err, r.Line())
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader(`{"source":"a.jpg"}`+"\n"), iotest.ErrReader(boom)))
	if _, err := r.Next(); err != nil {
		t.Fatalf("first line: %v", err)
	}
	for range 2 {
		_, err := r.Next()
		var le *LineError
		if !errors.Is(err, boom) || errors.As(err, &le) {
			t.Fatalf("got %v, want the read error, every time, not a LineError", err)
		}
	}
}

// TestRoundTrip writes a record of every annotation kind and reads it back.
func TestRoundTrip(t *testing.T) {
	box := func(name string, x0, y0, x1, y1 float64) annotation.Label {
		return annotation.Label{Name: name, Type: annotation.TypeObjectDetection, AnnotatedBy: "human", Property: map[string]any{
			annotation.PropShape: ShapeBndBox, annotation.PropFeature: []any{[]any{x0, y0}, []any{x1, y1}},
			PropCreationTime: "2024-05-01 10:00:00"}}
	}
	cases := []struct {
		name string
		rec  Record
		// voc is the image size of the record's VOC file, if it has one.
		voc *VOCSize
	}{
		{name: "unlabeled", rec: Record{Source: "s3://bucket/images/1.jpg", SampleType: annotation.SampleImage}},
		{name: "image-classification", rec: Record{
			Source: "obs://bucket/images/2.jpg", Usage: UsageTrain, ID: "0162005993f8065ef47eefb59d1e4970",
			SampleType: annotation.SampleImage,
			Labels: []annotation.Label{
				{Name: "cat", Type: annotation.TypeImageClassification, AnnotatedBy: "human", Property: map[string]any{
					"color": "white", annotation.PropHard: "true", annotation.PropHardCoefficient: "0.8", PropCreationTime: "2019-01-23 11:30:30"}},
				{Name: "animal", Type: annotation.TypeImageClassification, AnnotatedBy: "modelarts/active-learning", Score: f64(0.75)},
			},
			Metadata:  map[string]any{annotation.MetaHard: 1.0, annotation.MetaHardCoefficient: 0.5, "@modelarts:import_origin": 0.0},
			Inference: "s3://bucket/inference/2.json",
		}},
		{name: "object-detection-via-voc", voc: &VOCSize{640, 480, 3}, rec: Record{
			Source: "s3://bucket/images/3.jpg", Usage: UsageEval, SampleType: annotation.SampleImage,
			Labels: []annotation.Label{
				box("car", 10, 20, 110, 220),
				box("person", 0, 0, 640, 480),
				{Name: "lane", Type: annotation.TypeObjectDetection, AnnotatedBy: "human", Score: f64(0.5), Property: map[string]any{
					annotation.PropShape: ShapePolyline, annotation.PropFeature: []any{[]any{1.5, 2.0}, []any{3.0, 4.0}, []any{5.0, 6.0}},
					PropPose: "Left", PropDifficult: "1", annotation.PropHardCoefficient: "0.25", PropCreationTime: "2024-05-01 10:00:00"}},
				{Name: "ball", Type: annotation.TypeObjectDetection, AnnotatedBy: "human", Property: map[string]any{
					annotation.PropShape: ShapeCircle, annotation.PropFeature: []any{[]any{100.0, 100.0}, []any{50.0}},
					PropCreationTime: "2024-05-01 10:00:00"}},
			},
			AnnotationLocs: []AnnotationLoc{{Loc: "s3://bucket/annotations/3.xml", Type: annotation.TypeObjectDetection,
				AnnotatedBy: "human", CreationTime: "2024-05-01 10:00:00"}},
			Metadata: map[string]any{annotation.MetaSize: []any{640.0, 480.0, 3.0}},
		}},
		{name: "image-segmentation-polygons", voc: &VOCSize{230, 300, 3}, rec: Record{
			Source: "s3://bucket/images/4.jpg", SampleType: annotation.SampleImage,
			Labels: []annotation.Label{{Name: "bike", Type: annotation.TypeImageSegmentation, AnnotatedBy: "auto", Property: map[string]any{
				annotation.PropShape:   ShapePolygon,
				annotation.PropFeature: []any{[]any{71.0, 48.0}, []any{75.0, 73.0}, []any{49.0, 69.0}, []any{68.0, 92.0}},
				PropMaskColor:          "193,243,53",
			}}},
			AnnotationLocs: []AnnotationLoc{{Loc: "annotations/4.xml", Type: annotation.TypeImageSegmentation, AnnotatedBy: "auto"}},
			Metadata:       map[string]any{annotation.MetaSize: []any{230.0, 300.0, 3.0}},
		}},
		{name: "text-classification", rec: Record{
			Source: "content://I like this product <a & b>\t\"quoted\"", SampleType: annotation.SampleText,
			Labels: []annotation.Label{{Name: "positive", Type: annotation.TypeTextClassification, AnnotatedBy: "human"}},
		}},
		{name: "named-entities-with-offsets", rec: Record{
			Source: "content://Michael Jordan is the most famous basketball player in the world.", Usage: UsageTest,
			SampleType: annotation.SampleText,
			Labels: []annotation.Label{
				{Name: "Person", Type: annotation.TypeNamedEntity, Property: map[string]any{
					annotation.PropStartIndex: 0.0, annotation.PropEndIndex: 14.0}},
				{Name: "Category", ID: "c0ffee", Type: annotation.TypeNamedEntity, Property: map[string]any{
					annotation.PropStartIndex: 34.0, annotation.PropEndIndex: 44.0}},
			},
		}},
		{name: "text-triplets", rec: Record{
			Source:     `content://"Three Body" is a series of long science fiction novels created by Liu Cix.`,
			SampleType: annotation.SampleText,
			Labels: []annotation.Label{
				{Name: "Person", ID: "E1", Type: annotation.TypeTripletEntity, Property: map[string]any{
					annotation.PropStartIndex: 67.0, annotation.PropEndIndex: 74.0}},
				{Name: "Book", ID: "E2", Type: annotation.TypeTripletEntity, Property: map[string]any{
					annotation.PropStartIndex: 0.0, annotation.PropEndIndex: 12.0}},
				{Name: "Author", ID: "R1", Type: annotation.TypeTripletRelation, Property: map[string]any{
					annotation.PropFrom: "E1", annotation.PropTo: "E2"}},
				{Name: "Works", ID: "R2", Type: annotation.TypeTripletRelation, Property: map[string]any{
					annotation.PropFrom: "E2", annotation.PropTo: "E1"}},
			},
		}},
		{name: "triplet-entities-without-relations", rec: Record{
			Source: "texts/7.txt", SampleType: annotation.SampleText,
			Labels: []annotation.Label{{Name: "Person", ID: "E1", Type: annotation.TypeTripletEntity, Property: map[string]any{
				annotation.PropStartIndex: 1.0, annotation.PropEndIndex: 4.0}}},
		}},
		{name: "audio-classification", rec: Record{
			Source: "s3://bucket/audio/pets.wav", SampleType: annotation.SampleAudio,
			Labels: []annotation.Label{{Name: "cat", Type: annotation.TypeSoundClassification, AnnotatedBy: "human"},
				{Name: "dog", Type: annotation.TypeSoundClassification, AnnotatedBy: "human"}},
		}},
		{name: "audio-content", rec: Record{
			Source: "s3://bucket/audio/1.wav", SampleType: annotation.SampleAudio,
			Labels: []annotation.Label{{Type: annotation.TypeSpeechContent, AnnotatedBy: "human", Property: map[string]any{
				annotation.PropContent: "Today is a good day."}}},
		}},
		{name: "audio-segments", rec: Record{
			Source: "s3://bucket/audio/2.wav", Usage: UsageTrain, SampleType: annotation.SampleAudio,
			Labels: []annotation.Label{
				{Type: annotation.TypeSpeechParagraph, Property: map[string]any{
					annotation.PropStartTime: "00:01:10.123", annotation.PropEndTime: "00:01:15.456",
					annotation.PropSource: "Tom", annotation.PropContent: "How are you?"}},
				{Type: annotation.TypeSpeechParagraph, Property: map[string]any{
					annotation.PropStartTime: "00:01:22.754", annotation.PropEndTime: "00:01:24.145"}},
			},
		}},
		{name: "video-frame", voc: &VOCSize{767, 959, 3}, rec: Record{
			Source: "s3://bucket/frames/a_t1.473722.jpg", Usage: UsageTrain, ID: "43d88677c1e9a971eeb692a80534b5d5",
			SampleType: annotation.SampleImage,
			Labels:     []annotation.Label{box("bag", 108, 101, 251, 238)},
			AnnotationLocs: []AnnotationLoc{{Loc: "s3://bucket/annotations/a_t1.473722.xml", Type: annotation.TypeObjectDetection,
				AnnotatedBy: "human", CreationTime: "2024-05-01 10:00:00"}},
			Metadata: map[string]any{"@modelarts:parent_duration": 8.0, "@modelarts:parent_source": "s3://bucket/a.mp4",
				"@modelarts:time_in_video": 1.473722, annotation.MetaSize: []any{767.0, 959.0, 3.0}},
		}},
		{name: "free-format", rec: Record{Source: "s3://bucket/misc/data.bin", SampleType: annotation.SampleCustom}},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	vocs := map[string][]byte{}
	for _, c := range cases {
		if err := w.Write(c.rec); err != nil {
			t.Fatalf("%s: Write: %v", c.name, err)
		}
		if c.voc != nil {
			doc, err := VOCFromLabels("x.jpg", c.voc.Width, c.voc.Height, c.voc.Depth, c.rec.Labels)
			if err != nil {
				t.Fatalf("%s: VOCFromLabels: %v", c.name, err)
			}
			var vb bytes.Buffer
			if err := WriteVOC(&vb, doc); err != nil {
				t.Fatalf("%s: WriteVOC: %v", c.name, err)
			}
			vocs[c.rec.AnnotationLocs[0].Loc] = vb.Bytes()
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != len(cases) {
		t.Fatalf("wrote %d lines for %d records:\n%s", n, len(cases), buf.String())
	}
	r := NewReader(&buf)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := r.Next()
			if err != nil {
				t.Fatalf("reading back line %d: %v", r.Line(), err)
			}
			for _, loc := range got.AnnotationLocs {
				doc, err := ParseVOC(bytes.NewReader(vocs[loc.Loc]))
				if err != nil {
					t.Fatalf("ParseVOC of %s: %v", loc.Loc, err)
				}
				got.AddVOC(loc, doc)
			}
			assertEqual(t, "record read back", c.rec, got)
		})
	}
}

func TestWriterRefuses(t *testing.T) {
	entity := func(id string, typ int) annotation.Label {
		return annotation.Label{Name: "P", ID: id, Type: typ, Property: map[string]any{
			annotation.PropStartIndex: 0.0, annotation.PropEndIndex: 1.0}}
	}
	cases := []struct {
		name   string
		rec    Record
		reason string
	}{
		{"no-source", Record{}, `no "source"`},
		{"bad-source", Record{Source: "file:///etc/passwd"}, "is not s3://"},
		{"usage", Record{Source: "a.jpg", Usage: "SOMETIMES"}, "usage"},
		{"detection-without-loc", Record{Source: "a.jpg", Labels: []annotation.Label{{Name: "car", Type: annotation.TypeObjectDetection}}}, "need an AnnotationLoc"},
		{"video-label", Record{Source: "a.mp4", Labels: []annotation.Label{{Name: "x", Type: annotation.TypeVideo}}}, "type 600 has no manifest annotation type"},
		{"classification-without-name", Record{Source: "a.jpg", Labels: []annotation.Label{{Type: annotation.TypeImageClassification}}}, `has no "name"`},
		{"triplet-entity-id", Record{Source: "content://x", Labels: []annotation.Label{entity("P1", annotation.TypeTripletEntity)}}, "is not E<number>"},
		{"named-entity-with-triplet-id", Record{Source: "content://x", Labels: []annotation.Label{entity("E1", annotation.TypeNamedEntity)}}, "would read back as one"},
		{"named-entity-beside-triplets", Record{Source: "content://x", Labels: []annotation.Label{entity("", annotation.TypeNamedEntity), entity("E2", annotation.TypeTripletEntity)}}, "would read back as a triplet entity"},
		{"relation-to-nothing", Record{Source: "content://x", Labels: []annotation.Label{{Name: "R", ID: "R1", Type: annotation.TypeTripletRelation,
			Property: map[string]any{annotation.PropFrom: "E1", annotation.PropTo: "E2"}}}}, "is no text_entity id"},
		{"start-index-type", Record{Source: "content://x", Labels: []annotation.Label{{Name: "P", Type: annotation.TypeNamedEntity,
			Property: map[string]any{annotation.PropStartIndex: "0", annotation.PropEndIndex: 1}}}}, "start_index is not a whole number"},
		{"score", Record{Source: "a.jpg", Labels: []annotation.Label{{Name: "c", Type: annotation.TypeImageClassification, Score: f64(2)}}}, "confidence"},
		{"creation-time-type", Record{Source: "a.jpg", Labels: []annotation.Label{{Name: "c", Type: annotation.TypeImageClassification,
			Property: map[string]any{PropCreationTime: 5}}}}, "creation_time is not a string"},
		{"metadata-hard", Record{Source: "a.jpg", Metadata: map[string]any{annotation.MetaHard: "maybe"}}, "@modelarts:hard"},
		{"unencodable-property", Record{Source: "a.jpg", Labels: []annotation.Label{{Name: "c", Type: annotation.TypeImageClassification,
			Property: map[string]any{"weight": func() {}}}}}, "unsupported type"},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := w.Write(c.rec)
			if err == nil || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("Write: got %v, want an error saying %q", err, c.reason)
			}
		})
	}
	if err := w.Write(Record{Source: "s3://bucket/ok.jpg"}); err != nil {
		t.Fatalf("Write after refused records: %v", err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), `{"source":"s3://bucket/ok.jpg","sample-type":0}`+"\n"; got != want {
		t.Errorf("refused records left output behind:\n got %q\nwant %q", got, want)
	}
}

// TestWriterDoesNotModify checks that Write leaves the caller's maps alone
// when it moves property keys to manifest fields.
func TestWriterDoesNotModify(t *testing.T) {
	prop := map[string]any{PropCreationTime: "2024-01-01 00:00:00", annotation.PropHard: "1", "color": "red"}
	meta := map[string]any{annotation.MetaHard: 1.0, "k": "v"}
	rec := Record{Source: "a.jpg", Labels: []annotation.Label{{Name: "c", Type: 0, Property: prop}}, Metadata: meta}
	if err := NewWriter(io.Discard).Write(rec); err != nil {
		t.Fatal(err)
	}
	if len(prop) != 3 || len(meta) != 2 {
		t.Errorf("Write changed the record's maps: property %v, metadata %v", prop, meta)
	}
}

func TestWriterWriteError(t *testing.T) {
	boom := errors.New("disk full")
	w := NewWriter(errWriter{boom})
	if err := w.Write(Record{Source: "a.jpg"}); err != nil {
		t.Fatalf("a buffered Write failed early: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush: got %v, want %v", err, boom)
	}
	if err := w.Write(Record{Source: "b.jpg"}); !errors.Is(err, boom) {
		t.Fatalf("Write after a failed Flush: got %v, want the same error", err)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func TestAnnotationTypeTable(t *testing.T) {
	for _, k := range annotationKinds {
		name, ok := AnnotationType(k.labelType)
		if !ok || name != typePrefix+k.name {
			t.Errorf("AnnotationType(%d) = %q, %v; want %q", k.labelType, name, ok, typePrefix+k.name)
		}
		for _, n := range []string{k.name, typePrefix + k.name} {
			if lt, st, ok := LabelType(n); !ok || lt != k.labelType || st != k.sampleType {
				t.Errorf("LabelType(%q) = %d, %d, %v; want %d, %d", n, lt, st, ok, k.labelType, k.sampleType)
			}
		}
	}
	if name, _ := AnnotationType(annotation.TypeTripletEntity); name != "modelarts/text_entity" {
		t.Errorf("a triplet entity is written as %q, want modelarts/text_entity", name)
	}
	if _, ok := AnnotationType(annotation.TypeVideo); ok {
		t.Error("video labels got a manifest type; the reference has none")
	}
}

func TestParseClock(t *testing.T) {
	cases := []struct {
		in string
		ms int64
		ok bool
	}{
		{"00:01:10.123", 70123, true},
		{"00:00:00", 0, true},
		{"100:00:01.5", 360_000_000 + 1500, true},
		{"00:00:01.123456", 1123, true},
		{"00:60:00.000", 0, false},
		{"00:00:60.000", 0, false},
		{"0:0:1", 0, false},
		{"00:00:01.", 0, false},
		{"00:00:+1.000", 0, false},
		{"-1:00:00.000", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		ms, ok := parseClock(c.in)
		if ok != c.ok || (ok && ms != c.ms) {
			t.Errorf("parseClock(%q) = %d, %v; want %d, %v", c.in, ms, ok, c.ms, c.ok)
		}
	}
}

// FuzzReader: no input makes the reader panic, and what it reads the
// writer writes, and reads back the same after one rewrite (the first
// rewrite may normalise: "hard" values, number forms).
func FuzzReader(f *testing.F) {
	ref, err := os.ReadFile("testdata/reference.manifest")
	if err != nil {
		f.Fatal(err)
	}
	for line := range bytes.Lines(ref) {
		f.Add(line)
	}
	f.Add([]byte(`{"source":"a.jpg","annotation":[{"type":"text_entity","name":"x","id":"E1","property":{"@modelarts:start_index":0,"@modelarts:end_index":2}}]}`))
	f.Add([]byte(`{"source":"a.jpg","hard":1,"property":{"@modelarts:hard":"false"}}` + "\n\n{}"))
	f.Fuzz(func(t *testing.T, in []byte) {
		recs, _ := readAll(t, NewReader(bytes.NewReader(in)))
		rewrite := func(recs []Record) []Record {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			for _, rec := range recs {
				if err := w.Write(rec); err != nil {
					t.Fatalf("writing back %s: %v", show(rec), err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			back, lerrs := readAll(t, NewReader(&buf))
			if len(lerrs) > 0 {
				t.Fatalf("reading back %q: %v", buf.String(), lerrs[0])
			}
			return back
		}
		once := rewrite(recs)
		twice := rewrite(once)
		assertEqual(t, "records after a second rewrite", once, twice)
	})
}

// benchLines is a mix of manifest lines like those of real imports.
func benchLines(n int) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for i := range n {
		var rec Record
		switch i % 4 {
		case 0, 1:
			rec = Record{Source: fmt.Sprintf("obs://bucket/images/%08d.jpg", i), Usage: UsageTrain, SampleType: annotation.SampleImage,
				Labels: []annotation.Label{{Name: fmt.Sprintf("label-%02d", i%20), Type: annotation.TypeImageClassification,
					AnnotatedBy: "human", Property: map[string]any{PropCreationTime: "2024-05-01 10:00:00"}}}}
		case 2:
			rec = Record{Source: fmt.Sprintf("obs://bucket/images/%08d.jpg", i), SampleType: annotation.SampleImage,
				Labels: []annotation.Label{{Name: "car", Type: annotation.TypeObjectDetection}},
				AnnotationLocs: []AnnotationLoc{{Loc: fmt.Sprintf("obs://bucket/annotations/%08d.xml", i),
					Type: annotation.TypeObjectDetection, AnnotatedBy: "human", CreationTime: "2024-05-01 10:00:00"}}}
		case 3:
			rec = Record{Source: fmt.Sprintf("content://review number %d: it touches good and responds quickly", i),
				SampleType: annotation.SampleText,
				Labels:     []annotation.Label{{Name: "positive", Type: annotation.TypeTextClassification, AnnotatedBy: "human"}}}
		}
		if err := w.Write(rec); err != nil {
			panic(err)
		}
	}
	if err := w.Flush(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// cycleReader repeats data rounds times.
type cycleReader struct {
	data   []byte
	off    int
	rounds int
}

func (c *cycleReader) Read(p []byte) (int, error) {
	if c.rounds == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.data[c.off:])
	c.off += n
	if c.off == len(c.data) {
		c.off = 0
		c.rounds--
	}
	return n, nil
}

// BenchmarkReader reads b.N manifest lines; lines/s is the figure to keep
// above 50,000 on two cores.
func BenchmarkReader(b *testing.B) {
	const block = 1000
	data := benchLines(block)
	b.SetBytes(int64(len(data) / block))
	b.ReportAllocs()
	r := NewReader(&cycleReader{data: data, rounds: (b.N + block - 1) / block})
	b.ResetTimer()
	for range b.N {
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkWriter(b *testing.B) {
	rec := Record{Source: "obs://bucket/images/00000001.jpg", Usage: UsageTrain, SampleType: annotation.SampleImage,
		Labels: []annotation.Label{{Name: "label-01", Type: annotation.TypeImageClassification, AnnotatedBy: "human",
			Property: map[string]any{PropCreationTime: "2024-05-01 10:00:00"}}}}
	w := NewWriter(io.Discard)
	b.ReportAllocs()
	for range b.N {
		if err := w.Write(rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
