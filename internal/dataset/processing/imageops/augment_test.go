package imageops

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// TestBoxesFollowTheirPixels draws a red rectangle, labels it with its box,
// augments the image and checks that the new box still surrounds the red
// pixels of the new image, and no more than the transform's resampling
// explains. Exact transforms (flips, right-angle turns, crops, pads,
// integer shifts) must agree to the pixel.
func TestBoxesFollowTheirPixels(t *testing.T) {
	const w, h = 160, 120
	src := withRedRect(w, h, 60, 40, 110, 90)
	sample := Sample{Key: "red", Name: "red.png", Data: encodePNG(t, src),
		Labels:   []annotation.Label{boxLabel("red", 60, 40, 110, 90), {Name: "whole", Type: annotation.TypeImageClassification}},
		Metadata: map[string]any{annotation.MetaSize: []any{float64(w), float64(h), 3.0}, "origin": "test"}}
	cases := []struct {
		name   string
		op     string
		params map[string]any
		tol    float64 // how far the box may be from the red pixels' box, per side
		w, h   int     // the new size; 0 for the same
	}{
		{"flip-lr", "Flip", map[string]any{"lr_ud": "lr"}, 0, 0, 0},
		{"flip-ud", "Flip", map[string]any{"lr_ud": "ud"}, 0, 0, 0},
		{"rotate-90", "Rotate", map[string]any{"angle_min": 90, "angle_max": 90}, 0, h, w},
		{"rotate-180", "Rotate", map[string]any{"angle_min": 180, "angle_max": 180}, 0, 0, 0},
		{"rotate-270", "Rotate", map[string]any{"angle_min": 270, "angle_max": 270}, 0, h, w},
		{"rotate-minus-90", "Rotate", map[string]any{"angle_min": -90, "angle_max": -90}, 0, h, w},
		{"rotate-right-angles", "Rotate", map[string]any{"right_angles": true, "copies": 6}, 0, -1, -1},
		{"rotate-17", "Rotate", map[string]any{"angle_min": 17, "angle_max": 17}, 1.5, 0, 0},
		{"rotate-minus-8", "Rotate", map[string]any{"angle_min": -8, "angle_max": -8}, 1.5, 0, 0},
		{"rotate-random-small", "Rotate", map[string]any{"angle_min": -15, "angle_max": 15, "copies": 5}, 1.5, 0, 0},
		{"crop", "Crop", map[string]any{"crop_percent_min": 0.05, "crop_percent_max": 0.2, "copies": 5}, 0, -1, -1},
		{"padding", "Padding", map[string]any{"px_top": 7, "px_left": 3, "px_right": 0, "px_bottom": 11}, 0, w + 3, h + 18},
		{"resize", "Resize", map[string]any{"width": 200, "height": 90}, 1.5, 200, 90},
		{"scale-x", "Scale", map[string]any{"scaleXY": "X", "scale_min": 0.7, "scale_max": 1.2, "copies": 3}, 1.5, 0, 0},
		{"scale-y", "Scale", map[string]any{"scaleXY": "Y", "scale_min": 0.8, "scale_max": 1.1, "copies": 3}, 1.5, 0, 0},
		{"shear-x", "Shear", map[string]any{"shearXY": "X", "shear_min": 10, "shear_max": 10}, 1.5, 0, 0},
		{"shear-y", "Shear", map[string]any{"shearXY": "Y", "shear_min": -20, "shear_max": 20, "copies": 3}, 1.5, 0, 0},
		{"translate-x", "Translate", map[string]any{"translateXY": "X", "translate_percent_min": -0.25, "translate_percent_max": 0.25, "copies": 4}, 0, 0, 0},
		{"translate-y", "Translate", map[string]any{"translateXY": "Y", "translate_percent_min": 0.1, "translate_percent_max": 0.2}, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			copies, err := mustAugmenter(t, c.op, c.params).Augment(sample)
			if err != nil {
				t.Fatalf("Augment: %v", err)
			}
			want := 1
			if n, ok := c.params["copies"].(int); ok {
				want = n
			}
			if len(copies) != want {
				t.Fatalf("%d copies, want %d", len(copies), want)
			}
			for _, cp := range copies {
				img := decodeT(t, cp.Data)
				gw, gh := size(img)
				if gw != cp.Width || gh != cp.Height {
					t.Errorf("copy %d (%s): the image is %dx%d, the copy says %dx%d", cp.Index, cp.Description, gw, gh, cp.Width, cp.Height)
				}
				ww, wh := c.w, c.h
				if ww == 0 {
					ww, wh = w, h
				}
				if ww > 0 && (gw != ww || gh != wh) {
					t.Errorf("copy %d (%s): the image is %dx%d, want %dx%d", cp.Index, cp.Description, gw, gh, ww, wh)
				}
				if cp.Format != FormatPNG || cp.Ext != ".png" {
					t.Errorf("copy %d: format %s %s, want the input's, png", cp.Index, cp.Format, cp.Ext)
				}
				if len(cp.Labels) != 2 || cp.Dropped != 0 {
					t.Fatalf("copy %d (%s): %d labels, %d dropped; want both labels kept", cp.Index, cp.Description, len(cp.Labels), cp.Dropped)
				}
				if cp.Labels[1].Name != "whole" || cp.Labels[1].Property != nil {
					t.Errorf("copy %d: the classification label changed: %+v", cp.Index, cp.Labels[1])
				}
				if size, _ := cp.Metadata[annotation.MetaSize].([]any); len(size) != 3 || size[0] != float64(gw) || size[1] != float64(gh) || cp.Metadata["origin"] != "test" {
					t.Errorf("copy %d: metadata %v, want @modelarts:size [%d %d 3] and the other keys kept", cp.Index, cp.Metadata, gw, gh)
				}
				got := labelBox(t, cp.Labels[0])
				red, ok := redBox(img)
				if !ok {
					t.Fatalf("copy %d (%s): no red pixel left", cp.Index, cp.Description)
				}
				// A resampled pixel reads red when most of it is covered,
				// so the box may leave out up to half of an edge pixel.
				slack := math.Min(c.tol, 0.5) + 0.01
				if got.x0 > red.x0+slack || got.y0 > red.y0+slack || got.x1 < red.x1-slack || got.y1 < red.y1-slack {
					t.Errorf("copy %d (%s): box %v does not surround the red pixels %v", cp.Index, cp.Description, got, red)
				}
				if d := maxSideGap(got, red); d > c.tol+0.01 {
					t.Errorf("copy %d (%s): box %v is %.2f px off the red pixels %v (tolerance %.1f)", cp.Index, cp.Description, got, d, red, c.tol)
				}
			}
		})
	}
}

