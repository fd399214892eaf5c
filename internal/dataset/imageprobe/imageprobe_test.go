package imageprobe

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// tinyWebP is a 3x2 lossless WebP (VP8L): the standard library and
// x/image have no WebP encoder, so the file is spelled out. Its VP8L header
// packs width-1 and height-1 into 14 bits each.
var tinyWebP = []byte{
	'R', 'I', 'F', 'F', 26, 0, 0, 0, 'W', 'E', 'B', 'P',
	'V', 'P', '8', 'L', 13, 0, 0, 0,
	0x2f,                   // VP8L signature
	0x02, 0x40, 0x00, 0x00, // width-1=2, height-1=1, alpha=0, version=0
	0, 0, 0, 0, 0, 0, 0, 0, // (image data, not read for the size)
	0,
}

func encoded(t *testing.T, enc func(io.Writer, image.Image) error, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.NRGBA{R: 255, A: 255})
	var buf bytes.Buffer
	if err := enc(&buf, img); err != nil {
		t.Fatalf("encode a %dx%d test image: %v", w, h, err)
	}
	return buf.Bytes()
}

func TestSize(t *testing.T) {
	jpg := func(w io.Writer, m image.Image) error { return jpeg.Encode(w, m, nil) }
	gf := func(w io.Writer, m image.Image) error { return gif.Encode(w, m, nil) }
	tif := func(w io.Writer, m image.Image) error { return tiff.Encode(w, m, nil) }
	pngData := encoded(t, png.Encode, 7, 5)
	cases := []struct {
		name   string
		data   []byte
		w, h   int
		format string
		fails  bool
	}{
		{name: "jpeg", data: encoded(t, jpg, 9, 4), w: 9, h: 4, format: "jpeg"},
		{name: "png", data: pngData, w: 7, h: 5, format: "png"},
		{name: "gif", data: encoded(t, gf, 3, 8), w: 3, h: 8, format: "gif"},
		{name: "bmp", data: encoded(t, bmp.Encode, 11, 6), w: 11, h: 6, format: "bmp"},
		{name: "tiff", data: encoded(t, tif, 2, 13), w: 2, h: 13, format: "tiff"},
		{name: "webp", data: tinyWebP, w: 3, h: 2, format: "webp"},
		{name: "truncated png", data: pngData[:12], fails: true},
		{name: "garbage", data: []byte("not an image at all, just text"), fails: true},
		{name: "empty", data: nil, fails: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, h, format, err := Size(bytes.NewReader(c.data))
			if c.fails {
				if err == nil {
					t.Fatalf("Size of %s = %dx%d %q; want an error", c.name, w, h, format)
				}
				return
			}
			if err != nil {
				t.Fatalf("Size of a %s: %v", c.name, err)
			}
			if w != c.w || h != c.h || format != c.format {
				t.Errorf("Size of a %s = %dx%d %q; want %dx%d %q", c.name, w, h, format, c.w, c.h, c.format)
			}
		})
	}
}

// TestTopDownBMP: a negative height in a BMP header marks rows stored top
// down; the size is its absolute value.
func TestTopDownBMP(t *testing.T) {
	data := encoded(t, bmp.Encode, 4, 3)
	// Height is the little-endian int32 at offset 22 of the file.
	neg := uint32(0xFFFFFFFD) // -3
	data[22], data[23], data[24], data[25] = byte(neg), byte(neg>>8), byte(neg>>16), byte(neg>>24)
	w, h, _, err := Size(bytes.NewReader(data))
	if err != nil || w != 4 || h != 3 {
		t.Errorf("Size of a top-down BMP = %dx%d, %v; want 4x3", w, h, err)
	}
}
