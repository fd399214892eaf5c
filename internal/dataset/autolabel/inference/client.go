// Package inference is Atelier's client of model servers that speak the
// Open Inference Protocol over HTTP/REST (the "v2" protocol that KServe,
// Triton, Seldon MLServer and TorchServe share): readiness, model metadata
// and infer. Pre-labeling sends each unlabeled sample through it and
// stores the answers as auto-annotations.
//
// Model servers are configured by the operator (Endpoint: a name clients
// refer to, the server's base URL, the model and its version), never
// given by a request: a tenant who could name any URL would make the
// server call its internal network for them.
//
// A Predictor adapts one model to Atelier's samples: it reads the model's
// metadata once and encodes each sample the way the model's first input
// asks (the encoded file as a base64 BYTES element, the convention of
// image models served over JSON, or text as a BYTES element; or decoded
// pixels as a UINT8/FP32 tensor in NHWC or NCHW layout, resized to the
// input's shape), then reads classes, scores and boxes from the outputs.
// Each request has its own timeout; transient failures (connection
// errors, timeouts, 429 and 5xx answers) are retried with exponential
// backoff, other answers are the sample's error.
package inference

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Endpoint is a model served by a model server, as the operator configured
// it.
type Endpoint struct {
	// Name is how requests refer to the endpoint (model_name).
	Name string
	// URL is the model server's base URL (http://host:8000).
	URL *url.URL
	// Model and Version name the model on that server; Version may be
	// empty (the server's default).
	Model   string
	Version string
	// Labels name the classes of a model whose output is one score per
	// class; empty: the model answers class names itself (a BYTES output).
	Labels []string
	// Timeout bounds each request to this model server; zero: the
	// client's. A large model on a slow accelerator may need more than
	// the default, a test or a latency budget less.
	Timeout time.Duration
}

// ParseEndpoint reads an endpoint from its flag form
// name=http://host:port/model[/version][?labels=a,b,c][&timeout=10s]. A
// query parameter it does not know is refused: a misspelt option would
// otherwise be ignored in silence.
func ParseEndpoint(v string) (Endpoint, error) {
	name, raw, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return Endpoint{}, fmt.Errorf("model server %q: want name=http://host:port/model[/version][?labels=a,b][&timeout=10s]", v)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Endpoint{}, fmt.Errorf("model server %q: want an http(s) URL with a host", v)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 1 || len(parts) > 2 || parts[0] == "" {
		return Endpoint{}, fmt.Errorf("model server %q: the URL's path is /model or /model/version", v)
	}
	ep := Endpoint{Name: name, Model: parts[0], URL: &url.URL{Scheme: u.Scheme, Host: u.Host, User: u.User}}
	if len(parts) == 2 {
		ep.Version = parts[1]
	}
	q := u.Query()
	for k := range q {
		if k != "labels" && k != "timeout" {
			return Endpoint{}, fmt.Errorf("model server %q: unknown option %q (labels and timeout are known)", v, k)
		}
	}
	if l := q.Get("labels"); l != "" {
		for _, s := range strings.Split(l, ",") {
			if s = strings.TrimSpace(s); s != "" {
				ep.Labels = append(ep.Labels, s)
			}
		}
	}
	if t := q.Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return Endpoint{}, fmt.Errorf("model server %q: timeout %q is not a positive duration such as 10s", v, t)
		}
		ep.Timeout = d
	}
	return ep, nil
}

// modelPath is /v2/models/{model}[/versions/{version}].
func (ep Endpoint) modelPath() string {
	p := "/v2/models/" + url.PathEscape(ep.Model)
	if ep.Version != "" {
		p += "/versions/" + url.PathEscape(ep.Version)
	}
	return p
}

// Options configure a Client.
type Options struct {
	// HTTP sends the requests; nil: a client of its own.
	HTTP *http.Client
	// Timeout bounds each request (default 30 s).
	Timeout time.Duration
	// Retries is how many times a transient failure is retried (default
	// 2; negative: none).
	Retries int
	// Backoff is the wait before the first retry, doubled for each next
	// one (default 200 ms).
	Backoff time.Duration
}

// Client calls model servers.
type Client struct {
	http    *http.Client
	timeout time.Duration
	retries int
	backoff time.Duration
}

