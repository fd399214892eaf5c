package formats

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// Object is one object of a listing.
type Object struct {
	Key  string
	Size int64
}

// Formats of DirSample.AnnotationFormat: how the file at AnnotationKey
// carries the sample's labels. FormatVOC is one of them.
const (
	// FormatYOLO is a YOLO label file beside an image (object detection):
	// LabelsFromYOLO, with the names of the dataset's obj.names.
	FormatYOLO = "YOLO"
	// FormatLabelList is a text file beside an image, one label per line
	// (image classification, "ModelArts image classification 1.0"):
	// ParseLabelList.
	FormatLabelList = "LABEL LIST"
	// FormatTextCombined is a text classification file whose own lines are
	// "<text><separator><labels>" (label_type 1): AnnotationKey is the
	// sample's own key; ParseTextClassification.
	FormatTextCombined = "TEXT COMBINED"
	// FormatTextResult is the "<name>_result.txt" file of a text file whose
	// labels are kept apart, line by line (label_type 0): ZipTextResult.
	FormatTextResult = "TEXT RESULT"
)

// DirSample is a sample found in a directory listing.
//
// For text datasets (text classification, named entities, triplets) a
// DirSample is a file whose non-blank lines are the samples, as in
// ModelArts; its labels, if any, come from parsing it (and its
// AnnotationKey file).
type DirSample struct {
	Key        string
	Size       int64
	SampleType int // annotation.Sample*
	// Labels are the labels the layout itself gives: the directory name of
	// an image or sound under a subdirectory of the import directory.
	Labels []annotation.Label
	// AnnotationKey is the object that holds the sample's labels, to be
	// fetched and parsed as AnnotationFormat says; "" for none.
	AnnotationKey    string
	AnnotationFormat string
}

// Skipped is an object that is neither a sample nor the labels of one.
type Skipped struct {
	Key    string
	Reason string
}

// Output is what one Classifier call made final. Its slices are reused by
// the next call.
type Output struct {
	Samples []DirSample
	Skipped []Skipped
}

// DirOptions say how to read a directory.
type DirOptions struct {
	// Prefix is the key prefix of the import directory ("" for a whole
	// bucket, else ending in "/"). Every key given to Add starts with it;
	// a subdirectory's name is a label only below it.
	Prefix string
	// DatasetType is the reference's dataset_type: 0 image classification,
	// 1 object detection, 3 image segmentation, 100 text classification,
	// 101 named entities, 102 text triplets, 200 sound classification, 201
	// speech content, 202 speech paragraphs, 400 table, 600 video, 900
	// free format.
	DatasetType int
	// Text is the label format of a text classification dataset.
	Text TextFormat
	// MaxSize, when positive, skips larger objects. The reference limits
	// images to 5 MB when they are uploaded from a browser; an OBS import
	// need not, so the caller decides.
	MaxSize int64
}

// TextFormat is the reference's LabelFormat of a text dataset.
type TextFormat struct {
	// LabelType is "0" for labels in a separate "<name>_result.txt" beside
	// each "<name>.txt", "1" or "" (the default) for labels in the same
	// lines as the texts.
	LabelType string
	// SampleSeparator ("\t" if empty) and LabelSeparator ("," if empty) are
	// ParseTextClassification's separators.
	SampleSeparator string
	LabelSeparator  string
}

// Dataset types without a label type of the same number.
const (
	datasetTable  = 400
	datasetCustom = 900
)

// Extensions the reference accepts, per kind of sample. It names JPG, JPEG,
// PNG and BMP for images, TXT and CSV for text and tables, and shows WAV
// for sounds; it names no video format, and ModelArts takes MP4.
var (
	imageExts = []string{"jpg", "jpeg", "png", "bmp"}
	audioExts = []string{"wav"}
	textExts  = []string{"txt", "csv"}
	tableExts = []string{"csv"}
	videoExts = []string{"mp4"}
)

// dirRule is how the reference lays out one dataset type in a directory.
type dirRule struct {
	sampleType int
	exts       []string // nil: any file is a sample
	// dirLabel is the label type that a subdirectory's name gives the
	// files in it, -1 for none.
	dirLabel int
	// siblings are the label files that sit beside a sample with the same
	// name and another extension, by extension, in order of preference.
	siblings []sibling
	// text: the files are texts whose lines are samples.
	text bool
}

type sibling struct {
	ext    string
	format string
}

