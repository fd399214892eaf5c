package formats

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The XML form of a VOC document: what encoding/xml reads and writes,
// and its conversion to and from VOC.

// The XML of a VOC file. Values stay strings here so that a bad number is
// reported with its element, not as a bare strconv error.
type xmlAnnotation struct {
	XMLName    xml.Name    `xml:"annotation"`
	Folder     string      `xml:"folder"`
	Filename   string      `xml:"filename"`
	Source     *xmlSource  `xml:"source"`
	Size       *xmlSize    `xml:"size"`
	Segmented  string      `xml:"segmented"`
	MaskSource string      `xml:"mask_source,omitempty"`
	Objects    []xmlObject `xml:"object"`
}

type xmlSource struct {
	Database   string `xml:"database,omitempty"`
	Annotation string `xml:"annotation,omitempty"`
	Image      string `xml:"image,omitempty"`
}

type xmlSize struct {
	Width  string `xml:"width"`
	Height string `xml:"height"`
	Depth  string `xml:"depth"`
}

type xmlObject struct {
	Name            string  `xml:"name"`
	Pose            string  `xml:"pose"`
	Truncated       string  `xml:"truncated"`
	Occluded        string  `xml:"occluded"`
	Difficult       string  `xml:"difficult"`
	Confidence      string  `xml:"confidence,omitempty"`
	HardCoefficient string  `xml:"hard-coefficient,omitempty"`
	MaskColor       string  `xml:"mask_color,omitempty"`
	BndBox          *xmlSet `xml:"bndbox"`
	Polygon         *xmlSet `xml:"polygon"`
	Polyline        *xmlSet `xml:"polyline"`
	Line            *xmlSet `xml:"line"`
	Dashed          *xmlSet `xml:"dashed"`
	Point           *xmlSet `xml:"point"`
	Circle          *xmlSet `xml:"circle"`
}

// xmlSet is a shape element: named numbers (<xmin>, <x1>, <cx>...).
type xmlSet struct {
	Values []xmlValue `xml:",any"`
}

type xmlValue struct {
	XMLName xml.Name
	Text    string `xml:",chardata"`
}

func (x *xmlAnnotation) voc() (VOC, error) {
	doc := VOC{
		Folder:     strings.TrimSpace(x.Folder),
		Filename:   strings.TrimSpace(x.Filename),
		MaskSource: strings.TrimSpace(x.MaskSource),
	}
	if x.Source != nil {
		doc.Source = VOCSource{
			Database:   strings.TrimSpace(x.Source.Database),
			Annotation: strings.TrimSpace(x.Source.Annotation),
			Image:      strings.TrimSpace(x.Source.Image),
		}
	}
	if x.Size == nil {
		return VOC{}, errors.New("no <size>")
	}
	var err error
	if doc.Size.Width, err = parseInt("size/width", x.Size.Width, false); err != nil {
		return VOC{}, err
	}
	if doc.Size.Height, err = parseInt("size/height", x.Size.Height, false); err != nil {
		return VOC{}, err
	}
	if doc.Size.Depth, err = parseInt("size/depth", x.Size.Depth, true); err != nil {
		return VOC{}, err
	}
	seg, err := parseInt("segmented", x.Segmented, true)
	if err != nil {
		return VOC{}, err
	}
	doc.Segmented = seg != 0
	if len(x.Objects) > 0 {
		doc.Objects = make([]VOCObject, len(x.Objects))
	}
	for i := range x.Objects {
		if doc.Objects[i], err = x.Objects[i].object(); err != nil {
			return VOC{}, fmt.Errorf("object %d (%q): %w", i+1, strings.TrimSpace(x.Objects[i].Name), err)
		}
	}
	return doc, nil
}

