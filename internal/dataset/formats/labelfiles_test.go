package formats

import (
	"errors"
	"iter"
	"math"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// result is one item of a TextSample sequence: a sample, or the line and
// reason of a *LineError, or another error.
type result struct {
	sample TextSample
	line   int
	reason string
}

func collect(t *testing.T, seq iter.Seq2[TextSample, error]) []result {
	t.Helper()
	var out []result
	for s, err := range seq {
		var le *LineError
		switch {
		case errors.As(err, &le):
			out = append(out, result{line: le.Line, reason: le.Reason})
		case err != nil:
			out = append(out, result{reason: err.Error()})
		default:
			out = append(out, result{sample: s})
		}
	}
	return out
}

func TestParseTextClassification(t *testing.T) {
	ok := func(line int, text string, labels ...string) result {
		return result{sample: TextSample{Line: line, Text: text, Labels: labels}}
	}
	cases := []struct {
		name, in, sampleSep, labelSep string
		want                          []result
	}{
		{
			name: "reference-example",
			in: "It touches good and responds quickly. I don't know how it performs in the future.\tpositive\r\n" +
				"Why does my phone heat up if I charge it for a while?\tnegative\n",
			want: []result{
				ok(1, "It touches good and responds quickly. I don't know how it performs in the future.", "positive"),
				ok(2, "Why does my phone heat up if I charge it for a while?", "negative"),
			},
		},
		{
			name: "labels-and-blank-lines",
			in:   "multi\ta, b ,a,,\n\n  \nno label here\ncolumns\tin\tthe text\tneg\n\tneg\nbad\xff\tneg\nlast\tpos",
			want: []result{
				ok(1, "multi", "a", "b"),
				ok(4, "no label here"),
				ok(5, "columns\tin\tthe text", "neg"),
				{line: 6, reason: "labels without a text"},
				{line: 7, reason: "not UTF-8"},
				ok(8, "last", "pos"),
			},
		},
		{
			name: "own-separators", in: "a|b|x;y\n", sampleSep: "|", labelSep: ";",
			want: []result{ok(1, "a|b", "x", "y")},
		},
		{
			name: "escaped-tab", in: "a\tb,c\n", sampleSep: `\t`,
			want: []result{ok(1, "a", "b", "c")},
		},
		{name: "long-separator", in: "x", sampleSep: "||", want: []result{{reason: `parse text classification: text_sample_separator "||" is not one character`}}},
		{name: "bad-separator", in: "x", labelSep: "~", want: []result{{reason: "parse text classification: text_label_separator \"~\" is not a letter, a digit, Tab or one of !@#$%^&*_=|?/':.;,"}}},
		{name: "same-separators", in: "x", sampleSep: ",", want: []result{{reason: `parse text classification: text_sample_separator and text_label_separator are both ","`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := collect(t, ParseTextClassification(strings.NewReader(c.in), c.sampleSep, c.labelSep))
			assertEqual(t, "samples", c.want, got)
		})
	}
}

func TestParseTextClassificationLongLineAndReadError(t *testing.T) {
	in := "a\tx\n" + strings.Repeat("b", MaxLine+1) + "\tx\nc\ty\n"
	got := collect(t, ParseTextClassification(strings.NewReader(in), "", ""))
	want := []result{
		{sample: TextSample{Line: 1, Text: "a", Labels: []string{"x"}}},
		{line: 2, reason: "longer than 4194304 bytes"},
		{sample: TextSample{Line: 3, Text: "c", Labels: []string{"y"}}},
	}
	assertEqual(t, "samples around a long line", want, got)

	boom := errors.New("boom")
	n := 0
	for _, err := range ParseTextClassification(iotest.ErrReader(boom), "", "") {
		n++
		if !errors.Is(err, boom) {
			t.Errorf("got %v, want the read error", err)
		}
	}
	if n != 1 {
		t.Errorf("a read error was yielded %d times, want once", n)
	}
	// Stopping early is honoured.
	for range ParseTextClassification(strings.NewReader("a\nb\nc\n"), "", "") {
		break
	}
}

func TestZipTextResult(t *testing.T) {
	ok := func(line int, text string, labels ...string) result {
		return result{sample: TextSample{Line: line, Text: text, Labels: labels}}
	}
	cases := []struct {
		name, text, result string
		want               []result
	}{
		{
			name:   "reference-example",
			text:   "It touches good.\nI bought a phone.\nWhy does my phone heat up?\nIt's a gift.\n",
			result: "positive\nnegative\nnegative\npositive\n",
			want: []result{ok(1, "It touches good.", "positive"), ok(2, "I bought a phone.", "negative"),
				ok(3, "Why does my phone heat up?", "negative"), ok(4, "It's a gift.", "positive")},
		},
		{
			name:   "short-result-blank-lines",
			text:   "one\n\ntwo\nthree\nfour",
			result: "a,b\n\n\r\n",
			want:   []result{ok(1, "one", "a", "b"), ok(3, "two"), ok(4, "three"), ok(5, "four")},
		},
		{
			name:   "labels-for-nothing",
			text:   "one\n\n",
			result: "a\nb\nc\n",
			want:   []result{ok(1, "one", "a"), {line: 2, reason: "labels for a blank line"}, {line: 3, reason: "labels past the end of the text file"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := collect(t, ZipTextResult(strings.NewReader(c.text), strings.NewReader(c.result), ""))
			assertEqual(t, "samples", c.want, got)
		})
	}
}

func TestParseLabelList(t *testing.T) {
	got, err := ParseLabelList(strings.NewReader("\xef\xbb\xbfRabbit\r\nPanda\n\n Rabbit \n"))
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "labels", []string{"Rabbit", "Panda"}, got)
	if _, err := ParseLabelList(strings.NewReader(strings.Repeat("x", maxLabelFile+1))); err == nil {
		t.Error("a label list over the size limit was read")
	}
	if _, err := ParseLabelList(strings.NewReader("caf\xe9")); err == nil {
		t.Error("a Latin-1 label list was read as UTF-8")
	}
}

func TestYOLO(t *testing.T) {
	names, err := ParseYOLONames(strings.NewReader("label1\nlabel2\n\n# comment\nlabel3\nlabel4\n"))
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "names", []string{"label1", "label2", "label3", "label4"}, names)
	if _, err := ParseYOLONames(strings.NewReader("\n\n")); err == nil {
		t.Error("an empty obj.names was taken")
	}

	// The reference's example lines, on a 200x100 image.
	labels, err := LabelsFromYOLO(strings.NewReader("# image1.txt:\n0 0.250000 0.400000 0.300000 0.400000\n3 0.600000 0.400000 0.400000 0.266667\n"), names, 200, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		box  [4]float64
	}{{"label1", [4]float64{20, 20, 80, 60}}, {"label4", [4]float64{80, 26.66665, 160, 53.33335}}}
	if len(labels) != len(want) {
		t.Fatalf("got %d labels, want %d: %s", len(labels), len(want), show(labels))
	}
	for i, w := range want {
		l := labels[i]
		f, err := shapeFeature(ShapeBndBox, l.Property[annotation.PropFeature])
		if err != nil || l.Name != w.name || l.Type != annotation.TypeObjectDetection || l.Property[annotation.PropShape] != ShapeBndBox {
			t.Fatalf("label %d: got %s (%v), want a bndbox named %s", i, show(l), err, w.name)
		}
		got := [4]float64{f[0][0], f[0][1], f[1][0], f[1][1]}
		for j := range got {
			if math.Abs(got[j]-w.box[j]) > 1e-6 {
				t.Errorf("label %d: box %v, want %v", i, got, w.box)
				break
			}
		}
	}

	for _, c := range []struct{ name, in, reason string }{
		{"index", "4 0.5 0.5 0.1 0.1", `label index "4" is not one of the 4 names`},
		{"fields", "0 0.5 0.5 0.1", "not <label> <x_center>"},
		{"range", "0 0.5 1.5 0.1 0.1", `"1.5" is not a fraction`},
		{"empty-box", "0 0.5 0.5 0 0.1", "an empty box"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := LabelsFromYOLO(strings.NewReader("0 0.5 0.5 0.2 0.2\n"+c.in), names, 10, 10)
			var le *LineError
			if !errors.As(err, &le) || le.Line != 2 || !strings.Contains(le.Reason, c.reason) {
				t.Errorf("got %v, want a LineError of line 2 saying %q", err, c.reason)
			}
		})
	}
	if _, err := LabelsFromYOLO(strings.NewReader(""), names, 0, 10); err == nil {
		t.Error("an image without a size was taken")
	}
}

