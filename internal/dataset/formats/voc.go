package formats

// Size: one format, Pascal VOC with ModelArts' extra shapes, reader and
// writer together: they change together, and every shape is read and
// written in one place so that a round trip keeps it.

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// Shapes of a detection or segmentation label (@modelarts:shape), each with
// the @modelarts:feature form the reference gives it (SampleLabelProperty):
//
//	bndbox    [[xmin, ymin], [xmax, ymax]]
//	polygon   [[x1, y1], [x2, y2], [x3, y3], ...]   at least 3 points
//	polyline  [[x1, y1], [x2, y2], ...]             at least 2 points
//	line      [[x1, y1], [x2, y2]]
//	dashed    [[x1, y1], [x2, y2]]
//	point     [[x, y]]
//	circle    [[cx, cy], [r]]
const (
	ShapeBndBox   = "bndbox"
	ShapePolygon  = "polygon"
	ShapePolyline = "polyline"
	ShapeLine     = "line"
	ShapeDashed   = "dashed"
	ShapePoint    = "point"
	ShapeCircle   = "circle"
)

// Property keys under which a detection or segmentation label keeps the
// fields of its VOC object, named as ModelArts' own SDK names them. They are
// set only when they differ from the VOC defaults (pose "Unspecified", flags
// 0), so that a label made through the API reads back from a VOC file
// unchanged. Values are strings, as in that SDK.
const (
	PropPose      = "pose"
	PropTruncated = "truncated"
	PropOccluded  = "occluded"
	PropDifficult = "difficult"
	PropMaskColor = "mask_color"
)

// MaxVOCSize bounds what ParseVOC reads: a VOC file is a few kilobytes, and
// an import must not hold an arbitrary object in memory.
const MaxVOCSize = 16 << 20

// defaultPose is what VOC tools write when nobody said.
const defaultPose = "Unspecified"

// VOC is one Pascal VOC annotation file as ModelArts reads and writes it:
// the boxes (detection) or polygons (segmentation) of one image.
type VOC struct {
	Folder   string
	Filename string
	Source   VOCSource
	Size     VOCSize
	// Segmented is the file's <segmented>: true for image segmentation.
	Segmented bool
	// MaskSource is the segmentation mask image (<mask_source>), if any.
	MaskSource string
	Objects    []VOCObject
}

// VOCSource is the optional <source> of a VOC file.
type VOCSource struct {
	Database   string
	Annotation string
	Image      string
}

// VOCSize is the image size in pixels; Depth is the number of channels.
type VOCSize struct {
	Width, Height, Depth int
}

// VOCObject is one <object>: a name and exactly one shape.
type VOCObject struct {
	Name      string
	Pose      string
	Truncated int
	Occluded  int
	Difficult int
	// Confidence is the machine-labelling score, if any.
	Confidence *float64
	// HardCoefficient is the <hard-coefficient> ModelArts adds, if any.
	HardCoefficient *float64
	// MaskColor is the segmentation colour, "R,G,B".
	MaskColor string

	BndBox   *BndBox
	Polygon  []Point
	Polyline []Point
	Line     []Point // 2 points
	Dashed   []Point // 2 points
	Point    *Point
	Circle   *Circle
}

// BndBox is a rectangle by its upper-left and lower-right corners.
type BndBox struct {
	XMin, YMin, XMax, YMax float64
}

// Point is a point of an image; the origin is the upper-left corner.
type Point struct {
	X, Y float64
}

// Circle is a circle by its centre and radius.
type Circle struct {
	CX, CY, R float64
}

