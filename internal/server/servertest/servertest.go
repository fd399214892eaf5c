// Package servertest runs a real Atelier server in-process for end-to-end
// tests: a real database (SQLite, or PostgreSQL when configured through
// storetest), a temporary data directory, a real TCP listener, and clients
// built from the official Huawei Cloud Go SDK exactly as a user would build
// them. It must not reach into the server's internals to fake behaviour;
// what it gives a test is what a client on the network would see.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/global"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	iamv3 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3"
	modelarts "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1"

	atelierconfig "github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/server"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// Region is the region every test server runs in.
const Region = "test-1"

// Env is one running server and what a test needs to talk to it.
type Env struct {
	// URL is the base endpoint, "http://127.0.0.1:port", without a trailing slash.
	URL string
	// App is the assembled server.
	App *server.App
	// Account is the bootstrap account as written to DATA_DIR/bootstrap.json.
	Account iam.Account
	// DataDir is the server's data directory.
	DataDir string
	// Database is the connection string of the server's database (a file
	// path for SQLite), for a test that restarts a server on the same data.
	Database string
	// Engine is the database engine.
	Engine store.Engine
	// HTTP is a plain client for raw requests.
	HTTP *http.Client

	stopOnce sync.Once
	stop     func(t testing.TB)
}

// Options configure StartWith; zero values pick per-test defaults.
type Options struct {
	Engine store.Engine
	// DataDir defaults to a fresh t.TempDir().
	DataDir string
	// Database defaults to a fresh database of Engine: a copy of a migrated
	// template when the package's TestMain calls Main, else an empty
	// storetest database.
	Database string
	// Logger defaults to one that writes warnings and errors to the test log.
	Logger *slog.Logger
	// Configure, when set, adjusts the server's configuration (e.g. an S3
	// object store) before it opens.
	Configure func(*atelierconfig.Config)
	// Tuning defaults to testTuning.
	Tuning *server.Tuning
}

// testTuning is the servers' default tuning. On PostgreSQL, tasks that
// River was not woken for (queued within its fetch cooldown of another)
// start within 100 ms rather than a second. SQLite keeps the default: there
// River fetches at once after every insert, and each poll is a query that
// costs real CPU under the race detector. What a task does is unchanged.
func testTuning(engine store.Engine) server.Tuning {
	// Tests share two cores under the race detector, where a read can
	// wait past the production bound without any overload: requests are
	// refused as busy only after 10 s here (TestBusyServerRefusesWithRetryAfter
	// sets its own bound).
	t := server.Tuning{ReadWait: 10 * time.Second}
	if engine == store.Postgres {
		t.TaskPoll = 100 * time.Millisecond
	}
	return t
}

// Start runs a server on a fresh database of the given engine and a fresh
// data directory, and stops it when the test ends.
func Start(t testing.TB, engine store.Engine) *Env {
	t.Helper()
	return StartWith(t, Options{Engine: engine})
}

// StartWith runs a server as opts say and stops it when the test ends (or
// earlier, through Stop).
func StartWith(t testing.TB, opts Options) *Env {
	t.Helper()
	if opts.Engine == "" {
		opts.Engine = store.SQLite
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Database == "" {
		opts.Database = storetest.Migrated(t, opts.Engine)
	}
	logger := opts.Logger
	var tw *testWriter
	if logger == nil {
		tw = &testWriter{t: t}
		logger = slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1:0: %v", err)
	}
	addr := ln.Addr().String()
	cfg := atelierconfig.Config{DataDir: opts.DataDir, Listen: addr, Database: opts.Database,
		Region: Region, Endpoint: "http://" + addr, LogLevel: "info"}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tuning := testTuning(opts.Engine)
	if opts.Tuning != nil {
		tuning = *opts.Tuning
	}
	app, err := server.OpenTuned(ctx, cfg, logger, tuning)
	cancel()
	if err != nil {
		ln.Close()
		t.Fatalf("open server (engine %s, data dir %s): %v", opts.Engine, opts.DataDir, err)
	}

	serveCtx, stopServe := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- app.Serve(serveCtx, ln) }()

	env := &Env{URL: cfg.Endpoint, App: app, DataDir: opts.DataDir, Database: opts.Database, Engine: opts.Engine,
		HTTP: &http.Client{Timeout: 30 * time.Second}}
	env.stop = func(t testing.TB) {
		stopServe()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve returned an error after shutdown: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Serve did not return within 30s of its context ending")
		}
		env.HTTP.CloseIdleConnections()
		if err := app.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
		if tw != nil {
			tw.close()
		}
	}
	t.Cleanup(func() { env.Stop(t) })

	if err := waitHealthy(env, served); err != nil {
		t.Fatalf("server at %s never became healthy: %v", env.URL, err)
	}

	data, err := os.ReadFile(filepath.Join(opts.DataDir, server.BootstrapFile))
	if err != nil {
		t.Fatalf("read the bootstrap account: %v", err)
	}
	if err := json.Unmarshal(data, &env.Account); err != nil {
		t.Fatalf("decode %s: %v", server.BootstrapFile, err)
	}
	return env
}

