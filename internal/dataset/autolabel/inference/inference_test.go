package inference_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset/autolabel/inference"
	"github.com/atelier-dev/atelier/internal/dataset/autolabel/inference/inferencetest"
)

// picture draws a w×h image of background bg with a rectangle r of colour fg.
func picture(t *testing.T, w, h int, bg, fg color.Color, r image.Rectangle) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := bg
			if (image.Point{x, y}).In(r) {
				c = fg
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func endpoint(t *testing.T, srv *inferencetest.Server, model string, labels ...string) inference.Endpoint {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return inference.Endpoint{Name: model, URL: u, Model: model, Labels: labels}
}

var (
	red   = color.RGBA{220, 30, 20, 255}
	green = color.RGBA{20, 200, 40, 255}
	blue  = color.RGBA{30, 40, 210, 255}
	white = color.RGBA{255, 255, 255, 255}
)

// TestPredictsImagesAndText runs each kind of model the predictor feeds:
// encoded images as BYTES, decoded pixels with scores per class (logits,
// turned into probabilities), text, and boxes.
func TestPredictsImagesAndText(t *testing.T) {
	srv := inferencetest.Start()
	defer srv.Close()
	ctx := context.Background()
	c := inference.New(inference.Options{Timeout: 5 * time.Second})
	whole := image.Rect(0, 0, 64, 48)
	for _, tc := range []struct {
		name, model string
		labels      []string
		image       []byte
		text        string
		want        string
	}{
		{name: "bytes red", model: "colours", image: picture(t, 64, 48, white, red, whole), want: "red"},
		{name: "bytes blue", model: "colours", image: picture(t, 64, 48, white, blue, whole), want: "blue"},
		{name: "pixels green", model: "colour-pixels", labels: []string{"red", "green", "blue"}, image: picture(t, 64, 48, white, green, whole), want: "green"},
		{name: "pixels red", model: "colour-pixels", labels: []string{"red", "green", "blue"}, image: picture(t, 30, 90, white, red, whole), want: "red"},
		{name: "text", model: "topics", text: "The coach said the team will score a goal in the league match.", want: "sport"},
		{name: "text food", model: "topics", text: "Bake the flour into bread; the soup has a great taste.", want: "food"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := inference.NewPredictor(ctx, c, endpoint(t, srv, tc.model, tc.labels...))
			if err != nil {
				t.Fatalf("predictor for %s: %v", tc.model, err)
			}
			var got []inference.Scored
			if tc.image != nil {
				got, err = p.PredictImage(ctx, tc.image)
			} else {
				got, err = p.PredictText(ctx, tc.text)
			}
			if err != nil {
				t.Fatalf("predict: %v", err)
			}
			if len(got) == 0 || got[0].Name != tc.want {
				t.Fatalf("predicted %+v; want %s first", got, tc.want)
			}
			if got[0].Score <= 0 || got[0].Score > 1 {
				t.Errorf("score %v is not a probability", got[0].Score)
			}
			if tc.labels != nil {
				sum := 0.0
				for _, s := range got {
					sum += s.Score
				}
				if sum < 0.999 || sum > 1.001 || len(got) != len(tc.labels) {
					t.Errorf("scores per class %+v do not make a distribution over %v", got, tc.labels)
				}
			}
		})
	}
}

