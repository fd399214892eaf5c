package imageops

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCatalogueIsWellFormed(t *testing.T) {
	names := map[string]bool{}
	kinds := map[Kind]int{}
	for _, op := range Catalogue() {
		if names[op.Name] {
			t.Errorf("operator %s is listed twice", op.Name)
		}
		names[op.Name] = true
		kinds[op.Kind]++
		if op.Template().ID == "" {
			t.Errorf("operator %s: kind %q has no processing template", op.Name, op.Kind)
		}
		if op.Description == "" {
			t.Errorf("operator %s has no description", op.Name)
		}
		params := map[string]bool{}
		for _, p := range op.Params {
			if params[p.Name] {
				t.Errorf("operator %s: parameter %s is listed twice", op.Name, p.Name)
			}
			params[p.Name] = true
			if p.Description == "" {
				t.Errorf("operator %s: parameter %s has no description", op.Name, p.Name)
			}
			if p.Required {
				continue
			}
			if _, err := p.parse(p.Default); err != nil {
				t.Errorf("operator %s: the default %q of %s does not parse: %v", op.Name, p.Default, p.Name, err)
			}
		}
	}
	for _, k := range []Kind{Validation, Cleaning, Augmentation, Selection} {
		if kinds[k] == 0 {
			t.Errorf("no operator of kind %s", k)
		}
	}
	// The operators the user guide documents for these kinds, generative
	// ones (StyleGAN, CycleGAN) and Weather aside.
	for _, name := range []string{"MetaValidation", "PCC", "SimDeduplication", "RRD", "AddNoise", "Blur", "Crop", "CutOut", "Flip",
		"Grayscale", "HistogramEqual", "LightArithmetic", "LightContrast", "MotionBlur", "Padding", "Resize", "Rotate",
		"Saturation", "Scale", "Sharpen", "Shear", "Translate"} {
		if !names[name] {
			t.Errorf("operator %s is missing from the catalogue", name)
		}
	}
}

func TestTemplatesAreTheReferences(t *testing.T) {
	got, err := json.Marshal(Templates())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"sys_data_cleaning", "sys_data_validation", "sys_data_selection", "sys_data_augmentation"} {
		if !strings.Contains(string(got), `"template_id":"`+id+`"`) {
			t.Errorf("templates %s lack %s", got, id)
		}
	}
	if Augmentation.Template().LabelEN != "data augmentation" {
		t.Errorf("augmentation's template is %+v", Augmentation.Template())
	}
}

