package formats

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

func parseVOCFile(t *testing.T, name string) VOC {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := ParseVOC(f)
	if err != nil {
		t.Fatalf("ParseVOC(%s): %v", name, err)
	}
	return doc
}

// TestParseVOCReference parses the reference's VOC examples. The detection
// example's <r>100<r> (not XML) is written <r>100</r> in testdata.
func TestParseVOCReference(t *testing.T) {
	plain := func(name string) VOCObject { return VOCObject{Name: name, Pose: "Unspecified"} }
	point, line, bag, boots, circle := plain("point"), plain("line"), plain("bag"), plain("boots"), plain("circle")
	point.Point = &Point{456, 596}
	line.Line = []Point{{133, 651}, {229, 561}}
	bag.BndBox = &BndBox{108, 101, 251, 238}
	boots.HardCoefficient = f64(0.8)
	boots.Polygon = []Point{{373, 264}, {500, 198}, {437, 76}, {310, 142}}
	circle.Circle = &Circle{405, 170, 100}
	bike := plain("bike")
	bike.MaskColor = "193,243,53"
	bike.Polygon = []Point{{71, 48}, {75, 73}, {49, 69}, {68, 92}, {90, 101}, {45, 110}, {71, 48}}
	rabbit, cat := plain("Rabbit"), plain("Cat")
	rabbit.BndBox = &BndBox{279, 52, 474, 278}
	cat.BndBox = &BndBox{279, 198, 456, 421}
	cases := []struct {
		file string
		want VOC
	}{
		{"testdata/voc_detection.xml", VOC{Folder: "test_data", Filename: "260730932.jpg", Size: VOCSize{767, 959, 3},
			Objects: []VOCObject{point, line, bag, boots, circle}}},
		{"testdata/voc_segmentation.xml", VOC{Folder: "NA", Filename: "image_0006.jpg", Source: VOCSource{Database: "Unknown"},
			Size: VOCSize{230, 300, 3}, Segmented: true,
			MaskSource: "obs://xianao/out/dataset-8153-Jmf5ylLjRmSacj9KevS/annotation/V001/segmentationClassRaw/image_0006.png",
			Objects:    []VOCObject{bike}}},
		{"testdata/voc_obs_directory.xml", VOC{Folder: "NA", Filename: "bike_1_1593531469339.png", Source: VOCSource{Database: "Unknown"},
			Size: VOCSize{554, 606, 3}, Objects: []VOCObject{rabbit, cat}}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			assertEqual(t, "parsed VOC", c.want, parseVOCFile(t, c.file))
		})
	}
}

func TestLabelsFromVOCReference(t *testing.T) {
	doc := parseVOCFile(t, "testdata/voc_detection.xml")
	label := func(name, shape string, feature []any) annotation.Label {
		return annotation.Label{Name: name, Type: annotation.TypeObjectDetection,
			Property: map[string]any{annotation.PropShape: shape, annotation.PropFeature: feature}}
	}
	boots := label("boots", ShapePolygon, []any{[]any{373.0, 264.0}, []any{500.0, 198.0}, []any{437.0, 76.0}, []any{310.0, 142.0}})
	boots.Property[annotation.PropHardCoefficient] = "0.8"
	want := []annotation.Label{
		label("point", ShapePoint, []any{[]any{456.0, 596.0}}),
		label("line", ShapeLine, []any{[]any{133.0, 651.0}, []any{229.0, 561.0}}),
		label("bag", ShapeBndBox, []any{[]any{108.0, 101.0}, []any{251.0, 238.0}}),
		boots,
		label("circle", ShapeCircle, []any{[]any{405.0, 170.0}, []any{100.0}}),
	}
	assertEqual(t, "labels of the reference's detection example", want, LabelsFromVOC(doc))

	seg := LabelsFromVOC(parseVOCFile(t, "testdata/voc_segmentation.xml"))
	if len(seg) != 1 || seg[0].Type != annotation.TypeImageSegmentation || seg[0].Property[PropMaskColor] != "193,243,53" {
		t.Errorf("segmentation example: got %s, want one segmentation label with its mask colour", show(seg))
	}
}

