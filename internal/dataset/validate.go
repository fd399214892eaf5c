package dataset

import (
	"errors"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/atelier-dev/atelier/internal/obs"
)

// Limits of the reference.
const (
	MaxNameLen        = 100 // dataset_name: 1 to 100 characters
	MaxDescriptionLen = 256 // description: 0 to 256 characters
	MinWorkPathLen    = 3   // work_path: 3 to 700 characters
	MaxWorkPathLen    = 700
	MaxAttrNameLen    = 64 // label attribute name: at most 64 characters
	// MaxLabelNameLen is Atelier's bound on a label name, which the
	// reference leaves open; names appear in paths (…/labels/{label_name}).
	MaxLabelNameLen = 1024
	// MaxLabels bounds the labels of one request; a dataset's labels are
	// listed with limit up to 100000, its bound too.
	MaxLabels = 100000
)

var (
	nameRe = regexp.MustCompile(`^[\p{L}\p{N}_-]+$`)
	// The reference forbids ^!<>=&"' in a description on create and
	// ^!<>=&" on modify.
	createDescForbidden = `^!<>=&"'`
	updateDescForbidden = `^!<>=&"`
	attrNameForbidden   = `!<>=&"'`
	colorRe             = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)
	shapes              = map[string]bool{"bndbox": true, "polygon": true, "circle": true, "line": true, "dashed": true, "point": true, "polyline": true}
)

// datasetTypes are the dataset types of the reference, with the label
// types each allows (nil: labels are not used).
var datasetTypes = map[int][]int{
	TypeImageClassification: {TypeImageClassification},
	TypeObjectDetection:     {TypeObjectDetection},
	TypeImageSegmentation:   {TypeImageSegmentation},
	TypeTextClassification:  {TypeTextClassification},
	TypeNamedEntity:         {TypeNamedEntity},
	TypeTextTriplet:         {LabelTripletRelation, LabelTripletEntity},
	TypeSoundClassification: {TypeSoundClassification},
	TypeSpeechContent:       {TypeSpeechContent},
	TypeSpeechParagraph:     {TypeSpeechParagraph},
	TypeTable:               nil,
	TypeVideo:               {TypeVideo},
	TypeCustom: {TypeImageClassification, TypeObjectDetection, TypeImageSegmentation, TypeTextClassification,
		TypeNamedEntity, LabelTripletRelation, LabelTripletEntity, TypeSoundClassification, TypeSpeechContent,
		TypeSpeechParagraph, TypeVideo},
}

// ValidType reports whether t is a dataset type of the reference.
func ValidType(t int) bool {
	_, ok := datasetTypes[t]
	return ok
}

func checkName(field, name string) error {
	if n := utf8.RuneCountInString(name); n < 1 || n > MaxNameLen || !nameRe.MatchString(name) {
		return badRequest("Invalid parameter(%s): %q must be 1 to %d letters, digits, underscores (_) and hyphens (-).", field, name, MaxNameLen)
	}
	return nil
}

// CheckDescription checks a description: its length and the characters
// forbidden in it.
func CheckDescription(field, desc, forbidden string) error {
	if utf8.RuneCountInString(desc) > MaxDescriptionLen {
		return badRequest("Invalid parameter(%s): at most %d characters.", field, MaxDescriptionLen)
	}
	if strings.ContainsAny(desc, forbidden) {
		return badRequest("Invalid parameter(%s): must not contain any of %s.", field, forbidden)
	}
	return nil
}

// ParseDir parses an OBS directory of a request ("/bucket/dir/" or
// "obs://bucket/dir/"): it must name a directory under a bucket, not the
// bucket itself.
func ParseDir(field, s string) (obs.Path, error) {
	if strings.Contains(strings.TrimPrefix(s, "obs://"), "//") {
		return obs.Path{}, Invalid(CodeOBSPathDoubleSlash, "Invalid OBS path (%s): %q must not contain //.", field, s)
	}
	p, err := obs.ParsePath(s)
	if err != nil {
		if errors.Is(err, obs.ErrInvalidBucket) || errors.Is(err, obs.ErrInvalidKey) {
			return obs.Path{}, Invalid(CodeOBSPathInvalid, "OBS path is invalid (%s): %q.", field, s)
		}
		return obs.Path{}, Invalid(CodeInvalidPath, "Invalid path (%s): %q: want /bucket/path/ or obs://bucket/path/.", field, s)
	}
	if p.Key == "" {
		return obs.Path{}, Invalid(CodeSubdirRequired, "A subdirectory must be specified as the dataset input or output path (%s): %q is a bucket.", field, s)
	}
	if !strings.HasSuffix(p.Key, "/") {
		p.Key += "/"
	}
	return p, nil
}

