package formats

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

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