func TestParseVOCErrors(t *testing.T) {
	doc := func(objects string) string {
		return `<annotation><filename>a.jpg</filename><size><width>100</width><height>50</height><depth>3</depth></size>` +
			`<segmented>0</segmented>` + objects + `</annotation>`
	}
	obj := func(inner string) string { return doc(`<object><name>car</name>` + inner + `</object>`) }
	cases := []struct {
		name, xml, reason string
	}{
		{"not-xml", `{"json": true}`, "not a VOC <annotation> document"},
		{"wrong-root", `<voc><filename>a</filename></voc>`, "not a VOC <annotation> document"},
		{"unclosed-radius-as-in-the-reference", obj(`<circle><cx>405</cx><cy>170</cy><r>100<r></circle>`), "not a VOC <annotation> document"},
		{"no-filename", `<annotation><size><width>1</width><height>1</height></size></annotation>`, "no <filename>"},
		{"no-size", `<annotation><filename>a.jpg</filename></annotation>`, "no <size>"},
		{"no-width", `<annotation><filename>a.jpg</filename><size><height>1</height></size></annotation>`, "no <size/width>"},
		{"zero-size", `<annotation><filename>a.jpg</filename><size><width>0</width><height>1</height></size></annotation>`, "not a positive width"},
		{"width-not-a-number", `<annotation><filename>a.jpg</filename><size><width>wide</width><height>1</height></size></annotation>`, `<size/width> "wide"`},
		{"segmented-not-a-number", `<annotation><filename>a.jpg</filename><size><width>1</width><height>1</height></size><segmented>yes</segmented></annotation>`, "<segmented>"},
		{"object-without-name", doc(`<object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object>`), "no <name>"},
		{"object-without-shape", obj(``), "no shape"},
		{"two-shapes", obj(`<point><x>1</x><y>1</y></point><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>`), "2 shapes"},
		{"bndbox-without-ymax", obj(`<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax></bndbox>`), "want <xmin>, <ymin>, <xmax>, <ymax>"},
		{"bndbox-twice-xmin", obj(`<bndbox><xmin>1</xmin><xmin>1</xmin><xmax>2</xmax><ymax>2</ymax></bndbox>`), "<xmin> twice"},
		{"bndbox-inverted", obj(`<bndbox><xmin>20</xmin><ymin>1</ymin><xmax>10</xmax><ymax>2</ymax></bndbox>`), "not an upper-left corner"},
		{"bndbox-flat", obj(`<bndbox><xmin>1</xmin><ymin>5</ymin><xmax>10</xmax><ymax>5</ymax></bndbox>`), "not an upper-left corner"},
		{"bndbox-outside", obj(`<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>101</xmax><ymax>2</ymax></bndbox>`), "outside the 100x50 image"},
		{"bndbox-negative", obj(`<bndbox><xmin>-1</xmin><ymin>1</ymin><xmax>10</xmax><ymax>2</ymax></bndbox>`), "negative"},
		{"bndbox-nan", obj(`<bndbox><xmin>NaN</xmin><ymin>1</ymin><xmax>10</xmax><ymax>2</ymax></bndbox>`), `<bndbox/xmin> "NaN" is not a number`},
		{"polygon-of-two", obj(`<polygon><x1>1</x1><y1>1</y1><x2>2</x2><y2>2</y2></polygon>`), "polygon has 2 points, fewer than 3"},
		{"polygon-missing-y", obj(`<polygon><x1>1</x1><y1>1</y1><x2>2</x2><y2>2</y2><x3>3</x3></polygon>`), "no <x3> and <y3> pair"},
		{"polygon-gap", obj(`<polygon><x1>1</x1><y1>1</y1><x3>2</x3><y3>2</y3><x4>3</x4><y4>3</y4></polygon>`), "no <x2> and <y2> pair"},
		{"polygon-other-element", obj(`<polygon><x1>1</x1><y1>1</y1><z1>2</z1></polygon>`), "<z1>, not <xN> or <yN>"},
		{"line-of-three", obj(`<line><x1>1</x1><y1>1</y1><x2>2</x2><y2>2</y2><x3>3</x3><y3>3</y3></line>`), "line has 3 points, not 2"},
		{"circle-without-radius", obj(`<circle><cx>1</cx><cy>1</cy><r>0</r></circle>`), "radius 0 is not positive"},
		{"point-outside", obj(`<point><x1>1</x1><y1>51</y1></point>`), "outside the 100x50 image"},
		{"confidence", obj(`<confidence>1.5</confidence><point><x>1</x><y>1</y></point>`), "<confidence> is not from 0 to 1"},
		{"truncated-word", obj(`<truncated>yes</truncated><point><x>1</x><y>1</y></point>`), `<truncated> "yes" is not a whole number`},
		{"truncated-two", obj(`<truncated>2</truncated><point><x>1</x><y>1</y></point>`), "<truncated> 2 is not 0 or 1"},
		{"too-large", doc(strings.Repeat("<!-- padding -->", MaxVOCSize/16+1)), "larger than"},
		{"gbk", `<?xml version="1.0" encoding="GBK"?>` + doc(""), "not a VOC <annotation> document"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseVOC(strings.NewReader(c.xml))
			if err == nil || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("got %v, want an error saying %q", err, c.reason)
			}
		})
	}
}

