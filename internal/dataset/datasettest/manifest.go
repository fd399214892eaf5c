package datasettest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"image"
	"image/png"
	"strings"
	"sync"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// ManifestLine is a manifest line as JSON, for checks of what is written.
type ManifestLine map[string]any

// ParseLines parses a manifest's lines.
func ParseLines(t *testing.T, data []byte) []ManifestLine {
	t.Helper()
	var out []ManifestLine
	for i, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if l == "" {
			continue
		}
		var m ManifestLine
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i+1, err, l)
		}
		out = append(out, m)
	}
	return out
}

// Annotations are the line's annotations.
func (m ManifestLine) Annotations() []map[string]any {
	var out []map[string]any
	list, _ := m["annotation"].([]any)
	for _, a := range list {
		out = append(out, a.(map[string]any))
	}
	return out
}

// ByID maps lines by their sample ID.
func ByID(lines []ManifestLine) map[string]ManifestLine {
	out := map[string]ManifestLine{}
	for _, l := range lines {
		out[l["id"].(string)] = l
	}
	return out
}

// ClsLabels are image-classification labels of the names.
func ClsLabels(names ...string) []annotation.Label {
	out := make([]annotation.Label, len(names))
	for i, n := range names {
		out[i] = annotation.Label{Name: n, Type: annotation.TypeImageClassification}
	}
	return out
}

// Box is an object-detection label: a box from (x1, y1) to (x2, y2).
func Box(name string, x1, y1, x2, y2 float64) annotation.Label {
	return annotation.Label{Name: name, Type: annotation.TypeObjectDetection, Property: map[string]any{
		annotation.PropShape: "bndbox", annotation.PropFeature: []any{[]any{x1, y1}, []any{x2, y2}}}}
}

// PNGImage is a w×h PNG image.
func PNGImage(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// HasCode reports whether err is a domain error with the code.
func HasCode(err error, code string) bool {
	e, ok := dataset.AsError(err)
	return ok && e.Code == code
}

// ProgressRecorder is a tasks.Progress that keeps what a handler reports
// and can stop it at a checkpoint, as a crash would: at the StopAt-th
// checkpoint it calls Stop.
type ProgressRecorder struct {
	mu          sync.Mutex
	ok, failed  int64
	total       int64
	Checkpoints []string
	StopAt      int
	Stop        context.CancelFunc
}

func (p *ProgressRecorder) SetTotal(n int64) { p.mu.Lock(); p.total = n; p.mu.Unlock() }
func (p *ProgressRecorder) Succeed(n int64)  { p.mu.Lock(); p.ok += n; p.mu.Unlock() }
func (p *ProgressRecorder) Fail(string, string) {
	p.mu.Lock()
	p.failed++
	p.mu.Unlock()
}
func (p *ProgressRecorder) SetResult(json.RawMessage) {}
func (p *ProgressRecorder) Checkpoint(c string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Checkpoints = append(p.Checkpoints, c)
	if len(p.Checkpoints) == p.StopAt && p.Stop != nil {
		p.Stop()
	}
}
func (p *ProgressRecorder) CheckpointTx(_ context.Context, _ *sql.Tx, c string) error {
	p.Checkpoint(c)
	return nil
}

// OK is how many items the handler reported written.
func (p *ProgressRecorder) OK() int64 { p.mu.Lock(); defer p.mu.Unlock(); return p.ok }
