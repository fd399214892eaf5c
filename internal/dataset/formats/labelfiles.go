package formats

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// TextSample is one sample of a text file: a non-blank line and its labels.
type TextSample struct {
	Line   int // 1-based, in the text file
	Text   string
	Labels []string
}

// ParseTextClassification reads a text classification file whose lines are
// "<text><sampleSep><label><labelSep><label>..." ("ModelArts text
// classification combine 1.0"). The separators default to Tab and comma
// when empty and follow the reference's LabelFormat rules (`\t` is taken for
// Tab). The text ends at the line's last sampleSep, since a label holds no
// separator while a text may; a line without one is an unlabeled text.
// Labels are trimmed, and empty or repeated ones dropped. Blank lines are
// skipped.
//
// The sequence yields a *LineError for a bad line (not UTF-8 — GBK files,
// which the reference allows, must be decoded by the caller — or too long)
// and goes on; a read error or bad separators end it.
func ParseTextClassification(r io.Reader, sampleSep, labelSep string) iter.Seq2[TextSample, error] {
	return func(yield func(TextSample, error) bool) {
		sampleSep, labelSep, err := textSeparators(sampleSep, labelSep)
		if err != nil {
			yield(TextSample{}, fmt.Errorf("parse text classification: %w", err))
			return
		}
		lines := newLineReader(r)
		for {
			line, tooLong, err := lines.next()
			if err != nil {
				if err != io.EOF {
					yield(TextSample{}, err)
				}
				return
			}
			var s TextSample
			var lerr error
			switch {
			case tooLong:
				lerr = &LineError{Line: lines.n, Reason: fmt.Sprintf("longer than %d bytes", MaxLine)}
			case isBlank(line):
				continue
			case !utf8.Valid(line):
				lerr = &LineError{Line: lines.n, Reason: "not UTF-8"}
			default:
				text, labels := string(line), ""
				if i := bytes.LastIndex(line, []byte(sampleSep)); i >= 0 {
					text, labels = string(line[:i]), string(line[i+len(sampleSep):])
				}
				s = TextSample{Line: lines.n, Text: text, Labels: splitLabels(labels, labelSep)}
				if strings.TrimSpace(text) == "" {
					s, lerr = TextSample{}, &LineError{Line: lines.n, Reason: "labels without a text"}
				}
			}
			if !yield(s, lerr) {
				return
			}
		}
	}
}

// ZipTextResult pairs the lines of a text file with those of its
// "<name>_result.txt" ("ModelArts text classification 1.0", label_type 0):
// line n of result holds the labels of line n of text, separated by
// labelSep ("," if empty). Blank text lines are skipped; a text past the
// end of result is unlabeled. Errors are yielded as ParseTextClassification
// does; labels on a blank text line, or past the end of the text, are a
// *LineError.
func ZipTextResult(text, result io.Reader, labelSep string) iter.Seq2[TextSample, error] {
	return func(yield func(TextSample, error) bool) {
		_, labelSep, err := textSeparators("\t", labelSep)
		if err != nil {
			yield(TextSample{}, fmt.Errorf("parse text result: %w", err))
			return
		}
		texts, results := newLineReader(text), newLineReader(result)
		resultsDone := false
		for {
			line, tooLong, err := texts.next()
			if err != nil && err != io.EOF {
				yield(TextSample{}, err)
				return
			}
			textDone := err == io.EOF
			var labels []byte
			labelsTooLong := false
			if !resultsDone {
				var rerr error
				labels, labelsTooLong, rerr = results.next()
				switch {
				case rerr == io.EOF:
					resultsDone = true
				case rerr != nil:
					yield(TextSample{}, fmt.Errorf("result file: %w", rerr))
					return
				}
			}
			if textDone {
				if !resultsDone && (labelsTooLong || !isBlank(labels)) {
					yield(TextSample{}, &LineError{Line: results.n, Reason: "labels past the end of the text file"})
				}
				return
			}
			var s TextSample
			var lerr error
			switch {
			case tooLong:
				lerr = &LineError{Line: texts.n, Reason: fmt.Sprintf("longer than %d bytes", MaxLine)}
			case labelsTooLong:
				lerr = &LineError{Line: texts.n, Reason: fmt.Sprintf("its labels are longer than %d bytes", MaxLine)}
			case isBlank(line):
				if isBlank(labels) {
					continue
				}
				lerr = &LineError{Line: texts.n, Reason: "labels for a blank line"}
			case !utf8.Valid(line) || !utf8.Valid(labels):
				lerr = &LineError{Line: texts.n, Reason: "not UTF-8"}
			default:
				s = TextSample{Line: texts.n, Text: string(line), Labels: splitLabels(string(labels), labelSep)}
			}
			if !yield(s, lerr) {
				return
			}
		}
	}
}