func TestParseVOCLenient(t *testing.T) {
	// What VOC tools write besides ModelArts: no flags, <x>/<y> points,
	// fractions, spaces around values, elements in any order.
	in := `<annotation><filename> a.jpg </filename><size><height>50</height><width>100</width></size>
	<object><name>p</name><point><y> 2.5 </y><x>1</x></point></object></annotation>`
	doc, err := ParseVOC(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := VOC{Filename: "a.jpg", Size: VOCSize{100, 50, 0}, Objects: []VOCObject{{Name: "p", Point: &Point{1, 2.5}}}}
	assertEqual(t, "parsed VOC", want, doc)
}

func TestVOCRoundTrip(t *testing.T) {
	docs := []VOC{
		{Folder: "NA", Filename: "a.jpg", Source: VOCSource{"Unknown", "PASCAL VOC2007", "flickr"}, Size: VOCSize{640, 480, 3},
			Objects: []VOCObject{
				{Name: "car & <truck>", Pose: "Frontal", Truncated: 1, Occluded: 1, Difficult: 1, Confidence: f64(0.25),
					BndBox: &BndBox{0.5, 1, 639.5, 480}},
				{Name: "lane", Pose: "Unspecified", Polyline: []Point{{0, 0}, {10, 10}, {20, 5}}},
				{Name: "edge", Pose: "Unspecified", Dashed: []Point{{1, 2}, {3, 4}}},
			}},
		{Folder: "NA", Filename: "b.png", Size: VOCSize{230, 300, 1}, Segmented: true, MaskSource: "obs://b/mask.png",
			Objects: []VOCObject{{Name: "bike", Pose: "Unspecified", MaskColor: "1,2,3", HardCoefficient: f64(1),
				Polygon: []Point{{1, 1}, {5, 1}, {5, 5}}}}},
		{Filename: "empty.jpg", Size: VOCSize{1, 1, 3}},
	}
	for _, doc := range docs {
		t.Run(doc.Filename, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteVOC(&buf, doc); err != nil {
				t.Fatal(err)
			}
			back, err := ParseVOC(&buf)
			if err != nil {
				t.Fatalf("ParseVOC of WriteVOC's output: %v", err)
			}
			assertEqual(t, "VOC read back", doc, back)
		})
	}
}

// TestLabelsVOCRoundTrip holds that labels of every shape survive a VOC file.
func TestLabelsVOCRoundTrip(t *testing.T) {
	shape := func(name, s string, f []any, extra map[string]any) annotation.Label {
		p := map[string]any{annotation.PropShape: s, annotation.PropFeature: f}
		for k, v := range extra {
			p[k] = v
		}
		return annotation.Label{Name: name, Type: annotation.TypeObjectDetection, Property: p}
	}
	pt := func(x, y float64) []any { return []any{x, y} }
	scored := shape("scored", ShapeBndBox, []any{pt(1, 2), pt(3, 4)}, nil)
	scored.Score = f64(0.9)
	labels := []annotation.Label{
		shape("box", ShapeBndBox, []any{pt(0, 10), pt(50, 95)}, map[string]any{PropPose: "Rear", PropTruncated: "1", PropOccluded: "1", PropDifficult: "1"}),
		shape("polygon", ShapePolygon, []any{pt(0, 100), pt(50, 95), pt(10, 60), pt(500, 400)}, nil),
		shape("polyline", ShapePolyline, []any{pt(0, 100), pt(50, 95), pt(10, 60), pt(500, 400)}, nil),
		shape("line", ShapeLine, []any{pt(0, 100), pt(50, 95)}, nil),
		shape("dashed", ShapeDashed, []any{pt(0, 100), pt(50, 95)}, map[string]any{annotation.PropHardCoefficient: "0.3"}),
		shape("point", ShapePoint, []any{pt(0, 100)}, nil),
		shape("circle", ShapeCircle, []any{pt(100, 100), []any{50.0}}, nil),
		scored,
	}
	others := []annotation.Label{{Name: "cat", Type: annotation.TypeImageClassification}}
	doc, err := VOCFromLabels("a.jpg", 640, 480, 0, append(others, labels...))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Size.Depth != 3 || doc.Segmented {
		t.Errorf("depth %d, segmented %v; want the default depth 3 and detection", doc.Size.Depth, doc.Segmented)
	}
	var buf bytes.Buffer
	if err := WriteVOC(&buf, doc); err != nil {
		t.Fatal(err)
	}
	back, err := ParseVOC(&buf)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "labels through a VOC file", labels, LabelsFromVOC(back))

	// Go-built features and numbers are taken as well.
	goBuilt := []annotation.Label{{Name: "b", Type: annotation.TypeImageSegmentation, Property: map[string]any{
		annotation.PropShape: ShapeBndBox, annotation.PropFeature: [][]float64{{1, 2}, {3, 4}}, PropTruncated: 1}}}
	doc, err = VOCFromLabels("b.jpg", 10, 10, 3, goBuilt)
	if err != nil {
		t.Fatal(err)
	}
	if !doc.Segmented || doc.Objects[0].Truncated != 1 || *doc.Objects[0].BndBox != (BndBox{1, 2, 3, 4}) {
		t.Errorf("Go-built label: got %s", show(doc))
	}
}

