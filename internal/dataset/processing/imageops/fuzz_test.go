package imageops

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// FuzzParse: whatever a task carries, Parse answers a complete config or
// a *ParamError, and the config builds its kind's worker.
func FuzzParse(f *testing.F) {
	f.Add("Flip", `{"lr_ud":"ud","flip_p":"0.5"}`)
	f.Add("Rotate", `{"angle_min":"-400","right_angles":"True"}`)
	f.Add("MetaValidation", `{"image_max_width":"1920","allowed_formats":["jpg","png"]}`)
	f.Add("RRD", `{"n_clusters":"auto","sample_count":3}`)
	f.Add("LightContrast", `{"strength_min":-1,"strength_max":2}`)
	f.Add("Nope", `{}`)
	f.Fuzz(func(t *testing.T, op, params string) {
		var p map[string]any
		if json.Unmarshal([]byte(params), &p) != nil {
			return
		}
		c, err := Parse(op, p)
		if err != nil {
			var pe *ParamError
			if !errors.As(err, &pe) || pe.Operator != op {
				t.Fatalf("Parse(%q, %s): %v is not a *ParamError naming the operator", op, params, err)
			}
			return
		}
		for _, prm := range c.Operator().Params {
			if c.Value(prm.Name) == nil {
				t.Fatalf("Parse(%q, %s): %s has no value", op, params, prm.Name)
			}
		}
		var perr error
		switch c.Operator().Kind {
		case Augmentation:
			_, perr = NewAugmenter(c)
		case Validation:
			_, perr = NewValidator(c)
		}
		if perr != nil && !errors.As(perr, new(*ParamError)) {
			t.Fatalf("a parsed %s config does not build: %v", op, perr)
		}
	})
}

// FuzzInspect: no bytes, name or declared size make validation, hashing or
// augmentation panic.
func FuzzInspect(f *testing.F) {
	img := scene(1, 24, 16)
	f.Add(encodePNG(f, img), "a.png", 24, 16)
	f.Add(encodeJPEG(f, img, 80), "a.png", 0, 0)
	f.Add(encodeGIF(f, img), "", 3, 2)
	f.Add(encodeBMP(f, img), "x.bmp", -1, 5)
	f.Add([]byte("GIF89a"), "a.gif", 1, 1)
	v := DefaultValidator()
	aug, err := NewAugmenter(mustParse(f, "Rotate", map[string]any{"angle_min": 10, "angle_max": 10}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, name string, w, h int) {
		s := Sample{Key: "k", Name: name, Data: data,
			Labels:   []annotation.Label{boxLabel("b", 1, 1, float64(w), float64(h))},
			Metadata: map[string]any{annotation.MetaSize: []any{float64(w), float64(h)}}}
		in := v.Inspect(s)
		if in.Width == 0 && !Removes(in.Findings) {
			t.Fatalf("an undecodable sample is not removed: %+v", in)
		}
		if _, err := Hash(s); (err == nil) != (in.Width > 0) {
			t.Fatalf("Hash and Inspect disagree on whether %q decodes: %v", name, err)
		}
		if in.Width > 0 && in.Width*in.Height <= 1<<16 {
			if _, err := aug.Augment(s); err != nil {
				t.Fatalf("a decodable sample does not augment: %v", err)
			}
			if _, _, err := v.Repair(s); err != nil {
				t.Fatalf("a decodable sample does not repair: %v", err)
			}
		}
	})
}
