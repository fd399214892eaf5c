package imageops

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"slices"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

func codes(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s@%d", f.Code, f.Label))
	}
	return out
}

func TestInspectFindsEachProblem(t *testing.T) {
	img := scene(11, 64, 48)
	jpg := encodeJPEG(t, img, 90)
	pngData := encodePNG(t, img)
	grey := image.NewGray(image.Rect(0, 0, 64, 48))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i)
	}
	transparent := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	transparent.SetNRGBA(3, 3, color.NRGBA{200, 10, 10, 128})
	v, err := NewValidator(mustParse(t, "MetaValidation", map[string]any{
		"image_max_width": "1000", "image_max_height": "1000", "image_min_width": "16", "image_min_height": "16"}))
	if err != nil {
		t.Fatal(err)
	}
	meta := func(w, h int) map[string]any {
		return map[string]any{annotation.MetaSize: []any{float64(w), float64(h), 3.0}}
	}
	cases := []struct {
		name   string
		sample Sample
		want   []string // code@label, in order
		remove bool
	}{
		{"good-jpeg", Sample{Name: "a.jpg", Data: jpg, Metadata: meta(64, 48), Labels: []annotation.Label{boxLabel("x", 2, 2, 30, 30)}}, nil, false},
		{"good-png-upper-case-extension", Sample{Name: "dir.v2/a.PNG", Data: pngData}, nil, false},
		{"truncated-jpeg", Sample{Name: "a.jpg", Data: jpg[:len(jpg)/2]}, []string{"corrupt@-1"}, true},
		{"truncated-png", Sample{Name: "a.png", Data: pngData[:len(pngData)-40]}, []string{"corrupt@-1"}, true},
		{"header-only", Sample{Name: "a.png", Data: pngData[:40]}, []string{"corrupt@-1"}, true},
		{"empty", Sample{Name: "a.jpg", Data: nil}, []string{"corrupt@-1"}, true},
		{"pixel-bomb", Sample{Name: "bomb.png", Data: pixelBomb(t)}, []string{"pixel_limit@-1"}, true},
		{"text-named-jpg", Sample{Name: "notes.jpg", Data: []byte("these are not pixels")}, []string{"corrupt@-1"}, true},
		{"png-named-jpg", Sample{Name: "a.jpg", Data: pngData}, []string{"extension_mismatch@-1"}, false},
		{"no-extension", Sample{Name: "photo", Data: jpg}, []string{"extension_mismatch@-1"}, false},
		{"gif-not-accepted", Sample{Name: "a.gif", Data: encodeGIF(t, img)}, []string{"unsupported_format@-1"}, false},
		{"bmp-accepted", Sample{Name: "a.bmp", Data: encodeBMP(t, img)}, nil, false},
		{"grey", Sample{Name: "g.png", Data: encodePNG(t, grey)}, []string{"channels@-1"}, false},
		{"transparent", Sample{Name: "t.png", Data: encodePNG(t, transparent)}, []string{"channels@-1"}, false},
		{"giant", Sample{Name: "big.jpg", Data: encodeJPEG(t, scene(1, 1500, 600), 80)}, []string{"too_large@-1"}, false},
		{"tiny", Sample{Name: "small.png", Data: encodePNG(t, scene(1, 12, 40))}, []string{"too_small@-1"}, true},
		{"annotation-size", Sample{Name: "a.jpg", Data: jpg, Metadata: meta(640, 480)}, []string{"annotation_size@-1"}, false},
		{"boxes", Sample{Name: "a.jpg", Data: jpg, Labels: []annotation.Label{
			boxLabel("fine", 1, 1, 63, 47),
			boxLabel("inverted", 30, 10, 20, 40),
			boxLabel("line", 10, 10, 11, 40),
			boxLabel("mostly-outside", 50, 10, 90, 40),
			boxLabel("partly-outside", 40, -5, 70, 40),
			{Name: "no-feature", Type: annotation.TypeObjectDetection, Property: map[string]any{annotation.PropShape: "bndbox", annotation.PropFeature: []any{[]any{1.0}}}},
			{Name: "class", Type: annotation.TypeImageClassification},
		}}, []string{"box_inverted@1", "box_degenerate@2", "box_outside@3", "box_clipped@4", "box_invalid@5"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.sample.Key = c.name
			in := v.Inspect(c.sample)
			if got := codes(in.Findings); !slices.Equal(got, c.want) {
				t.Fatalf("findings %v, want %v\n%+v", got, c.want, in.Findings)
			}
			if Removes(in.Findings) != c.remove {
				t.Errorf("Removes = %v, want %v", !c.remove, c.remove)
			}
			for _, f := range in.Findings {
				if f.Key != c.name || f.Message == "" || f.Action == "" {
					t.Errorf("finding %+v lacks its key, message or action", f)
				}
			}
		})
	}
}

