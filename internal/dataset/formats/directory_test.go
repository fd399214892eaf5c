package formats

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

func TestClassify(t *testing.T) {
	obj := func(keys ...string) []Object {
		out := make([]Object, len(keys))
		for i, k := range keys {
			out[i] = Object{Key: k, Size: 100}
		}
		return out
	}
	img := func(key string, labels ...string) DirSample {
		s := DirSample{Key: key, Size: 100, SampleType: annotation.SampleImage}
		for _, l := range labels {
			s.Labels = append(s.Labels, annotation.Label{Name: l, Type: annotation.TypeImageClassification})
		}
		return s
	}
	labelled := func(key, annKey, format string, sampleType int) DirSample {
		return DirSample{Key: key, Size: 100, SampleType: sampleType, AnnotationKey: annKey, AnnotationFormat: format}
	}
	sound := func(key string, labels ...string) DirSample {
		s := DirSample{Key: key, Size: 100, SampleType: annotation.SampleAudio}
		for _, l := range labels {
			s.Labels = append(s.Labels, annotation.Label{Name: l, Type: annotation.TypeSoundClassification})
		}
		return s
	}
	plain := func(key string, sampleType int) DirSample {
		return DirSample{Key: key, Size: 100, SampleType: sampleType}
	}
	skip := func(key, reason string) Skipped { return Skipped{Key: key, Reason: reason} }
	const noSample = "a label file without a sample of the same name"
	cases := []struct {
		name    string
		opts    DirOptions
		objects []Object
		samples []DirSample
		skipped []Skipped
	}{
		{
			name: "image-classification-imagenet",
			opts: DirOptions{Prefix: "import/", DatasetType: annotation.TypeImageClassification},
			objects: append(obj("import/1.jpg", "import/Rabbit/10.jpg", "import/Rabbit/11.JPG", "import/Panda/sub/2.png",
				"import/notes.md", "import/Panda/", "import/README", "import/x.gif", "import/v1.2/README", "import/.İ"),
				Object{Key: "import/Panda/empty.jpg"}),
			samples: []DirSample{img("import/1.jpg"), img("import/Rabbit/10.jpg", "Rabbit"), img("import/Rabbit/11.JPG", "Rabbit"),
				img("import/Panda/sub/2.png", "sub")},
			skipped: []Skipped{skip("import/notes.md", `extension "md" is not one of jpg, jpeg, png, bmp`),
				skip("import/README", "no file extension; want jpg, jpeg, png, bmp"),
				skip("import/x.gif", `extension "gif" is not one of jpg, jpeg, png, bmp`),
				skip("import/v1.2/README", "no file extension; want jpg, jpeg, png, bmp"),
				skip("import/.İ", `extension "İ" is not one of jpg, jpeg, png, bmp`),
				skip("import/Panda/empty.jpg", "an empty file")},
		},
		{
			name: "image-classification-label-files",
			opts: DirOptions{DatasetType: annotation.TypeImageClassification},
			objects: obj("import-dir-1/10.jpg", "import-dir-1/10.txt", "import-dir-1/11.jpg", "import-dir-2/1.bmp", "import-dir-2/1.TXT",
				"orphan.txt"),
			samples: []DirSample{
				labelled("import-dir-1/10.jpg", "import-dir-1/10.txt", FormatLabelList, annotation.SampleImage),
				img("import-dir-1/11.jpg", "import-dir-1"),
				labelled("import-dir-2/1.bmp", "import-dir-2/1.TXT", FormatLabelList, annotation.SampleImage),
			},
			skipped: []Skipped{skip("orphan.txt", noSample)},
		},
		{
			name: "object-detection-voc",
			opts: DirOptions{Prefix: "d/", DatasetType: annotation.TypeObjectDetection},
			objects: obj("d/a.jpg", "d/a.xml", "d/b.png", "d/c.xml", "d/d.jpg", "d/d.txt", "d/d.xml", "d/e.JPG", "d/e.XML",
				// Groups nest: x.k.* sorts between x.jpg and x.xml.
				"d/x.jpg", "d/x.k.jpg", "d/x.k.xml", "d/x.xml", "d/Cars/y.jpeg", "d/Cars/y.xml"),
			samples: []DirSample{
				labelled("d/a.jpg", "d/a.xml", FormatVOC, annotation.SampleImage),
				img("d/b.png"),
				labelled("d/d.jpg", "d/d.xml", FormatVOC, annotation.SampleImage),
				labelled("d/e.JPG", "d/e.XML", FormatVOC, annotation.SampleImage),
				labelled("d/x.jpg", "d/x.xml", FormatVOC, annotation.SampleImage),
				labelled("d/x.k.jpg", "d/x.k.xml", FormatVOC, annotation.SampleImage),
				labelled("d/Cars/y.jpeg", "d/Cars/y.xml", FormatVOC, annotation.SampleImage),
			},
			skipped: []Skipped{skip("d/c.xml", noSample), skip("d/d.txt", "a second label file; d/d.xml labels the sample")},
		},
		{
			name: "object-detection-yolo",
			opts: DirOptions{Prefix: "yolo_dataset/", DatasetType: annotation.TypeObjectDetection},
			objects: obj("yolo_dataset/obj.data", "yolo_dataset/obj.names", "yolo_dataset/train.txt", "yolo_dataset/valid.txt",
				"yolo_dataset/obj_train_data/image1.jpg", "yolo_dataset/obj_train_data/image1.txt",
				"yolo_dataset/obj_valid_data/image101.jpg"),
			samples: []DirSample{
				labelled("yolo_dataset/obj_train_data/image1.jpg", "yolo_dataset/obj_train_data/image1.txt", FormatYOLO, annotation.SampleImage),
				img("yolo_dataset/obj_valid_data/image101.jpg"),
			},
			skipped: []Skipped{
				skip("yolo_dataset/obj.data", "a file that describes a YOLO dataset, not a sample"),
				skip("yolo_dataset/obj.names", "a file that describes a YOLO dataset, not a sample"),
				skip("yolo_dataset/train.txt", "a file that describes a YOLO dataset, not a sample"),
				skip("yolo_dataset/valid.txt", "a file that describes a YOLO dataset, not a sample"),
			},
		},
		{
			name:    "image-segmentation",
			opts:    DirOptions{DatasetType: annotation.TypeImageSegmentation},
			objects: obj("IMG_1.jpg", "IMG_1.xml", "IMG_2.jpg", "IMG_2.txt"),
			samples: []DirSample{labelled("IMG_1.jpg", "IMG_1.xml", FormatVOC, annotation.SampleImage), img("IMG_2.jpg")},
			skipped: []Skipped{skip("IMG_2.txt", `extension "txt" is not one of jpg, jpeg, png, bmp`)},
		},
		{
			name:    "text-classification-combined",
			opts:    DirOptions{DatasetType: annotation.TypeTextClassification},
			objects: obj("a.txt", "b.CSV", "c.json"),
			samples: []DirSample{labelled("a.txt", "a.txt", FormatTextCombined, annotation.SampleText),
				labelled("b.CSV", "b.CSV", FormatTextCombined, annotation.SampleText)},
			skipped: []Skipped{skip("c.json", `extension "json" is not one of txt, csv`)},
		},
		{
			name: "text-classification-result-files",
			opts: DirOptions{DatasetType: annotation.TypeTextClassification, Text: TextFormat{LabelType: "0"}},
			objects: obj("COMMENTS_1.txt", "COMMENTS_10.txt", "COMMENTS_10_result.txt", "COMMENTS_1_result.txt",
				"lonely_result.txt", "solo.txt", "x.md"),
			samples: []DirSample{
				labelled("COMMENTS_1.txt", "COMMENTS_1_result.txt", FormatTextResult, annotation.SampleText),
				labelled("COMMENTS_10.txt", "COMMENTS_10_result.txt", FormatTextResult, annotation.SampleText),
				plain("solo.txt", annotation.SampleText),
			},
			skipped: []Skipped{skip("lonely_result.txt", "a _result label file without its text file"),
				skip("x.md", `extension "md" is not one of txt, csv`)},
		},
		{
			name:    "named-entities",
			opts:    DirOptions{DatasetType: annotation.TypeNamedEntity, Text: TextFormat{LabelType: "0"}},
			objects: obj("a.txt", "a_result.txt"),
			samples: []DirSample{plain("a.txt", annotation.SampleText), plain("a_result.txt", annotation.SampleText)},
		},
		{
			name:    "text-triplets",
			opts:    DirOptions{DatasetType: annotation.TypeTripletRelation},
			objects: obj("docs/a.txt"),
			samples: []DirSample{plain("docs/a.txt", annotation.SampleText)},
		},
		{
			name:    "sound-classification",
			opts:    DirOptions{DatasetType: annotation.TypeSoundClassification},
			objects: obj("1.wav", "Panda/2.WAV", "Rabbit/10.wav", "Rabbit/11.mp3"),
			samples: []DirSample{sound("1.wav"), sound("Panda/2.WAV", "Panda"), sound("Rabbit/10.wav", "Rabbit")},
			skipped: []Skipped{skip("Rabbit/11.mp3", `extension "mp3" is not one of wav`)},
		},
		{
			name:    "speech-content",
			opts:    DirOptions{DatasetType: annotation.TypeSpeechContent},
			objects: obj("Rabbit/1.wav"),
			samples: []DirSample{plain("Rabbit/1.wav", annotation.SampleAudio)},
		},
		{
			name:    "speech-paragraphs",
			opts:    DirOptions{DatasetType: annotation.TypeSpeechParagraph},
			objects: obj("1.wav"),
			samples: []DirSample{plain("1.wav", annotation.SampleAudio)},
		},
		{
			name:    "table",
			opts:    DirOptions{DatasetType: 400},
			objects: obj("table_import_1.csv", "table_import_2.txt"),
			samples: []DirSample{plain("table_import_1.csv", annotation.SampleTable)},
			skipped: []Skipped{skip("table_import_2.txt", `extension "txt" is not one of csv`)},
		},
		{
			name:    "video",
			opts:    DirOptions{DatasetType: annotation.TypeVideo},
			objects: obj("v/a.mp4", "v/b.avi"),
			samples: []DirSample{plain("v/a.mp4", annotation.SampleVideo)},
			skipped: []Skipped{skip("v/b.avi", `extension "avi" is not one of mp4`)},
		},
		{
			name:    "free-format",
			opts:    DirOptions{DatasetType: 900},
			objects: append(obj("data.bin", "README", "sub/x.tar.gz"), Object{Key: "zero"}),
			samples: []DirSample{plain("data.bin", annotation.SampleCustom), plain("README", annotation.SampleCustom),
				plain("sub/x.tar.gz", annotation.SampleCustom)},
			skipped: []Skipped{skip("zero", "an empty file")},
		},
		{
			name:    "max-size",
			opts:    DirOptions{DatasetType: annotation.TypeObjectDetection, MaxSize: 5 << 20},
			objects: []Object{{"big.jpg", 6 << 20}, {"big.xml", 300}, {"small.jpg", 5 << 20}},
			samples: []DirSample{{Key: "small.jpg", Size: 5 << 20, SampleType: annotation.SampleImage}},
			skipped: []Skipped{skip("big.jpg", "larger than 5242880 bytes"), skip("big.xml", noSample)},
		},
	}
	byKey := func(a, b DirSample) int { return strings.Compare(a.Key, b.Key) }
	skippedByKey := func(a, b Skipped) int { return strings.Compare(a.Key, b.Key) }
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The input order must not matter to ClassifyObjects.
			objs := slices.Clone(c.objects)
			slices.Reverse(objs)
			samples, skipped, err := ClassifyObjects(c.opts, objs)
			if err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(samples, byKey)
			slices.SortFunc(skipped, skippedByKey)
			want, wantSkipped := slices.Clone(c.samples), slices.Clone(c.skipped)
			slices.SortFunc(want, byKey)
			slices.SortFunc(wantSkipped, skippedByKey)
			assertEqual(t, "samples", want, samples)
			assertEqual(t, "skipped objects", wantSkipped, skipped)
		})
	}
}

func TestClassifierErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		opts   DirOptions
		reason string
	}{
		{"unknown-type", DirOptions{DatasetType: 7}, "unknown dataset type 7"},
		{"prefix", DirOptions{Prefix: "images"}, `prefix "images" does not end in /`},
		{"label-type", DirOptions{DatasetType: annotation.TypeTextClassification, Text: TextFormat{LabelType: "2"}}, `label_type "2"`},
		{"separator", DirOptions{DatasetType: annotation.TypeTextClassification, Text: TextFormat{LabelSeparator: "~"}}, "text_label_separator"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewClassifier(c.opts)
			if err == nil || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("got %v, want an error saying %q", err, c.reason)
			}
		})
	}

	c, err := NewClassifier(DirOptions{Prefix: "p/", DatasetType: annotation.TypeObjectDetection})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Add("p/b.jpg", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Add("p/a.xml", 1); err == nil || !strings.Contains(err.Error(), "ascending order") {
		t.Errorf("a key out of order: got %v", err)
	}
	if _, err := c.Add("p/b.jpg", 1); err == nil {
		t.Error("a key listed twice was taken")
	}
	if _, err := c.Add("q/c.jpg", 1); err == nil || !strings.Contains(err.Error(), `not under "p/"`) {
		t.Errorf("a key outside the prefix: got %v", err)
	}
	// The refused keys left the classifier as it was: b.xml still pairs.
	if _, err := c.Add("p/b.xml", 1); err != nil {
		t.Fatal(err)
	}
	out := c.Flush()
	if len(out.Samples) != 1 || out.Samples[0].AnnotationKey != "p/b.xml" {
		t.Errorf("after refused keys: got %s, want p/b.jpg labelled by p/b.xml", show(out))
	}
	if _, _, err := ClassifyObjects(DirOptions{}, []Object{{"a.jpg", 1}, {"a.jpg", 1}}); err == nil {
		t.Error("ClassifyObjects took a key listed twice")
	}
}

