package authn

import (
	"testing"
	"time"
)

// BenchmarkVerify verifies a typical SDK GET: a few query parameters,
// X-Project-Id, User-Agent and X-Sdk-Date signed, no body.
func BenchmarkVerify(b *testing.B) {
	r, body := wireRequest(b, "https://modelarts.cn-north-4.example.com", sdkRequest{
		method: "GET", path: "/v2/" + projectID + "/datasets",
		query: map[string]any{"limit": 10, "offset": 0, "sort_by": "create_time", "search_content": "cats dogs"},
		headers: map[string]string{"X-Project-Id": projectID, "Content-Type": "application/json",
			"User-Agent": "huaweicloud-usdk-go/3.0", HeaderSDKDate: fuzzDate.Format(SDKDateFormat)},
	})
	a, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		b.Fatal(err)
	}
	if err := Verify(r, body, a, testSK, fuzzDate); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(r, body, a, testSK, fuzzDate); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPOST verifies a JSON POST, hashing its body.
func BenchmarkVerifyPOST(b *testing.B) {
	r, body, a := fuzzRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(r, body, a, testSK, fuzzDate); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAuthorization(b *testing.B) {
	h := "SDK-HMAC-SHA256 Access=HPUATESTACCESSKEY001, SignedHeaders=user-agent;x-project-id;x-sdk-date, Signature=" + sig64
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAuthorization(h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenVerify(b *testing.B) {
	c := newTestCodec(b, testKey)
	tok, err := c.Issue(testClaims())
	if err != nil {
		b.Fatal(err)
	}
	now := issuedAt.Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenIssue(b *testing.B) {
	c := newTestCodec(b, testKey)
	cl := testClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Issue(cl); err != nil {
			b.Fatal(err)
		}
	}
}