// dirRules is the one table of the directory layouts, by dataset type.
var dirRules = map[int]dirRule{
	annotation.TypeImageClassification: {sampleType: annotation.SampleImage, exts: imageExts, dirLabel: annotation.TypeImageClassification,
		siblings: []sibling{{"txt", FormatLabelList}}},
	annotation.TypeObjectDetection: {sampleType: annotation.SampleImage, exts: imageExts, dirLabel: -1,
		siblings: []sibling{{"xml", FormatVOC}, {"txt", FormatYOLO}}},
	annotation.TypeImageSegmentation: {sampleType: annotation.SampleImage, exts: imageExts, dirLabel: -1,
		siblings: []sibling{{"xml", FormatVOC}}},
	annotation.TypeTextClassification: {sampleType: annotation.SampleText, exts: textExts, dirLabel: -1, text: true},
	annotation.TypeNamedEntity:        {sampleType: annotation.SampleText, exts: textExts, dirLabel: -1, text: true},
	annotation.TypeTripletRelation:    {sampleType: annotation.SampleText, exts: textExts, dirLabel: -1, text: true},
	annotation.TypeSoundClassification: {sampleType: annotation.SampleAudio, exts: audioExts,
		dirLabel: annotation.TypeSoundClassification},
	annotation.TypeSpeechContent:   {sampleType: annotation.SampleAudio, exts: audioExts, dirLabel: -1},
	annotation.TypeSpeechParagraph: {sampleType: annotation.SampleAudio, exts: audioExts, dirLabel: -1},
	datasetTable:                   {sampleType: annotation.SampleTable, exts: tableExts, dirLabel: -1},
	annotation.TypeVideo:           {sampleType: annotation.SampleVideo, exts: videoExts, dirLabel: -1},
	datasetCustom:                  {sampleType: annotation.SampleCustom, dirLabel: -1},
}

// yoloFiles are the files at the top of a YOLO dataset that describe it;
// they are neither samples nor labels of one sample.
var yoloFiles = []string{"obj.names", "obj.data", "train.txt", "valid.txt"}

// Classifier sorts the objects of a directory listing into samples, their
// label files and skipped objects, following the reference's layout rules
// for one dataset type ("Specifications for Importing Data from an OBS
// Directory"):
//
//   - image classification: an image directly in the import directory is
//     unlabeled; one in a subdirectory is labeled with the name of its
//     closest directory (ImageNet style); an image with a .txt file of the
//     same name beside it is labeled by that file instead (FormatLabelList).
//   - object detection and image segmentation: an image with a .xml file of
//     the same name beside it is labeled by that Pascal VOC file (images
//     that differ only in their extension share it); for
//     detection, a .txt file instead is a YOLO label file (and obj.names,
//     obj.data, train.txt and valid.txt at the top are skipped: the caller
//     reads obj.names itself).
//   - text classification: .txt and .csv files whose lines are samples;
//     with TextFormat.LabelType "0", "<name>_result.txt" holds the labels of
//     "<name>.txt".
//   - sound classification: .wav files, labeled by their directory like
//     images.
//   - named entities, triplets, speech, tables, video, free format:
//     unlabeled files of the type's extensions (any file for free format).
//
// It needs the keys in ascending byte order, as object listings give them,
// and holds only the objects whose partner file may still come: a sample
// and its label file differ only in their extension, so they are near each
// other in that order, and a "_result" file comes soon after its text in
// any naming that sorts well. Empty objects, and objects larger than
// MaxSize, are skipped; directory markers ("dir/") are ignored.
type Classifier struct {
	opts     DirOptions
	rule     dirRule
	separate bool // text labels in _result files
	last     string
	started  bool
	groups   []*group // open groups of same-named files, outermost first
	texts    textHeap // texts waiting for their _result file
	out      Output
}

// group is the files named stem + "." + extension seen so far. Every key
// that starts with stem + "." sorts before every key that does not and
// comes after stem's first key, so the group is complete at the first key
// without that prefix; groups open at one time nest, at most one per dot of
// a key.
type group struct {
	stem    string
	samples []Object
	labels  []Object
}

// NewClassifier returns a Classifier for a listing of opts.Prefix.
func NewClassifier(opts DirOptions) (*Classifier, error) {
	rule, ok := dirRules[opts.DatasetType]
	if !ok {
		return nil, fmt.Errorf("classify directory: unknown dataset type %d", opts.DatasetType)
	}
	if opts.Prefix != "" && !strings.HasSuffix(opts.Prefix, "/") {
		return nil, fmt.Errorf("classify directory: prefix %q does not end in /", opts.Prefix)
	}
	c := &Classifier{opts: opts, rule: rule}
	if rule.text {
		if _, _, err := textSeparators(opts.Text.SampleSeparator, opts.Text.LabelSeparator); err != nil {
			return nil, fmt.Errorf("classify directory: %w", err)
		}
		switch opts.Text.LabelType {
		case "", "1":
		case "0":
			c.separate = opts.DatasetType == annotation.TypeTextClassification
		default:
			return nil, fmt.Errorf("classify directory: label_type %q is not 0 or 1", opts.Text.LabelType)
		}
	}
	return c, nil
}

