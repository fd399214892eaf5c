package annotation

import (
	"fmt"
	"regexp"
	"unicode/utf8"
)

// Allowed reports which label types a dataset type's samples may carry.
func Allowed(datasetType, labelType int) bool {
	switch datasetType {
	case 0:
		return labelType == TypeImageClassification
	case 1:
		return labelType == TypeObjectDetection
	case 3:
		return labelType == TypeImageSegmentation
	case 100:
		return labelType == TypeTextClassification
	case 101:
		return labelType == TypeNamedEntity
	case 102:
		return labelType == TypeTripletRelation || labelType == TypeTripletEntity
	case 200:
		return labelType == TypeSoundClassification
	case 201:
		return labelType == TypeSpeechContent
	case 202:
		return labelType == TypeSpeechParagraph
	case 600:
		return labelType == TypeVideo
	case 900:
		return true
	}
	return false
}

// DefaultType is the label type a sample label of a dataset type has when
// the request leaves type out (0 is also the JSON zero value).
func DefaultType(datasetType int) int {
	switch datasetType {
	case 0, 1, 3, 100, 101, 200, 201, 202, 600:
		return datasetType
	case 102:
		return TypeTripletEntity
	}
	return TypeImageClassification
}

// SampleTypeOf is the sample type (sample_type) of a dataset type's samples.
func SampleTypeOf(datasetType int) int {
	switch {
	case datasetType < 100:
		return SampleImage
	case datasetType < 200:
		return SampleText
	case datasetType < 300:
		return SampleAudio
	case datasetType == 400:
		return SampleTable
	case datasetType == 600:
		return SampleVideo
	}
	return SampleCustom
}

var timeOfDay = regexp.MustCompile(`^\d{2}:[0-5]\d:[0-5]\d\.\d{3}$`)

// Validate checks one sample's labels for a dataset type: each label's type,
// the properties its kind requires (boxes and polygons, entity offsets within
// the text, triplet ends naming entities of the same sample, speech times),
// and the confidence range. content is the sample's text for text datasets
// ("" when unknown: offsets are then only checked for order). It normalises
// a missing type to the dataset's default and returns the first problem as
// "labels[i]...: reason".
func Validate(datasetType int, content string, labels []Label) error {
	entities := map[string]bool{}
	for i := range labels {
		if labels[i].Type == 0 && datasetType != 0 {
			labels[i].Type = DefaultType(datasetType)
		}
		if labels[i].Type == TypeTripletEntity && labels[i].ID != "" {
			entities[labels[i].ID] = true
		}
	}
	textLen := utf8.RuneCountInString(content)
	for i := range labels {
		l := &labels[i]
		at := func(format string, args ...any) error {
			return fmt.Errorf("labels[%d] (%s): %s", i, l.Name, fmt.Sprintf(format, args...))
		}
		if l.Name == "" {
			return at("name is required")
		}
		if !Allowed(datasetType, l.Type) {
			return at("label type %d is not allowed in a dataset of type %d", l.Type, datasetType)
		}
		if l.Score != nil && (*l.Score < 0 || *l.Score > 1) {
			return at("score must be within [0,1]")
		}
		if l.AnnotatedBy != "" && l.AnnotatedBy != "human" && l.AnnotatedBy != "auto" {
			return at("annotated_by must be human or auto")
		}
		switch l.Type {
		case TypeObjectDetection, TypeImageSegmentation:
			shape, _ := l.Property[PropShape].(string)
			if shape == "" {
				shape = "bndbox"
				if l.Type == TypeImageSegmentation {
					shape = "polygon"
				}
			}
			if err := checkShape(shape, l.Property[PropFeature]); err != nil {
				return at("%v", err)
			}
		case TypeNamedEntity, TypeTripletEntity:
			start, ok1 := intProp(l.Property, PropStartIndex)
			end, ok2 := intProp(l.Property, PropEndIndex)
			if !ok1 || !ok2 {
				return at("%s and %s must be integers", PropStartIndex, PropEndIndex)
			}
			if start < 0 || end <= start {
				return at("%s must be ≥ 0 and below %s", PropStartIndex, PropEndIndex)
			}
			if content != "" && end > textLen {
				return at("%s %d is beyond the text (%d characters)", PropEndIndex, end, textLen)
			}
		case TypeTripletRelation:
			from, _ := l.Property[PropFrom].(string)
			to, _ := l.Property[PropTo].(string)
			if !entities[from] || !entities[to] {
				return at("%s and %s must name entity labels (by id) of the same sample", PropFrom, PropTo)
			}
		case TypeSpeechContent:
			if _, ok := l.Property[PropContent].(string); !ok {
				return at("%s must be a string", PropContent)
			}
		case TypeSpeechParagraph:
			for _, k := range []string{PropStartTime, PropEndTime} {
				v, _ := l.Property[k].(string)
				if !timeOfDay.MatchString(v) {
					return at("%s must be hh:mm:ss.SSS", k)
				}
			}
			if l.Property[PropStartTime].(string) >= l.Property[PropEndTime].(string) {
				return at("%s must be before %s", PropStartTime, PropEndTime)
			}
		}
	}
	return nil
}

