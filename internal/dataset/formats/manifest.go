package formats

// Size: one format, the ModelArts manifest, streaming reader and writer
// together: they change together, and every annotation kind is read and
// written in one place so that a round trip keeps it.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// Values of a manifest line's "usage".
const (
	UsageTrain     = "TRAIN"
	UsageEval      = "EVAL"
	UsageTest      = "TEST"
	UsageInference = "INFERENCE"
)

// FormatVOC is the only "annotation-format" the reference knows, and its
// default.
const FormatVOC = "PASCAL VOC"

// PropCreationTime is where a label read from a manifest keeps the
// annotation's "creation-time" (the time the label was written, which an
// export must carry over). SampleLabel has no field for it, so this is
// Atelier's own property key; Writer turns it back into "creation-time".
const PropCreationTime = "@modelarts:creation_time"

// contentScheme prefixes a text sample given inline instead of by location.
const contentScheme = "content://"

// annotationKinds maps the manifest's annotation types to label types and
// the kind of sample they label. It is the one table of the mapping. The
// reference writes the types both bare ("image_classification", Table 3)
// and prefixed ("modelarts/image_classification", every example); both are
// read, the prefixed form is written.
//
// Two label types share one manifest type: a "text_entity" is a named
// entity (101) or, in a text-triplet sample, a triplet entity (103); see
// Reader. Video labels (600) have no manifest type: the reference's video
// manifest holds frames as images labelled with "object_detection".
var annotationKinds = []struct {
	name       string
	labelType  int
	sampleType int
}{
	{"image_classification", annotation.TypeImageClassification, annotation.SampleImage},
	{"object_detection", annotation.TypeObjectDetection, annotation.SampleImage},
	{"image_segmentation", annotation.TypeImageSegmentation, annotation.SampleImage},
	{"text_classification", annotation.TypeTextClassification, annotation.SampleText},
	{"text_entity", annotation.TypeNamedEntity, annotation.SampleText},
	{"text_triplet", annotation.TypeTripletRelation, annotation.SampleText},
	{"audio_classification", annotation.TypeSoundClassification, annotation.SampleAudio},
	{"audio_content", annotation.TypeSpeechContent, annotation.SampleAudio},
	{"audio_segmentation", annotation.TypeSpeechParagraph, annotation.SampleAudio},
}

const typePrefix = "modelarts/"

// LabelType returns the label type (annotation.Type*) of a manifest
// annotation type, given with or without the "modelarts/" prefix.
// "text_entity" gives annotation.TypeNamedEntity.
func LabelType(annotationType string) (labelType, sampleType int, ok bool) {
	name := strings.TrimPrefix(annotationType, typePrefix)
	for _, k := range annotationKinds {
		if k.name == name {
			return k.labelType, k.sampleType, true
		}
	}
	return 0, 0, false
}

// AnnotationType returns the manifest annotation type, prefixed, that
// carries labels of labelType; false for types the manifest cannot carry
// (video, 600).
func AnnotationType(labelType int) (string, bool) {
	if labelType == annotation.TypeTripletEntity {
		labelType = annotation.TypeNamedEntity
	}
	for _, k := range annotationKinds {
		if k.labelType == labelType {
			return typePrefix + k.name, true
		}
	}
	return "", false
}

// isVOCType reports whether labels of type t live in a Pascal VOC file that
// the manifest points at, rather than in the manifest itself.
func isVOCType(t int) bool {
	return t == annotation.TypeObjectDetection || t == annotation.TypeImageSegmentation
}

// Record is one manifest line turned into Atelier's model.
type Record struct {
	// Source is the sample's location as written: "s3://bucket/key",
	// "obs://bucket/key", "/bucket/key", a path relative to the manifest's
	// directory, or a text sample inline as "content://<text>" (see
	// Content). Resolving and checking the location is the caller's job.
	Source string
	// Usage is UsageTrain, UsageEval, UsageTest, UsageInference or "".
	// The reader upper-cases it (the reference's own examples write
	// "train").
	Usage string
	// ID is the line's "id": the sample ID of the dataset it was exported
	// from. Imports do not need to keep it.
	ID string
	// SampleType is the line's "sample-type" (annotation.Sample*) or, when
	// absent, guessed from the annotation types, then from the source
	// (content:// is text, then the file extension, else SampleCustom).
	SampleType int
	// Labels are the labels written in the line itself. The boxes and
	// polygons of detection and segmentation samples are not here but in
	// the VOC files of AnnotationLocs, until AddVOC adds them.
	Labels []annotation.Label
	// AnnotationLocs are the Pascal VOC files of the line's
	// "object_detection" and "image_segmentation" annotations, which the
	// caller must fetch, parse (ParseVOC) and add (AddVOC). When writing,
	// a record with labels of those types must have at least one.
	AnnotationLocs []AnnotationLoc
	// Metadata is the sample's metadata (the reference's SampleMetadata):
	// the line's "property" object (video frames carry
	// @modelarts:parent_source and such there), its "hard" as
	// annotation.MetaHard (1 or 0) and its "hard-coefficient" as
	// annotation.MetaHardCoefficient. AddVOC sets annotation.MetaSize.
	// Values keep their JSON types.
	Metadata map[string]any
	// Inference is the "inference-loc", kept and never fetched.
	Inference string
}