// TestParseReferenceExamples parses the params of the reference's request
// examples (creating_a_processing_task.rst), strings and context keys
// included.
func TestParseReferenceExamples(t *testing.T) {
	examples := []struct {
		op     string
		params string
		check  func(Config) string
	}{
		{"MetaValidation", `{"task_type":"image_classification","dataset_type":"manifest","source_service":"select","filter_func":"data_validation_select","image_max_width":"1920","image_max_height":"1920","total_status":"[0,1,2]"}`,
			func(c Config) string {
				if c.Value("image_max_width") != 1920 || c.Value("image_max_height") != 1920 {
					return "image_max_width/height are not 1920"
				}
				return ""
			}},
		{"PCC", `{"task_type":"image_classification","dataset_type":"manifest","source_service":"select","filter_func":"data_cleaning_select","prototype_sample_path":"obs://test-obs/classify/data/animals/","criticism_sample_path":"","n_clusters":"auto","simlarity_threshold":"0.9","embedding_distance":"0.2","checkpoint_path":"/home/work/user-job-dir/test-lxm/resnet_v1_50","total_status":"[0,2]","do_validation":"True"}`,
			func(c Config) string {
				if c.Value("n_clusters") != 0 || c.Value("simlarity_threshold") != 0.9 || !c.DoValidation() {
					return "n_clusters, simlarity_threshold or do_validation is wrong"
				}
				return ""
			}},
		{"SimDeduplication", `{"task_type":"image_classification","dataset_type":"manifest","source_service":"select","filter_func":"data_deduplication_select","simlarity_threshold":"0.9","total_status":"[0,2]","do_validation":"True"}`,
			func(c Config) string {
				if d, _ := NewDeduplicator(c); d.MaxDistance != 6 {
					return "the Hamming threshold of similarity 0.9 is not 6"
				}
				return ""
			}},
		{"AddNoise", `{"task_type":"image_classification","dataset_type":"manifest","noise_type":"Gauss","loc":"0","scale":"1","lam":"2","p":"0.01","total_status":"[3]","filter_func":"data_augmentation","do_validation":"True"}`,
			func(c Config) string {
				if c.Value("noise_type") != "Gauss" || c.Value("p") != 0.01 || c.Value("copies") != 1 {
					return "noise_type, p or the default copies is wrong"
				}
				return ""
			}},
		{"Flip", `{"lr_ud":"UD","flip_p":0.5,"copies":3,"do_validation":false}`,
			func(c Config) string {
				if c.Value("lr_ud") != "ud" || c.Value("flip_p") != 0.5 || c.Value("copies") != 3 || c.DoValidation() {
					return "JSON-typed values were not read"
				}
				return ""
			}},
		{"RRD", `{"sample_ratio":"0.5","n_clusters":"4"}`,
			func(c Config) string {
				if c.Value("n_clusters") != 4 || c.Value("sample_count") != -1 {
					return "n_clusters or the default sample_count is wrong"
				}
				return ""
			}},
	}
	for _, ex := range examples {
		t.Run(ex.op, func(t *testing.T) {
			var params map[string]any
			if err := json.Unmarshal([]byte(ex.params), &params); err != nil {
				t.Fatal(err)
			}
			c, err := Parse(ex.op, params)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if msg := ex.check(c); msg != "" {
				t.Errorf("%s: %s (values %v)", ex.op, msg, c.values)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name   string
		op     string
		params map[string]any
		code   ParamErrorCode
		param  string
		in     string // the message contains this
	}{
		{"unknown-operator", "Flp", nil, UnknownOperator, "", `unknown operator "Flp"`},
		{"unknown-parameter", "Flip", map[string]any{"flip_q": "1"}, UnknownParam, "flip_q", `unknown parameter "flip_q"`},
		{"not-a-number", "Flip", map[string]any{"flip_p": "often"}, BadValue, "flip_p", `"often" is not a number`},
		{"above-range", "Flip", map[string]any{"flip_p": 1.5}, BadValue, "flip_p", "1.5 is outside [0, 1]"},
		{"not-an-integer", "Padding", map[string]any{"px_top": "2.5"}, BadValue, "px_top", `"2.5" is not an integer`},
		{"negative-pixels", "Padding", map[string]any{"px_left": -3}, BadValue, "px_left", "-3 is outside [0, 1024]"},
		{"bad-bool", "Crop", map[string]any{"do_validation": "maybe"}, BadValue, "do_validation", `"maybe" is not True or False`},
		{"bad-enum", "Flip", map[string]any{"lr_ud": "diagonal"}, BadValue, "lr_ud", `"diagonal" is not one of lr, ud`},
		{"enum-not-string", "Blur", map[string]any{"blur_type": 3.0}, BadValue, "blur_type", "3 is not one of Gauss, Average"},
		{"min-above-max", "Crop", map[string]any{"crop_percent_min": "0.3", "crop_percent_max": "0.1"}, BadValue, "crop_percent_min", "0.3 is above crop_percent_max (0.1)"},
		{"required-missing", "PCC", map[string]any{"n_clusters": "auto"}, BadValue, "prototype_sample_path", "is required"},
		{"required-empty", "PCC", map[string]any{"prototype_sample_path": " "}, BadValue, "prototype_sample_path", "is required"},
		{"zero-is-not-a-limit", "MetaValidation", map[string]any{"image_max_width": "0"}, BadValue, "image_max_width", "(or -1 for no limit)"},
		{"auto-or-integer", "RRD", map[string]any{"n_clusters": "some"}, BadValue, "n_clusters", `"some" is not a number`},
		{"no-clusters", "RRD", map[string]any{"n_clusters": 0}, BadValue, "n_clusters", "0 is outside [1, ∞]"},
		{"unknown-format", "MetaValidation", map[string]any{"allowed_formats": "jpg,heic"}, BadValue, "allowed_formats", `"heic" is not one of`},
		{"strength-half-set", "LightContrast", map[string]any{"strength_min": 0.5}, BadValue, "strength_min", "both -1 or both set"},
		{"too-many-copies", "Rotate", map[string]any{"copies": 1000}, BadValue, "copies", "1000 is outside [1, 100]"},
		{"infinite", "Scale", map[string]any{"scale_min": "Inf"}, BadValue, "scale_min", "is not a finite number"},
		{"param-of-another-operator", "Flip", map[string]any{"angle_min": 10}, UnknownParam, "angle_min", "its parameters are lr_ud, flip_p"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.op, c.params)
			var pe *ParamError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%s, %v) = %v, want a *ParamError", c.op, c.params, err)
			}
			if pe.Code != c.code || pe.Param != c.param || pe.Operator != c.op {
				t.Errorf("error %+v: want code %s, operator %s, parameter %q", pe, c.code, c.op, c.param)
			}
			if !strings.Contains(err.Error(), c.in) {
				t.Errorf("message %q does not say %q", err, c.in)
			}
		})
	}
}

func TestParseAcceptsEveryOperatorWithDefaults(t *testing.T) {
	for _, op := range Catalogue() {
		params := map[string]any{}
		if op.Name == "PCC" {
			params["prototype_sample_path"] = "obs://bucket/positives/"
		}
		c, err := Parse(op.Name, params)
		if err != nil {
			t.Errorf("%s with defaults: %v", op.Name, err)
			continue
		}
		for _, p := range op.Params {
			if c.Value(p.Name) == nil {
				t.Errorf("%s: parameter %s has no value after defaults", op.Name, p.Name)
			}
		}
		var made error
		switch op.Kind {
		case Augmentation:
			_, made = NewAugmenter(c)
		case Validation:
			_, made = NewValidator(c)
		case Cleaning:
			_, made = NewCleaner(c)
		case Selection:
			if op.Name == "RRD" {
				_, made = NewSelector(c)
			} else {
				_, made = NewDeduplicator(c)
			}
		}
		if made != nil {
			t.Errorf("%s: its kind's constructor refuses its default config: %v", op.Name, made)
		}
	}
}

func TestResizeBeyondThePixelLimit(t *testing.T) {
	_, err := NewAugmenter(mustParse(t, "Resize", map[string]any{"width": 16000, "height": 16000}))
	var pe *ParamError
	if !errors.As(err, &pe) || pe.Param != "width" || !strings.Contains(err.Error(), "16000x16000") {
		t.Fatalf("Resize to 16000x16000: got %v, want a *ParamError on width", err)
	}
}

func TestRightAnglesNeedOne(t *testing.T) {
	_, err := NewAugmenter(mustParse(t, "Rotate", map[string]any{"angle_min": -30, "angle_max": 30, "right_angles": "True"}))
	var pe *ParamError
	if !errors.As(err, &pe) || pe.Param != "right_angles" {
		t.Fatalf("right_angles within [-30, 30]: got %v, want a *ParamError on right_angles", err)
	}
}