// Within reports whether p is q or a directory under it.
func Within(p, q obs.Path) bool {
	return p.Bucket == q.Bucket && strings.HasPrefix(p.Key, q.Key)
}

// labelRules are the rules a dataset's labels follow.
type labelRules struct {
	datasetType int
}

// defaultType is the type of a label that names none.
func (r labelRules) defaultType() int {
	switch r.datasetType {
	case TypeTextTriplet:
		return LabelTripletEntity
	case TypeCustom:
		return TypeImageClassification
	}
	return r.datasetType
}

func (r labelRules) allows(t int) bool {
	for _, a := range datasetTypes[r.datasetType] {
		if a == t {
			return true
		}
	}
	return false
}

// checkLabel validates one label of a request and fills in its type.
func (r labelRules) checkLabel(field string, l *Label) error {
	if datasetTypes[r.datasetType] == nil {
		return Invalid(CodeLabelIncompatible, "Label is incompatible with annotation rules (%s): a table dataset has no labels.", field)
	}
	if n := utf8.RuneCountInString(l.Name); n < 1 || n > MaxLabelNameLen || strings.ContainsFunc(l.Name, unicode.IsControl) || strings.Contains(l.Name, "/") {
		return badRequest("Invalid parameter(%s.name): %q must be 1 to %d characters without '/' or control characters.", field, l.Name, MaxLabelNameLen)
	}
	if l.Type == nil {
		t := r.defaultType()
		l.Type = &t
	}
	if !r.allows(*l.Type) {
		return Invalid(CodeLabelIncompatible, "Label is incompatible with annotation rules (%s.type): type %d is not a label type of dataset type %d.", field, *l.Type, r.datasetType)
	}
	if err := checkProperty(field+".property", l.Property); err != nil {
		return err
	}
	if *l.Type == LabelTripletRelation && (l.Property[PropFromType] == "" || l.Property[PropToType] == "") {
		return Invalid(CodeTripletEntity, "Triplet label's from_entity or to_entity does not exist (%s.property): a relationship label needs %s and %s.", field, PropFromType, PropToType)
	}
	return checkAttributes(field+".attributes", l.Attributes)
}

// checkProperty validates the reference's property keys; other keys are
// kept as given.
func checkProperty(field string, p map[string]string) error {
	if c, ok := p[PropColor]; ok && c != "" && !colorRe.MatchString(c) {
		return badRequest("Invalid parameter(%s.%s): %q is not a hexadecimal colour like #FFFFF0.", field, PropColor, c)
	}
	if s, ok := p[PropDefaultShape]; ok && s != "" && !shapes[s] {
		return badRequest("Invalid parameter(%s.%s): %q: want bndbox, polygon, circle, line, dashed, point or polyline.", field, PropDefaultShape, s)
	}
	if s, ok := p[PropShortcut]; ok && utf8.RuneCountInString(s) > 1 {
		return badRequest("Invalid parameter(%s.%s): %q: a shortcut is one key.", field, PropShortcut, s)
	}
	if n, ok := p[PropRenameTo]; ok {
		if c := utf8.RuneCountInString(n); c < 1 || c > MaxLabelNameLen || strings.ContainsFunc(n, unicode.IsControl) || strings.Contains(n, "/") {
			return badRequest("Invalid parameter(%s.%s): %q must be 1 to %d characters without '/' or control characters.", field, PropRenameTo, n, MaxLabelNameLen)
		}
	}
	return nil
}

func checkAttributes(field string, attrs []LabelAttribute) error {
	names := map[string]bool{}
	for i, a := range attrs {
		if utf8.RuneCountInString(a.Name) > MaxAttrNameLen || strings.ContainsAny(a.Name, attrNameForbidden) {
			return badRequest("Invalid parameter(%s[%d].name): at most %d characters, none of %s.", field, i, MaxAttrNameLen, attrNameForbidden)
		}
		if a.Type != "" && a.Type != "text" && a.Type != "select" {
			return badRequest("Invalid parameter(%s[%d].type): %q: want text or select.", field, i, a.Type)
		}
		if names[a.Name] {
			return Invalid(CodeAttributeExists, "The label attribute name already exists (%s[%d].name): %q.", field, i, a.Name)
		}
		names[a.Name] = true
		vals := map[string]bool{}
		for j, v := range a.Values {
			if vals[v.Value] {
				return Invalid(CodeAttributeValExists, "The label attribute value already exists (%s[%d].values[%d]): %q.", field, i, j, v.Value)
			}
			vals[v.Value] = true
		}
	}
	return nil
}

// ValidLabelType reports whether t is a label type of the reference.
func ValidLabelType(t int) bool {
	return t != TypeTable && t != TypeCustom && (ValidType(t) || t == LabelTripletEntity)
}