func TestVOCFromLabelsErrors(t *testing.T) {
	box := func(typ int, f any) annotation.Label {
		return annotation.Label{Name: "x", Type: typ, Property: map[string]any{annotation.PropShape: ShapeBndBox, annotation.PropFeature: f}}
	}
	good := []any{[]any{1.0, 1.0}, []any{2.0, 2.0}}
	cases := []struct {
		name   string
		labels []annotation.Label
		reason string
	}{
		{"no-shape", []annotation.Label{{Name: "x", Type: annotation.TypeObjectDetection}}, "no @modelarts:shape"},
		{"no-feature", []annotation.Label{{Name: "x", Type: annotation.TypeObjectDetection, Property: map[string]any{annotation.PropShape: ShapePoint}}}, "no @modelarts:feature"},
		{"unknown-shape", []annotation.Label{{Name: "x", Type: annotation.TypeObjectDetection, Property: map[string]any{
			annotation.PropShape: "ellipse", annotation.PropFeature: good}}}, `unknown shape "ellipse"`},
		{"feature-not-points", []annotation.Label{box(annotation.TypeObjectDetection, "1,1,2,2")}, "not a list of points"},
		{"feature-not-numbers", []annotation.Label{box(annotation.TypeObjectDetection, []any{[]any{"a", 1.0}, []any{2.0, 2.0}})}, "not a number"},
		{"inverted-box", []annotation.Label{box(annotation.TypeObjectDetection, []any{[]any{5.0, 5.0}, []any{2.0, 2.0}})}, "upper-left"},
		{"outside", []annotation.Label{box(annotation.TypeObjectDetection, []any{[]any{5.0, 5.0}, []any{20.0, 2.0e3}})}, "outside"},
		{"mixed", []annotation.Label{box(annotation.TypeObjectDetection, good), box(annotation.TypeImageSegmentation, good)}, "mix object detection and image segmentation"},
		{"flag", []annotation.Label{{Name: "x", Type: annotation.TypeObjectDetection, Property: map[string]any{
			annotation.PropShape: ShapeBndBox, annotation.PropFeature: good, PropDifficult: "very"}}}, "difficult is not 0 or 1"},
		{"empty-name", []annotation.Label{{Type: annotation.TypeObjectDetection, Property: map[string]any{
			annotation.PropShape: ShapeBndBox, annotation.PropFeature: good}}}, "no <name>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := VOCFromLabels("a.jpg", 10, 10, 3, c.labels)
			if err == nil || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("got %v, want an error saying %q", err, c.reason)
			}
		})
	}
}

func TestWriteVOCRefusesInvalid(t *testing.T) {
	err := WriteVOC(&bytes.Buffer{}, VOC{Filename: "a.jpg", Size: VOCSize{10, 10, 3},
		Objects: []VOCObject{{Name: "x", BndBox: &BndBox{5, 5, 1, 1}}}})
	if err == nil || !strings.Contains(err.Error(), "upper-left") {
		t.Errorf("got %v, want the inverted box refused", err)
	}
}

// FuzzParseVOC: no input makes ParseVOC panic, and a document it accepts
// survives WriteVOC and ParseVOC unchanged.
func FuzzParseVOC(f *testing.F) {
	for _, name := range []string{"testdata/voc_detection.xml", "testdata/voc_segmentation.xml", "testdata/voc_obs_directory.xml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		doc, err := ParseVOC(bytes.NewReader(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteVOC(&buf, doc); err != nil {
			t.Fatalf("WriteVOC of a parsed document: %v", err)
		}
		back, err := ParseVOC(&buf)
		if err != nil {
			t.Fatalf("ParseVOC of %q: %v", buf.String(), err)
		}
		for i := range doc.Objects {
			if doc.Objects[i].Pose == "" {
				doc.Objects[i].Pose = defaultPose // what WriteVOC writes for none
			}
		}
		assertEqual(t, "VOC after a rewrite", doc, back)
	})
}