// pixelBomb is a small PNG whose header claims 30000×30000 pixels.
func pixelBomb(t *testing.T) []byte {
	data := encodePNG(t, image.NewGray(image.Rect(0, 0, 8, 8)))
	// The IHDR chunk: length (8 bytes in), "IHDR", width, height, ..., CRC.
	binary.BigEndian.PutUint32(data[16:], 30000)
	binary.BigEndian.PutUint32(data[20:], 30000)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}

func TestPixelBombIsRefusedEverywhere(t *testing.T) {
	s := Sample{Key: "bomb", Name: "bomb.png", Data: pixelBomb(t)}
	if _, err := Hash(s); err == nil || !strings.Contains(err.Error(), "30000x30000") {
		t.Errorf("Hash: %v, want the pixel limit", err)
	}
	if _, err := mustAugmenter(t, "Flip", nil).Augment(s); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Errorf("Augment: %v, want the pixel limit", err)
	}
}

func TestOutliersUseTheSetsDistribution(t *testing.T) {
	v := DefaultValidator()
	var ins []Inspection
	for i := range 40 {
		w, h := 64+i%9, 60+i%7 // a realistic spread of sizes
		ins = append(ins, v.Inspect(Sample{Key: fmt.Sprint("n", i), Name: "n.jpg", Data: encodeJPEG(t, scene(uint64(i), w, h), 85)}))
	}
	ins = append(ins,
		v.Inspect(Sample{Key: "giant", Name: "g.jpg", Data: encodeJPEG(t, scene(100, 900, 700), 85)}),
		v.Inspect(Sample{Key: "tiny", Name: "t.jpg", Data: encodeJPEG(t, scene(101, 9, 9), 85)}),
		v.Inspect(Sample{Key: "broken", Name: "b.jpg", Data: []byte{0xff, 0xd8, 0xff}}),
	)
	got := map[string][]Code{}
	for _, f := range v.Outliers(ins) {
		if f.Action != Review || !strings.Contains(f.Message, "median") {
			t.Errorf("outlier %+v: want a review finding that names the median", f)
		}
		got[f.Key] = append(got[f.Key], f.Code)
	}
	if !slices.Contains(got["giant"], CodeSizeOutlier) || !slices.Contains(got["tiny"], CodeSizeOutlier) {
		t.Errorf("outliers %v: want giant and tiny as size outliers", got)
	}
	if !slices.Contains(got["giant"], CodeBytesOutlier) {
		t.Errorf("outliers %v: want giant as a bytes outlier", got)
	}
	for k := range got {
		if strings.HasPrefix(k, "n") || k == "broken" {
			t.Errorf("%s is reported as an outlier (%v) though it is within the set's spread or did not decode", k, got[k])
		}
	}
	// A set of identical sizes (MAD 0) flags only what is 4 times off.
	var same []Inspection
	for i := range 20 {
		same = append(same, Inspection{Key: fmt.Sprint(i), Width: 100, Height: 100, Bytes: 5000})
	}
	same = append(same, Inspection{Key: "bit-larger", Width: 150, Height: 150, Bytes: 9000}, Inspection{Key: "huge", Width: 400, Height: 400, Bytes: 5000})
	var keys []string
	for _, f := range v.Outliers(same) {
		keys = append(keys, f.Key+":"+string(f.Code))
	}
	if !slices.Equal(keys, []string{"huge:size_outlier"}) {
		t.Errorf("outliers among equal sizes: %v, want only huge:size_outlier", keys)
	}
	if got := v.Outliers(same[:5]); got != nil {
		t.Errorf("a set of 5 has outliers %v", got)
	}
	off, _ := NewValidator(mustParse(t, "MetaValidation", map[string]any{"outlier_threshold": 0}))
	if got := off.Outliers(ins); got != nil {
		t.Errorf("outlier_threshold 0 still reports %v", got)
	}
}

