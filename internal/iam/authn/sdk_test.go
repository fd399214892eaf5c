package authn

// Helpers that produce requests signed by the official Huawei Cloud Go SDK,
// either sent over a real connection by the SDK's own HTTP client or
// serialised to the exact wire bytes and parsed back as a server would.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/impl"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
)

const (
	testAK = "HPUATESTACCESSKEY001"
	testSK = "tEsT0sEcReT1kEy2fOr3aTeLiEr4sIgNaTuReS5"
)

// secrets is the server's view of the credential store.
var secrets = map[string]string{testAK: testSK, "OTHERAK": "another-secret"}

// seen is what the test server saw of one request.
type seen struct {
	req  *http.Request // a clone, safe to mutate
	body []byte
	auth Authorization
	err  error // of ParseAuthorization, then of Verify
}

// verifyServer is an httptest server whose handler authenticates every
// request the way the HTTP layer will, and records what it saw.
type verifyServer struct {
	*httptest.Server
	mu   sync.Mutex
	last seen
	now  func() time.Time
}

func newVerifyServer(t *testing.T) *verifyServer {
	t.Helper()
	vs := &verifyServer{now: time.Now}
	vs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s := seen{req: r.Clone(context.Background()), body: body}
		s.auth, s.err = ParseAuthorization(r.Header.Get("Authorization"))
		if s.err == nil {
			secret, ok := secrets[s.auth.AccessKey]
			if !ok {
				secret = "unknown"
			}
			s.err = Verify(r, body, s.auth, secret, vs.now())
		}
		vs.mu.Lock()
		vs.last = s
		vs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if s.err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error_msg": s.err.Error()})
			return
		}
		io.WriteString(w, "{}")
	}))
	t.Cleanup(vs.Close)
	return vs
}

func (vs *verifyServer) lastSeen() seen {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return vs.last
}

// sdkRequest describes a request in the SDK's terms.
type sdkRequest struct {
	method  string
	path    string
	query   map[string]any // values are wrapped in reflect.Value, as the SDK does
	headers map[string]string
	body    any
}

// build returns the SDK's request for endpoint, not yet signed.
func (sr sdkRequest) build(endpoint string) *request.DefaultHttpRequest {
	b := request.NewHttpRequestBuilder().WithEndpoint(endpoint).WithMethod(sr.method).WithPath(sr.path)
	for k, v := range sr.query {
		b.AddQueryParam(k, reflect.ValueOf(v))
	}
	for k, v := range sr.headers {
		b.AddHeaderParam(k, v)
	}
	if sr.body != nil {
		b.WithBody("", sr.body)
	}
	return b.Build()
}

// signSDK signs req with the SDK's signer and adds the headers it returns,
// exactly as the SDK's credentials do.
func signSDK(tb testing.TB, req *request.DefaultHttpRequest, ak, sk string) {
	tb.Helper()
	hs, err := signer.Sign(req, ak, sk)
	if err != nil {
		tb.Fatalf("SDK signer: %v", err)
	}
	for k, v := range hs {
		req.AddHeaderParam(k, v)
	}
}

// send signs sr with the SDK and sends it with the SDK's HTTP client to vs,
// returning what the server saw.
func (vs *verifyServer) send(tb testing.TB, sr sdkRequest, ak, sk string) seen {
	tb.Helper()
	req := sr.build(vs.URL)
	signSDK(tb, req, ak, sk)
	client := impl.NewDefaultHttpClient(config.DefaultHttpConfig())
	resp, err := client.SyncInvokeHttp(req)
	if err != nil {
		tb.Fatalf("SDK client: %v", err)
	}
	body, err := resp.GetBodyAsBytes()
	if err != nil {
		tb.Fatalf("SDK client: %v", err)
	}
	s := vs.lastSeen()
	if ok := resp.GetStatusCode() == http.StatusOK; ok != (s.err == nil) {
		tb.Fatalf("status %d, body %s, but the handler recorded %v", resp.GetStatusCode(), body, s.err)
	}
	return s
}

// wireRequest signs sr with the SDK for endpoint, converts it with the
// SDK's own conversion, writes it out as HTTP/1.1 bytes and parses those
// back as net/http's server does. It needs no network, for fuzzing and
// benchmarks.
func wireRequest(tb testing.TB, endpoint string, sr sdkRequest) (*http.Request, []byte) {
	tb.Helper()
	req := sr.build(endpoint)
	signSDK(tb, req, testAK, testSK)
	hr, err := req.ConvertRequest()
	if err != nil {
		tb.Fatal(err)
	}
	var wire bytes.Buffer
	if err := hr.Write(&wire); err != nil {
		tb.Fatal(err)
	}
	sr2, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		tb.Fatal(err)
	}
	body, err := io.ReadAll(sr2.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return sr2, body
}