// Stop shuts the server down now: it cancels Serve, waits for it to return
// and closes the application. It is idempotent; the test's cleanup calls it too.
func (e *Env) Stop(t testing.TB) {
	t.Helper()
	e.stopOnce.Do(func() { e.stop(t) })
}

func waitHealthy(env *Env, served <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-served:
			return fmt.Errorf("server stopped before it was healthy: %v", err)
		default:
		}
		resp, err := env.HTTP.Get(env.URL + "/health")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /health: %s", resp.Status)
		}
		last = err
		time.Sleep(10 * time.Millisecond)
	}
	return last
}

// Each runs fn as a subtest on every engine storetest tests, each with its
// own server. The engines' subtests run in parallel (each has its own
// server, database and data directory): fn must not share state between
// engines, and the test must not touch process-wide state (t.Setenv, the
// umask).
func Each(t *testing.T, fn func(t *testing.T, env *Env)) {
	t.Helper()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			fn(t, Start(t, engine))
		})
	}
}

// NewAccount creates another account (domain, admin user, project, AK/SK)
// through the identity service, as an operator would.
func (e *Env) NewAccount(t testing.TB, domainName string) *iam.Account {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acct, err := e.App.IAM.CreateAccount(ctx, iam.AccountInput{DomainName: domainName, Region: Region, Endpoint: e.URL})
	if err != nil {
		t.Fatalf("create account %q: %v", domainName, err)
	}
	return acct
}

// TokenRequest is the body of POST /v3/auth/tokens for a password login;
// projectName "" asks for a domain-scoped token.
func TokenRequest(domain, user, password, projectName string) map[string]any {
	scope := map[string]any{"domain": map[string]any{"name": domain}}
	if projectName != "" {
		scope = map[string]any{"project": map[string]any{"name": projectName}}
	}
	return map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"},
			"password": map[string]any{"user": map[string]any{"name": user, "password": password,
				"domain": map[string]any{"name": domain}}}},
		"scope": scope,
	}}
}

// Token obtains a token by POST /v3/auth/tokens; projectName "" asks for a
// domain-scoped token. Anything but 201 with X-Subject-Token fails the test.
func (e *Env) Token(t testing.TB, domain, user, password, projectName string) string {
	t.Helper()
	resp, body := e.Do(t, http.MethodPost, "/v3/auth/tokens", TokenRequest(domain, user, password, projectName), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v3/auth/tokens as %s/%s (project %q): %s %s", domain, user, projectName, resp.Status, body)
	}
	tok := resp.Header.Get("X-Subject-Token")
	if tok == "" {
		t.Fatalf("POST /v3/auth/tokens as %s/%s: 201 without X-Subject-Token", domain, user)
	}
	return tok
}

// AdminToken is a token of the bootstrap administrator scoped to the bootstrap project.
func (e *Env) AdminToken(t testing.TB) string {
	t.Helper()
	return e.Token(t, e.Account.DomainName, e.Account.UserName, e.Account.Password, e.Account.ProjectName)
}

// Do sends a plain request: body is JSON-encoded unless it is a []byte or a
// string (sent as is) or nil; headers are added. It returns the response
// (its body already read and closed) and the body.
func (e *Env) Do(t testing.TB, method, path string, body any, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.URL+path, bytes.NewReader(encodeBody(t, body)))
	if err != nil {
		t.Fatalf("build %s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return e.Send(t, req)
}

// Send sends req with the plain client and returns the response (its body
// read and closed) and the body.
func (e *Env) Send(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read response: %v", req.Method, req.URL.Path, err)
	}
	return resp, data
}

func encodeBody(t testing.TB, body any) []byte {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case []byte:
		return b
	case string:
		return []byte(b)
	}
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("encode request body: %v", err)
	}
	return data
}