func maxSideGap(a, b box) float64 {
	return math.Max(math.Max(math.Abs(a.x0-b.x0), math.Abs(a.y0-b.y0)), math.Max(math.Abs(a.x1-b.x1), math.Abs(a.y1-b.y1)))
}

// TestBoxesLeavingTheImage moves a box partly out: it is clipped while it
// keeps min_visible of its area, dropped below, and skip_if_boxes_lost
// then makes no copy.
func TestBoxesLeavingTheImage(t *testing.T) {
	src := withRedRect(100, 100, 70, 10, 90, 30)
	sample := Sample{Key: "edge", Name: "edge.jpg", Data: encodeJPEG(t, src, 95),
		Labels: []annotation.Label{boxLabel("a", 70, 10, 90, 30), boxLabel("b", 10, 60, 30, 80)}}
	shift := func(p float64, extra map[string]any) map[string]any {
		m := map[string]any{"translateXY": "X", "translate_percent_min": p, "translate_percent_max": p}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name    string
		params  map[string]any
		copies  int
		labels  int
		clipped *box // box a after the shift, when kept
	}{
		// +15 px: a spans 85..105, 75% inside: clipped to 85..100.
		{"clipped", shift(0.15, nil), 1, 2, &box{85, 10, 100, 30}},
		// +25 px: a spans 95..115, 25% inside: dropped at min_visible 0.5.
		{"dropped", shift(0.25, nil), 1, 1, nil},
		// min_visible 0.2 keeps it, clipped to 95..100.
		{"kept-by-min-visible", shift(0.25, map[string]any{"min_visible": 0.2}), 1, 2, &box{95, 10, 100, 30}},
		// +35 px: a is wholly outside; no min_visible keeps an empty box.
		{"outside-always-dropped", shift(0.35, map[string]any{"min_visible": 0}), 1, 1, nil},
		{"skip-copy-when-lost", shift(0.25, map[string]any{"skip_if_boxes_lost": true}), 0, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			copies, err := mustAugmenter(t, "Translate", c.params).Augment(sample)
			if err != nil {
				t.Fatal(err)
			}
			if len(copies) != c.copies {
				t.Fatalf("%d copies, want %d", len(copies), c.copies)
			}
			if c.copies == 0 {
				return
			}
			cp := copies[0]
			if len(cp.Labels) != c.labels || cp.Dropped != 2-c.labels {
				t.Fatalf("%s: %d labels (%d dropped), want %d", cp.Description, len(cp.Labels), cp.Dropped, c.labels)
			}
			if c.clipped != nil {
				if got := labelBox(t, cp.Labels[0]); maxSideGap(got, *c.clipped) > 0.01 {
					t.Errorf("%s: box a is %v, want %v", cp.Description, got, *c.clipped)
				}
			}
			if cp.Format != FormatJPEG || cp.Ext != ".jpg" {
				t.Errorf("a JPEG's copy is %s", cp.Format)
			}
		})
	}
}

