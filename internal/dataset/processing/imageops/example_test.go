package imageops_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/processing/imageops"
)

// A task's operator_params entry is parsed once, when the task is created;
// a *ParamError names what is wrong, for a 400 answer.
func ExampleParse() {
	kind, _ := imageops.KindOf("sys_data_augmentation")
	cfg, err := imageops.Parse("Flip", map[string]any{"lr_ud": "ud", "flip_p": "1", "copies": 2})
	fmt.Println(kind, cfg.Operator().Kind == kind, cfg.Value("lr_ud"), cfg.Value("copies"), err)

	_, err = imageops.Parse("Flip", map[string]any{"flip_p": 2})
	var pe *imageops.ParamError
	if errors.As(err, &pe) {
		fmt.Println(pe.Code, pe.Param, "|", err)
	}
	// Output:
	// augmentation true ud 2 <nil>
	// bad_value flip_p | operator Flip: parameter flip_p: 2 is outside [0, 1]
}

func pngOf(w, h int, fill color.Color) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, fill)
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// An augmentation task makes copies of each sample; each copy carries the
// sample's boxes through its transform.
func ExampleAugmenter_Augment() {
	cfg, _ := imageops.Parse("Flip", map[string]any{"lr_ud": "lr"})
	aug, _ := imageops.NewAugmenter(cfg)
	box := annotation.Label{Name: "cat", Type: annotation.TypeObjectDetection, Property: map[string]any{
		annotation.PropShape: "bndbox", annotation.PropFeature: []any{[]any{10.0, 20.0}, []any{30.0, 40.0}}}}
	copies, err := aug.Augment(imageops.Sample{Key: "s1", Name: "cat.png", Data: pngOf(100, 50, color.White), Labels: []annotation.Label{box}})
	if err != nil {
		panic(err)
	}
	c := copies[0]
	fmt.Println(c.Description, c.Format, c.Width, c.Height, c.Labels[0].Property[annotation.PropFeature])
	// Output: Flip lr png 100 50 [[70 20] [90 40]]
}

// A validation task inspects every sample, then looks for outliers over
// the whole set; cleaning removes the samples with a Remove finding.
func ExampleValidator() {
	v := imageops.DefaultValidator()
	samples := []imageops.Sample{
		{Key: "a", Name: "a.png", Data: pngOf(8, 8, color.White)},
		{Key: "b", Name: "b.jpg", Data: pngOf(8, 8, color.Black)},
		{Key: "c", Name: "c.png", Data: []byte("not an image")},
	}
	var all []imageops.Inspection
	for _, s := range samples {
		in := v.Inspect(s)
		all = append(all, in)
		for _, f := range in.Findings {
			fmt.Println(f.Key, f.Code, f.Action)
		}
		fmt.Println(s.Key, "removed by cleaning:", imageops.Removes(in.Findings))
	}
	fmt.Println("outliers:", len(v.Outliers(all)))
	// Output:
	// a removed by cleaning: false
	// b extension_mismatch repair
	// b removed by cleaning: false
	// c corrupt remove
	// c removed by cleaning: true
	// outliers: 0
}

// A de-duplication task hashes every sample (in parallel, as it reads
// them), then groups the fingerprints at once.
func ExampleDeduplicator_Groups() {
	cfg, _ := imageops.Parse("SimDeduplication", map[string]any{"simlarity_threshold": "0.9"})
	d, _ := imageops.NewDeduplicator(cfg)
	white := pngOf(64, 64, color.White)
	var fps []imageops.Fingerprint
	for _, s := range []imageops.Sample{{Key: "a", Data: white}, {Key: "b", Data: pngOf(32, 32, color.White)}, {Key: "c", Data: white}} {
		f, err := imageops.Hash(s)
		if err != nil {
			panic(err)
		}
		fps = append(fps, f)
	}
	for _, g := range d.Groups(fps) {
		fmt.Printf("keep %s, remove %+v\n", g.Keep, g.Duplicates)
	}
	// Output: keep a, remove [{Key:b Exact:false Distance:0} {Key:c Exact:true Distance:0}]
}
