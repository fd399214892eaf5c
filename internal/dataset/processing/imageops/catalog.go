package imageops

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Kind is what an operator does, as ModelArts groups its processing
// templates.
type Kind string

// The kinds of operator.
const (
	Validation   Kind = "validation"
	Cleaning     Kind = "cleaning"
	Augmentation Kind = "augmentation"
	Selection    Kind = "selection"
)

// Template is a processing template of the reference (ProcessorTaskItem):
// the algorithm type a task names in template.id.
type Template struct {
	ID      string `json:"template_id"`
	LabelEN string `json:"label_en"`
	LabelZH string `json:"label_zh"`
	Kind    Kind   `json:"-"`
}

var templates = []Template{
	{ID: "sys_data_cleaning", LabelEN: "data cleaning", LabelZH: "数据清洗", Kind: Cleaning},
	{ID: "sys_data_validation", LabelEN: "data validation", LabelZH: "数据校验", Kind: Validation},
	{ID: "sys_data_selection", LabelEN: "data selection", LabelZH: "数据选择", Kind: Selection},
	{ID: "sys_data_augmentation", LabelEN: "data augmentation", LabelZH: "数据增强", Kind: Augmentation},
}

// Templates lists the processing templates in the reference's order.
func Templates() []Template { return slices.Clone(templates) }

// Template returns the processing template of operators of kind k.
func (k Kind) Template() Template {
	for _, t := range templates {
		if t.Kind == k {
			return t
		}
	}
	return Template{}
}

// KindOf returns the kind of operator a processing template (template.id
// of a task) runs; ok is false for a template this package has no
// operators for (sys_data_analyse, feature analysis, among them).
func KindOf(templateID string) (k Kind, ok bool) {
	for _, t := range templates {
		if t.ID == templateID {
			return t.Kind, true
		}
	}
	return "", false
}

// ParamType is the type of an operator parameter's value.
type ParamType string

// Parameter types. On the wire every value may also come as a string, as
// ModelArts' console sends them ("1920", "0.9", "True").
const (
	TypeInt       ParamType = "int"
	TypeFloat     ParamType = "float"
	TypeBool      ParamType = "bool"
	TypeString    ParamType = "string"
	TypeEnum      ParamType = "enum"        // one of Values
	TypeList      ParamType = "list"        // a comma-separated subset of Values
	TypeIntOrAuto ParamType = "int_or_auto" // "auto" or an integer
)

// Param describes one parameter of an operator.
type Param struct {
	Name string    `json:"name"`
	Type ParamType `json:"type"`
	// Default is the value when the parameter is left out, written as the
	// user guide writes it; "" for a required parameter.
	Default  string `json:"default"`
	Required bool   `json:"required,omitempty"`
	// Min and Max bound a number (or the number of an int_or_auto).
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// Off is true when -1 is also allowed, meaning "no limit".
	Off bool `json:"off,omitempty"`
	// Values are the allowed values of an enum or list.
	Values      []string `json:"values,omitempty"`
	Description string   `json:"description"`
	// Extension marks a parameter Atelier adds to ModelArts' own.
	Extension bool `json:"extension,omitempty"`
}

// Operator is one operator of the catalogue.
type Operator struct {
	// Name is the operator's name on the wire (OperatorParam.name).
	Name        string  `json:"name"`
	Kind        Kind    `json:"kind"`
	Description string  `json:"description"`
	Params      []Param `json:"params"`
}

// Template is the processing template whose tasks may run the operator.
func (o Operator) Template() Template { return o.Kind.Template() }

