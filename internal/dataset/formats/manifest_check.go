package formats

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// The checks a manifest line passes before it becomes a Record: each
// returns the reason a line is refused, "" when it is fine.

// check says what makes ml not a valid manifest line, or "". It does not
// modify ml.
func (ml *manifestLine) check() string {
	if ml.Source == "" {
		return `no "source"`
	}
	if reason := checkLocation(ml.Source, true); reason != "" {
		return `"source": ` + reason
	}
	if _, ok := normalUsage(ml.Usage); !ok {
		return fmt.Sprintf(`"usage" %q is not TRAIN, EVAL, TEST or INFERENCE`, ml.Usage)
	}
	if ml.SampleType != nil && !knownSampleType(*ml.SampleType) {
		return fmt.Sprintf(`"sample-type" %d is not 0, 1, 2, 4, 6 or 9`, *ml.SampleType)
	}
	if ml.Hard != nil {
		if _, ok := hardValue(ml.Hard); !ok {
			return `"hard" is not true, false, 1 or 0`
		}
	}
	if ml.HardCoefficient != nil {
		if _, ok := coefficient(ml.HardCoefficient); !ok {
			return `"hard-coefficient" is not a number from 0 to 1`
		}
	}
	if reason := checkMetadata(ml.Property); reason != "" {
		return `"property": ` + reason
	}
	if ml.InferenceLoc != "" {
		if reason := checkLocation(ml.InferenceLoc, false); reason != "" {
			return `"inference-loc": ` + reason
		}
	}
	sampleType := -1
	for i := range ml.Annotation {
		a := &ml.Annotation[i]
		if reason := a.check(); reason != "" {
			return fmt.Sprintf("annotation %d: %s", i+1, reason)
		}
		_, st, _ := LabelType(a.Type)
		if sampleType >= 0 && st != sampleType {
			return fmt.Sprintf("annotation %d: a %s annotation beside %s ones labels another kind of sample", i+1, a.Type, ml.Annotation[0].Type)
		}
		sampleType = st
	}
	if isTripletLine(ml.Annotation) {
		return checkTriplets(ml.Annotation)
	}
	return ""
}

// isTripletLine reports a text-triplet sample: one with a relation or with
// an entity whose id has the triplet form. All its text_entity annotations
// are triplet entities.
func isTripletLine(anns []manifestAnnotation) bool {
	for i := range anns {
		switch lt, _, _ := LabelType(anns[i].Type); lt {
		case annotation.TypeTripletRelation:
			return true
		case annotation.TypeNamedEntity:
			if isTripletEntityID(anns[i].ID) {
				return true
			}
		}
	}
	return false
}

// checkTriplets checks the references of a triplet sample: entity ids are
// unique, relations join two of them.
func checkTriplets(anns []manifestAnnotation) string {
	ids := make(map[string]bool)
	for i, a := range anns {
		if lt, _, _ := LabelType(a.Type); lt != annotation.TypeNamedEntity {
			continue
		}
		if !isTripletEntityID(a.ID) {
			return fmt.Sprintf("annotation %d: text_entity id %q of a triplet sample is not E<number>", i+1, a.ID)
		}
		if ids[a.ID] {
			return fmt.Sprintf("annotation %d: entity id %q is used twice", i+1, a.ID)
		}
		ids[a.ID] = true
	}
	for i, a := range anns {
		if lt, _, _ := LabelType(a.Type); lt != annotation.TypeTripletRelation {
			continue
		}
		for _, key := range []string{annotation.PropFrom, annotation.PropTo} {
			if id, _ := a.Property[key].(string); !ids[id] {
				return fmt.Sprintf("annotation %d: %s %q is no text_entity id of this line", i+1, key, id)
			}
		}
	}
	return ""
}

