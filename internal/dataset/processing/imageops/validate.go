package imageops

import (
	"errors"
	"fmt"
	"image"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/disintegration/imaging"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// Code is the reason of a validation finding.
type Code string

// Validation findings, with the action each calls for (the user guide's
// "Solution" column, Table 1 and 2 of Data Validation).
const (
	CodeCorrupt           Code = "corrupt"            // remove: the bytes do not decode as an image
	CodePixelLimit        Code = "pixel_limit"        // remove: more pixels than MaxPixels, not decoded
	CodeExtensionMismatch Code = "extension_mismatch" // repair: the extension names another format than the content
	CodeUnsupportedFormat Code = "unsupported_format" // repair: the format is not among allowed_formats; converted to JPEG
	CodeChannels          Code = "channels"           // repair: not three-channel colour (grey, transparency, CMYK); converted to RGB
	CodeTooLarge          Code = "too_large"          // repair: beyond image_max_width/height; scaled down
	CodeTooSmall          Code = "too_small"          // remove: below image_min_width/height
	CodeSizeOutlier       Code = "size_outlier"       // review: pixel count far from the set's
	CodeBytesOutlier      Code = "bytes_outlier"      // review: file size far from the set's
	CodeAnnotationSize    Code = "annotation_size"    // repair: @modelarts:size is not the image's size
	CodeBoxInvalid        Code = "box_invalid"        // repair (label dropped): the feature is not two points
	CodeBoxInverted       Code = "box_inverted"       // repair (label dropped): a minimum above its maximum
	CodeBoxDegenerate     Code = "box_degenerate"     // repair (label dropped): under 2 pixels wide or high, a line
	CodeBoxOutside        Code = "box_outside"        // repair (label dropped): more than half of it outside the image
	CodeBoxClipped        Code = "box_clipped"        // repair: partly outside the image; pulled back to its edges
)

// Action is what a finding calls for.
type Action string

// Actions. Cleaning removes the samples with a Remove finding; Repair
// fixes the Repair ones; Review findings are reported only, for a human to
// judge (an unusual size is not by itself an error).
const (
	Remove Action = "remove"
	Repair Action = "repair"
	Review Action = "review"
)

// Finding is one problem of one sample.
type Finding struct {
	Key    string `json:"key"`
	Code   Code   `json:"code"`
	Action Action `json:"action"`
	// Label is the index in Sample.Labels of the label concerned, -1 when
	// the finding is about the image.
	Label   int    `json:"label"`
	Message string `json:"message"`
}

// Removes reports whether findings ask for their sample to be removed.
func Removes(findings []Finding) bool {
	return slices.ContainsFunc(findings, func(f Finding) bool { return f.Action == Remove })
}

// Inspection is what Inspect learnt of one sample: small enough to keep
// for every sample of a large set, for Outliers.
type Inspection struct {
	Key string
	// Format is the content's format ("" when not an image).
	Format string
	// Width and Height are the upright image's size; 0 when it does not
	// decode.
	Width, Height int
	Bytes         int
	Findings      []Finding
}

// Validator runs MetaValidation. It is safe for concurrent use.
type Validator struct {
	maxW, maxH, minW, minH int
	allowed                map[string]bool
	outlier                float64
}

// NewValidator makes a validator from a MetaValidation config.
func NewValidator(c Config) (*Validator, error) {
	if c.op == nil || c.op.Name != "MetaValidation" {
		return nil, fmt.Errorf("imageops: NewValidator needs a MetaValidation config")
	}
	v := &Validator{
		maxW: c.int("image_max_width"), maxH: c.int("image_max_height"),
		minW: c.int("image_min_width"), minH: c.int("image_min_height"),
		allowed: map[string]bool{}, outlier: c.float("outlier_threshold"),
	}
	for _, f := range c.list("allowed_formats") {
		v.allowed[extFormats[f]] = true
	}
	return v, nil
}

// DefaultValidator is the validator of operators' do_validation: MetaValidation
// with its defaults.
func DefaultValidator() *Validator {
	c, err := Parse("MetaValidation", nil)
	if err != nil {
		panic(err)
	}
	v, _ := NewValidator(c)
	return v
}

// Inspect checks one sample on its own: that it decodes, its format
// against its extension (when it has a Name) and the accepted formats, its channels, its size
// against the limits, and its boxes and declared size against the image.
// A sample that does not decode has only its corrupt finding.
func (v *Validator) Inspect(s Sample) Inspection {
	in := Inspection{Key: s.Key, Bytes: len(s.Data)}
	add := func(code Code, action Action, label int, format string, args ...any) {
		in.Findings = append(in.Findings, Finding{Key: s.Key, Code: code, Action: action, Label: label, Message: fmt.Sprintf(format, args...)})
	}
	img, format, err := decode(s.Data)
	in.Format = format
	if err != nil {
		var big tooManyPixels
		switch {
		case errors.As(err, &big):
			add(CodePixelLimit, Remove, -1, "%s", err)
		case err == errEmpty:
			add(CodeCorrupt, Remove, -1, "the file is empty")
		case format == "":
			add(CodeCorrupt, Remove, -1, "the content is not an image of a known format (%s)", err)
		default:
			add(CodeCorrupt, Remove, -1, "the %s image does not decode: %s", format, err)
		}
		return in
	}
	w, h := size(img)
	in.Width, in.Height = w, h
	if named := formatOfName(s.Name); s.Name != "" && named != format {
		ext := path.Ext(s.Name)
		if ext == "" {
			add(CodeExtensionMismatch, Repair, -1, "the file has no extension but its content is %s", format)
		} else {
			add(CodeExtensionMismatch, Repair, -1, "the extension %s does not match the content, which is %s", ext, format)
		}
	}
	if !v.allowed[format] {
		add(CodeUnsupportedFormat, Repair, -1, "the format %s is not accepted (%s); it is converted to JPEG", format, v.allowedList())
	}
	if ch := channels(img); ch != "" {
		add(CodeChannels, Repair, -1, "the image is %s, not RGB", ch)
	}
	if (v.maxW > 0 && w > v.maxW) || (v.maxH > 0 && h > v.maxH) {
		nw, nh := v.fit(w, h)
		add(CodeTooLarge, Repair, -1, "the image is %dx%d, beyond the limit %s; it is scaled to %dx%d", w, h, limit(v.maxW, v.maxH), nw, nh)
	}
	if (v.minW > 0 && w < v.minW) || (v.minH > 0 && h < v.minH) {
		add(CodeTooSmall, Remove, -1, "the image is %dx%d, below the minimum %s", w, h, limit(v.minW, v.minH))
	}
	if dw, dh, ok := declaredSize(s.Metadata); ok && (dw != w || dh != h) {
		add(CodeAnnotationSize, Repair, -1, "the annotation says %dx%d but the image is %dx%d", dw, dh, w, h)
	}
	for i, l := range s.Labels {
		if shapeOf(l) != "bndbox" {
			continue
		}
		code, msg := checkBox(l, w, h)
		if code != "" {
			add(code, Repair, i, "box %d (%s): %s", i, l.Name, msg)
		}
	}
	return in
}

func limit(w, h int) string {
	side := func(n int) string {
		if n <= 0 {
			return "any"
		}
		return fmt.Sprint(n)
	}
	return side(w) + "x" + side(h)
}

func (v *Validator) allowedList() string {
	var names []string
	for f := range v.allowed {
		names = append(names, f)
	}
	slices.Sort(names)
	return "accepted: " + strings.Join(names, ", ")
}

// fit is the size a w×h image is scaled to so as to be within the maximum
// width and height, keeping its aspect ratio.
func (v *Validator) fit(w, h int) (int, int) {
	f := 1.0
	if v.maxW > 0 && w > v.maxW {
		f = math.Min(f, float64(v.maxW)/float64(w))
	}
	if v.maxH > 0 && h > v.maxH {
		f = math.Min(f, float64(v.maxH)/float64(h))
	}
	return max(1, int(math.Floor(float64(w)*f+0.5))), max(1, int(math.Floor(float64(h)*f+0.5)))
}

// channels names what an image is when it is not three-channel colour;
// "" when it is (a paletted image's palette is colour; an image with an
// alpha channel that is opaque everywhere counts as colour).
func channels(img image.Image) string {
	switch m := img.(type) {
	case *image.Gray, *image.Gray16:
		return "grey (1 channel)"
	case *image.CMYK:
		return "CMYK (4 channels)"
	case *image.Paletted:
		return ""
	case interface{ Opaque() bool }:
		if !m.Opaque() {
			return "transparent (4 channels)"
		}
	}
	return ""
}

// checkBox checks a bndbox against a w×h image as the user guide's Table 2
// does.
func checkBox(l annotation.Label, w, h int) (Code, string) {
	b, ok := boxOf(l)
	switch {
	case !ok:
		return CodeBoxInvalid, "its feature is not [[xmin, ymin], [xmax, ymax]]"
	case b.x0 > b.x1 || b.y0 > b.y1:
		return CodeBoxInverted, fmt.Sprintf("(%g, %g)-(%g, %g) has a minimum above its maximum", b.x0, b.y0, b.x1, b.y1)
	case b.x1-b.x0 < 2 || b.y1-b.y0 < 2:
		return CodeBoxDegenerate, fmt.Sprintf("(%g, %g)-(%g, %g) is under 2 pixels wide or high", b.x0, b.y0, b.x1, b.y1)
	}
	in := b.clip(w, h).area()
	switch {
	case in < 0.5*b.area():
		return CodeBoxOutside, fmt.Sprintf("(%g, %g)-(%g, %g) lies more than half outside the %dx%d image", b.x0, b.y0, b.x1, b.y1, w, h)
	case in < b.area():
		return CodeBoxClipped, fmt.Sprintf("(%g, %g)-(%g, %g) lies partly outside the %dx%d image", b.x0, b.y0, b.x1, b.y1, w, h)
	}
	return "", ""
}

// minOutlierFactor keeps Outliers quiet on sets of near-identical sizes,
// where the MAD is about 0: a size is an outlier only when it is also at
// least this many times the median, or this many times below it.
const minOutlierFactor = 4

// minOutlierSet is the smallest set in which medians say anything.
const minOutlierSet = 8

// Outliers finds the images whose pixel count or file size is far from
// the rest of the set: on a logarithmic scale, more than outlier_threshold
// robust standard deviations (1.4826 × the median absolute deviation) from
// the median, and at least 4 times off it. Images that did not decode are
// left out; sets under 8 images have no outliers.
func (v *Validator) Outliers(ins []Inspection) []Finding {
	if v.outlier <= 0 {
		return nil
	}
	var idx []int
	for i, in := range ins {
		if in.Width > 0 && in.Bytes > 0 {
			idx = append(idx, i)
		}
	}
	if len(idx) < minOutlierSet {
		return nil
	}
	var out []Finding
	for _, m := range []struct {
		code  Code
		what  string
		value func(Inspection) float64
	}{
		{CodeSizeOutlier, "pixels", func(in Inspection) float64 { return float64(in.Width) * float64(in.Height) }},
		{CodeBytesOutlier, "bytes", func(in Inspection) float64 { return float64(in.Bytes) }},
	} {
		logs := make([]float64, len(idx))
		for j, i := range idx {
			logs[j] = math.Log(m.value(ins[i]))
		}
		med, mad := medianMAD(logs)
		bound := math.Max(v.outlier*1.4826*mad, math.Log(minOutlierFactor))
		for j, i := range idx {
			d := logs[j] - med
			if math.Abs(d) <= bound {
				continue
			}
			dir := "times the median"
			factor := math.Exp(math.Abs(d))
			if d < 0 {
				dir = "times below the median"
			}
			z := "∞"
			if mad > 0 {
				z = fmt.Sprintf("%.1f", math.Abs(d)/(1.4826*mad))
			}
			out = append(out, Finding{Key: ins[i].Key, Code: m.code, Action: Review, Label: -1,
				Message: fmt.Sprintf("%.0f %s is %.1f %s %.0f (robust z %s)", m.value(ins[i]), m.what, factor, dir, math.Exp(med), z)})
		}
	}
	return out
}

// medianMAD returns the median of xs and the median of the absolute
// deviations from it.
func medianMAD(xs []float64) (med, mad float64) {
	s := slices.Clone(xs)
	med = median(s)
	for i, x := range xs {
		s[i] = math.Abs(x - med)
	}
	return med, median(s)
}

func median(s []float64) float64 {
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// RepairJPEGQuality is the quality of the JPEGs Repair writes: high, since
// a repair should not cost the image detail.
const RepairJPEGQuality = 95

// Repaired is a sample after Repair.
type Repaired struct {
	Data []byte
	// Format is the format of Data, and Ext its extension ("" when the
	// name's extension is right).
	Format, Ext string
	Labels      []annotation.Label
	Metadata    map[string]any
	// Changes says what was done, one line per change.
	Changes []string
}

// Repair applies the fixes of the sample's Repair findings, as the user
// guide's validation does: a wrong extension is corrected, an unaccepted
// format becomes JPEG, a non-RGB image becomes RGB, an image beyond the
// maximum size is scaled down (its boxes with it), the declared size
// becomes the real one, and boxes are dropped (invalid, inverted, under 2
// pixels, more than half outside) or pulled back inside the image. The
// bytes are re-encoded only when the pixels or the format change (JPEG at
// quality RepairJPEGQuality). ok is false when there is nothing to repair
// or the sample is to be removed.
func (v *Validator) Repair(s Sample) (r Repaired, ok bool, err error) {
	in := v.Inspect(s)
	if Removes(in.Findings) || !slices.ContainsFunc(in.Findings, func(f Finding) bool { return f.Action == Repair }) {
		return Repaired{}, false, nil
	}
	img, format, err := decode(s.Data)
	if err != nil {
		return Repaired{}, false, err
	}
	w, h := size(img)
	reencode := false
	drop := map[int]bool{}
	for _, f := range in.Findings {
		switch f.Code {
		case CodeBoxInvalid, CodeBoxInverted, CodeBoxDegenerate, CodeBoxOutside:
			drop[f.Label] = true
			r.Changes = append(r.Changes, "dropped "+f.Message)
		case CodeBoxClipped:
			r.Changes = append(r.Changes, "clipped "+f.Message)
		case CodeChannels:
			img, reencode = imaging.Clone(img), true
			opaque(img.(*image.NRGBA))
			r.Changes = append(r.Changes, "converted to RGB: "+f.Message)
		case CodeUnsupportedFormat:
			format, reencode = FormatJPEG, true
			r.Changes = append(r.Changes, "converted to JPEG: "+f.Message)
		case CodeExtensionMismatch, CodeAnnotationSize:
			r.Changes = append(r.Changes, "corrected: "+f.Message)
		case CodeTooLarge:
			r.Changes = append(r.Changes, "scaled down: "+f.Message)
		}
	}
	var kept []annotation.Label
	for i, l := range s.Labels {
		if !drop[i] {
			kept = append(kept, l)
		}
	}
	m := identity
	if nw, nh := v.fit(w, h); nw != w || nh != h {
		img = imaging.Resize(img, nw, nh, imaging.Lanczos)
		m = scale(float64(nw)/float64(w), float64(nh)/float64(h))
		w, h, reencode = nw, nh, true
	}
	r.Labels, _ = moveLabels(kept, m, w, h, 0.5)
	r.Data, r.Format = s.Data, format
	if reencode {
		if r.Data, r.Format, err = encode(img, format, RepairJPEGQuality); err != nil {
			return Repaired{}, false, err
		}
	}
	if formatOfName(s.Name) != r.Format {
		r.Ext = Ext(r.Format)
	}
	r.Metadata = withSize(s.Metadata, w, h)
	return r, true, nil
}

// opaque drops an image's transparency, keeping its colours.
func opaque(m *image.NRGBA) {
	for i := 3; i < len(m.Pix); i += 4 {
		m.Pix[i] = 0xff
	}
}