// AnnotationLoc is one annotation of a manifest line whose labels are in a
// Pascal VOC file.
type AnnotationLoc struct {
	// Loc is the "annotation-loc", in the forms Record.Source takes.
	Loc string
	// Type is annotation.TypeObjectDetection or TypeImageSegmentation. When
	// writing, another value means: segmentation if the record has
	// segmentation labels, else detection.
	Type int
	// AnnotatedBy and CreationTime apply to every label of the file; AddVOC
	// copies them to the labels.
	AnnotatedBy  string
	CreationTime string
}

// Content returns the text of a sample given inline ("content://<text>").
func (r Record) Content() (string, bool) {
	return strings.CutPrefix(r.Source, contentScheme)
}

// AddVOC adds the labels of doc, the parsed file of loc (one of
// r.AnnotationLocs), to r: their type is loc's when loc says detection or
// segmentation (the manifest's word beats the VOC file's segmented flag),
// they get loc's AnnotatedBy and CreationTime, and the image size of the
// file becomes r's annotation.MetaSize.
func (r *Record) AddVOC(loc AnnotationLoc, doc VOC) {
	labels := LabelsFromVOC(doc)
	for i := range labels {
		if isVOCType(loc.Type) {
			labels[i].Type = loc.Type
		}
		labels[i].AnnotatedBy = loc.AnnotatedBy
		if loc.CreationTime != "" {
			labels[i].Property[PropCreationTime] = loc.CreationTime
		}
	}
	r.Labels = append(r.Labels, labels...)
	if r.Metadata == nil {
		r.Metadata = make(map[string]any, 1)
	}
	r.Metadata[annotation.MetaSize] = []any{float64(doc.Size.Width), float64(doc.Size.Height), float64(doc.Size.Depth)}
}

// manifestLine is the JSON of one line, field names as the reference
// spells them. Reader and Writer both go through it, and through its check,
// so that whatever Writer writes Reader reads.
type manifestLine struct {
	Source          string               `json:"source"`
	Usage           string               `json:"usage,omitempty"`
	ID              string               `json:"id,omitempty"`
	SampleType      *int                 `json:"sample-type,omitempty"`
	Hard            any                  `json:"hard,omitempty"`
	HardCoefficient any                  `json:"hard-coefficient,omitempty"`
	Annotation      []manifestAnnotation `json:"annotation,omitempty"`
	InferenceLoc    string               `json:"inference-loc,omitempty"`
	Property        map[string]any       `json:"property,omitempty"`
}

type manifestAnnotation struct {
	Type             string         `json:"type"`
	Name             string         `json:"name,omitempty"`
	ID               string         `json:"id,omitempty"`
	Property         map[string]any `json:"property,omitempty"`
	Hard             any            `json:"hard,omitempty"`
	HardCoefficient  any            `json:"hard-coefficient,omitempty"`
	AnnotatedBy      string         `json:"annotated-by,omitempty"`
	CreationTime     string         `json:"creation-time,omitempty"`
	Confidence       *float64       `json:"confidence,omitempty"`
	AnnotationLoc    string         `json:"annotation-loc,omitempty"`
	AnnotationFormat string         `json:"annotation-format,omitempty"`
}

// Reader reads a manifest line by line.
//
// The "text_entity" annotations of a line read as triplet entities
// (annotation.TypeTripletEntity) when the line holds a "text_triplet"
// annotation or an entity whose id has the reference's triplet form
// "E<number>" (all entity ids of such a line must have it); otherwise as
// named entities. An import into a named-entity dataset may map 103 back to
// 101, and one into a triplet dataset 101 to 103.
type Reader struct {
	lines *lineReader
}

// NewReader returns a Reader of the manifest in r. It buffers r.
func NewReader(r io.Reader) *Reader {
	return &Reader{lines: newLineReader(r)}
}

// Line returns the number of the line that Next last read.
func (r *Reader) Line() int { return r.lines.n }