// Param returns the operator's parameter of that name.
func (o Operator) Param(name string) (Param, bool) {
	for _, p := range o.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// contextParams are the keys ModelArts' console adds to every operator's
// params (scenario, dataset layout, which samples to read). They describe
// the task, not the operator: Parse accepts and drops them.
var contextParams = map[string]bool{
	"task_type": true, "dataset_type": true, "source_service": true,
	"filter_func": true, "total_status": true, "checkpoint_path": true,
}

func num(f float64) *float64 { return &f }

func intParam(name, def string, lo, hi float64, desc string) Param {
	p := Param{Name: name, Type: TypeInt, Default: def, Min: num(lo), Description: desc}
	if !math.IsInf(hi, 1) {
		p.Max = num(hi)
	}
	return p
}

func floatParam(name, def string, lo, hi float64, desc string) Param {
	return Param{Name: name, Type: TypeFloat, Default: def, Min: num(lo), Max: num(hi), Description: desc}
}

func boolParam(name, def, desc string) Param {
	return Param{Name: name, Type: TypeBool, Default: def, Description: desc}
}

func enumParam(name, def string, values []string, desc string) Param {
	return Param{Name: name, Type: TypeEnum, Default: def, Values: values, Description: desc}
}

func ext(p Param) Param { p.Extension = true; return p }

func offParam(p Param) Param { p.Off = true; return p }

var doValidation = boolParam("do_validation", "True",
	"Whether to validate data (MetaValidation with its defaults) first; samples it would remove are left out.")

// augmentCommon are the parameters every augmentation operator takes.
var augmentCommon = []Param{
	ext(intParam("copies", "1", 1, 100, "Augmented copies made of each image.")),
	ext(intParam("seed", "0", 0, 1<<53, "Seed of the random draws: the same seed, sample key and copy number give the same copy.")),
	ext(floatParam("min_visible", "0.5", 0, 1, "A box keeping less than this fraction of its area inside the new image is dropped; the others are clipped to the image.")),
	ext(boolParam("skip_if_boxes_lost", "False", "Whether to make no copy at all when a transform drops one of the image's boxes.")),
	ext(intParam("jpeg_quality", "90", 1, 100, "Quality of JPEG output; a copy keeps its image's format.")),
	doValidation,
}

func augment(name, desc string, params ...Param) Operator {
	return Operator{Name: name, Kind: Augmentation, Description: desc, Params: append(params, augmentCommon...)}
}

var xy = []string{"X", "Y"}

var catalogue = []Operator{
	{Name: "MetaValidation", Kind: Validation,
		Description: "Finds images that do not decode, whose content and extension disagree or whose format is not accepted, whose size is beyond the limits or far from the rest of the set, and boxes that do not fit their image; repairs what can be repaired.",
		Params: []Param{
			offParam(intParam("image_max_width", "-1", 1, math.Inf(1), "Maximum width of an image in pixels; a wider image is scaled down to it, keeping its aspect ratio. -1: no limit.")),
			offParam(intParam("image_max_height", "-1", 1, math.Inf(1), "Maximum height of an image in pixels; a higher image is scaled down to it, keeping its aspect ratio. -1: no limit.")),
			ext(offParam(intParam("image_min_width", "-1", 1, math.Inf(1), "Minimum width of an image in pixels; a narrower image is removed. -1: no limit."))),
			ext(offParam(intParam("image_min_height", "-1", 1, math.Inf(1), "Minimum height of an image in pixels; a lower image is removed. -1: no limit."))),
			ext(Param{Name: "allowed_formats", Type: TypeList, Default: "jpg,jpeg,png,bmp", Values: []string{"jpg", "jpeg", "png", "bmp", "gif", "tiff", "webp"},
				Description: "Image formats the dataset accepts; an image in another format is converted to JPEG."}),
			ext(floatParam("outlier_threshold", "5", 0, 100, "An image whose pixel count or file size is this many robust standard deviations (1.4826 × MAD of the logarithm) from the set's median, and at least 4 times off it, is reported as an outlier. 0: no outlier search.")),
		}},
	{Name: "PCC", Kind: Cleaning,
		Description: "Keeps the images like the positive samples (and unlike the negative ones) and removes the others; the images' features are compared.",
		Params: []Param{
			{Name: "prototype_sample_path", Type: TypeString, Required: true, Description: "Directory of positive sample images: images highly similar to them are retained."},
			{Name: "criticism_sample_path", Type: TypeString, Default: "", Description: "Directory of negative sample images: images more like them than like the positive ones are removed."},
			{Name: "n_clusters", Type: TypeIntOrAuto, Default: "auto", Min: num(1), Description: "Number of kinds among the positive samples; auto: each positive image is its own kind."},
			floatParam("simlarity_threshold", "0.9", 0, 1, "Two images whose feature similarity (cosine) exceeds this are similar."),
			floatParam("embedding_distance", "0.2", 0, 1, "Two images whose feature distance (half the Euclidean distance of the unit vectors) is below this are similar."),
			doValidation,
		}},
	{Name: "SimDeduplication", Kind: Selection,
		Description: "Removes exact duplicates (same bytes) and near duplicates (perceptual hashes within a Hamming distance); one image of each group is kept.",
		Params: []Param{
			floatParam("simlarity_threshold", "0.9", 0, 1, "Two images whose similarity (1 − Hamming distance / 64 of their perceptual hashes) is at least this are duplicates."),
			doValidation,
		}},
	{Name: "RRD", Kind: Selection,
		Description: "Keeps a diverse subset of the images (farthest-point sampling of their features) and removes the redundant rest.",
		Params: []Param{
			floatParam("sample_ratio", "0.9", 0, 1, "Fraction of the images kept."),
			{Name: "n_clusters", Type: TypeIntOrAuto, Default: "auto", Min: num(1), Description: "Number of clusters the images are first grouped into, each keeping its share; auto: one group while that stays fast, else about √(n/2) clusters."},
			ext(offParam(intParam("sample_count", "-1", 0, math.Inf(1), "Number of images kept, instead of sample_ratio. -1: use sample_ratio."))),
			doValidation,
		}},
	augment("AddNoise", "Adds noise like that of capture devices.",
		enumParam("noise_type", "Gauss", []string{"Gauss", "Laplace", "Poisson", "Impulse", "SaltAndPepper"}, "Gauss, Laplace, Poisson, Impulse (random values) or SaltAndPepper (black and white pixels)."),
		floatParam("loc", "0", -255, 255, "Mean of Gauss and Laplace noise, in pixel values."),
		floatParam("scale", "1", 0, 255, "Standard deviation of Gauss and Laplace noise, in pixel values."),
		floatParam("lam", "2", 0, 255, "Lambda of Poisson noise."),
		floatParam("p", "0.01", 0, 1, "Probability of each pixel to be hit by Impulse or SaltAndPepper noise."),
	),
	augment("Blur", "Blurs the image: Gaussian (sigma 0.5 to 2) or average (3×3 or 5×5).",
		enumParam("blur_type", "Gauss", []string{"Gauss", "Average"}, "Gauss or Average filtering."),
	),
	augment("Crop", "Crops a random part of the image: each edge loses a random fraction of the side.",
		floatParam("crop_percent_min", "0.0", 0, 0.49, "Smallest fraction cut from each edge."),
		floatParam("crop_percent_max", "0.2", 0, 0.49, "Largest fraction cut from each edge."),
	),
	augment("CutOut", "Erases a random square (a fifth of the shorter side) with grey, like an obstacle hiding part of the scene."),
	augment("Flip", "Flips the image along its vertical (lr) or horizontal (ud) axis.",
		enumParam("lr_ud", "lr", []string{"lr", "ud"}, "lr: left-right flip; ud: up-down flip."),
		floatParam("flip_p", "1", 0, 1, "Probability of flipping a copy."),
	),
	augment("Grayscale", "Turns the image into a three-channel grey image."),
	augment("HistogramEqual", "Equalises the histogram of the image's luminance."),
	augment("LightArithmetic", "Adds a random amount to every pixel's brightness.",
		ext(floatParam("brightness_min", "-20", -100, 100, "Smallest change, in percent of the full range.")),
		ext(floatParam("brightness_max", "20", -100, 100, "Largest change, in percent of the full range.")),
	),
	augment("LightContrast", "Changes the contrast by a non-linear function of each pixel value v in [0, 255].",
		enumParam("func", "gamma", []string{"gamma", "sigmoid", "log", "linear"},
			"gamma: 255·(v/255)^gamma; sigmoid: 255/(1+exp(gain·(cutoff−v/255))) with cutoff 0.3–0.6; log: 255·gain·log2(1+v/255); linear: 127+alpha·(v−127)."),
		ext(offParam(floatParam("strength_min", "-1", 0.01, 20, "Smallest gamma, gain or alpha; -1: the function's usual range (gamma 0.7–1.7, sigmoid gain 5–6, log gain 0.6–1.4, linear alpha 0.6–1.4)."))),
		ext(offParam(floatParam("strength_max", "-1", 0.01, 20, "Largest gamma, gain or alpha; -1: the function's usual range."))),
	),
	augment("MotionBlur", "Blurs the image along a random direction, as an object moving does (5-pixel kernel)."),
	augment("Padding", "Pads the image with black edges.",
		intParam("px_top", "1", 0, 1024, "Pixel lines added at the top."),
		intParam("px_right", "1", 0, 1024, "Pixel columns added on the right."),
		intParam("px_left", "1", 0, 1024, "Pixel columns added on the left."),
		intParam("px_bottom", "1", 0, 1024, "Pixel lines added at the bottom."),
	),
	augment("Resize", "Resizes the image.",
		intParam("height", "224", 1, 16384, "Height of the new image."),
		intParam("width", "224", 1, 16384, "Width of the new image."),
	),
	augment("Rotate", "Rotates the image around its centre by a random angle (counter-clockwise when positive); the image keeps its size and the corners uncovered are black. A multiple of 90° turns the image exactly, swapping its sides.",
		floatParam("angle_min", "90", -360, 360, "One end of the range of angles, in degrees."),
		floatParam("angle_max", "-90", -360, 360, "The other end of the range of angles, in degrees."),
		ext(boolParam("right_angles", "False", "Draw only the non-zero multiples of 90° within the range.")),
	),
	augment("Saturation", "Changes hue and saturation by random amounts.",
		ext(floatParam("saturation_min", "-30", -100, 100, "Smallest change of saturation, in percent.")),
		ext(floatParam("saturation_max", "30", -100, 100, "Largest change of saturation, in percent.")),
		ext(floatParam("hue_min", "-20", -180, 180, "Smallest turn of hue, in degrees.")),
		ext(floatParam("hue_max", "20", -180, 180, "Largest turn of hue, in degrees.")),
	),
	augment("Scale", "Zooms the image in or out along one axis around its centre; the image keeps its size.",
		enumParam("scaleXY", "X", xy, "X: horizontal; Y: vertical."),
		floatParam("scale_min", "0.5", 0.05, 20, "Smallest scale factor."),
		floatParam("scale_max", "1.5", 0.05, 20, "Largest scale factor."),
	),
	augment("Sharpen", "Sharpens the edges of objects (unsharp mask, sigma 0.5 to 1.5)."),
	augment("Shear", "Shears the image around its centre by a random angle; the image keeps its size.",
		enumParam("shearXY", "X", xy, "X: horizontal; Y: vertical."),
		floatParam("shear_min", "-30", -75, 75, "Smallest shear angle, in degrees."),
		floatParam("shear_max", "30", -75, 75, "Largest shear angle, in degrees."),
	),
	augment("Translate", "Moves the image along one axis; what leaves it is lost and the uncovered part is black.",
		enumParam("translateXY", "X", xy, "X: horizontal; Y: vertical."),
		ext(floatParam("translate_percent_min", "-0.2", -1, 1, "Smallest shift, as a fraction of the side.")),
		ext(floatParam("translate_percent_max", "0.2", -1, 1, "Largest shift, as a fraction of the side.")),
	),
}

// ranges are the (min, max) parameter pairs Parse checks for order. Rotate's
// angles are left out: the user guide's own defaults (90, -90) are reversed,
// so they name the two ends of a range in either order.
var ranges = [][2]string{
	{"crop_percent_min", "crop_percent_max"}, {"brightness_min", "brightness_max"},
	{"strength_min", "strength_max"}, {"saturation_min", "saturation_max"},
	{"hue_min", "hue_max"}, {"scale_min", "scale_max"}, {"shear_min", "shear_max"},
	{"translate_percent_min", "translate_percent_max"},
}

// Catalogue lists every operator, validation first, then cleaning,
// selection and augmentation (alphabetically, as the user guide lists
// them). The slice and the operators' parameters are the caller's copies.
func Catalogue() []Operator {
	out := slices.Clone(catalogue)
	for i := range out {
		out[i].Params = slices.Clone(out[i].Params)
	}
	return out
}

// Lookup returns (a copy of) the operator of that wire name.
func Lookup(name string) (Operator, bool) {
	for _, o := range catalogue {
		if o.Name == name {
			o.Params = slices.Clone(o.Params)
			return o, true
		}
	}
	return Operator{}, false
}

// ParamErrorCode says what is wrong in a *ParamError.
type ParamErrorCode string

// The codes of a *ParamError.
const (
	UnknownOperator ParamErrorCode = "unknown_operator"
	UnknownParam    ParamErrorCode = "unknown_param"
	BadValue        ParamErrorCode = "bad_value"
)

// ParamError is Parse's error: it names the operator, and the parameter
// and its value when they are the problem.
type ParamError struct {
	Code     ParamErrorCode
	Operator string
	Param    string // "" for UnknownOperator
	Value    any    // the value as given, for BadValue
	Reason   string
}

func (e *ParamError) Error() string {
	switch e.Code {
	case UnknownOperator:
		return fmt.Sprintf("unknown operator %q: %s", e.Operator, e.Reason)
	case UnknownParam:
		return fmt.Sprintf("operator %s: unknown parameter %q: %s", e.Operator, e.Param, e.Reason)
	}
	return fmt.Sprintf("operator %s: parameter %s: %s", e.Operator, e.Param, e.Reason)
}

// Config is an operator with its parameters parsed, checked and completed
// with defaults. The zero Config is not usable: make one with Parse.
type Config struct {
	op     *Operator
	values map[string]any
}

// Operator is the configured operator.
func (c Config) Operator() Operator { return *c.op }

// Value returns a parameter's value: an int, float64, bool or string as
// its type says (a list is a []string; int_or_auto is an int, 0 for auto).
func (c Config) Value(name string) any { return c.values[name] }

// DoValidation reports whether the task validates its input first (the
// operator's do_validation; false for operators without one).
func (c Config) DoValidation() bool {
	v, _ := c.values["do_validation"].(bool)
	return v
}

func (c Config) int(name string) int       { return c.values[name].(int) }
func (c Config) float(name string) float64 { return c.values[name].(float64) }
func (c Config) bool(name string) bool     { return c.values[name].(bool) }
func (c Config) string(name string) string { return c.values[name].(string) }
func (c Config) list(name string) []string { return c.values[name].([]string) }

// Parse checks an operator's params as a task carries them
// (OperatorParam.params) and fills in defaults. Keys the console adds to
// every operator (task_type, dataset_type, source_service, filter_func,
// total_status, checkpoint_path) are accepted and ignored. The error is a
// *ParamError; when several parameters are wrong it names the first in
// alphabetical order.
func Parse(operator string, params map[string]any) (Config, error) {
	op, ok := Lookup(operator)
	if !ok {
		names := make([]string, len(catalogue))
		for i, o := range catalogue {
			names[i] = o.Name
		}
		return Config{}, &ParamError{Code: UnknownOperator, Operator: operator, Reason: "known operators are " + strings.Join(names, ", ")}
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	values := make(map[string]any, len(op.Params))
	for _, k := range keys {
		if contextParams[k] {
			continue
		}
		p, ok := op.Param(k)
		if !ok {
			names := make([]string, len(op.Params))
			for i, p := range op.Params {
				names[i] = p.Name
			}
			return Config{}, &ParamError{Code: UnknownParam, Operator: op.Name, Param: k, Reason: "its parameters are " + strings.Join(names, ", ")}
		}
		v, err := p.parse(params[k])
		if err != nil {
			return Config{}, &ParamError{Code: BadValue, Operator: op.Name, Param: k, Value: params[k], Reason: err.Error()}
		}
		values[k] = v
	}
	for _, p := range op.Params {
		if _, ok := values[p.Name]; ok {
			continue
		}
		if p.Required {
			return Config{}, &ParamError{Code: BadValue, Operator: op.Name, Param: p.Name, Reason: "is required"}
		}
		v, err := p.parse(p.Default)
		if err != nil {
			panic(fmt.Sprintf("imageops: default of %s.%s: %v", op.Name, p.Name, err))
		}
		values[p.Name] = v
	}
	for _, r := range ranges {
		lo, ok1 := values[r[0]].(float64)
		hi, ok2 := values[r[1]].(float64)
		if !ok1 || !ok2 {
			continue
		}
		if p, _ := op.Param(r[0]); p.Off && (lo == -1) != (hi == -1) {
			return Config{}, &ParamError{Code: BadValue, Operator: op.Name, Param: r[0], Value: lo,
				Reason: fmt.Sprintf("%s and %s are both -1 or both set", r[0], r[1])}
		}
		if lo > hi {
			return Config{}, &ParamError{Code: BadValue, Operator: op.Name, Param: r[0], Value: lo,
				Reason: fmt.Sprintf("%v is above %s (%v)", lo, r[1], hi)}
		}
	}
	return Config{op: &op, values: values}, nil
}

// parse reads one value in the type of p, from its JSON form or from a
// string, and checks it against p's range or values.
func (p Param) parse(v any) (any, error) {
	s, isString := v.(string)
	s = strings.TrimSpace(s)
	switch p.Type {
	case TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		if b, err := strconv.ParseBool(s); isString && err == nil {
			return b, nil
		}
		return nil, fmt.Errorf("%s is not True or False", show(v))
	case TypeString:
		if !isString {
			return nil, fmt.Errorf("%s is not a string", show(v))
		}
		if p.Required && s == "" {
			return nil, fmt.Errorf("is required")
		}
		return s, nil
	case TypeEnum:
		for _, e := range p.Values {
			if isString && strings.EqualFold(s, e) {
				return e, nil
			}
		}
		return nil, fmt.Errorf("%s is not one of %s", show(v), strings.Join(p.Values, ", "))
	case TypeList:
		var items []string
		switch v := v.(type) {
		case string:
			items = strings.Split(v, ",")
		case []any:
			for _, it := range v {
				s, ok := it.(string)
				if !ok {
					return nil, fmt.Errorf("%s is not a list of names", show(v))
				}
				items = append(items, s)
			}
		default:
			return nil, fmt.Errorf("%s is not a list of names", show(v))
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			it = strings.ToLower(strings.TrimSpace(it))
			if it == "" {
				continue
			}
			if !slices.Contains(p.Values, it) {
				return nil, fmt.Errorf("%q is not one of %s", it, strings.Join(p.Values, ", "))
			}
			out = append(out, it)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("names no value")
		}
		return out, nil
	case TypeIntOrAuto:
		if isString && strings.EqualFold(s, "auto") {
			return 0, nil
		}
		fallthrough
	case TypeInt:
		f, err := number(v)
		if err != nil {
			return nil, err
		}
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, fmt.Errorf("%s is not an integer", show(v))
		}
		if err := p.inRange(f, v); err != nil {
			return nil, err
		}
		return int(f), nil
	case TypeFloat:
		f, err := number(v)
		if err != nil {
			return nil, err
		}
		if err := p.inRange(f, v); err != nil {
			return nil, err
		}
		return f, nil
	}
	return nil, fmt.Errorf("parameter type %q is unknown", p.Type)
}

func (p Param) inRange(f float64, v any) error {
	if p.Off && f == -1 {
		return nil
	}
	if (p.Min != nil && f < *p.Min) || (p.Max != nil && f > *p.Max) {
		lo, hi := "-∞", "∞"
		if p.Min != nil {
			lo = strconv.FormatFloat(*p.Min, 'g', -1, 64)
		}
		if p.Max != nil {
			hi = strconv.FormatFloat(*p.Max, 'g', -1, 64)
		}
		off := ""
		if p.Off {
			off = " (or -1 for no limit)"
		}
		return fmt.Errorf("%s is outside [%s, %s]%s", show(v), lo, hi, off)
	}
	return nil
}

// number reads a JSON number, a Go number or a numeric string.
func number(v any) (float64, error) {
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case float32:
		f = float64(v)
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case json.Number:
		g, err := v.Float64()
		if err != nil {
			return 0, fmt.Errorf("%s is not a number", show(v))
		}
		f = g
	case string:
		g, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, fmt.Errorf("%s is not a number", show(v))
		}
		f = g
	default:
		return 0, fmt.Errorf("%s is not a number", show(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s is not a finite number", show(v))
	}
	return f, nil
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
