// Command datagen writes a labelled dataset into an Atelier data directory
// for import benchmarks: a ModelArts manifest of N samples at
// DIR/obs/BUCKET/manifest/dataset.manifest (the embedded object store keeps
// object BUCKET/KEY at DIR/obs/BUCKET/KEY), the Pascal VOC files of object
// detection samples under BUCKET/annotations/, and with -files small
// stand-in sample files. The same flags and -seed give the same bytes.
//
//	go run ./bench/datagen -out /tmp/atelier-bench -bucket bench-data -n 1000000 -labels 20 -type image_classification
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/obs"
)

const (
	manifestKey = "manifest/dataset.manifest"
	// maxFiles bounds -files: sample files are for functional runs, not
	// for filling a disk with a million stand-ins.
	maxFiles = 100_000
	// perDir keeps directories of generated files at a size that listings
	// and file systems handle well.
	perDir = 1000
)

type config struct {
	out, bucket, kind, scheme string
	n, labels                 int
	files, verify             bool
	seed                      uint64
}

func main() {
	var c config
	flag.StringVar(&c.out, "out", "", "Atelier data directory (required)")
	flag.StringVar(&c.bucket, "bucket", "", "bucket to write into (required)")
	flag.IntVar(&c.n, "n", 1000, "number of samples")
	flag.IntVar(&c.labels, "labels", 20, "number of distinct labels")
	flag.StringVar(&c.kind, "type", "image_classification", "image_classification, object_detection or text_classification")
	flag.BoolVar(&c.files, "files", false, fmt.Sprintf("also write a small stand-in file per image sample (at most %d)", maxFiles))
	flag.Uint64Var(&c.seed, "seed", 1, "random seed")
	flag.StringVar(&c.scheme, "scheme", "obs", "scheme of the manifest's locations: obs or s3")
	flag.BoolVar(&c.verify, "verify", false, "read the manifest back and report the read rate")
	flag.Parse()
	if err := run(c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "datagen:", err)
		os.Exit(1)
	}
}

func run(c config, stdout io.Writer) error {
	switch {
	case c.out == "" || c.bucket == "":
		return errors.New("-out and -bucket are required")
	case c.n < 1 || c.labels < 1:
		return errors.New("-n and -labels must be at least 1")
	case c.scheme != "obs" && c.scheme != "s3":
		return fmt.Errorf("-scheme %q is not obs or s3", c.scheme)
	case c.files && c.n > maxFiles:
		return fmt.Errorf("-files writes one file per sample; use it with -n %d or less", maxFiles)
	}
	if err := obs.ValidateBucketName(c.bucket); err != nil {
		return err
	}
	g, ok := generators[c.kind]
	if !ok {
		return fmt.Errorf("-type %q is not image_classification, object_detection or text_classification", c.kind)
	}
	bucketDir := filepath.Join(c.out, "obs", c.bucket)
	manifestPath := filepath.Join(bucketDir, filepath.FromSlash(manifestKey))
	if err := os.MkdirAll(filepath.Dir(manifestPath), 0o755); err != nil {
		return err
	}
	f, err := os.Create(manifestPath)
	if err != nil {
		return err
	}
	defer f.Close()
	counted := &countingWriter{w: f}
	gen := &generator{
		config:    c,
		rng:       rand.New(rand.NewPCG(c.seed, 0x6174656c696572)),
		bucketDir: bucketDir,
		labels:    make([]string, c.labels),
		manifest:  formats.NewWriter(counted),
	}
	for i := range gen.labels {
		gen.labels[i] = fmt.Sprintf("label-%02d", i)
	}
	start := time.Now()
	for i := range c.n {
		if err := g(gen, i); err != nil {
			return fmt.Errorf("sample %d: %w", i, err)
		}
	}
	if err := gen.manifest.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d lines, %d bytes: %s (obs://%s/%s) in %v\n",
		c.n, counted.n, manifestPath, c.bucket, manifestKey, time.Since(start).Round(time.Millisecond))
	if gen.vocFiles > 0 {
		fmt.Fprintf(stdout, "wrote %d VOC files, %d bytes, under %s\n", gen.vocFiles, gen.vocBytes, filepath.Join(bucketDir, "annotations"))
	}
	if gen.sampleFiles > 0 {
		fmt.Fprintf(stdout, "wrote %d sample files, %d bytes, under %s\n", gen.sampleFiles, gen.sampleBytes, filepath.Join(bucketDir, "images"))
	}
	if c.verify {
		return verify(manifestPath, stdout)
	}
	return nil
}

type generator struct {
	config
	rng       *rand.Rand
	bucketDir string
	labels    []string
	manifest  *formats.Writer

	vocFiles, sampleFiles int
	vocBytes, sampleBytes int64
}

var generators = map[string]func(*generator, int) error{
	"image_classification": (*generator).imageClassification,
	"object_detection":     (*generator).objectDetection,
	"text_classification":  (*generator).textClassification,
}

// base is the creation time of sample 0; sample i was labelled i seconds
// later, so the output does not depend on the clock.
var base = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func (g *generator) record(source string, sampleType int) formats.Record {
	usage := formats.UsageTrain
	if g.rng.IntN(5) == 0 {
		usage = formats.UsageEval
	}
	return formats.Record{Source: source, Usage: usage, SampleType: sampleType}
}

func (g *generator) label(i, labelType int) annotation.Label {
	return annotation.Label{
		Name:        g.labels[g.rng.IntN(len(g.labels))],
		Type:        labelType,
		AnnotatedBy: "human",
		Property:    map[string]any{formats.PropCreationTime: creationTime(i)},
	}
}