// TestOtherShapesFollowOrDrop carries a polygon and a circle through
// transforms: points move with the image; a circle survives only maps that
// keep it round; a polygon leaving the image is dropped.
func TestOtherShapesFollowOrDrop(t *testing.T) {
	poly := annotation.Label{Name: "p", Type: annotation.TypeObjectDetection, Property: map[string]any{
		annotation.PropShape: "polygon", annotation.PropFeature: []any{[]any{10.0, 10.0}, []any{30.0, 10.0}, []any{20.0, 30.0}}}}
	circle := annotation.Label{Name: "c", Type: annotation.TypeObjectDetection, Property: map[string]any{
		annotation.PropShape: "circle", annotation.PropFeature: []any{[]any{50.0, 50.0}, []any{5.0}}}}
	labels := []annotation.Label{poly, circle}
	flip := affine{-1, 0, 100, 0, 1, 0}
	out, dropped := moveLabels(labels, flip, 100, 100, 0.5)
	if dropped != 0 || len(out) != 2 {
		t.Fatalf("a flip dropped %d labels", dropped)
	}
	pts, _ := points(out[0].Property[annotation.PropFeature])
	if pts[0][0] != 90 || pts[1][0] != 70 || pts[2][0] != 80 || pts[2][1] != 30 {
		t.Errorf("flipped polygon %v, want x 90, 70, 80", pts)
	}
	if _, dropped := moveLabels(labels, scale(2, 1), 200, 100, 0.5); dropped != 1 {
		t.Errorf("a stretch along x kept the circle (dropped %d)", dropped)
	}
	if _, dropped := moveLabels(labels, translate(-15, 0), 100, 100, 0.5); dropped != 1 {
		t.Errorf("a shift taking the polygon out kept it (dropped %d)", dropped)
	}
	out, _ = moveLabels(labels, scale(0.5, 0.5), 50, 50, 0.5)
	if c, _ := points(out[1].Property[annotation.PropFeature]); c[0][0] != 25 || c[1][0] != 2.5 {
		t.Errorf("halved circle %v, want centre 25 and radius 2.5", c)
	}
	if poly.Property[annotation.PropFeature].([]any)[0].([]any)[0] != 10.0 {
		t.Error("moveLabels changed its input")
	}
}

func TestAugmentIsDeterministic(t *testing.T) {
	sample := Sample{Key: "s1", Name: "s1.jpg", Data: encodeJPEG(t, scene(1, 96, 64), 90)}
	run := func(op string, params map[string]any, key string) [][]byte {
		s := sample
		s.Key = key
		copies, err := mustAugmenter(t, op, params).Augment(s)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		for _, c := range copies {
			out = append(out, c.Data)
		}
		return out
	}
	for _, op := range []string{"Rotate", "Crop", "LightArithmetic", "Saturation", "AddNoise", "CutOut", "Shear"} {
		params := map[string]any{"copies": 3, "seed": 42}
		if op == "AddNoise" {
			params["scale"] = 20
		}
		a, b := run(op, params, "s1"), run(op, params, "s1")
		for i := range a {
			if !bytes.Equal(a[i], b[i]) {
				t.Errorf("%s: copy %d differs between two runs with the same seed", op, i)
			}
		}
		if bytes.Equal(a[0], a[1]) || bytes.Equal(a[1], a[2]) {
			t.Errorf("%s: copies of one image are identical", op)
		}
		params["seed"] = 43
		if c := run(op, params, "s1"); bytes.Equal(a[0], c[0]) {
			t.Errorf("%s: seeds 42 and 43 give the same copy", op)
		}
		params["seed"] = 42
		if c := run(op, params, "s2"); bytes.Equal(a[0], c[0]) {
			t.Errorf("%s: two sample keys give the same copy", op)
		}
	}
}

