package imageops

// Geometry of labels: every geometric operator gives the affine map from
// the source image plane to the new one, and labels follow their pixels
// through it. Coordinates are continuous: pixel (i, j) covers
// [i, i+1) × [j, j+1), so a w×h image spans [0, w] × [0, h] and a box
// around pixels x0..x1 is [x0, x1+1], as the dataset's bndbox is.

import (
	"image"
	"math"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// affine maps (x, y) to (a·x + b·y + c, d·x + e·y + f), stored as
// [a, b, c, d, e, f] (the layout of x/image/math/f64.Aff3).
type affine [6]float64

var identity = affine{1, 0, 0, 0, 1, 0}

func (m affine) apply(x, y float64) (float64, float64) {
	return m[0]*x + m[1]*y + m[2], m[3]*x + m[4]*y + m[5]
}

// then is m followed by n.
func (m affine) then(n affine) affine {
	return affine{
		n[0]*m[0] + n[1]*m[3], n[0]*m[1] + n[1]*m[4], n[0]*m[2] + n[1]*m[5] + n[2],
		n[3]*m[0] + n[4]*m[3], n[3]*m[1] + n[4]*m[4], n[3]*m[2] + n[4]*m[5] + n[5],
	}
}

func translate(dx, dy float64) affine { return affine{1, 0, dx, 0, 1, dy} }

func scale(sx, sy float64) affine { return affine{sx, 0, 0, 0, sy, 0} }

// around conjugates m by a translation so that it acts around (cx, cy).
func around(m affine, cx, cy float64) affine {
	return translate(-cx, -cy).then(m).then(translate(cx, cy))
}

// rotation turns the plane counter-clockwise (as seen on screen, y down)
// by deg degrees around the origin.
func rotation(deg float64) affine {
	s, c := math.Sincos(deg * math.Pi / 180)
	return affine{c, s, 0, -s, c, 0}
}

// box is an axis-aligned rectangle of the image plane.
type box struct{ x0, y0, x1, y1 float64 }

func (b box) area() float64 {
	if b.x1 <= b.x0 || b.y1 <= b.y0 {
		return 0
	}
	return (b.x1 - b.x0) * (b.y1 - b.y0)
}

func (b box) clip(w, h int) box {
	return box{math.Max(b.x0, 0), math.Max(b.y0, 0), math.Min(b.x1, float64(w)), math.Min(b.y1, float64(h))}
}

// mapped is the bounding box of b's four corners through m.
func (b box) mapped(m affine) box {
	out := box{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for _, p := range [4][2]float64{{b.x0, b.y0}, {b.x1, b.y0}, {b.x0, b.y1}, {b.x1, b.y1}} {
		x, y := m.apply(p[0], p[1])
		out.x0, out.y0 = math.Min(out.x0, x), math.Min(out.y0, y)
		out.x1, out.y1 = math.Max(out.x1, x), math.Max(out.y1, y)
	}
	return out
}

func (b box) feature() []any {
	return []any{[]any{round3(b.x0), round3(b.y0)}, []any{round3(b.x1), round3(b.y1)}}
}

// round3 keeps coordinates readable: a thousandth of a pixel is below any
// annotation's precision.
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// points reads a @modelarts:feature as JSON decoding gives it ([]any of
// []any of float64) or as Go code builds it ([][]float64).
func points(v any) ([][]float64, bool) {
	switch v := v.(type) {
	case [][]float64:
		return v, true
	case []any:
		out := make([][]float64, len(v))
		for i, p := range v {
			switch p := p.(type) {
			case []float64:
				out[i] = p
			case []any:
				out[i] = make([]float64, len(p))
				for j, c := range p {
					f, err := number(c)
					if err != nil {
						return nil, false
					}
					out[i][j] = f
				}
			default:
				return nil, false
			}
		}
		return out, true
	}
	return nil, false
}

// shapeOf is a label's shape: its @modelarts:shape, or "bndbox" for a
// detection label that leaves it out (the dataset's default), or "" for a
// label without geometry (classification).
func shapeOf(l annotation.Label) string {
	if s, ok := l.Property[annotation.PropShape].(string); ok && s != "" {
		return s
	}
	if l.Type == annotation.TypeObjectDetection {
		return "bndbox"
	}
	if l.Property[annotation.PropFeature] != nil {
		return "polygon"
	}
	return ""
}

// boxOf reads a bndbox label's rectangle; ok is false when its feature is
// not two points.
func boxOf(l annotation.Label) (box, bool) {
	pts, ok := points(l.Property[annotation.PropFeature])
	if !ok || len(pts) != 2 || len(pts[0]) != 2 || len(pts[1]) != 2 {
		return box{}, false
	}
	b := box{pts[0][0], pts[0][1], pts[1][0], pts[1][1]}
	for _, c := range []float64{b.x0, b.y0, b.x1, b.y1} {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return box{}, false
		}
	}
	return b, true
}

func withFeature(l annotation.Label, feature []any) annotation.Label {
	p := make(map[string]any, len(l.Property))
	for k, v := range l.Property {
		p[k] = v
	}
	p[annotation.PropFeature] = feature
	l.Property = p
	return l
}

// moveLabels carries labels through m onto a w×h image. A box becomes the
// bounding box of its mapped corners, clipped to the image; it is dropped
// when the clipped part is empty or smaller than minVisible of the mapped
// box. Other shapes keep their mapped points when all stay inside the image
// (a circle only through maps that keep circles round) and are dropped
// otherwise. Labels without geometry are kept as they are. dropped counts
// the labels left out.
func moveLabels(labels []annotation.Label, m affine, w, h int, minVisible float64) (out []annotation.Label, dropped int) {
	inside := func(x, y float64) bool { return x >= 0 && y >= 0 && x <= float64(w) && y <= float64(h) }
	for _, l := range labels {
		switch shape := shapeOf(l); shape {
		case "":
			out = append(out, l)
		case "bndbox":
			b, ok := boxOf(l)
			if !ok {
				dropped++
				continue
			}
			mb := b.mapped(m)
			cb := mb.clip(w, h)
			if cb.area() <= 0 || cb.area() < minVisible*mb.area() {
				dropped++
				continue
			}
			out = append(out, withFeature(l, cb.feature()))
		case "circle":
			pts, ok := points(l.Property[annotation.PropFeature])
			if !ok || len(pts) != 2 || len(pts[0]) != 2 || len(pts[1]) != 1 {
				dropped++
				continue
			}
			x, y := m.apply(pts[0][0], pts[0][1])
			r, round := roundScale(m)
			if !round || !inside(x, y) {
				dropped++
				continue
			}
			out = append(out, withFeature(l, []any{[]any{round3(x), round3(y)}, []any{round3(pts[1][0] * r)}}))
		default:
			pts, ok := points(l.Property[annotation.PropFeature])
			keep := ok && len(pts) > 0
			feature := make([]any, len(pts))
			for i := 0; keep && i < len(pts); i++ {
				if len(pts[i]) != 2 {
					keep = false
					break
				}
				x, y := m.apply(pts[i][0], pts[i][1])
				keep = inside(x, y)
				feature[i] = []any{round3(x), round3(y)}
			}
			if !keep {
				dropped++
				continue
			}
			out = append(out, withFeature(l, feature))
		}
	}
	return out, dropped
}

// roundScale reports how m scales lengths, and whether it scales them the
// same in every direction (a circle stays a circle).
func roundScale(m affine) (float64, bool) {
	sx := math.Hypot(m[0], m[3])
	sy := math.Hypot(m[1], m[4])
	dot := m[0]*m[1] + m[3]*m[4]
	return sx, math.Abs(sx-sy) < 1e-9 && math.Abs(dot) < 1e-9
}

// size is an image's width and height.
func size(img image.Image) (int, int) {
	b := img.Bounds()
	return b.Dx(), b.Dy()
}