func (x *xmlObject) object() (VOCObject, error) {
	o := VOCObject{
		Name:      strings.TrimSpace(x.Name),
		Pose:      strings.TrimSpace(x.Pose),
		MaskColor: strings.TrimSpace(x.MaskColor),
	}
	var err error
	if o.Truncated, err = parseInt("truncated", x.Truncated, true); err != nil {
		return o, err
	}
	if o.Occluded, err = parseInt("occluded", x.Occluded, true); err != nil {
		return o, err
	}
	if o.Difficult, err = parseInt("difficult", x.Difficult, true); err != nil {
		return o, err
	}
	if o.Confidence, err = parseOptional("confidence", x.Confidence); err != nil {
		return o, err
	}
	if o.HardCoefficient, err = parseOptional("hard-coefficient", x.HardCoefficient); err != nil {
		return o, err
	}
	if x.BndBox != nil {
		v, err := x.BndBox.named("bndbox", "xmin", "ymin", "xmax", "ymax")
		if err != nil {
			return o, err
		}
		o.BndBox = &BndBox{v[0], v[1], v[2], v[3]}
	}
	if x.Circle != nil {
		v, err := x.Circle.named("circle", "cx", "cy", "r")
		if err != nil {
			return o, err
		}
		o.Circle = &Circle{v[0], v[1], v[2]}
	}
	if x.Point != nil {
		v, err := x.Point.named("point", "x", "y")
		if err != nil {
			// The reference's table says <x>/<y>, its example <x1>/<y1>.
			var err1 error
			if v, err1 = x.Point.named("point", "x1", "y1"); err1 != nil {
				return o, err
			}
		}
		o.Point = &Point{v[0], v[1]}
	}
	for _, s := range []struct {
		name string
		set  *xmlSet
		dst  *[]Point
	}{
		{ShapePolygon, x.Polygon, &o.Polygon},
		{ShapePolyline, x.Polyline, &o.Polyline},
		{ShapeLine, x.Line, &o.Line},
		{ShapeDashed, x.Dashed, &o.Dashed},
	} {
		if s.set == nil {
			continue
		}
		pts, err := s.set.points(s.name)
		if err != nil {
			return o, err
		}
		*s.dst = pts
	}
	return o, nil
}

// named returns the values of exactly the given elements, in that order.
func (s *xmlSet) named(shape string, names ...string) ([]float64, error) {
	if len(s.Values) != len(names) {
		return nil, fmt.Errorf("<%s> has %d elements, want <%s>", shape, len(s.Values), strings.Join(names, ">, <"))
	}
	out := make([]float64, len(names))
	for i, name := range names {
		found := false
		for _, v := range s.Values {
			if v.XMLName.Local == name {
				if found {
					return nil, fmt.Errorf("<%s> has <%s> twice", shape, name)
				}
				n, err := parseNum(shape+"/"+name, v.Text)
				if err != nil {
					return nil, err
				}
				out[i], found = n, true
			}
		}
		if !found {
			return nil, fmt.Errorf("<%s> has no <%s>", shape, name)
		}
	}
	return out, nil
}

// points reads <x1>, <y1>, <x2>, <y2>, ... in any element order.
func (s *xmlSet) points(shape string) ([]Point, error) {
	xs := make(map[int]float64, len(s.Values)/2)
	ys := make(map[int]float64, len(s.Values)/2)
	for _, v := range s.Values {
		name := v.XMLName.Local
		var m map[int]float64
		switch {
		case strings.HasPrefix(name, "x"):
			m = xs
		case strings.HasPrefix(name, "y"):
			m = ys
		default:
			return nil, fmt.Errorf("<%s> has <%s>, not <xN> or <yN>", shape, name)
		}
		i, err := strconv.Atoi(name[1:])
		if err != nil || i < 1 || i > len(s.Values) {
			return nil, fmt.Errorf("<%s> has <%s>, not <xN> or <yN>", shape, name)
		}
		if _, dup := m[i]; dup {
			return nil, fmt.Errorf("<%s> has <%s> twice", shape, name)
		}
		n, err := parseNum(shape+"/"+name, v.Text)
		if err != nil {
			return nil, err
		}
		m[i] = n
	}
	pts := make([]Point, len(xs))
	for i := range pts {
		x, okx := xs[i+1]
		y, oky := ys[i+1]
		if !okx || !oky {
			return nil, fmt.Errorf("<%s> has no <x%d> and <y%d> pair", shape, i+1, i+1)
		}
		pts[i] = Point{x, y}
	}
	if len(ys) != len(xs) {
		return nil, fmt.Errorf("<%s> has %d x and %d y coordinates", shape, len(xs), len(ys))
	}
	return pts, nil
}

