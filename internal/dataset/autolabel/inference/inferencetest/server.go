// Package inferencetest is a model server for tests: it speaks the Open
// Inference Protocol over HTTP/REST (health, model metadata, infer) and
// serves small models that really look at their input, so that a test
// can tell a right answer from a wrong one:
//
//   - "colours": an encoded image as a base64 BYTES element; answers the
//     dominant colour (red, green or blue) by name with its share of the
//     image's colour.
//   - "colour-pixels": decoded pixels, UINT8 [-1, 8, 8, 3]; answers one
//     logit per colour (red, green, blue) and no names.
//   - "topics": a text as a BYTES element; answers "sport", "food" or
//     "tech" by keywords, with a score.
//   - "boxes": an encoded image; answers one box around the pixels that
//     are not near-white, named "thing".
//
// Delay slows every infer answer (with SlowOn, only the answers naming that
// label: a model server that times out on some samples), FailNext makes the
// next infer calls answer 503, and an image whose file is not an image gets
// the protocol's 400 with an error message.
package inferencetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	_ "image/jpeg" // the tests' images
	_ "image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Server is a running model server.
type Server struct {
	*httptest.Server
	// Delay is how long each infer call waits before answering.
	Delay atomic.Int64
	// SlowOn, when set, limits Delay to the calls whose answer names this
	// label.
	SlowOn atomic.Pointer[string]
	// FailNext counts infer calls still to be answered with 503.
	FailNext atomic.Int64
	// Infers counts infer calls received.
	Infers atomic.Int64
}

type tensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

type model struct {
	inputs, outputs []tensorMeta
	infer           func(data json.RawMessage) ([]map[string]any, error)
}