// Next returns the record of the next non-blank line. A line that is not a
// valid record gives a *LineError, and the following call goes on with the
// next line. At the end Next returns io.EOF; a read error of the
// underlying reader is returned wrapped, and again on every later call.
func (r *Reader) Next() (Record, error) {
	for {
		line, tooLong, err := r.lines.next()
		if err != nil {
			return Record{}, err
		}
		if tooLong {
			return Record{}, r.lineError(fmt.Sprintf("longer than %d bytes", MaxLine))
		}
		if isBlank(line) {
			continue
		}
		if !utf8.Valid(line) {
			return Record{}, r.lineError("not UTF-8")
		}
		var ml manifestLine
		if err := json.Unmarshal(line, &ml); err != nil {
			return Record{}, r.lineError(jsonReason(err))
		}
		if reason := ml.check(); reason != "" {
			return Record{}, r.lineError(reason)
		}
		return ml.record(), nil
	}
}

func (r *Reader) lineError(reason string) *LineError {
	return &LineError{Line: r.lines.n, Reason: reason}
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// jsonReason says what is wrong with a line that encoding/json refused,
// without the Go type names that its messages carry.
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return "not a JSON object"
		}
		return fmt.Sprintf("%q has the wrong type (a JSON %s)", te.Field, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("not JSON: %v at byte %d", se, se.Offset)
	}
	return "not JSON: " + err.Error()
}

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

// record turns a checked line into a Record. The line's maps become the
// record's.
func (ml *manifestLine) record() Record {
	usage, _ := normalUsage(ml.Usage)
	rec := Record{
		Source:    ml.Source,
		Usage:     usage,
		ID:        ml.ID,
		Metadata:  ml.Property,
		Inference: ml.InferenceLoc,
	}
	if ml.Hard != nil || ml.HardCoefficient != nil {
		if rec.Metadata == nil {
			rec.Metadata = make(map[string]any, 2)
		}
		if ml.Hard != nil {
			rec.Metadata[annotation.MetaHard], _ = hardValue(ml.Hard)
		}
		if ml.HardCoefficient != nil {
			rec.Metadata[annotation.MetaHardCoefficient], _ = coefficient(ml.HardCoefficient)
		}
	}
	sampleType := -1
	if ml.SampleType != nil {
		sampleType = *ml.SampleType
	}
	triplets := isTripletLine(ml.Annotation)
	nLabels := 0
	for i := range ml.Annotation {
		if lt, _, _ := LabelType(ml.Annotation[i].Type); !isVOCType(lt) {
			nLabels++
		}
	}
	if nLabels > 0 {
		rec.Labels = make([]annotation.Label, 0, nLabels)
	}
	for i := range ml.Annotation {
		a := &ml.Annotation[i]
		lt, st, _ := LabelType(a.Type)
		if sampleType < 0 {
			sampleType = st
		}
		if isVOCType(lt) {
			rec.AnnotationLocs = append(rec.AnnotationLocs, AnnotationLoc{
				Loc:          a.AnnotationLoc,
				Type:         lt,
				AnnotatedBy:  a.AnnotatedBy,
				CreationTime: a.CreationTime,
			})
			continue
		}
		if lt == annotation.TypeNamedEntity && triplets {
			lt = annotation.TypeTripletEntity
		}
		label := annotation.Label{
			AnnotatedBy: a.AnnotatedBy,
			ID:          a.ID,
			Name:        a.Name,
			Property:    a.Property,
			Score:       a.Confidence,
			Type:        lt,
		}
		if a.CreationTime != "" || a.Hard != nil || a.HardCoefficient != nil {
			if label.Property == nil {
				label.Property = make(map[string]any, 3)
			}
			if a.CreationTime != "" {
				label.Property[PropCreationTime] = a.CreationTime
			}
			if a.Hard != nil {
				label.Property[annotation.PropHard], _ = hardString(a.Hard)
			}
			if a.HardCoefficient != nil {
				c, _ := coefficient(a.HardCoefficient)
				label.Property[annotation.PropHardCoefficient] = strconv.FormatFloat(c, 'f', -1, 64)
			}
		}
		rec.Labels = append(rec.Labels, label)
	}
	if sampleType < 0 {
		sampleType = guessSampleType(ml.Source)
	}
	rec.SampleType = sampleType
	return rec
}