// TestClassifierStreams feeds a large listing and checks that samples come
// out as it goes and that the classifier holds only a few objects.
func TestClassifierStreams(t *testing.T) {
	cases := []struct {
		opts DirOptions
		keys func(i int) []string
	}{
		{DirOptions{DatasetType: annotation.TypeObjectDetection}, func(i int) []string {
			return []string{fmt.Sprintf("img/%07d.jpg", i), fmt.Sprintf("img/%07d.xml", i)}
		}},
		{DirOptions{DatasetType: annotation.TypeTextClassification, Text: TextFormat{LabelType: "0"}}, func(i int) []string {
			return []string{fmt.Sprintf("t/%07d.txt", i), fmt.Sprintf("t/%07d_result.txt", i)}
		}},
		{DirOptions{DatasetType: annotation.TypeImageClassification}, func(i int) []string {
			return []string{fmt.Sprintf("label-%d/%07d.png", i/1000, i)}
		}},
	}
	const n = 100_000
	for _, c := range cases {
		t.Run(fmt.Sprint(c.opts.DatasetType), func(t *testing.T) {
			cl, err := NewClassifier(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for i := range n {
				keys = append(keys, c.keys(i)...)
			}
			slices.Sort(keys)
			emitted, held := 0, 0
			for _, k := range keys {
				out, err := cl.Add(k, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(out.Skipped) > 0 {
					t.Fatalf("skipped %s", show(out.Skipped))
				}
				emitted += len(out.Samples)
				held = max(held, len(cl.groups)+len(cl.texts))
			}
			emitted += len(cl.Flush().Samples)
			if emitted != n {
				t.Errorf("emitted %d samples, want %d", emitted, n)
			}
			if held > 2 {
				t.Errorf("held up to %d pending groups of files; a sorted listing needs at most 2", held)
			}
		})
	}
}

func BenchmarkClassifier(b *testing.B) {
	keys := make([]string, 0, 2000)
	for i := range 1000 {
		keys = append(keys, fmt.Sprintf("images/IMG_%07d.jpg", i), fmt.Sprintf("images/IMG_%07d.xml", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		c, _ := NewClassifier(DirOptions{Prefix: "images/", DatasetType: annotation.TypeObjectDetection})
		for _, k := range keys {
			if _, err := c.Add(k, 1); err != nil {
				b.Fatal(err)
			}
		}
		c.Flush()
	}
	b.ReportMetric(float64(b.N*len(keys))/b.Elapsed().Seconds(), "keys/s")
}

// FuzzClassifier: whatever the listing, every object ends up exactly once
// as a sample or skipped, or else as the label file of samples (of all the
// images of its name: a.jpg and a.png share a.xml); directory markers
// aside.
func FuzzClassifier(f *testing.F) {
	f.Add(uint8(1), "a.jpg\na.xml\nb.png\nc.xml\nx.jpg\nx.k.jpg\nx.k.xml\nx.xml\nobj.names\nd/e.txt\nd/e.jpg")
	f.Add(uint8(3), "COMMENTS_1.txt\nCOMMENTS_10.txt\nCOMMENTS_10_result.txt\nCOMMENTS_1_result.txt\nlonely_result.txt\nsolo.txt")
	f.Add(uint8(0), "Rabbit/1.jpg\nRabbit/1.txt\n2.JPG\ndir/\n.jpg\nx.")
	types := []int{annotation.TypeImageClassification, annotation.TypeObjectDetection, annotation.TypeImageSegmentation,
		annotation.TypeTextClassification, annotation.TypeSoundClassification, 900}
	f.Fuzz(func(t *testing.T, kind uint8, listing string) {
		opts := DirOptions{DatasetType: types[int(kind)%len(types)]}
		if kind >= 128 {
			opts.Text.LabelType = "0"
		}
		seen := map[string]bool{}
		var objs []Object
		for k := range strings.SplitSeq(listing, "\n") {
			if k != "" && !seen[k] {
				seen[k] = true
				objs = append(objs, Object{Key: k, Size: int64(len(k))})
			}
		}
		samples, skipped, err := ClassifyObjects(opts, objs)
		if err != nil {
			t.Fatal(err)
		}
		count, labelFile := map[string]int{}, map[string]bool{}
		for _, s := range samples {
			count[s.Key]++
			if s.AnnotationKey != "" && s.AnnotationKey != s.Key {
				labelFile[s.AnnotationKey] = true
			}
		}
		for _, s := range skipped {
			count[s.Key]++
		}
		for k := range labelFile {
			count[k]++
		}
		for _, o := range objs {
			want := 1
			if strings.HasSuffix(o.Key, "/") {
				want = 0
			}
			if count[o.Key] != want {
				t.Errorf("%q is accounted for %d times, want %d; samples %s, skipped %s", o.Key, count[o.Key], want, show(samples), show(skipped))
			}
		}
	})
}