func TestRepair(t *testing.T) {
	v, err := NewValidator(mustParse(t, "MetaValidation", map[string]any{"image_max_width": 100, "image_max_height": 100}))
	if err != nil {
		t.Fatal(err)
	}
	src := withRedRect(200, 100, 20, 20, 60, 60)
	s := Sample{Key: "r", Name: "r.jpg", Data: encodePNG(t, src), // a PNG named .jpg, too wide
		Labels: []annotation.Label{
			boxLabel("red", 20, 20, 60, 60),
			boxLabel("line", 5, 5, 6, 50),
			boxLabel("partly", 180, 50, 220, 90), // half inside: clipped to 200
			{Name: "class", Type: annotation.TypeImageClassification},
		},
		Metadata: map[string]any{annotation.MetaSize: []any{300.0, 100.0, 3.0}}}
	r, ok, err := v.Repair(s)
	if err != nil || !ok {
		t.Fatalf("Repair: ok %v, %v", ok, err)
	}
	img := decodeT(t, r.Data)
	if w, h := size(img); w != 100 || h != 50 {
		t.Errorf("repaired image is %dx%d, want 100x50 (scaled into 100x100)", w, h)
	}
	if r.Format != FormatPNG || r.Ext != ".png" {
		t.Errorf("format %s, ext %q: want png and the extension corrected to .png", r.Format, r.Ext)
	}
	if len(r.Labels) != 3 || r.Labels[0].Name != "red" || r.Labels[1].Name != "partly" || r.Labels[2].Name != "class" {
		t.Fatalf("labels %v: want red, partly and class (the line dropped)", r.Labels)
	}
	red, _ := redBox(img)
	if b := labelBox(t, r.Labels[0]); maxSideGap(b, box{10, 10, 30, 30}) > 0.01 || maxSideGap(b, red) > 1 {
		t.Errorf("red box %v, want (10,10)-(30,30) around the red pixels %v", b, red)
	}
	if b := labelBox(t, r.Labels[1]); maxSideGap(b, box{90, 25, 100, 45}) > 0.01 {
		t.Errorf("partly box %v, want clipped and scaled to (90,25)-(100,45)", b)
	}
	if size := r.Metadata[annotation.MetaSize].([]any); size[0] != 100.0 || size[1] != 50.0 {
		t.Errorf("declared size %v, want [100 50 3]", size)
	}
	if len(r.Changes) < 4 {
		t.Errorf("changes %q: want the extension, the size, the dropped line, the clipped box and the declared size", r.Changes)
	}

	// An accepted image whose only fault is its extension keeps its bytes.
	jpg := encodeJPEG(t, scene(4, 40, 40), 90)
	r, ok, err = DefaultValidator().Repair(Sample{Key: "e", Name: "e.png", Data: jpg})
	if err != nil || !ok || !bytes.Equal(r.Data, jpg) || r.Ext != ".jpg" {
		t.Errorf("renaming only: ok %v, err %v, same bytes %v, ext %q", ok, err, bytes.Equal(r.Data, jpg), r.Ext)
	}
	// A GIF becomes a JPEG; a grey image becomes RGB.
	r, ok, err = DefaultValidator().Repair(Sample{Key: "g", Name: "g.gif", Data: encodeGIF(t, scene(5, 40, 40))})
	if _, f, _ := image.DecodeConfig(bytes.NewReader(r.Data)); err != nil || !ok || f != FormatJPEG || r.Ext != ".jpg" {
		t.Errorf("GIF: ok %v, err %v, format %q, ext %q; want a JPEG", ok, err, f, r.Ext)
	}
	grey := image.NewGray(image.Rect(0, 0, 20, 20))
	r, _, err = DefaultValidator().Repair(Sample{Key: "grey", Name: "g.png", Data: encodePNG(t, grey)})
	if cfg, _, _ := image.DecodeConfig(bytes.NewReader(r.Data)); err != nil || cfg.ColorModel == color.GrayModel {
		t.Errorf("grey PNG: err %v, still grey after repair", err)
	}
	// Nothing to repair, or a sample to remove: no repair.
	if _, ok, _ := DefaultValidator().Repair(Sample{Key: "fine", Name: "f.jpg", Data: jpg}); ok {
		t.Error("a sound sample was repaired")
	}
	if _, ok, _ := DefaultValidator().Repair(Sample{Key: "cut", Name: "c.jpg", Data: jpg[:100]}); ok {
		t.Error("a corrupt sample was repaired")
	}
}