// check says what makes a not a valid annotation, or "".
func (a *manifestAnnotation) check() string {
	if a.Type == "" {
		return `no "type"`
	}
	lt, _, ok := LabelType(a.Type)
	if !ok {
		return fmt.Sprintf("unknown type %q", a.Type)
	}
	if isVOCType(lt) {
		// The reference makes annotation-loc mandatory for these and gives
		// no inline form of a box.
		if a.AnnotationLoc == "" {
			return fmt.Sprintf(`a %s annotation has no "annotation-loc"`, a.Type)
		}
		if reason := checkLocation(a.AnnotationLoc, false); reason != "" {
			return `"annotation-loc": ` + reason
		}
		if a.AnnotationFormat != "" && !strings.EqualFold(a.AnnotationFormat, FormatVOC) {
			return fmt.Sprintf(`"annotation-format" %q is not %q`, a.AnnotationFormat, FormatVOC)
		}
		return ""
	}
	if a.Confidence != nil && !(*a.Confidence >= 0 && *a.Confidence <= 1) {
		return `"confidence" is not from 0 to 1`
	}
	if a.Hard != nil {
		if _, ok := hardString(a.Hard); !ok {
			return `"hard" is not true, false, 1 or 0`
		}
	}
	if a.HardCoefficient != nil {
		if _, ok := coefficient(a.HardCoefficient); !ok {
			return `"hard-coefficient" is not a number from 0 to 1`
		}
	}
	if reason := checkProperty(a.Property); reason != "" {
		return `"property": ` + reason
	}
	need := func(keys ...string) string {
		for _, k := range keys {
			if _, ok := a.Property[k]; !ok {
				return fmt.Sprintf("a %s annotation has no %s property", a.Type, k)
			}
		}
		return ""
	}
	switch lt {
	case annotation.TypeImageClassification, annotation.TypeTextClassification, annotation.TypeSoundClassification:
		if a.Name == "" {
			return fmt.Sprintf(`a %s annotation has no "name"`, a.Type)
		}
	case annotation.TypeNamedEntity:
		if a.Name == "" {
			return fmt.Sprintf(`a %s annotation has no "name"`, a.Type)
		}
		if reason := need(annotation.PropStartIndex, annotation.PropEndIndex); reason != "" {
			return reason
		}
		start, _ := asNumber(a.Property[annotation.PropStartIndex])
		end, _ := asNumber(a.Property[annotation.PropEndIndex])
		if start >= end {
			return fmt.Sprintf("%s %v is not before %s %v", annotation.PropStartIndex, start, annotation.PropEndIndex, end)
		}
	case annotation.TypeTripletRelation:
		if a.Name == "" || a.ID == "" {
			return fmt.Sprintf(`a %s annotation needs a "name" and an "id"`, a.Type)
		}
		return need(annotation.PropFrom, annotation.PropTo)
	case annotation.TypeSpeechContent:
		return need(annotation.PropContent)
	case annotation.TypeSpeechParagraph:
		if reason := need(annotation.PropStartTime, annotation.PropEndTime); reason != "" {
			return reason
		}
		startClock, _ := a.Property[annotation.PropStartTime].(string)
		endClock, _ := a.Property[annotation.PropEndTime].(string)
		start, _ := parseClock(startClock)
		end, _ := parseClock(endClock)
		if start > end {
			return fmt.Sprintf("%s is after %s", annotation.PropStartTime, annotation.PropEndTime)
		}
	}
	return ""
}

// checkProperty checks the JSON types of the reference's property keys
// (SampleLabelProperty) in a label's property; other keys are the user's
// and may hold anything.
func checkProperty(p map[string]any) string {
	for k, v := range p {
		switch k {
		case annotation.PropContent, annotation.PropSource, annotation.PropFrom, annotation.PropTo,
			annotation.PropShape, PropCreationTime:
			if _, ok := v.(string); !ok {
				return k + " is not a string"
			}
		case annotation.PropStartTime, annotation.PropEndTime:
			s, ok := v.(string)
			if !ok {
				return k + " is not a string"
			}
			if _, ok := parseClock(s); !ok {
				return fmt.Sprintf("%s %q is not hh:mm:ss.SSS", k, s)
			}
		case annotation.PropStartIndex, annotation.PropEndIndex:
			if n, ok := asNumber(v); !ok || n < 0 || n != float64(int64(n)) {
				return k + " is not a whole number of at least 0"
			}
		case annotation.PropHard:
			if s, ok := v.(string); !ok || !validHardString(s) {
				return k + ` is not "true", "false", "1" or "0"`
			}
		case annotation.PropHardCoefficient:
			if s, ok := v.(string); !ok {
				return k + " is not a string"
			} else if _, ok := coefficient(s); !ok {
				return k + " is not a number from 0 to 1"
			}
		case annotation.PropFeature:
			shape, ok := p[annotation.PropShape].(string)
			if !ok {
				return k + " without " + annotation.PropShape
			}
			if _, err := shapeFeature(shape, v); err != nil {
				return err.Error()
			}
		}
	}
	return ""
}

// checkMetadata checks the reference's keys of a sample's metadata.
func checkMetadata(m map[string]any) string {
	if v, ok := m[annotation.MetaHard]; ok {
		if _, ok := hardValue(v); !ok {
			return annotation.MetaHard + " is not 1, 0, true or false"
		}
	}
	if v, ok := m[annotation.MetaHardCoefficient]; ok {
		if _, ok := coefficient(v); !ok {
			return annotation.MetaHardCoefficient + " is not a number from 0 to 1"
		}
	}
	if v, ok := m[annotation.MetaSize]; ok {
		list, ok := v.([]any)
		if !ok || len(list) < 2 || len(list) > 3 {
			return annotation.MetaSize + " is not [width, height] or [width, height, depth]"
		}
		for _, x := range list {
			if n, ok := asNumber(x); !ok || n < 0 || n != float64(int64(n)) {
				return annotation.MetaSize + " holds something else than whole numbers"
			}
		}
	}
	return ""
}