// sampleTypesByExt guesses a sample's type from its file extension when a
// manifest line says nothing else.
var sampleTypesByExt = map[string]int{
	"jpg": annotation.SampleImage, "jpeg": annotation.SampleImage, "png": annotation.SampleImage,
	"bmp": annotation.SampleImage, "gif": annotation.SampleImage, "webp": annotation.SampleImage,
	"tif": annotation.SampleImage, "tiff": annotation.SampleImage,
	"txt": annotation.SampleText, "csv": annotation.SampleText,
	"wav": annotation.SampleAudio, "mp3": annotation.SampleAudio, "flac": annotation.SampleAudio,
	"m4a": annotation.SampleAudio, "aac": annotation.SampleAudio, "ogg": annotation.SampleAudio,
	"mp4": annotation.SampleVideo, "avi": annotation.SampleVideo, "mov": annotation.SampleVideo,
	"mkv": annotation.SampleVideo, "webm": annotation.SampleVideo,
}

func guessSampleType(source string) int {
	if strings.HasPrefix(source, contentScheme) {
		return annotation.SampleText
	}
	if t, ok := sampleTypesByExt[extension(source)]; ok {
		return t
	}
	return annotation.SampleCustom
}

// extension returns the extension of the last path segment, without the
// dot, with ASCII letters lower-cased (and so as many bytes long as in key).
func extension(key string) string {
	base := key[strings.LastIndexByte(key, '/')+1:]
	i := strings.LastIndexByte(base, '.')
	if i < 0 {
		return ""
	}
	ext := base[i+1:]
	for j := 0; j < len(ext); j++ {
		if c := ext[j]; 'A' <= c && c <= 'Z' {
			b := []byte(ext)
			for k := j; k < len(b); k++ {
				if 'A' <= b[k] && b[k] <= 'Z' {
					b[k] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return ext
}

// Writer writes a manifest, one line per record.
type Writer struct {
	bw  *bufio.Writer
	enc *json.Encoder
	err error // sticky write error
}

// NewWriter returns a Writer to w. Lines are buffered until Flush.
func NewWriter(w io.Writer) *Writer {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	// Texts and keys hold '<', '>' and '&' often enough; escaping them only
	// makes manifests harder to read.
	enc.SetEscapeHTML(false)
	return &Writer{bw: bw, enc: enc}
}

// Write writes rec as one line. Labels of object detection and image
// segmentation are not written (they belong in the VOC files of
// rec.AnnotationLocs, which the caller writes with VOCFromLabels and
// WriteVOC); such labels without an AnnotationLoc are an error, as the
// reference gives boxes no inline form. A record that Reader would refuse,
// or read back differently, is an error that leaves nothing written and the
// Writer usable; a write error is returned by every later call.
func (w *Writer) Write(rec Record) error {
	if w.err != nil {
		return w.err
	}
	ml, err := lineOf(rec)
	if err == nil {
		if reason := ml.check(); reason != "" {
			err = errors.New(reason)
		}
	}
	if err != nil {
		return fmt.Errorf("manifest record of %q: %w", rec.Source, err)
	}
	if err := w.enc.Encode(&ml); err != nil {
		var ue *json.UnsupportedValueError
		var te *json.UnsupportedTypeError
		if errors.As(err, &ue) || errors.As(err, &te) {
			return fmt.Errorf("manifest record of %q: %w", rec.Source, err)
		}
		w.err = fmt.Errorf("write manifest: %w", err)
		return w.err
	}
	return nil
}

// Flush writes out the buffered lines.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("write manifest: %w", err)
	}
	return w.err
}

// lineOf turns a record into the JSON of its line.
func lineOf(rec Record) (manifestLine, error) {
	usage, ok := normalUsage(rec.Usage)
	if !ok {
		return manifestLine{}, fmt.Errorf("usage %q is not TRAIN, EVAL, TEST or INFERENCE", rec.Usage)
	}
	sampleType := rec.SampleType
	ml := manifestLine{
		Source:       rec.Source,
		Usage:        usage,
		ID:           rec.ID,
		SampleType:   &sampleType,
		InferenceLoc: rec.Inference,
		Property:     rec.Metadata,
	}
	hard, hasHard := rec.Metadata[annotation.MetaHard]
	coef, hasCoef := rec.Metadata[annotation.MetaHardCoefficient]
	if hasHard || hasCoef {
		ml.Property = maps.Clone(rec.Metadata)
		delete(ml.Property, annotation.MetaHard)
		delete(ml.Property, annotation.MetaHardCoefficient)
		if len(ml.Property) == 0 {
			ml.Property = nil
		}
	}
	if hasHard {
		h, ok := hardValue(hard)
		if !ok {
			return manifestLine{}, fmt.Errorf("metadata %s is not 1, 0, true or false", annotation.MetaHard)
		}
		ml.Hard = strconv.FormatBool(h == 1)
	}
	if hasCoef {
		ml.HardCoefficient = coef
	}

	// A text_entity reads back as a triplet entity when its line has a
	// relation or its id is E<number> (see Reader): refuse what would not.
	vocLabels, segmentation, triplets := 0, false, false
	for _, l := range rec.Labels {
		switch l.Type {
		case annotation.TypeObjectDetection, annotation.TypeImageSegmentation:
			vocLabels++
			segmentation = segmentation || l.Type == annotation.TypeImageSegmentation
		case annotation.TypeTripletEntity:
			triplets = true
			if !isTripletEntityID(l.ID) {
				return manifestLine{}, fmt.Errorf("triplet entity %q: id %q is not E<number>", l.Name, l.ID)
			}
		case annotation.TypeTripletRelation:
			triplets = true
		}
	}
	for _, l := range rec.Labels {
		if l.Type != annotation.TypeNamedEntity {
			continue
		}
		if isTripletEntityID(l.ID) {
			return manifestLine{}, fmt.Errorf("named entity %q: id %q has the triplet-entity form and would read back as one", l.Name, l.ID)
		}
		if triplets {
			return manifestLine{}, fmt.Errorf("named entity %q beside triplet labels would read back as a triplet entity", l.Name)
		}
	}
	if vocLabels > 0 && len(rec.AnnotationLocs) == 0 {
		return manifestLine{}, errors.New("object detection or segmentation labels need an AnnotationLoc (the VOC file that holds them)")
	}
	ml.Annotation = make([]manifestAnnotation, 0, len(rec.Labels)-vocLabels+len(rec.AnnotationLocs))
	for _, l := range rec.Labels {
		if isVOCType(l.Type) {
			continue
		}
		a, err := annotationOf(l)
		if err != nil {
			return manifestLine{}, err
		}
		ml.Annotation = append(ml.Annotation, a)
	}
	for _, loc := range rec.AnnotationLocs {
		t := loc.Type
		if !isVOCType(t) {
			t = annotation.TypeObjectDetection
			if segmentation {
				t = annotation.TypeImageSegmentation
			}
		}
		name, _ := AnnotationType(t)
		ml.Annotation = append(ml.Annotation, manifestAnnotation{
			Type:             name,
			AnnotationLoc:    loc.Loc,
			AnnotationFormat: FormatVOC,
			AnnotatedBy:      loc.AnnotatedBy,
			CreationTime:     loc.CreationTime,
		})
	}
	if len(ml.Annotation) == 0 {
		ml.Annotation = nil
	}
	return ml, nil
}

// annotationOf turns a label into its manifest annotation, moving the
// property keys that the manifest writes as fields.
func annotationOf(l annotation.Label) (manifestAnnotation, error) {
	name, ok := AnnotationType(l.Type)
	if !ok {
		return manifestAnnotation{}, fmt.Errorf("label %q: type %d has no manifest annotation type", l.Name, l.Type)
	}
	a := manifestAnnotation{
		Type:        name,
		Name:        l.Name,
		ID:          l.ID,
		Property:    l.Property,
		AnnotatedBy: l.AnnotatedBy,
		Confidence:  l.Score,
	}
	ct, hasCT := l.Property[PropCreationTime]
	hard, hasHard := l.Property[annotation.PropHard]
	coef, hasCoef := l.Property[annotation.PropHardCoefficient]
	if !hasCT && !hasHard && !hasCoef {
		return a, nil
	}
	a.Property = maps.Clone(l.Property)
	delete(a.Property, PropCreationTime)
	delete(a.Property, annotation.PropHard)
	delete(a.Property, annotation.PropHardCoefficient)
	if len(a.Property) == 0 {
		a.Property = nil
	}
	if hasCT {
		s, ok := ct.(string)
		if !ok {
			return manifestAnnotation{}, fmt.Errorf("label %q: %s is not a string", l.Name, PropCreationTime)
		}
		a.CreationTime = s
	}
	if hasHard {
		s, ok := hard.(string)
		if !ok || !validHardString(s) {
			return manifestAnnotation{}, fmt.Errorf("label %q: %s is not \"true\", \"false\", \"1\" or \"0\"", l.Name, annotation.PropHard)
		}
		a.Hard = s
	}
	if hasCoef {
		c, ok := coefficient(coef)
		if !ok {
			return manifestAnnotation{}, fmt.Errorf("label %q: %s is not a number from 0 to 1", l.Name, annotation.PropHardCoefficient)
		}
		a.HardCoefficient = c
	}
	return a, nil
}
