package inference

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"strings"

	// Decoders of the image formats datasets hold.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp"
)

// Scored is one thing a model found: a class with its score, and for a
// detection model the box (x1, y1, x2, y2 in the image's pixels).
type Scored struct {
	Name  string
	Score float64
	Box   *[4]float64
}

// Predictor runs one model on samples.
type Predictor struct {
	c     *Client
	ep    Endpoint
	input TensorMeta
	// layout of a pixel input: height, width, channels and whether the
	// channels come first (NCHW); batched says the shape has a batch
	// dimension first.
	h, w, ch  int
	chFirst   bool
	batched   bool
	pixelType string // "" for a BYTES input
}

// NewPredictor reads the model's metadata and decides how samples are
// encoded for it; a model whose first input it cannot feed is refused.
func NewPredictor(ctx context.Context, c *Client, ep Endpoint) (*Predictor, error) {
	m, err := c.Metadata(ctx, ep)
	if err != nil {
		return nil, err
	}
	if len(m.Inputs) == 0 {
		return nil, fmt.Errorf("model %s declares no input", ep.Model)
	}
	p := &Predictor{c: c, ep: ep, input: m.Inputs[0]}
	switch in := m.Inputs[0]; in.Datatype {
	case "BYTES":
	case "UINT8", "FP32":
		dims := in.Shape
		if len(dims) == 4 {
			p.batched = true
			dims = dims[1:]
		}
		if len(dims) != 3 {
			return nil, fmt.Errorf("model %s: input %s has shape %v; want [batch,] height, width, channels (or channels first)", ep.Model, in.Name, in.Shape)
		}
		if dims[0] == 1 || dims[0] == 3 {
			p.chFirst, p.ch, p.h, p.w = true, int(dims[0]), int(dims[1]), int(dims[2])
		} else {
			p.h, p.w, p.ch = int(dims[0]), int(dims[1]), int(dims[2])
		}
		if p.h <= 0 || p.w <= 0 || (p.ch != 1 && p.ch != 3) {
			return nil, fmt.Errorf("model %s: input %s has shape %v; a pixel input needs a fixed height and width and 1 or 3 channels", ep.Model, in.Name, in.Shape)
		}
		p.pixelType = in.Datatype
	default:
		return nil, fmt.Errorf("model %s: input %s is %s; Atelier feeds BYTES, UINT8 or FP32 inputs", ep.Model, in.Name, in.Datatype)
	}
	return p, nil
}

// PredictImage runs the model on an encoded image file.
func (p *Predictor) PredictImage(ctx context.Context, file []byte) ([]Scored, error) {
	if p.pixelType == "" {
		return p.predictBytes(ctx, base64.StdEncoding.EncodeToString(file))
	}
	img, _, err := image.Decode(bytes.NewReader(file))
	if err != nil {
		return nil, fmt.Errorf("decode the image: %w", err)
	}
	t, err := p.pixels(img)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	return p.infer(ctx, t, float64(b.Dx())/float64(p.w), float64(b.Dy())/float64(p.h))
}

// PredictText runs the model on a text.
func (p *Predictor) PredictText(ctx context.Context, text string) ([]Scored, error) {
	if p.pixelType != "" {
		return nil, fmt.Errorf("model %s takes images, not text", p.ep.Model)
	}
	return p.predictBytes(ctx, text)
}

func (p *Predictor) predictBytes(ctx context.Context, element string) ([]Scored, error) {
	data, _ := json.Marshal([]string{element})
	shape := []int64{1}
	if len(p.input.Shape) == 2 {
		shape = []int64{1, 1}
	}
	return p.infer(ctx, Tensor{Name: p.input.Name, Shape: shape, Datatype: "BYTES", Data: data}, 1, 1)
}