// intProp reads an integer property that JSON decoded as a number (or a
// client sent as a numeric string, as some SDKs do).
func intProp(p map[string]any, key string) (int, bool) {
	switch v := p[key].(type) {
	case float64:
		if v == float64(int(v)) {
			return int(v), true
		}
	case int:
		return v, true
	case string:
		var n int
		if _, err := fmt.Sscanf(v, "%d", &n); err == nil && fmt.Sprint(n) == v {
			return n, true
		}
	}
	return 0, false
}

// points reads a shape feature: a list of [x, y] pairs (a circle's second
// element is [radius]).
func points(feature any) ([][]float64, bool) {
	list, ok := feature.([]any)
	if !ok {
		return nil, false
	}
	out := make([][]float64, 0, len(list))
	for _, p := range list {
		pair, ok := p.([]any)
		if !ok {
			return nil, false
		}
		xs := make([]float64, 0, len(pair))
		for _, c := range pair {
			f, ok := c.(float64)
			if !ok || f < 0 {
				return nil, false
			}
			xs = append(xs, f)
		}
		out = append(out, xs)
	}
	return out, true
}

func checkShape(shape string, feature any) error {
	pts, ok := points(feature)
	if !ok {
		return fmt.Errorf("%s must be a list of [x,y] points with non-negative coordinates", PropFeature)
	}
	pair := func(n int) error {
		if len(pts) != n {
			return fmt.Errorf("a %s needs %d points, got %d", shape, n, len(pts))
		}
		for _, p := range pts {
			if len(p) != 2 {
				return fmt.Errorf("every point of a %s is [x,y]", shape)
			}
		}
		return nil
	}
	switch shape {
	case "bndbox":
		if err := pair(2); err != nil {
			return err
		}
		if pts[0][0] >= pts[1][0] || pts[0][1] >= pts[1][1] {
			return fmt.Errorf("a bndbox's first point must be above and left of its second")
		}
	case "line", "dashed":
		return pair(2)
	case "point":
		return pair(1)
	case "polygon", "polyline":
		min := 3
		if shape == "polyline" {
			min = 2
		}
		if len(pts) < min {
			return fmt.Errorf("a %s needs at least %d points", shape, min)
		}
		for _, p := range pts {
			if len(p) != 2 {
				return fmt.Errorf("every point of a %s is [x,y]", shape)
			}
		}
	case "circle":
		if len(pts) != 2 || len(pts[0]) != 2 || len(pts[1]) != 1 || pts[1][0] <= 0 {
			return fmt.Errorf("a circle is [[x,y],[radius]] with a positive radius")
		}
	default:
		return fmt.Errorf("%s %q is not one of bndbox, polygon, circle, line, dashed, point, polyline", PropShape, shape)
	}
	return nil
}