// FuzzTextFiles: the small text parsers do not panic, and what
// ParseTextClassification returns holds no separator in a label.
func FuzzTextFiles(f *testing.F) {
	f.Add("good\tpositive,happy\n\tneg\nplain\n", "positive\n\nneg\n")
	f.Add("0 0.5 0.5 0.2 0.2\n1 0.1 0.1 0.1 0.1\n", "a\nb\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		for s, err := range ParseTextClassification(strings.NewReader(a), "", "") {
			if err != nil {
				continue
			}
			if strings.TrimSpace(s.Text) == "" {
				t.Errorf("line %d: a sample without text", s.Line)
			}
			for _, l := range s.Labels {
				if l == "" || strings.ContainsAny(l, "\t,") {
					t.Errorf("line %d: label %q is empty or holds a separator", s.Line, l)
				}
			}
		}
		for range ZipTextResult(strings.NewReader(a), strings.NewReader(b), "") {
		}
		names, _ := ParseLabelList(strings.NewReader(b))
		if len(names) > 0 {
			labels, err := LabelsFromYOLO(strings.NewReader(a), names, 640, 480)
			if err == nil {
				if _, err := VOCFromLabels("x.jpg", 640, 480, 3, labels); err != nil {
					t.Errorf("YOLO boxes that VOC refuses: %v", err)
				}
			}
		}
	})
}