// pixels resizes img to the input's size and lays its pixels out as the
// input asks.
func (p *Predictor) pixels(img image.Image) (Tensor, error) {
	dst := image.NewRGBA(image.Rect(0, 0, p.w, p.h))
	draw.BiLinear.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
	n := p.h * p.w * p.ch
	vals := make([]float64, n)
	at := func(y, x, c int) int {
		if p.chFirst {
			return c*p.h*p.w + y*p.w + x
		}
		return (y*p.w+x)*p.ch + c
	}
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			o := dst.PixOffset(x, y)
			r, g, b := dst.Pix[o], dst.Pix[o+1], dst.Pix[o+2]
			if p.ch == 1 {
				vals[at(y, x, 0)] = math.Round(0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b))
				continue
			}
			vals[at(y, x, 0)], vals[at(y, x, 1)], vals[at(y, x, 2)] = float64(r), float64(g), float64(b)
		}
	}
	if p.pixelType == "FP32" {
		for i := range vals {
			vals[i] /= 255
		}
	}
	data, err := json.Marshal(vals)
	if err != nil {
		return Tensor{}, err
	}
	shape := []int64{int64(p.h), int64(p.w), int64(p.ch)}
	if p.chFirst {
		shape = []int64{int64(p.ch), int64(p.h), int64(p.w)}
	}
	if p.batched {
		shape = append([]int64{1}, shape...)
	}
	return Tensor{Name: p.input.Name, Shape: shape, Datatype: p.pixelType, Data: data}, nil
}

// infer sends one input and reads the outputs; sx and sy scale boxes of a
// resized image back to the original's pixels.
func (p *Predictor) infer(ctx context.Context, in Tensor, sx, sy float64) ([]Scored, error) {
	resp, err := p.c.Infer(ctx, p.ep, &InferRequest{Inputs: []Tensor{in}})
	if err != nil {
		return nil, err
	}
	return readOutputs(resp.Outputs, p.ep.Labels, sx, sy)
}

// readOutputs understands two shapes of answer: class names (a BYTES
// output) with their scores (a numeric output of the same length) and,
// for detection, boxes (a numeric output of 4 per name); or one score per
// class (a numeric output) named by the endpoint's labels, best first.
func readOutputs(outs []Tensor, labels []string, sx, sy float64) ([]Scored, error) {
	var names []string
	var numeric [][]float64
	var shapes [][]int64
	for _, o := range outs {
		if o.Datatype == "BYTES" {
			if err := json.Unmarshal(o.Data, &names); err != nil {
				return nil, fmt.Errorf("output %s: %w", o.Name, err)
			}
			continue
		}
		var v []float64
		if err := json.Unmarshal(o.Data, &v); err != nil {
			return nil, fmt.Errorf("output %s is %s but its data are not numbers: %w", o.Name, o.Datatype, err)
		}
		numeric = append(numeric, v)
		shapes = append(shapes, o.Shape)
	}
	if names != nil {
		out := make([]Scored, len(names))
		for i, n := range names {
			out[i] = Scored{Name: n, Score: 1}
		}
		for k, v := range numeric {
			switch {
			case len(v) == len(names):
				for i := range out {
					out[i].Score = v[i]
				}
			case len(v) == 4*len(names) && len(shapes[k]) > 0 && shapes[k][len(shapes[k])-1] == 4:
				for i := range out {
					out[i].Box = &[4]float64{v[4*i] * sx, v[4*i+1] * sy, v[4*i+2] * sx, v[4*i+3] * sy}
				}
			default:
				return nil, fmt.Errorf("an output of %d numbers does not match %d class names", len(v), len(names))
			}
		}
		return out, nil
	}
	if len(numeric) != 1 {
		return nil, fmt.Errorf("the model answered %d numeric outputs and no class names; want one score per class", len(numeric))
	}
	scores := numeric[0]
	if len(labels) != len(scores) {
		return nil, fmt.Errorf("the model answered %d scores but the endpoint names %d labels", len(scores), len(labels))
	}
	probs := asProbabilities(scores)
	out := make([]Scored, len(scores))
	for i := range scores {
		out[i] = Scored{Name: labels[i], Score: probs[i]}
	}
	// Best first.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Score > out[j-1].Score; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// asProbabilities keeps scores that already are a distribution and turns
// logits into one (softmax).
func asProbabilities(v []float64) []float64 {
	sum, ok := 0.0, true
	for _, x := range v {
		sum += x
		ok = ok && x >= 0 && x <= 1
	}
	if ok && math.Abs(sum-1) < 1e-3 {
		return v
	}
	mx := math.Inf(-1)
	for _, x := range v {
		mx = math.Max(mx, x)
	}
	out := make([]float64, len(v))
	total := 0.0
	for i, x := range v {
		out[i] = math.Exp(x - mx)
		total += out[i]
	}
	for i := range out {
		out[i] /= total
	}
	return out
}

// Describe names the endpoint for messages: name (model[/version] at host).
func (ep Endpoint) Describe() string {
	v := ep.Model
	if ep.Version != "" {
		v += "/" + ep.Version
	}
	return strings.TrimSpace(fmt.Sprintf("%s (%s at %s)", ep.Name, v, ep.URL.Host))
}
