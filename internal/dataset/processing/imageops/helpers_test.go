package imageops

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/bmp"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// scene draws a picture that differs from every other seed's: a gradient
// background in two random colours and a dozen random rectangles and
// discs. Nothing in it is pure red, which the box tests draw.
func scene(seed uint64, w, h int) *image.NRGBA {
	r := rand.New(rand.NewPCG(seed, 0x5ce4e))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rnd := func() color.NRGBA {
		return color.NRGBA{uint8(r.IntN(140)), uint8(40 + r.IntN(216)), uint8(40 + r.IntN(216)), 255}
	}
	a, b := rnd(), rnd()
	horizontal := r.IntN(2) == 0
	for y := range h {
		for x := range w {
			t := float64(x) / float64(w)
			if !horizontal {
				t = float64(y) / float64(h)
			}
			mix := func(p, q uint8) uint8 { return uint8(float64(p)*(1-t) + float64(q)*t) }
			img.Pix[img.PixOffset(x, y)+0] = mix(a.R, b.R)
			img.Pix[img.PixOffset(x, y)+1] = mix(a.G, b.G)
			img.Pix[img.PixOffset(x, y)+2] = mix(a.B, b.B)
			img.Pix[img.PixOffset(x, y)+3] = 255
		}
	}
	for range 12 {
		c := rnd()
		x0, y0 := r.IntN(w), r.IntN(h)
		rw, rh := 4+r.IntN(w/2), 4+r.IntN(h/2)
		disc := r.IntN(2) == 0
		for y := y0; y < min(h, y0+rh); y++ {
			for x := x0; x < min(w, x0+rw); x++ {
				if disc {
					dx, dy := float64(x-x0)/float64(rw)-0.5, float64(y-y0)/float64(rh)-0.5
					if dx*dx+dy*dy > 0.25 {
						continue
					}
				}
				img.SetNRGBA(x, y, c)
			}
		}
	}
	return img
}

func encodeJPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatalf("encode a JPEG: %v", err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatalf("encode a PNG: %v", err)
	}
	return buf.Bytes()
}

func encodeBMP(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := bmp.Encode(&buf, img); err != nil {
		t.Fatalf("encode a BMP: %v", err)
	}
	return buf.Bytes()
}

func encodeGIF(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, nil); err != nil {
		t.Fatalf("encode a GIF: %v", err)
	}
	return buf.Bytes()
}

func decodeT(t testing.TB, data []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode an output image: %v", err)
	}
	return img
}

// boxLabel is a detection label as the dataset stores it.
func boxLabel(name string, x0, y0, x1, y1 float64) annotation.Label {
	return annotation.Label{Name: name, Type: annotation.TypeObjectDetection, Property: map[string]any{
		annotation.PropShape:   "bndbox",
		annotation.PropFeature: []any{[]any{x0, y0}, []any{x1, y1}},
	}}
}

func labelBox(t testing.TB, l annotation.Label) box {
	t.Helper()
	b, ok := boxOf(l)
	if !ok {
		t.Fatalf("label %s has no box: %v", l.Name, l.Property)
	}
	return b
}

// withRedRect is a grey w×h image with a pure red rectangle over pixels
// [x0, x1) × [y0, y1).
func withRedRect(w, h, x0, y0, x1, y1 int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{90, 110, 100, 255}
			if x >= x0 && x < x1 && y >= y0 && y < y1 {
				c = color.NRGBA{255, 0, 0, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// redBox is the box around the pixels that are mostly red (more red than
// the grey around them by half the step), in plane coordinates.
func redBox(img image.Image) (box, bool) {
	b := img.Bounds()
	out := box{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	found := false
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, _, _ := img.At(x, y).RGBA()
			if r>>8 > 200 && g>>8 < 60 {
				found = true
				out.x0, out.y0 = math.Min(out.x0, float64(x-b.Min.X)), math.Min(out.y0, float64(y-b.Min.Y))
				out.x1, out.y1 = math.Max(out.x1, float64(x-b.Min.X+1)), math.Max(out.y1, float64(y-b.Min.Y+1))
			}
		}
	}
	return out, found
}

func mustParse(t testing.TB, op string, params map[string]any) Config {
	t.Helper()
	c, err := Parse(op, params)
	if err != nil {
		t.Fatalf("Parse(%s, %v): %v", op, params, err)
	}
	return c
}

func mustAugmenter(t testing.TB, op string, params map[string]any) *Augmenter {
	t.Helper()
	a, err := NewAugmenter(mustParse(t, op, params))
	if err != nil {
		t.Fatalf("NewAugmenter(%s, %v): %v", op, params, err)
	}
	return a
}
