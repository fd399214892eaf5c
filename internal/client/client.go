// Package client is a small HTTP client for a remote Atelier, used by the
// `atelier train` commands: it signs requests with an AK/SK exactly as the
// official Huawei Cloud SDKs do (through the SDK's own signer) or sends a
// token, and turns error responses into *Error with the server's
// error_code and error_msg. It speaks the wire format only and must not
// import the server's packages.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
)

// Config says where the server is and who is calling.
type Config struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:8080.
	Endpoint string
	// ProjectID is the project of /v1/{project_id} and /v2/{project_id} paths.
	ProjectID string
	// AccessKey and SecretKey sign requests (SDK-HMAC-SHA256); when empty,
	// Token is sent as X-Auth-Token instead.
	AccessKey, SecretKey string
	Token                string
	// HTTP is the client to use; nil means one without an overall timeout
	// (uploads and downloads may be long), that waits at most a minute for
	// a response once a request is sent and never follows redirects.
	HTTP *http.Client
}

// Client calls one Atelier server.
type Client struct {
	cfg      Config
	endpoint string
	hc       *http.Client
}

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	if cfg.ProjectID == "" {
		return nil, errors.New("no project ID")
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("an access key needs its secret key and the other way round")
	}
	if cfg.AccessKey == "" && cfg.Token == "" {
		return nil, errors.New("no credentials: give an AK/SK or a token")
	}
	hc := cfg.HTTP
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = time.Minute // after the request is sent; bodies may take long
		hc = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Client{cfg: cfg, endpoint: strings.TrimRight(cfg.Endpoint, "/"), hc: hc}, nil
}

// ProjectID is the project the client calls.
func (c *Client) ProjectID() string { return c.cfg.ProjectID }

// Error is an error response of the server.
type Error struct {
	Status int
	Code   string
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Msg, e.Status)
}

// IsCode reports whether err is an *Error with the given error_code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// call is one request: a path without the endpoint (unescaped; each
// segment is escaped on the wire), a query, and a body that is either JSON
// (signed) or a stream (unsigned payload).
type call struct {
	method string
	path   string
	query  url.Values
	json   any
	stream io.Reader
	size   int64 // of stream; -1 when unknown
	header map[string]string
}

// send sends cl and returns the response when its status is 2xx, or an
// *Error decoded from the error envelope.
func (c *Client) send(ctx context.Context, cl call) (*http.Response, error) {
	var body io.Reader
	var jsonBody []byte
	contentType := ""
	if cl.json != nil {
		var err error
		if jsonBody, err = json.Marshal(cl.json); err != nil {
			return nil, fmt.Errorf("encode request body: %w", err)
		}
		body, contentType = bytes.NewReader(jsonBody), "application/json"
	} else if cl.stream != nil {
		// Any content type but JSON makes the SDK signer send
		// X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD, which streamed routes need.
		body, contentType = cl.stream, "application/octet-stream"
	}
	u := c.endpoint + (&url.URL{Path: cl.path}).EscapedPath()
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return nil, err
	}
	if cl.stream != nil {
		req.ContentLength = cl.size
		if cl.size == 0 {
			req.Body = http.NoBody
		} else {
			// Let the server refuse (403, 404) before the body is sent.
			req.Header.Set("Expect", "100-continue")
		}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range cl.header {
		req.Header.Set(k, v)
	}
	if err := c.authorize(req, cl, contentType, jsonBody); err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// authorize adds X-Auth-Token, or signs req with the SDK's signer: the
// signer works on the SDK's own request type, so one is built with the
// same method, path, query and headers, and the headers it signs are
// copied onto req.
func (c *Client) authorize(req *http.Request, cl call, contentType string, jsonBody []byte) error {
	if c.cfg.AccessKey == "" {
		req.Header.Set("X-Auth-Token", c.cfg.Token)
		return nil
	}
	b := request.NewHttpRequestBuilder().WithEndpoint(c.endpoint).WithMethod(cl.method).WithPath(cl.path)
	for k, vs := range cl.query {
		if len(vs) > 0 {
			b.AddQueryParam(k, reflect.ValueOf(vs[0]))
		}
	}
	if contentType != "" {
		b.AddHeaderParam("Content-Type", contentType)
	}
	for k, v := range cl.header {
		b.AddHeaderParam(k, v)
	}
	if jsonBody != nil {
		b.WithBody("json", string(jsonBody))
	}
	sreq := b.Build()
	signed, err := signer.Sign(sreq, c.cfg.AccessKey, c.cfg.SecretKey)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	for k, v := range sreq.GetHeaderParams() {
		req.Header.Set(k, v)
	}
	for k, v := range signed {
		req.Header.Set(k, v)
	}
	return nil
}

func decodeError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var env struct {
		Code string `json:"error_code"`
		Msg  string `json:"error_msg"`
	}
	if err := json.Unmarshal(data, &env); err != nil || env.Code == "" {
		msg := strings.TrimSpace(string(data))
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return &Error{Status: resp.StatusCode, Code: fmt.Sprintf("HTTP.%d", resp.StatusCode), Msg: msg}
	}
	return &Error{Status: resp.StatusCode, Code: env.Code, Msg: env.Msg}
}

// do sends cl and decodes a JSON response into out (nil: discard it).
func (c *Client) do(ctx context.Context, cl call, out any) error {
	resp, err := c.send(ctx, cl)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", cl.method, cl.path, err)
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
