package formats

// Size: one format, the ModelArts manifest, streaming reader and writer
// together: they change together, and every annotation kind is read and
// written in one place so that a round trip keeps it.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