// checkLocation checks a location of a manifest: an OBS object as
// s3://bucket/key, obs://bucket/key or /bucket/key, a path relative to the
// manifest's directory, or (where content is true) inline text. It checks
// the shape only; bucket and key rules are the object store's.
func checkLocation(s string, content bool) string {
	if strings.HasPrefix(s, contentScheme) {
		if !content {
			return "inline content is not allowed here"
		}
		if len(s) == len(contentScheme) {
			return "empty content"
		}
		return ""
	}
	var rest string
	switch {
	case strings.HasPrefix(s, "s3://"):
		rest = s[len("s3://"):]
	case strings.HasPrefix(s, "obs://"):
		rest = s[len("obs://"):]
	case strings.Contains(s, "://"):
		return fmt.Sprintf("%q is not s3://, obs://, content:// or a path", s)
	case strings.HasPrefix(s, "/"):
		rest = s[1:]
	default:
		// Relative to the manifest: the caller joins it to a directory, so
		// refuse segments that a join would resolve.
		for seg := range strings.SplitSeq(s, "/") {
			if seg == "." || seg == ".." {
				return fmt.Sprintf("relative path %q has a %q segment", s, seg)
			}
		}
		if strings.HasSuffix(s, "/") {
			return fmt.Sprintf("%q is a directory, not an object", s)
		}
		return ""
	}
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" || key == "" || strings.HasSuffix(key, "/") {
		return fmt.Sprintf("%q does not name an object (bucket/key)", s)
	}
	return ""
}

func normalUsage(u string) (string, bool) {
	switch up := strings.ToUpper(u); up {
	case "", UsageTrain, UsageEval, UsageTest, UsageInference:
		return up, true
	}
	return "", false
}

func knownSampleType(t int) bool {
	switch t {
	case annotation.SampleImage, annotation.SampleText, annotation.SampleAudio,
		annotation.SampleTable, annotation.SampleVideo, annotation.SampleCustom:
		return true
	}
	return false
}

func validHardString(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "1", "0":
		return true
	}
	return false
}

// hardString turns an annotation's "hard" (the reference writes "true", a
// string; JSON true and 0/1 are taken too) into the string form of the
// label property @modelarts:hard.
func hardString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, validHardString(v)
	case bool:
		return strconv.FormatBool(v), true
	}
	if n, ok := asNumber(v); ok && (n == 0 || n == 1) {
		return strconv.Itoa(int(n)), true
	}
	return "", false
}

// hardValue turns a line's "hard" into the number of the sample metadata
// @modelarts:hard.
func hardValue(v any) (float64, bool) {
	s, ok := hardString(v)
	if !ok {
		return 0, false
	}
	if s == "1" || strings.EqualFold(s, "true") {
		return 1, true
	}
	return 0, true
}

// coefficient reads a difficulty coefficient, a number or a numeric string
// from 0 to 1.
func coefficient(v any) (float64, bool) {
	n, ok := asNumber(v)
	if s, isString := v.(string); isString {
		var err error
		n, err = strconv.ParseFloat(s, 64)
		ok = err == nil
	}
	return n, ok && n >= 0 && n <= 1
}

// asNumber accepts the numbers JSON decoding gives and the ones Go callers
// put in property maps by hand.
func asNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// parseClock reads the reference's hh:mm:ss.SSS into milliseconds. Hours
// may have more digits, the fraction fewer or more (cut to milliseconds).
func parseClock(s string) (int64, bool) {
	hms, frac, hasFrac := strings.Cut(s, ".")
	h, ms, ok1 := strings.Cut(hms, ":")
	m, sec, ok2 := strings.Cut(ms, ":")
	if !ok1 || !ok2 || !digits(h) || len(h) > 6 || len(m) != 2 || !digits(m) || len(sec) != 2 || !digits(sec) ||
		(hasFrac && !digits(frac)) || m > "59" || sec > "59" {
		return 0, false
	}
	hours, _ := strconv.ParseInt(h, 10, 64)
	mins, _ := strconv.ParseInt(m, 10, 64)
	secs, _ := strconv.ParseInt(sec, 10, 64)
	millis := int64(0)
	for i := range 3 {
		millis *= 10
		if i < len(frac) {
			millis += int64(frac[i] - '0')
		}
	}
	return ((hours*60+mins)*60+secs)*1000 + millis, true
}

// digits reports a non-empty string of ASCII digits.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isTripletEntityID reports the reference's id form of a triplet entity,
// "E" and a number.
func isTripletEntityID(id string) bool {
	if len(id) < 2 || id[0] != 'E' {
		return false
	}
	for _, c := range id[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