// TestPredictsBoxes reads a detection model's box in the image's pixels.
func TestPredictsBoxes(t *testing.T) {
	srv := inferencetest.Start()
	defer srv.Close()
	ctx := context.Background()
	p, err := inference.NewPredictor(ctx, inference.New(inference.Options{}), endpoint(t, srv, "boxes"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.PredictImage(ctx, picture(t, 200, 100, white, blue, image.Rect(30, 20, 90, 70)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "thing" || got[0].Box == nil || *got[0].Box != [4]float64{30, 20, 90, 70} {
		t.Fatalf("predicted %+v; want one thing in (30,20)-(90,70)", got)
	}
}

// TestRetriesAndErrors: transient answers are retried up to the limit,
// timeouts too; a refusal of the input is not retried; each error says
// what happened.
func TestRetriesAndErrors(t *testing.T) {
	srv := inferencetest.Start()
	defer srv.Close()
	ctx := context.Background()
	img := picture(t, 16, 16, white, red, image.Rect(0, 0, 16, 16))
	for _, tc := range []struct {
		name       string
		failNext   int64
		delay      time.Duration
		input      []byte
		wantErr    string
		wantStatus int
		wantCalls  int64
	}{
		{name: "recovers after two 503s", failNext: 2, input: img, wantCalls: 3},
		{name: "gives up after three 503s", failNext: 5, input: img, wantErr: "answered 503 after 3 attempts", wantStatus: 503, wantCalls: 3},
		{name: "timeout retried then reported", delay: 300 * time.Millisecond, input: img, wantErr: "no answer within 100ms", wantCalls: 3},
		{name: "refused input not retried", input: []byte("this is not an image"), wantErr: "not an image", wantStatus: 400, wantCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := inference.New(inference.Options{Timeout: 100 * time.Millisecond, Retries: 2, Backoff: 10 * time.Millisecond})
			p, err := inference.NewPredictor(ctx, c, endpoint(t, srv, "colours"))
			if err != nil {
				t.Fatal(err)
			}
			srv.FailNext.Store(tc.failNext)
			srv.Delay.Store(int64(tc.delay))
			srv.Infers.Store(0)
			defer srv.Delay.Store(0)
			got, err := p.PredictImage(ctx, tc.input)
			if calls := srv.Infers.Load(); calls != tc.wantCalls {
				t.Errorf("the server got %d infer calls; want %d", calls, tc.wantCalls)
			}
			if tc.wantErr == "" {
				if err != nil || len(got) != 1 || got[0].Name != "red" {
					t.Fatalf("got %+v, %v; want red", got, err)
				}
				return
			}
			var e *inference.Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), tc.wantErr) || e.Status != tc.wantStatus {
				t.Fatalf("got %v; want an inference error with status %d saying %q", err, tc.wantStatus, tc.wantErr)
			}
		})
	}
}

func TestRefusesUnknownModel(t *testing.T) {
	srv := inferencetest.Start()
	defer srv.Close()
	_, err := inference.NewPredictor(context.Background(), inference.New(inference.Options{}), endpoint(t, srv, "nope"))
	var e *inference.Error
	if !errors.As(err, &e) || e.Status != 404 || !strings.Contains(err.Error(), "not served here") {
		t.Fatalf("got %v; want the server's 404 with its message", err)
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string // model/version labels
		wantErr bool
	}{
		{in: "pets=http://127.0.0.1:8000/resnet", want: "resnet/ []"},
		{in: "pets=https://models.internal/resnet/3?labels=cat,dog", want: "resnet/3 [cat dog]"},
		{in: "pets=http://h:8000/resnet?timeout=90s&labels=a", want: "resnet/ [a] 1m30s"},
		{in: "pets=http://h/m?timeout=0s", wantErr: true},
		{in: "pets=http://h/m?timeout=soon", wantErr: true},
		{in: "pets=http://h/m?label=cat", wantErr: true},
		{in: "pets", wantErr: true},
		{in: "=http://h/m", wantErr: true},
		{in: "pets=ftp://h/m", wantErr: true},
		{in: "pets=http://h/", wantErr: true},
		{in: "pets=http://h/a/b/c", wantErr: true},
	} {
		ep, err := inference.ParseEndpoint(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseEndpoint(%q) = %+v; want an error", tc.in, ep)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseEndpoint(%q): %v", tc.in, err)
			continue
		}
		got := ep.Model + "/" + ep.Version + " [" + strings.Join(ep.Labels, " ") + "]"
		if ep.Timeout > 0 {
			got += " " + ep.Timeout.String()
		}
		if got != tc.want || ep.Name != "pets" {
			t.Errorf("ParseEndpoint(%q) = %s (name %s); want %s", tc.in, got, ep.Name, tc.want)
		}
	}
}