// Start starts a server; it stops when the test ends (call Close).
func Start() *Server {
	s := &Server{}
	models := map[string]model{
		"colours": {inputs: []tensorMeta{{"image", "BYTES", []int64{-1}}},
			outputs: []tensorMeta{{"label", "BYTES", []int64{-1}}, {"score", "FP32", []int64{-1}}}, infer: colours},
		"colour-pixels": {inputs: []tensorMeta{{"pixels", "UINT8", []int64{-1, 8, 8, 3}}},
			outputs: []tensorMeta{{"logits", "FP32", []int64{-1, 3}}}, infer: colourPixels},
		"topics": {inputs: []tensorMeta{{"text", "BYTES", []int64{-1}}},
			outputs: []tensorMeta{{"label", "BYTES", []int64{-1}}, {"score", "FP32", []int64{-1}}}, infer: topics},
		"boxes": {inputs: []tensorMeta{{"image", "BYTES", []int64{-1}}},
			outputs: []tensorMeta{{"label", "BYTES", []int64{-1}}, {"score", "FP32", []int64{-1}}, {"box", "FP32", []int64{-1, 4}}}, infer: boxes},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	meta := func(w http.ResponseWriter, r *http.Request) {
		m, ok := models[r.PathValue("model")]
		if !ok {
			fail(w, http.StatusNotFound, "model "+r.PathValue("model")+" is not served here")
			return
		}
		answer(w, map[string]any{"name": r.PathValue("model"), "versions": []string{"1"}, "platform": "atelier-test", "inputs": m.inputs, "outputs": m.outputs})
	}
	infer := func(w http.ResponseWriter, r *http.Request) {
		s.Infers.Add(1)
		slowOn := s.SlowOn.Load()
		if slowOn == nil {
			time.Sleep(time.Duration(s.Delay.Load()))
		}
		if s.FailNext.Add(-1) >= 0 {
			fail(w, http.StatusServiceUnavailable, "overloaded, try again")
			return
		}
		m, ok := models[r.PathValue("model")]
		if !ok {
			fail(w, http.StatusNotFound, "model "+r.PathValue("model")+" is not served here")
			return
		}
		var req struct {
			ID     string `json:"id"`
			Inputs []struct {
				Name     string          `json:"name"`
				Datatype string          `json:"datatype"`
				Shape    []int64         `json:"shape"`
				Data     json.RawMessage `json:"data"`
			} `json:"inputs"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Inputs) != 1 {
			fail(w, http.StatusBadRequest, "want one input tensor")
			return
		}
		if in := req.Inputs[0]; in.Name != m.inputs[0].Name || in.Datatype != m.inputs[0].Datatype {
			fail(w, http.StatusBadRequest, "unexpected input "+in.Name+" of type "+in.Datatype)
			return
		}
		outs, err := m.infer(req.Inputs[0].Data)
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		if slowOn != nil && names(outs, *slowOn) {
			time.Sleep(time.Duration(s.Delay.Load()))
		}
		answer(w, map[string]any{"model_name": r.PathValue("model"), "model_version": "1", "id": req.ID, "outputs": outs})
	}
	mux.HandleFunc("GET /v2/models/{model}", meta)
	mux.HandleFunc("GET /v2/models/{model}/versions/{version}", meta)
	mux.HandleFunc("POST /v2/models/{model}/infer", infer)
	mux.HandleFunc("POST /v2/models/{model}/versions/{version}/infer", infer)
	s.Server = httptest.NewServer(mux)
	return s
}

// names reports whether an answer's BYTES output holds label.
func names(outs []map[string]any, label string) bool {
	for _, o := range outs {
		if got, ok := o["data"].([]string); ok && o["datatype"] == "BYTES" && slices.Contains(got, label) {
			return true
		}
	}
	return false
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

type badInput string

func (e badInput) Error() string { return string(e) }

// decodeImage reads the one base64 element of a BYTES input.
func decodeImage(data json.RawMessage) (image.Image, error) {
	var elems []string
	if err := json.Unmarshal(data, &elems); err != nil || len(elems) != 1 {
		return nil, badInput("want one BYTES element")
	}
	raw, err := base64.StdEncoding.DecodeString(elems[0])
	if err != nil {
		return nil, badInput("the element is not base64")
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, badInput("the element is not an image: " + err.Error())
	}
	return img, nil
}

// shares are the image's mean red, green and blue as shares of their sum.
func shares(img image.Image) [3]float64 {
	var sum [3]float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			sum[0], sum[1], sum[2] = sum[0]+float64(r), sum[1]+float64(g), sum[2]+float64(bl)
		}
	}
	t := sum[0] + sum[1] + sum[2] + 1e-9
	return [3]float64{sum[0] / t, sum[1] / t, sum[2] / t}
}

var colourNames = [3]string{"red", "green", "blue"}

func best(v [3]float64) int {
	i := 0
	for j := 1; j < 3; j++ {
		if v[j] > v[i] {
			i = j
		}
	}
	return i
}

func colours(data json.RawMessage) ([]map[string]any, error) {
	img, err := decodeImage(data)
	if err != nil {
		return nil, err
	}
	sh := shares(img)
	i := best(sh)
	return []map[string]any{
		{"name": "label", "datatype": "BYTES", "shape": []int{1}, "data": []string{colourNames[i]}},
		{"name": "score", "datatype": "FP32", "shape": []int{1}, "data": []float64{math.Round(sh[i]*1000) / 1000}},
	}, nil
}

func colourPixels(data json.RawMessage) ([]map[string]any, error) {
	var px []float64
	if err := json.Unmarshal(data, &px); err != nil || len(px) != 8*8*3 {
		return nil, badInput("want 8×8×3 pixel values")
	}
	var sum [3]float64
	for i, v := range px {
		sum[i%3] += v
	}
	t := sum[0] + sum[1] + sum[2] + 1e-9
	logits := make([]float64, 3)
	for c := range logits {
		logits[c] = 8 * (sum[c]/t - 1.0/3) // logits, not probabilities
	}
	return []map[string]any{{"name": "logits", "datatype": "FP32", "shape": []int{1, 3}, "data": logits}}, nil
}

var topicWords = map[string][]string{
	"sport": {"match", "goal", "team", "score", "league", "coach"},
	"food":  {"recipe", "bake", "flour", "taste", "dinner", "soup"},
	"tech":  {"software", "chip", "network", "server", "code", "battery"},
}

func topics(data json.RawMessage) ([]map[string]any, error) {
	var elems []string
	if err := json.Unmarshal(data, &elems); err != nil || len(elems) != 1 {
		return nil, badInput("want one BYTES element")
	}
	text := strings.ToLower(elems[0])
	bestTopic, bestHits, total := "", 0, 0
	for _, topic := range []string{"food", "sport", "tech"} {
		hits := 0
		for _, w := range topicWords[topic] {
			hits += strings.Count(text, w)
		}
		total += hits
		if hits > bestHits {
			bestTopic, bestHits = topic, hits
		}
	}
	if bestHits == 0 {
		return nil, badInput("no topic recognised in the text")
	}
	return []map[string]any{
		{"name": "label", "datatype": "BYTES", "shape": []int{1}, "data": []string{bestTopic}},
		{"name": "score", "datatype": "FP32", "shape": []int{1}, "data": []float64{float64(bestHits) / float64(total)}},
	}, nil
}

func boxes(data json.RawMessage) ([]map[string]any, error) {
	img, err := decodeImage(data)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	x1, y1, x2, y2 := b.Max.X, b.Max.Y, b.Min.X, b.Min.Y
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xe000 || g < 0xe000 || bl < 0xe000 {
				x1, y1, x2, y2 = min(x1, x), min(y1, y), max(x2, x+1), max(y2, y+1)
			}
		}
	}
	if x2 <= x1 {
		return []map[string]any{
			{"name": "label", "datatype": "BYTES", "shape": []int{0}, "data": []string{}},
			{"name": "score", "datatype": "FP32", "shape": []int{0}, "data": []float64{}},
			{"name": "box", "datatype": "FP32", "shape": []int{0, 4}, "data": []float64{}},
		}, nil
	}
	return []map[string]any{
		{"name": "label", "datatype": "BYTES", "shape": []int{1}, "data": []string{"thing"}},
		{"name": "score", "datatype": "FP32", "shape": []int{1}, "data": []float64{0.9}},
		{"name": "box", "datatype": "FP32", "shape": []int{1, 4}, "data": []float64{float64(x1), float64(y1), float64(x2), float64(y2)}},
	}, nil
}