// TestEveryAugmentationRuns runs each augmentation operator with its
// defaults on a JPEG with a box, for two copies.
func TestEveryAugmentationRuns(t *testing.T) {
	sample := Sample{Key: "k", Name: "k.jpeg", Data: encodeJPEG(t, scene(7, 80, 60), 90),
		Labels: []annotation.Label{boxLabel("thing", 20, 15, 60, 45)}}
	for _, op := range augmentationNames() {
		t.Run(op, func(t *testing.T) {
			copies, err := mustAugmenter(t, op, map[string]any{"copies": 2}).Augment(sample)
			if err != nil {
				t.Fatal(err)
			}
			if len(copies) != 2 {
				t.Fatalf("%d copies, want 2", len(copies))
			}
			for _, c := range copies {
				img := decodeT(t, c.Data)
				if w, h := size(img); w != c.Width || h != c.Height || w == 0 {
					t.Errorf("copy %d: image %dx%d, copy says %dx%d", c.Index, w, h, c.Width, c.Height)
				}
				if c.Format != FormatJPEG || c.Description == "" {
					t.Errorf("copy %d: format %q, description %q", c.Index, c.Format, c.Description)
				}
				if len(c.Labels)+c.Dropped != 1 {
					t.Errorf("copy %d: %d labels and %d dropped, want the one box accounted for", c.Index, len(c.Labels), c.Dropped)
				}
			}
		})
	}
}

func meanRGB(img image.Image) (r, g, b float64) {
	n := imaging.Clone(img)
	for i := 0; i < len(n.Pix); i += 4 {
		r += float64(n.Pix[i])
		g += float64(n.Pix[i+1])
		b += float64(n.Pix[i+2])
	}
	k := float64(len(n.Pix) / 4)
	return r / k, g / k, b / k
}

func spread(img image.Image) float64 {
	n := imaging.Grayscale(img)
	var s, s2 float64
	for i := 0; i < len(n.Pix); i += 4 {
		v := float64(n.Pix[i])
		s += v
		s2 += v * v
	}
	k := float64(len(n.Pix) / 4)
	return math.Sqrt(s2/k - (s/k)*(s/k))
}

// TestColourChanges checks that each colour operator moves the pixels the
// way its name says, measured on the output.
func TestColourChanges(t *testing.T) {
	base := scene(3, 64, 64)
	orange := imaging.New(32, 32, color.NRGBA{220, 120, 40, 255})
	cases := []struct {
		name   string
		img    image.Image
		op     string
		params map[string]any
		check  func(before, after image.Image) string
	}{
		{"brighter", base, "LightArithmetic", map[string]any{"brightness_min": 20, "brightness_max": 20}, func(b, a image.Image) string {
			br, bg, bb := meanRGB(b)
			ar, ag, ab := meanRGB(a)
			if (ar+ag+ab)-(br+bg+bb) < 3*30 {
				return "the mean did not rise by about 20% of 255"
			}
			return ""
		}},
		{"more-contrast", base, "LightContrast", map[string]any{"func": "linear", "strength_min": 1.5, "strength_max": 1.5}, func(b, a image.Image) string {
			if spread(a) < 1.3*spread(b) {
				return "the spread did not grow"
			}
			return ""
		}},
		{"gamma-darkens", base, "LightContrast", map[string]any{"func": "gamma", "strength_min": 2, "strength_max": 2}, func(b, a image.Image) string {
			br, _, _ := meanRGB(b)
			ar, _, _ := meanRGB(a)
			if ar >= br {
				return "gamma 2 did not darken"
			}
			return ""
		}},
		{"desaturate", orange, "Saturation", map[string]any{"saturation_min": -100, "saturation_max": -100, "hue_min": 0, "hue_max": 0}, func(_, a image.Image) string {
			r, g, b := meanRGB(a)
			if math.Abs(r-g) > 1 || math.Abs(g-b) > 1 {
				return "saturation -100% left colour"
			}
			return ""
		}},
		{"hue-turn", orange, "Saturation", map[string]any{"saturation_min": 0, "saturation_max": 0, "hue_min": 120, "hue_max": 120}, func(_, a image.Image) string {
			r, g, b := meanRGB(a) // orange (h 26°) turned by 120° is green (h 146°)
			if !(g > r && g > b) {
				return "orange turned by 120° is not green"
			}
			return ""
		}},
		{"grey", base, "Grayscale", nil, func(_, a image.Image) string {
			n := imaging.Clone(a)
			for i := 0; i < len(n.Pix); i += 4 {
				if d := int(n.Pix[i]) - int(n.Pix[i+1]); d > 2 || d < -2 {
					return "channels differ"
				}
			}
			return ""
		}},
		{"equalised", imaging.AdjustContrast(base, -70), "HistogramEqual", nil, func(b, a image.Image) string {
			if spread(a) < 2*spread(b) {
				return "the spread of a flat image did not grow"
			}
			return ""
		}},
		{"blurred", base, "Blur", nil, func(b, a image.Image) string {
			if edges(a) > 0.8*edges(b) {
				return "edges did not soften"
			}
			return ""
		}},
		{"sharpened", imaging.Blur(base, 1.5), "Sharpen", nil, func(b, a image.Image) string {
			if edges(a) <= edges(b) {
				return "edges did not sharpen"
			}
			return ""
		}},
		{"salt-and-pepper", orange, "AddNoise", map[string]any{"noise_type": "SaltAndPepper", "p": 0.2}, func(_, a image.Image) string {
			n := imaging.Clone(a)
			hit := 0
			for i := 0; i < len(n.Pix); i += 4 {
				if v := n.Pix[i]; (v == 0 || v == 255) && n.Pix[i+1] == v {
					hit++
				}
			}
			if f := float64(hit) / float64(len(n.Pix)/4); f < 0.1 || f > 0.3 {
				return "not about 20% of pixels black or white"
			}
			return ""
		}},
		{"gauss-noise", orange, "AddNoise", map[string]any{"scale": 10}, func(b, a image.Image) string {
			br, _, _ := meanRGB(b)
			ar, _, _ := meanRGB(a)
			if math.Abs(ar-br) > 2 || spread(a) < 4 {
				return "the noise is not zero-mean with a visible spread"
			}
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Sample{Key: c.name, Name: c.name + ".png", Data: encodePNG(t, c.img)}
			copies, err := mustAugmenter(t, c.op, c.params).Augment(s)
			if err != nil {
				t.Fatal(err)
			}
			if msg := c.check(c.img, decodeT(t, copies[0].Data)); msg != "" {
				t.Errorf("%s (%s): %s", c.op, copies[0].Description, msg)
			}
		})
	}
}