// SignedRequest builds a request signed with ak/sk by the SDK's own
// SDK-HMAC-SHA256 signer, the way the SDK signs its calls. headers are set
// before signing (and so are signed); an X-Sdk-Date among them fixes the
// signing time. body is sent as is.
func (e *Env) SignedRequest(t testing.TB, method, path string, body []byte, ak, sk string, headers map[string]string) *http.Request {
	t.Helper()
	b := request.NewHttpRequestBuilder().WithEndpoint(e.URL).WithMethod(method).WithPath(path)
	if body != nil {
		b.AddHeaderParam("Content-Type", "application/json")
		b.WithBody("json", string(body))
	}
	for k, v := range headers {
		b.AddHeaderParam(k, v)
	}
	sreq := b.Build()
	signed, err := signer.Sign(sreq, ak, sk)
	if err != nil {
		t.Fatalf("sign %s %s: %v", method, path, err)
	}
	for k, v := range signed {
		sreq.AddHeaderParam(k, v)
	}
	req, err := sreq.ConvertRequest()
	if err != nil {
		t.Fatalf("convert signed %s %s: %v", method, path, err)
	}
	return req
}

// HTTPConfig is the SDK HTTP configuration the test clients use: the
// defaults (which speak plain http to an http:// endpoint) with a shorter
// timeout and no retries.
func HTTPConfig() *config.HttpConfig {
	return config.DefaultHttpConfig().WithTimeout(30 * time.Second).WithRetries(0).WithIgnoreSSLVerification(true)
}

// IAMClient is the SDK's IAM v3 client signing with ak/sk. IAM is a global
// service, so it takes global credentials; their domain ID is always set
// (the access key's domain, or the bootstrap domain for an unknown key) so
// that the SDK never calls IAM to discover it.
func (e *Env) IAMClient(t testing.TB, ak, sk string) *iamv3.IamClient {
	t.Helper()
	domainID := e.Account.DomainID
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cred, err := e.App.IAM.AccessKey(ctx, ak); err == nil {
		domainID = cred.DomainID
	}
	creds, err := global.NewCredentialsBuilder().WithAk(ak).WithSk(sk).WithDomainId(domainID).SafeBuild()
	if err != nil {
		t.Fatalf("build global credentials: %v", err)
	}
	hc, err := iamv3.IamClientBuilder().WithCredential(creds).WithEndpoints([]string{e.URL}).
		WithHttpConfig(HTTPConfig()).SafeBuild()
	if err != nil {
		t.Fatalf("build IAM client: %v", err)
	}
	return iamv3.NewIamClient(hc)
}

// ModelArtsClient is the SDK's ModelArts v1 client signing with ak/sk for
// projectID (set, so that the SDK never calls IAM to discover it).
func (e *Env) ModelArtsClient(t testing.TB, ak, sk, projectID string) *modelarts.ModelArtsClient {
	t.Helper()
	if projectID == "" {
		t.Fatalf("ModelArtsClient needs a project ID: without one the SDK would ask IAM for it")
	}
	creds, err := basic.NewCredentialsBuilder().WithAk(ak).WithSk(sk).WithProjectId(projectID).SafeBuild()
	if err != nil {
		t.Fatalf("build basic credentials: %v", err)
	}
	hc, err := modelarts.ModelArtsClientBuilder().WithCredential(creds).WithEndpoints([]string{e.URL}).
		WithHttpConfig(HTTPConfig()).SafeBuild()
	if err != nil {
		t.Fatalf("build ModelArts client: %v", err)
	}
	return modelarts.NewModelArtsClient(hc)
}

// ErrorBody is the error envelope: ModelArts' keys, and Keystone's nested
// object on IAM routes.
type ErrorBody struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Title   string `json:"title"`
	} `json:"error"`
}

// DecodeError decodes an error envelope, failing the test when body is not one.
func DecodeError(t testing.TB, body []byte) ErrorBody {
	t.Helper()
	var e ErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("response body is not a JSON error envelope: %v: %s", err, body)
	}
	if e.ErrorCode == "" || e.ErrorMsg == "" {
		t.Fatalf("error envelope lacks error_code or error_msg: %s", body)
	}
	return e
}

// testWriter sends log output to the test log until the server stops, so
// that a late line cannot reach a finished test.
type testWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// SDKError returns the service error an SDK call failed with, failing the
// test when err is nil or is not an HTTP error response.
func SDKError(t testing.TB, err error) *sdkerr.ServiceResponseError {
	t.Helper()
	if err == nil {
		t.Fatalf("the SDK call succeeded; want an error response")
	}
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) {
		t.Fatalf("the SDK call failed with %T %v; want an error response from the server", err, err)
	}
	return se
}

// Main runs a package's tests with every server's database a copy of a
// migrated template (storetest.Main). Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(servertest.Main(m)) }
func Main(m *testing.M) int { return storetest.Main(m) }