// ParseVOC reads a Pascal VOC file and checks it with Validate. It reads at
// most MaxVOCSize bytes. A point may be written <x>/<y> or <x1>/<y1> (the
// reference shows both); coordinates may have fractions.
func ParseVOC(r io.Reader) (VOC, error) {
	dec := xml.NewDecoder(&capReader{r: r, n: MaxVOCSize + 1})
	var x xmlAnnotation
	if err := dec.Decode(&x); err != nil {
		if errors.Is(err, errVOCTooLarge) {
			return VOC{}, fmt.Errorf("parse VOC: %w", err)
		}
		return VOC{}, fmt.Errorf("parse VOC: not a VOC <annotation> document: %w", err)
	}
	doc, err := x.voc()
	if err != nil {
		return VOC{}, fmt.Errorf("parse VOC %q: %w", x.Filename, err)
	}
	if err := doc.Validate(); err != nil {
		return VOC{}, fmt.Errorf("parse VOC %q: %w", x.Filename, err)
	}
	return doc, nil
}

var errVOCTooLarge = fmt.Errorf("larger than %d bytes", MaxVOCSize)

// capReader fails once more than n-1 bytes have been read.
type capReader struct {
	r io.Reader
	n int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errVOCTooLarge
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// WriteVOC writes doc, after Validate, as ModelArts does: an XML
// declaration, then <annotation>. An empty Pose is written "Unspecified";
// points as <x1>/<y1>, as the reference's example does.
func WriteVOC(w io.Writer, doc VOC) error {
	if err := doc.Validate(); err != nil {
		return fmt.Errorf("write VOC %q: %w", doc.Filename, err)
	}
	x := xmlOf(doc)
	if _, err := io.WriteString(w, `<?xml version="1.0" encoding="UTF-8" standalone="no"?>`+"\n"); err != nil {
		return fmt.Errorf("write VOC %q: %w", doc.Filename, err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "    ")
	if err := enc.Encode(&x); err != nil {
		return fmt.Errorf("write VOC %q: %w", doc.Filename, err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write VOC %q: %w", doc.Filename, err)
	}
	return nil
}

// Validate checks what the reference requires of a VOC file and what
// SampleLabelProperty requires of shapes: a file name, a positive image
// size, and objects with a name and exactly one well-formed shape inside the
// image (the reference warns that an import fails otherwise).
func (doc VOC) Validate() error {
	if doc.Filename == "" {
		return errors.New("no <filename>")
	}
	if doc.Size.Width <= 0 || doc.Size.Height <= 0 || doc.Size.Depth < 0 {
		return fmt.Errorf("<size> %dx%dx%d is not a positive width and height", doc.Size.Width, doc.Size.Height, doc.Size.Depth)
	}
	for i := range doc.Objects {
		o := &doc.Objects[i]
		if err := o.validate(doc.Size); err != nil {
			return fmt.Errorf("object %d (%q): %w", i+1, o.Name, err)
		}
	}
	return nil
}

func (o *VOCObject) validate(size VOCSize) error {
	if o.Name == "" {
		return errors.New("no <name>")
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"truncated", o.Truncated}, {"occluded", o.Occluded}, {"difficult", o.Difficult}} {
		if f.v != 0 && f.v != 1 {
			return fmt.Errorf("<%s> %d is not 0 or 1", f.name, f.v)
		}
	}
	if o.Confidence != nil && !(*o.Confidence >= 0 && *o.Confidence <= 1) {
		return errors.New("<confidence> is not from 0 to 1")
	}
	if o.HardCoefficient != nil && !(*o.HardCoefficient >= 0 && *o.HardCoefficient <= 1) {
		return errors.New("<hard-coefficient> is not from 0 to 1")
	}
	shape, pts, err := o.shape()
	if err != nil {
		return err
	}
	if err := checkFeature(shape, pts); err != nil {
		return err
	}
	for _, p := range pts {
		if shape == ShapeCircle && len(p) == 1 {
			continue // the radius
		}
		if p[0] > float64(size.Width) || p[1] > float64(size.Height) {
			return fmt.Errorf("%s point (%v, %v) is outside the %dx%d image", shape, p[0], p[1], size.Width, size.Height)
		}
	}
	return nil
}

// shape returns the object's one shape in the @modelarts:feature form.
func (o *VOCObject) shape() (string, [][]float64, error) {
	var shape string
	var pts [][]float64
	n := 0
	set := func(s string, p [][]float64) {
		n++
		shape, pts = s, p
	}
	if o.BndBox != nil {
		b := o.BndBox
		set(ShapeBndBox, [][]float64{{b.XMin, b.YMin}, {b.XMax, b.YMax}})
	}
	for _, s := range []struct {
		name string
		pts  []Point
	}{{ShapePolygon, o.Polygon}, {ShapePolyline, o.Polyline}, {ShapeLine, o.Line}, {ShapeDashed, o.Dashed}} {
		if s.pts != nil {
			set(s.name, pointsFeature(s.pts))
		}
	}
	if o.Point != nil {
		set(ShapePoint, [][]float64{{o.Point.X, o.Point.Y}})
	}
	if o.Circle != nil {
		set(ShapeCircle, [][]float64{{o.Circle.CX, o.Circle.CY}, {o.Circle.R}})
	}
	switch n {
	case 0:
		return "", nil, errors.New("no shape (<bndbox>, <polygon>, <polyline>, <line>, <dashed>, <point> or <circle>)")
	case 1:
		return shape, pts, nil
	}
	return "", nil, fmt.Errorf("%d shapes; an object has one", n)
}

func pointsFeature(pts []Point) [][]float64 {
	out := make([][]float64, len(pts))
	for i, p := range pts {
		out[i] = []float64{p.X, p.Y}
	}
	return out
}

// setShape gives o the shape of a checked feature.
func (o *VOCObject) setShape(shape string, f [][]float64) {
	points := func() []Point {
		pts := make([]Point, len(f))
		for i, p := range f {
			pts[i] = Point{p[0], p[1]}
		}
		return pts
	}
	switch shape {
	case ShapeBndBox:
		o.BndBox = &BndBox{f[0][0], f[0][1], f[1][0], f[1][1]}
	case ShapePolygon:
		o.Polygon = points()
	case ShapePolyline:
		o.Polyline = points()
	case ShapeLine:
		o.Line = points()
	case ShapeDashed:
		o.Dashed = points()
	case ShapePoint:
		o.Point = &Point{f[0][0], f[0][1]}
	case ShapeCircle:
		o.Circle = &Circle{f[0][0], f[0][1], f[1][0]}
	}
}

// checkFeature checks a feature against its shape (see the Shape
// constants). Coordinates are finite and not negative, as the reference
// requires.
func checkFeature(shape string, f [][]float64) error {
	minPts, maxPts := 0, 0
	switch shape {
	case ShapeBndBox, ShapeLine, ShapeDashed:
		minPts, maxPts = 2, 2
	case ShapePolygon:
		minPts, maxPts = 3, math.MaxInt
	case ShapePolyline:
		minPts, maxPts = 2, math.MaxInt
	case ShapePoint:
		minPts, maxPts = 1, 1
	case ShapeCircle:
		if len(f) != 2 || len(f[0]) != 2 || len(f[1]) != 1 {
			return errors.New("circle feature is not [[cx, cy], [r]]")
		}
		if !finite(f[0][0]) || !finite(f[0][1]) || f[0][0] < 0 || f[0][1] < 0 {
			return fmt.Errorf("circle centre (%v, %v) is not a point of the image", f[0][0], f[0][1])
		}
		if !finite(f[1][0]) || f[1][0] <= 0 {
			return fmt.Errorf("circle radius %v is not positive", f[1][0])
		}
		return nil
	default:
		return fmt.Errorf("unknown shape %q", shape)
	}
	if len(f) < minPts || len(f) > maxPts {
		if minPts == maxPts {
			return fmt.Errorf("%s has %d points, not %d", shape, len(f), minPts)
		}
		return fmt.Errorf("%s has %d points, fewer than %d", shape, len(f), minPts)
	}
	for _, p := range f {
		if len(p) != 2 {
			return fmt.Errorf("%s point %v is not [x, y]", shape, p)
		}
		if !finite(p[0]) || !finite(p[1]) || p[0] < 0 || p[1] < 0 {
			return fmt.Errorf("%s point (%v, %v) has a negative or non-finite coordinate", shape, p[0], p[1])
		}
	}
	if shape == ShapeBndBox && (f[0][0] >= f[1][0] || f[0][1] >= f[1][1]) {
		return fmt.Errorf("bndbox (%v, %v)-(%v, %v) is not an upper-left corner then a lower-right one", f[0][0], f[0][1], f[1][0], f[1][1])
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// shapeFeature reads a label's @modelarts:feature, as JSON decoding gives
// it ([]any of []any of float64) or as Go code builds it ([][]float64), and
// checks it against shape.
func shapeFeature(shape string, v any) ([][]float64, error) {
	var f [][]float64
	switch v := v.(type) {
	case [][]float64:
		f = v
	case []any:
		f = make([][]float64, len(v))
		for i, p := range v {
			switch p := p.(type) {
			case []float64:
				f[i] = p
			case []any:
				f[i] = make([]float64, len(p))
				for j, c := range p {
					n, ok := asNumber(c)
					if !ok {
						return nil, fmt.Errorf("%s holds %v, not a number", annotation.PropFeature, c)
					}
					f[i][j] = n
				}
			default:
				return nil, fmt.Errorf("%s is not a list of points", annotation.PropFeature)
			}
		}
	default:
		return nil, fmt.Errorf("%s is not a list of points", annotation.PropFeature)
	}
	if err := checkFeature(shape, f); err != nil {
		return nil, err
	}
	return f, nil
}

// featureJSON is a feature as JSON decoding would give it, so that labels
// from a VOC file compare equal to labels read from JSON.
func featureJSON(f [][]float64) []any {
	out := make([]any, len(f))
	for i, p := range f {
		q := make([]any, len(p))
		for j, c := range p {
			q[j] = c
		}
		out[i] = q
	}
	return out
}

// LabelsFromVOC turns the objects of doc into labels: of type
// annotation.TypeImageSegmentation when doc.Segmented, else
// TypeObjectDetection; named after the object; with @modelarts:shape and
// @modelarts:feature, the object's confidence as Score, its
// hard-coefficient as @modelarts:hard_coefficient and its pose, flags and
// mask colour as the Prop* keys of this package when not the defaults. doc
// is expected to pass Validate (ParseVOC's docs do); an object without
// exactly one shape is left out.
func LabelsFromVOC(doc VOC) []annotation.Label {
	t := annotation.TypeObjectDetection
	if doc.Segmented {
		t = annotation.TypeImageSegmentation
	}
	labels := make([]annotation.Label, 0, len(doc.Objects))
	for i := range doc.Objects {
		o := &doc.Objects[i]
		shape, f, err := o.shape()
		if err != nil {
			continue
		}
		p := map[string]any{
			annotation.PropShape:   shape,
			annotation.PropFeature: featureJSON(f),
		}
		if o.Pose != "" && o.Pose != defaultPose {
			p[PropPose] = o.Pose
		}
		for _, flag := range []struct {
			key string
			v   int
		}{{PropTruncated, o.Truncated}, {PropOccluded, o.Occluded}, {PropDifficult, o.Difficult}} {
			if flag.v != 0 {
				p[flag.key] = strconv.Itoa(flag.v)
			}
		}
		if o.MaskColor != "" {
			p[PropMaskColor] = o.MaskColor
		}
		if o.HardCoefficient != nil {
			p[annotation.PropHardCoefficient] = formatNum(*o.HardCoefficient)
		}
		var score *float64
		if o.Confidence != nil {
			c := *o.Confidence
			score = &c
		}
		labels = append(labels, annotation.Label{Name: o.Name, Type: t, Property: p, Score: score})
	}
	return labels
}

// VOCFromLabels makes the VOC file of an image from its labels: those of
// object detection or image segmentation (others are ignored, so a sample's
// whole label list may be given) become objects, the reverse of
// LabelsFromVOC. A depth of 0 is written 3, the reference's default; the
// folder is "NA" and the source database "Unknown", as ModelArts writes
// them. It fails when a label has no valid shape and feature, when the
// labels mix detection and segmentation (one file has one <segmented>), and
// when the result does not pass Validate.
func VOCFromLabels(filename string, width, height, depth int, labels []annotation.Label) (VOC, error) {
	if depth == 0 {
		depth = 3
	}
	doc := VOC{
		Folder:   "NA",
		Filename: filename,
		Source:   VOCSource{Database: "Unknown"},
		Size:     VOCSize{Width: width, Height: height, Depth: depth},
	}
	detection := false
	for i, l := range labels {
		if !isVOCType(l.Type) {
			continue
		}
		if l.Type == annotation.TypeImageSegmentation {
			doc.Segmented = true
		} else {
			detection = true
		}
		o, err := objectOf(l)
		if err != nil {
			return VOC{}, fmt.Errorf("VOC of %q: label %d (%q): %w", filename, i+1, l.Name, err)
		}
		doc.Objects = append(doc.Objects, o)
	}
	if doc.Segmented && detection {
		return VOC{}, fmt.Errorf("VOC of %q: labels mix object detection and image segmentation", filename)
	}
	if err := doc.Validate(); err != nil {
		return VOC{}, fmt.Errorf("VOC of %q: %w", filename, err)
	}
	return doc, nil
}

func objectOf(l annotation.Label) (VOCObject, error) {
	o := VOCObject{Name: l.Name, Pose: defaultPose}
	shape, ok := l.Property[annotation.PropShape].(string)
	if !ok {
		return o, fmt.Errorf("no %s", annotation.PropShape)
	}
	raw, ok := l.Property[annotation.PropFeature]
	if !ok {
		return o, fmt.Errorf("no %s", annotation.PropFeature)
	}
	f, err := shapeFeature(shape, raw)
	if err != nil {
		return o, err
	}
	o.setShape(shape, f)
	if v, ok := l.Property[PropPose]; ok {
		s, ok := v.(string)
		if !ok {
			return o, fmt.Errorf("%s is not a string", PropPose)
		}
		o.Pose = s
	}
	for _, flag := range []struct {
		key string
		v   *int
	}{{PropTruncated, &o.Truncated}, {PropOccluded, &o.Occluded}, {PropDifficult, &o.Difficult}} {
		v, ok := l.Property[flag.key]
		if !ok {
			continue
		}
		n, ok := flagValue(v)
		if !ok {
			return o, fmt.Errorf("%s is not 0 or 1", flag.key)
		}
		*flag.v = n
	}
	if v, ok := l.Property[PropMaskColor]; ok {
		s, ok := v.(string)
		if !ok {
			return o, fmt.Errorf("%s is not a string", PropMaskColor)
		}
		o.MaskColor = s
	}
	if v, ok := l.Property[annotation.PropHardCoefficient]; ok {
		c, ok := coefficient(v)
		if !ok {
			return o, fmt.Errorf("%s is not a number from 0 to 1", annotation.PropHardCoefficient)
		}
		o.HardCoefficient = &c
	}
	if l.Score != nil {
		c := *l.Score
		o.Confidence = &c
	}
	return o, nil
}

// flagValue reads a VOC flag kept in a property: "0"/"1" as the SDK writes
// it, or a number or boolean that a caller may have stored.
func flagValue(v any) (int, bool) {
	switch v := v.(type) {
	case string:
		switch v {
		case "0":
			return 0, true
		case "1":
			return 1, true
		}
		return 0, false
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	}
	if n, ok := asNumber(v); ok && (n == 0 || n == 1) {
		return int(n), true
	}
	return 0, false
}

func formatNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