// Add classifies the next object of the listing and returns what became
// final. Keys must be in strictly ascending order and start with the
// prefix; otherwise Add fails and the classifier is unchanged.
func (c *Classifier) Add(key string, size int64) (Output, error) {
	if c.started && key <= c.last {
		return Output{}, fmt.Errorf("classify directory: key %q does not sort after %q; the listing must be in ascending order", key, c.last)
	}
	if !strings.HasPrefix(key, c.opts.Prefix) {
		return Output{}, fmt.Errorf("classify directory: key %q is not under %q", key, c.opts.Prefix)
	}
	c.started, c.last = true, key
	c.out.Samples, c.out.Skipped = c.out.Samples[:0], c.out.Skipped[:0]
	rel := key[len(c.opts.Prefix):]
	if rel == "" || strings.HasSuffix(rel, "/") {
		return c.out, nil
	}
	for len(c.groups) > 0 && !strings.HasPrefix(key, c.groups[len(c.groups)-1].stem+".") {
		c.closeGroup()
	}
	for len(c.texts) > 0 && c.texts[0].resultKey < key {
		c.emit(c.texts[0].obj, "", "")
		heap.Pop(&c.texts)
	}
	obj := Object{Key: key, Size: size}
	ext := extension(rel)
	switch {
	case c.rule.siblings != nil:
		c.addSibling(obj, rel, ext)
	case c.separate:
		c.addText(obj, ext)
	case c.rule.exts != nil && !slices.Contains(c.rule.exts, ext):
		c.skipExt(key, ext)
	default:
		if reason := c.sizeProblem(size); reason != "" {
			c.skip(key, reason)
		} else if c.rule.text && c.opts.DatasetType == annotation.TypeTextClassification {
			c.emit(obj, key, FormatTextCombined)
		} else {
			c.emit(obj, "", "")
		}
	}
	return c.out, nil
}

// Flush returns what is still held, at the end of the listing.
func (c *Classifier) Flush() Output {
	c.out.Samples, c.out.Skipped = c.out.Samples[:0], c.out.Skipped[:0]
	for len(c.groups) > 0 {
		c.closeGroup()
	}
	for len(c.texts) > 0 {
		c.emit(heap.Pop(&c.texts).(pendingText).obj, "", "")
	}
	return c.out
}

func (c *Classifier) addSibling(obj Object, rel, ext string) {
	if c.opts.DatasetType == annotation.TypeObjectDetection && slices.Contains(yoloFiles, rel) {
		c.skip(obj.Key, "a file that describes a YOLO dataset, not a sample")
		return
	}
	isSample := slices.Contains(c.rule.exts, ext)
	isLabel := slices.ContainsFunc(c.rule.siblings, func(s sibling) bool { return s.ext == ext })
	if !isSample && !isLabel {
		c.skipExt(obj.Key, ext)
		return
	}
	stem := obj.Key[:len(obj.Key)-len(ext)-1]
	if n := len(c.groups); n == 0 || c.groups[n-1].stem != stem {
		c.groups = append(c.groups, &group{stem: stem})
	}
	g := c.groups[len(c.groups)-1]
	if isSample {
		g.samples = append(g.samples, obj)
	} else {
		g.labels = append(g.labels, obj)
	}
}

// closeGroup makes the innermost group's samples final: each gets the
// preferred label file of the group, else its directory's label.
func (c *Classifier) closeGroup() {
	g := c.groups[len(c.groups)-1]
	c.groups = c.groups[:len(c.groups)-1]
	labelKey, format := "", ""
	for _, s := range c.rule.siblings {
		for _, l := range g.labels {
			if extension(l.Key) == s.ext && labelKey == "" {
				labelKey, format = l.Key, s.format
			}
		}
	}
	usable := 0
	for _, obj := range g.samples {
		if reason := c.sizeProblem(obj.Size); reason != "" {
			c.skip(obj.Key, reason)
			continue
		}
		usable++
		c.emit(obj, labelKey, format)
	}
	for _, l := range g.labels {
		switch {
		case usable == 0:
			c.skip(l.Key, "a label file without a sample of the same name")
		case l.Key != labelKey:
			c.skip(l.Key, fmt.Sprintf("a second label file; %s labels the sample", labelKey))
		}
	}
}

// addText handles a text file when labels are kept in _result files.
func (c *Classifier) addText(obj Object, ext string) {
	if !slices.Contains(c.rule.exts, ext) {
		c.skipExt(obj.Key, ext)
		return
	}
	stem := obj.Key[:len(obj.Key)-len(ext)-1]
	if strings.HasSuffix(stem, "_result") {
		if len(c.texts) > 0 && c.texts[0].resultKey == obj.Key {
			text := heap.Pop(&c.texts).(pendingText).obj
			c.emit(text, obj.Key, FormatTextResult)
		} else {
			c.skip(obj.Key, "a _result label file without its text file")
		}
		return
	}
	if reason := c.sizeProblem(obj.Size); reason != "" {
		c.skip(obj.Key, reason)
		return
	}
	heap.Push(&c.texts, pendingText{resultKey: stem + "_result" + obj.Key[len(stem):], obj: obj})
}