func parseNum(field, s string) (float64, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || !finite(n) {
		return 0, fmt.Errorf("<%s> %q is not a number", field, s)
	}
	return n, nil
}

// parseInt reads a whole number; an absent or empty element is 0 where
// optional (VOC tools often leave the flags out).
func parseInt(field, s string, optional bool) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if optional {
			return 0, nil
		}
		return 0, fmt.Errorf("no <%s>", field)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("<%s> %q is not a whole number", field, s)
	}
	return n, nil
}

func parseOptional(field, s string) (*float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	n, err := parseNum(field, s)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

func xmlOf(doc VOC) xmlAnnotation {
	x := xmlAnnotation{
		Folder:     doc.Folder,
		Filename:   doc.Filename,
		Size:       &xmlSize{strconv.Itoa(doc.Size.Width), strconv.Itoa(doc.Size.Height), strconv.Itoa(doc.Size.Depth)},
		Segmented:  "0",
		MaskSource: doc.MaskSource,
		Objects:    make([]xmlObject, len(doc.Objects)),
	}
	if doc.Source != (VOCSource{}) {
		x.Source = &xmlSource{doc.Source.Database, doc.Source.Annotation, doc.Source.Image}
	}
	if doc.Segmented {
		x.Segmented = "1"
	}
	for i := range doc.Objects {
		o := &doc.Objects[i]
		xo := xmlObject{
			Name:      o.Name,
			Pose:      o.Pose,
			Truncated: strconv.Itoa(o.Truncated),
			Occluded:  strconv.Itoa(o.Occluded),
			Difficult: strconv.Itoa(o.Difficult),
			MaskColor: o.MaskColor,
		}
		if xo.Pose == "" {
			xo.Pose = defaultPose
		}
		if o.Confidence != nil {
			xo.Confidence = formatNum(*o.Confidence)
		}
		if o.HardCoefficient != nil {
			xo.HardCoefficient = formatNum(*o.HardCoefficient)
		}
		switch {
		case o.BndBox != nil:
			b := o.BndBox
			xo.BndBox = namedSet([]string{"xmin", "ymin", "xmax", "ymax"}, b.XMin, b.YMin, b.XMax, b.YMax)
		case o.Circle != nil:
			xo.Circle = namedSet([]string{"cx", "cy", "r"}, o.Circle.CX, o.Circle.CY, o.Circle.R)
		case o.Point != nil:
			xo.Point = pointSet([]Point{*o.Point})
		case o.Polygon != nil:
			xo.Polygon = pointSet(o.Polygon)
		case o.Polyline != nil:
			xo.Polyline = pointSet(o.Polyline)
		case o.Line != nil:
			xo.Line = pointSet(o.Line)
		case o.Dashed != nil:
			xo.Dashed = pointSet(o.Dashed)
		}
		x.Objects[i] = xo
	}
	return x
}

func namedSet(names []string, vals ...float64) *xmlSet {
	s := &xmlSet{Values: make([]xmlValue, len(names))}
	for i, name := range names {
		s.Values[i] = xmlValue{XMLName: xml.Name{Local: name}, Text: formatNum(vals[i])}
	}
	return s
}

func pointSet(pts []Point) *xmlSet {
	s := &xmlSet{Values: make([]xmlValue, 0, 2*len(pts))}
	for i, p := range pts {
		n := strconv.Itoa(i + 1)
		s.Values = append(s.Values,
			xmlValue{XMLName: xml.Name{Local: "x" + n}, Text: formatNum(p.X)},
			xmlValue{XMLName: xml.Name{Local: "y" + n}, Text: formatNum(p.Y)})
	}
	return s
}