// New builds a Client.
func New(o Options) *Client {
	if o.HTTP == nil {
		o.HTTP = &http.Client{}
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Retries == 0 {
		o.Retries = 2
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = 200 * time.Millisecond
	}
	return &Client{http: o.HTTP, timeout: o.Timeout, retries: o.Retries, backoff: o.Backoff}
}

// Error is a failed call: the model server's answer (Status, and its
// error message) or the transport's failure (Status 0).
type Error struct {
	Op        string
	Status    int
	Msg       string
	Temporary bool
	Attempts  int
}

func (e *Error) Error() string {
	at := ""
	if e.Attempts > 1 {
		at = fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	if e.Status != 0 {
		return fmt.Sprintf("%s: model server answered %d%s: %s", e.Op, e.Status, at, e.Msg)
	}
	return fmt.Sprintf("%s%s: %s", e.Op, at, e.Msg)
}

// Ready asks whether the server is ready (GET /v2/health/ready).
func (c *Client) Ready(ctx context.Context, ep Endpoint) error {
	return c.call(ctx, ep, http.MethodGet, "/v2/health/ready", nil, nil, "readiness")
}

// Metadata is a model's metadata (GET /v2/models/{model}).
type Metadata struct {
	Name     string       `json:"name"`
	Versions []string     `json:"versions,omitempty"`
	Platform string       `json:"platform"`
	Inputs   []TensorMeta `json:"inputs"`
	Outputs  []TensorMeta `json:"outputs"`
}

// TensorMeta describes one input or output; -1 in Shape is any size.
type TensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// Metadata reads the endpoint model's metadata.
func (c *Client) Metadata(ctx context.Context, ep Endpoint) (*Metadata, error) {
	var m Metadata
	if err := c.call(ctx, ep, http.MethodGet, ep.modelPath(), nil, &m, "model metadata"); err != nil {
		return nil, err
	}
	return &m, nil
}

// Tensor is an input or output tensor; Data holds its elements in row-major
// order (numbers, booleans or strings as the datatype says).
type Tensor struct {
	Name     string          `json:"name"`
	Shape    []int64         `json:"shape"`
	Datatype string          `json:"datatype"`
	Data     json.RawMessage `json:"data"`
}

// InferRequest is the body of an infer call.
type InferRequest struct {
	ID     string   `json:"id,omitempty"`
	Inputs []Tensor `json:"inputs"`
}

// InferResponse is a model's answer.
type InferResponse struct {
	ModelName    string   `json:"model_name"`
	ModelVersion string   `json:"model_version,omitempty"`
	ID           string   `json:"id,omitempty"`
	Outputs      []Tensor `json:"outputs"`
}

// Infer runs the model on one request.
func (c *Client) Infer(ctx context.Context, ep Endpoint, req *InferRequest) (*InferResponse, error) {
	var out InferResponse
	if err := c.call(ctx, ep, http.MethodPost, ep.modelPath()+"/infer", req, &out, "infer"); err != nil {
		return nil, err
	}
	return &out, nil
}

// call sends one request, retrying transient failures.
func (c *Client) call(ctx context.Context, ep Endpoint, method, path string, in, out any, op string) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%s: encode the request: %w", op, err)
		}
	}
	wait := c.backoff
	for attempt := 1; ; attempt++ {
		err := c.once(ctx, ep, method, path, body, out, op)
		var e *Error
		if err == nil || !errors.As(err, &e) || !e.Temporary || attempt > c.retries || ctx.Err() != nil {
			if e != nil {
				e.Attempts = attempt
			}
			return err
		}
		select {
		case <-ctx.Done():
			e.Attempts = attempt
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (c *Client) once(ctx context.Context, ep Endpoint, method, path string, body []byte, out any, op string) error {
	timeout := c.timeout
	if ep.Timeout > 0 {
		timeout = ep.Timeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := *ep.URL
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, u.String(), rd)
	if err != nil {
		return &Error{Op: op, Msg: err.Error()}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ne net.Error
		msg := err.Error()
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			msg = fmt.Sprintf("no answer within %s", timeout)
		}
		// The caller's own cancellation is not the server's fault, and is
		// not retried; this attempt's timeout is.
		return &Error{Op: op, Msg: msg, Temporary: ctx.Err() == nil}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &Error{Op: op, Msg: "read the answer: " + err.Error(), Temporary: true}
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(data))
		var env struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &env) == nil && env.Error != "" {
			msg = env.Error
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return &Error{Op: op, Status: resp.StatusCode, Msg: msg,
			Temporary: resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &Error{Op: op, Msg: "the answer is not the protocol's JSON: " + err.Error()}
	}
	return nil
}