// edges is the mean squared difference of horizontally adjacent grey
// pixels: it falls when an image blurs (the absolute difference would not:
// blurring a step spreads it without changing its total).
func edges(img image.Image) float64 {
	g := imaging.Grayscale(img)
	var s float64
	for y := range g.Rect.Dy() {
		for x := 1; x < g.Rect.Dx(); x++ {
			d := float64(g.Pix[g.PixOffset(x, y)]) - float64(g.Pix[g.PixOffset(x-1, y)])
			s += d * d
		}
	}
	return s / float64(g.Rect.Dx()*g.Rect.Dy())
}

func TestAugmentKeepsOrChangesFormat(t *testing.T) {
	img := scene(9, 40, 30)
	for _, c := range []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"jpeg", "a.jpg", encodeJPEG(t, img, 90), FormatJPEG},
		{"png", "a.png", encodePNG(t, img), FormatPNG},
		{"bmp", "a.bmp", encodeBMP(t, img), FormatBMP},
		{"gif", "a.gif", encodeGIF(t, img), FormatGIF},
	} {
		copies, err := mustAugmenter(t, "Flip", nil).Augment(Sample{Key: c.name, Name: c.file, Data: c.data})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if _, f, err := image.DecodeConfig(bytes.NewReader(copies[0].Data)); err != nil || f != c.want || copies[0].Format != c.want {
			t.Errorf("%s: the copy is %q (%v), says %q; want %s", c.name, f, err, copies[0].Format, c.want)
		}
	}
	q := func(quality int) int {
		copies, err := mustAugmenter(t, "Flip", map[string]any{"jpeg_quality": quality}).Augment(Sample{Key: "q", Data: encodeJPEG(t, scene(2, 128, 128), 95)})
		if err != nil {
			t.Fatal(err)
		}
		return len(copies[0].Data)
	}
	if lo, hi := q(30), q(95); lo >= hi {
		t.Errorf("jpeg_quality 30 gives %d bytes, 95 gives %d: quality is not applied", lo, hi)
	}
	if _, err := mustAugmenter(t, "Flip", nil).Augment(Sample{Key: "bad", Data: []byte("nope")}); err == nil {
		t.Error("augmenting bytes that are no image did not fail")
	}
}