// splitLabels splits, trims and drops empty and repeated labels.
func splitLabels(s, sep string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var labels []string
	for l := range strings.SplitSeq(s, sep) {
		l = strings.TrimSpace(l)
		if l != "" && !slices.Contains(labels, l) {
			labels = append(labels, l)
		}
	}
	return labels
}

// maxLabelFile bounds the small label files (a label list, obj.names, a
// YOLO file): they hold a few lines.
const maxLabelFile = 1 << 20

// readSmall reads a small label file whole.
func readSmall(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxLabelFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if len(b) > maxLabelFile {
		return nil, fmt.Errorf("read %s: larger than %d bytes", what, maxLabelFile)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("read %s: not UTF-8", what)
	}
	return bytes.TrimPrefix(b, bom), nil
}

// ParseLabelList reads the label file beside an image ("ModelArts image
// classification 1.0"): one label per non-blank line, trimmed, repeats
// dropped.
func ParseLabelList(r io.Reader) ([]string, error) {
	b, err := readSmall(r, "label list")
	if err != nil {
		return nil, err
	}
	return splitLabels(string(b), "\n"), nil
}

// ParseYOLONames reads a YOLO obj.names file: one label per line, the line
// order being the label index. Blank lines and lines starting with "#" are
// left out without taking an index.
func ParseYOLONames(r io.Reader) ([]string, error) {
	b, err := readSmall(r, "obj.names")
	if err != nil {
		return nil, err
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		names = append(names, line)
	}
	if len(names) == 0 {
		return nil, errors.New("read obj.names: no label")
	}
	return names, nil
}

// LabelsFromYOLO reads a YOLO label file, lines of "<label index>
// <x_center> <y_center> <width> <height>" in fractions of the image, into
// bndbox labels of an image of width x height pixels (which the caller
// reads from the image). Boxes are clipped to the image, as float rounding
// can leave them a hair outside. Lines starting with "#" are comments.
func LabelsFromYOLO(r io.Reader, names []string, width, height int) ([]annotation.Label, error) {
	if width <= 0 || height <= 0 {
		return nil, fmt.Errorf("parse YOLO labels: image size %dx%d is not positive", width, height)
	}
	b, err := readSmall(r, "YOLO labels")
	if err != nil {
		return nil, err
	}
	var labels []annotation.Label
	n := 0
	for line := range strings.Lines(string(b)) {
		n++
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) != 5 {
			return nil, fmt.Errorf("parse YOLO labels: %w", &LineError{Line: n, Reason: "not <label> <x_center> <y_center> <width> <height>"})
		}
		idx, err := strconv.Atoi(fields[0])
		if err != nil || idx < 0 || idx >= len(names) {
			return nil, fmt.Errorf("parse YOLO labels: %w", &LineError{Line: n, Reason: fmt.Sprintf("label index %q is not one of the %d names", fields[0], len(names))})
		}
		var v [4]float64
		for i, f := range fields[1:] {
			v[i], err = strconv.ParseFloat(f, 64)
			if err != nil || !(v[i] >= 0 && v[i] <= 1) {
				return nil, fmt.Errorf("parse YOLO labels: %w", &LineError{Line: n, Reason: fmt.Sprintf("%q is not a fraction from 0 to 1", f)})
			}
		}
		if v[2] == 0 || v[3] == 0 {
			return nil, fmt.Errorf("parse YOLO labels: %w", &LineError{Line: n, Reason: "an empty box"})
		}
		w, h := float64(width), float64(height)
		clip := func(x, limit float64) float64 { return math.Min(math.Max(x, 0), limit) }
		feature := [][]float64{
			{clip((v[0]-v[2]/2)*w, w), clip((v[1]-v[3]/2)*h, h)},
			{clip((v[0]+v[2]/2)*w, w), clip((v[1]+v[3]/2)*h, h)},
		}
		if err := checkFeature(ShapeBndBox, feature); err != nil {
			return nil, fmt.Errorf("parse YOLO labels: %w", &LineError{Line: n, Reason: err.Error()})
		}
		labels = append(labels, annotation.Label{
			Name: names[idx],
			Type: annotation.TypeObjectDetection,
			Property: map[string]any{
				annotation.PropShape:   ShapeBndBox,
				annotation.PropFeature: featureJSON(feature),
			},
		})
	}
	return labels, nil
}
