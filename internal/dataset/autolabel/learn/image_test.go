package learn

import (
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"
	"testing"
)

// TestImageDescriptorInputs: every kind of image the decoders return, of
// any size, gives a full, finite descriptor.
func TestImageDescriptorInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	shape := shapeImage(rng, 2, 64)
	convert := func(dst draw.Image) image.Image {
		draw.Draw(dst, dst.Bounds(), shape, image.Point{}, draw.Src)
		return dst
	}
	pal := color.Palette{color.Black, color.White, color.RGBA{200, 30, 30, 255}}
	cases := []struct {
		name string
		img  image.Image
	}{
		{"rgba-64", shape},
		{"nrgba", convert(image.NewNRGBA(image.Rect(0, 0, 64, 64)))},
		{"gray", convert(image.NewGray(image.Rect(0, 0, 64, 64)))},
		{"ycbcr", image.NewYCbCr(image.Rect(0, 0, 80, 60), image.YCbCrSubsampleRatio420)},
		{"paletted", convert(image.NewPaletted(image.Rect(0, 0, 64, 64), pal))},
		{"one-pixel", image.NewRGBA(image.Rect(0, 0, 1, 1))},
		{"wide", convert(image.NewRGBA(image.Rect(0, 0, 900, 12)))},
		{"large", convert(image.NewRGBA(image.Rect(0, 0, 1200, 1000)))},
		{"offset-origin", convert(image.NewRGBA(image.Rect(10, 20, 74, 84)))},
		{"uniform", image.NewUniform(color.RGBA{9, 99, 199, 255})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := tc.img.(*image.Uniform); ok {
				// An infinite image has no size to describe.
				tc.img = convert(image.NewRGBA(image.Rect(0, 0, 30, 30)))
			}
			d := ImageDescriptor(tc.img)
			if len(d) != ImageDim {
				t.Fatalf("%d values, want %d", len(d), ImageDim)
			}
			for i, v := range d {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("value %d is %v", i, v)
				}
			}
			// The colour histogram is square-rooted shares: unit length.
			if n := norm(d[histOff : histOff+histDim]); math.Abs(n-1) > 1e-3 {
				t.Errorf("colour histogram length %.4f, want 1", n)
			}
		})
	}
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// TestImageDescriptorMeaning checks that the blocks describe what they
// claim: a flat image has no edges; the shape blocks barely move when the
// shape moves; the statistics order dark below bright, blurred below sharp.
func TestImageDescriptorMeaning(t *testing.T) {
	flat := image.NewRGBA(image.Rect(0, 0, 64, 64))
	draw.Draw(flat, flat.Bounds(), image.NewUniform(color.RGBA{120, 80, 40, 255}), image.Point{}, draw.Src)
	d := ImageDescriptor(flat)
	if n := norm(d[hogOff:statsOff]); n != 0 {
		t.Errorf("a flat image has edge features of length %g, want 0", n)
	}

	square := func(x0, y0 int) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, 64, 64))
		draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{20, 20, 120, 255}), image.Point{}, draw.Src)
		draw.Draw(img, image.Rect(x0, y0, x0+20, y0+20), image.NewUniform(color.RGBA{240, 200, 0, 255}), image.Point{}, draw.Src)
		return img
	}
	a, b := ImageDescriptor(square(6, 6)), ImageDescriptor(square(36, 30))
	shapeA, shapeB := a[symOff:statsOff], b[symOff:statsOff]
	if dist := distance(shapeA, shapeB); dist > 0.05*norm(shapeA) {
		t.Errorf("moving a square changes its symmetry and radial features by %.3f of their length, want under 5%%", dist/norm(shapeA))
	}
	if a[symOff+1] < 0.5 {
		t.Errorf("a square's 4-fold orientation symmetry is %.3f, want above 0.5", a[symOff+1])
	}
	if distance(a[hogOff+orientBins:symOff], b[hogOff+orientBins:symOff]) == 0 {
		t.Error("the finer pyramid levels do not see where the square is")
	}

	img := square(20, 20)
	sharp := ImageDescriptor(img)
	blurred := image.NewRGBA(img.Bounds())
	copy(blurred.Pix, img.Pix)
	boxBlur(blurred, 2)
	soft := ImageDescriptor(blurred)
	if soft[statsOff+statSharpness] >= sharp[statsOff+statSharpness] {
		t.Errorf("sharpness: blurred %.4f, sharp %.4f", soft[statsOff+statSharpness], sharp[statsOff+statSharpness])
	}
	dark := image.NewRGBA(img.Bounds())
	copy(dark.Pix, img.Pix)
	scaleBrightness(dark, 0.3)
	if ImageDescriptor(dark)[statsOff+statBrightness] >= sharp[statsOff+statBrightness] {
		t.Error("a darkened image is not darker")
	}
}

func distance(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

func TestExtractImages(t *testing.T) {
	imgs, _ := shapeSet(4, 30) // 180 images: several batches on every core
	bad := errors.New("broken file")
	x, errs, err := ExtractImages(context.Background(), len(imgs), func(i int) (image.Image, error) {
		switch i {
		case 7:
			return nil, bad
		case 8:
			return nil, nil
		case 9:
			return image.NewRGBA(image.Rect(0, 0, 0, 5)), nil
		}
		return imgs[i], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != len(imgs) || x.Dim() != ImageDim || len(errs) != len(imgs) {
		t.Fatalf("%d rows of %d, %d errors, for %d images", x.Len(), x.Dim(), len(errs), len(imgs))
	}
	for i := range imgs {
		failed := i >= 7 && i <= 9
		if (errs[i] != nil) != failed || x.Absent(i) != failed {
			t.Errorf("image %d: error %v, absent %v", i, errs[i], x.Absent(i))
		}
		if !failed {
			want := ImageDescriptor(imgs[i])
			if got := x.Row(i); distance(got, want) != 0 {
				t.Fatalf("row %d differs from ImageDescriptor of its image", i)
			}
		}
	}
	if !errors.Is(errs[7], bad) {
		t.Errorf("errs[7] = %v, want the loader's error", errs[7])
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := ExtractImages(ctx, len(imgs), func(i int) (image.Image, error) { return imgs[i], nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
	if _, _, err := ExtractImages(context.Background(), 0, nil); err == nil {
		t.Error("no images: no error")
	}
}