func (c *Classifier) emit(obj Object, annotationKey, format string) {
	s := DirSample{
		Key:              obj.Key,
		Size:             obj.Size,
		SampleType:       c.rule.sampleType,
		AnnotationKey:    annotationKey,
		AnnotationFormat: format,
	}
	if c.rule.dirLabel >= 0 && annotationKey == "" {
		rel := obj.Key[len(c.opts.Prefix):]
		if i := strings.LastIndexByte(rel, '/'); i >= 0 {
			dir := rel[:i]
			name := dir[strings.LastIndexByte(dir, '/')+1:]
			s.Labels = []annotation.Label{{Name: name, Type: c.rule.dirLabel}}
		}
	}
	c.out.Samples = append(c.out.Samples, s)
}

func (c *Classifier) skip(key, reason string) {
	c.out.Skipped = append(c.out.Skipped, Skipped{Key: key, Reason: reason})
}

func (c *Classifier) skipExt(key, ext string) {
	want := "any"
	if c.rule.exts != nil {
		want = strings.Join(c.rule.exts, ", ")
	}
	if ext == "" {
		c.skip(key, "no file extension; want "+want)
		return
	}
	c.skip(key, fmt.Sprintf("extension %q is not one of %s", ext, want))
}

func (c *Classifier) sizeProblem(size int64) string {
	switch {
	case size == 0:
		return "an empty file"
	case c.opts.MaxSize > 0 && size > c.opts.MaxSize:
		return fmt.Sprintf("larger than %d bytes", c.opts.MaxSize)
	}
	return ""
}

type pendingText struct {
	resultKey string
	obj       Object
}

// textHeap orders texts by the key of their _result file, so that the ones
// whose file can no longer come are at the top.
type textHeap []pendingText

func (h textHeap) Len() int           { return len(h) }
func (h textHeap) Less(i, j int) bool { return h[i].resultKey < h[j].resultKey }
func (h textHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *textHeap) Push(x any)        { *h = append(*h, x.(pendingText)) }
func (h *textHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// ClassifyObjects classifies a whole listing held in memory, in any order:
// for tests and small directories; a large import streams its listing
// through a Classifier instead.
func ClassifyObjects(opts DirOptions, objects []Object) ([]DirSample, []Skipped, error) {
	c, err := NewClassifier(opts)
	if err != nil {
		return nil, nil, err
	}
	sorted := slices.Clone(objects)
	slices.SortFunc(sorted, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	var samples []DirSample
	var skipped []Skipped
	for i, o := range sorted {
		if i > 0 && o.Key == sorted[i-1].Key {
			return nil, nil, fmt.Errorf("classify directory: key %q is listed twice", o.Key)
		}
		out, err := c.Add(o.Key, o.Size)
		if err != nil {
			return nil, nil, err
		}
		samples = append(samples, out.Samples...)
		skipped = append(skipped, out.Skipped...)
	}
	out := c.Flush()
	samples = append(samples, out.Samples...)
	skipped = append(skipped, out.Skipped...)
	return samples, skipped, nil
}

// separatorPunct and checkSeparator are the reference's rules for
// text_sample_separator and text_label_separator: one character, a letter,
// a digit or one of these — and Tab, the default sample separator.
const separatorPunct = "!@#$%^&*_=|?/':.;,"

// checkSeparator checks a non-empty separator; `\t`, as the reference's
// "needs to be escaped" may lead a client to send it, is Tab.
func checkSeparator(name, s string) (string, error) {
	if s == `\t` {
		s = "\t"
	}
	r := []rune(s)
	if len(r) != 1 {
		return "", fmt.Errorf("%s %q is not one character", name, s)
	}
	c := r[0]
	if c == '\t' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.ContainsRune(separatorPunct, c) {
		return s, nil
	}
	return "", fmt.Errorf("%s %q is not a letter, a digit, Tab or one of %s", name, s, separatorPunct)
}

// textSeparators applies the defaults (Tab, comma) and checks both.
func textSeparators(sampleSep, labelSep string) (string, string, error) {
	if sampleSep == "" {
		sampleSep = "\t"
	}
	if labelSep == "" {
		labelSep = ","
	}
	s, err := checkSeparator("text_sample_separator", sampleSep)
	if err != nil {
		return "", "", err
	}
	l, err := checkSeparator("text_label_separator", labelSep)
	if err != nil {
		return "", "", err
	}
	if s == l {
		return "", "", fmt.Errorf("text_sample_separator and text_label_separator are both %q", s)
	}
	return s, l, nil
}