func creationTime(i int) string {
	return base.Add(time.Duration(i) * time.Second).Format(time.DateTime)
}

func (g *generator) location(key string) string {
	return g.scheme + "://" + g.bucket + "/" + key
}

// sharded spreads generated files over directories of perDir files.
func sharded(dir string, i int, ext string) string {
	return fmt.Sprintf("%s/%04d/%08d.%s", dir, i/perDir, i, ext)
}

func (g *generator) imageClassification(i int) error {
	key := g.imageKey(i)
	rec := g.record(g.location(key), annotation.SampleImage)
	rec.Labels = []annotation.Label{g.label(i, annotation.TypeImageClassification)}
	if len(g.labels) > 1 && g.rng.IntN(100) < 15 {
		second := g.label(i, annotation.TypeImageClassification)
		for second.Name == rec.Labels[0].Name {
			second.Name = g.labels[g.rng.IntN(len(g.labels))]
		}
		rec.Labels = append(rec.Labels, second)
	}
	if err := g.sampleFile(key); err != nil {
		return err
	}
	return g.manifest.Write(rec)
}

var imageSizes = [][2]int{{640, 480}, {800, 600}, {1024, 768}, {1280, 720}}

func (g *generator) objectDetection(i int) error {
	key := g.imageKey(i)
	rec := g.record(g.location(key), annotation.SampleImage)
	size := imageSizes[g.rng.IntN(len(imageSizes))]
	for range 1 + g.rng.IntN(4) {
		l := g.label(i, annotation.TypeObjectDetection)
		x0, y0 := g.rng.IntN(size[0]-8), g.rng.IntN(size[1]-8)
		x1, y1 := x0+8+g.rng.IntN(size[0]-x0-8+1), y0+8+g.rng.IntN(size[1]-y0-8+1)
		l.Property[annotation.PropShape] = formats.ShapeBndBox
		l.Property[annotation.PropFeature] = []any{[]any{float64(x0), float64(y0)}, []any{float64(x1), float64(y1)}}
		rec.Labels = append(rec.Labels, l)
	}
	vocKey := sharded("annotations", i, "xml")
	doc, err := formats.VOCFromLabels(filepath.Base(key), size[0], size[1], 3, rec.Labels)
	if err != nil {
		return err
	}
	doc.Folder = "images"
	var buf bytes.Buffer
	if err := formats.WriteVOC(&buf, doc); err != nil {
		return err
	}
	if err := g.writeObject(vocKey, buf.Bytes(), i); err != nil {
		return err
	}
	g.vocFiles++
	g.vocBytes += int64(buf.Len())
	rec.AnnotationLocs = []formats.AnnotationLoc{{
		Loc: g.location(vocKey), Type: annotation.TypeObjectDetection, AnnotatedBy: "human", CreationTime: creationTime(i),
	}}
	if err := g.sampleFile(key); err != nil {
		return err
	}
	return g.manifest.Write(rec)
}

var words = strings.Fields(`the phone battery screen works well fast slow quickly charge delivery arrived
	good bad great poor sound volume button camera price quality value gift would buy again never
	heat up after while bass earphones fall off it touches responds I like do not know how performs`)

func (g *generator) textClassification(i int) error {
	n := 8 + g.rng.IntN(13)
	var b strings.Builder
	fmt.Fprintf(&b, "content://Review %d:", i)
	for range n {
		b.WriteByte(' ')
		b.WriteString(words[g.rng.IntN(len(words))])
	}
	b.WriteByte('.')
	rec := g.record(b.String(), annotation.SampleText)
	rec.Labels = []annotation.Label{g.label(i, annotation.TypeTextClassification)}
	return g.manifest.Write(rec)
}

func (g *generator) imageKey(i int) string {
	if g.files {
		// Flat, so that an import of the directory does not take the
		// shard directories for labels.
		return fmt.Sprintf("images/%08d.jpg", i)
	}
	return sharded("images", i, "jpg")
}

// sampleFile writes a stand-in image: JPEG start and end markers around
// random bytes. Nothing in an import decodes it.
func (g *generator) sampleFile(key string) error {
	if !g.files {
		return nil
	}
	b := make([]byte, 0, 80)
	b = append(b, 0xff, 0xd8, 0xff, 0xe0)
	for range 16 + g.rng.IntN(48) {
		b = append(b, byte(g.rng.Uint32()))
	}
	b = append(b, 0xff, 0xd9)
	if err := g.writeObject(key, b, 0); err != nil {
		return err
	}
	g.sampleFiles++
	g.sampleBytes += int64(len(b))
	return nil
}

// writeObject writes the object key of the bucket, creating its directory
// when i starts a new shard (or always, for i 0).
func (g *generator) writeObject(key string, data []byte, i int) error {
	path := filepath.Join(g.bucketDir, filepath.FromSlash(key))
	if i%perDir == 0 {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(path, data, 0o644)
}

// verify reads the manifest back with the import's reader.
func verify(path string, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	r := formats.NewReader(f)
	records, lineErrors, labels := 0, 0, 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		var le *formats.LineError
		if errors.As(err, &le) {
			lineErrors++
			continue
		}
		if err != nil {
			return err
		}
		records++
		labels += len(rec.Labels) + len(rec.AnnotationLocs)
	}
	d := time.Since(start)
	fmt.Fprintf(stdout, "read back %d records (%d labels or VOC locations, %d line errors) in %v: %.0f lines/s\n",
		records, labels, lineErrors, d.Round(time.Millisecond), float64(r.Line())/d.Seconds())
	if lineErrors > 0 {
		return fmt.Errorf("%d lines did not read back", lineErrors)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
