package authn

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzDate is the X-Sdk-Date of the fuzz and benchmark requests, and the
// server's time when they are verified.
var fuzzDate = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fuzzRequest is a JSON POST signed by the SDK at fuzzDate, as a server
// parses it off the wire.
func fuzzRequest(tb testing.TB) (*http.Request, []byte, Authorization) {
	tb.Helper()
	r, body := wireRequest(tb, "https://modelarts.cn-north-4.example.com:8443", sdkRequest{
		method: "POST", path: "/v2/" + projectID + "/datasets/ds 1/versions",
		query: map[string]any{"limit": 10, "tag": []string{"b", "a"}, "name": "x y", "e": ""},
		headers: map[string]string{"Content-Type": "application/json", "X-Project-Id": projectID,
			HeaderSDKDate: fuzzDate.Format(SDKDateFormat)},
		body: &createBody{Name: "v1", Description: "first"},
	})
	a, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := Verify(r, body, a, testSK, fuzzDate); err != nil {
		tb.Fatalf("the unmodified request does not verify: %v", err)
	}
	return r, body, a
}

// FuzzVerify feeds arbitrary Authorization headers and mutations of one
// SDK-signed request. Nothing may panic; an arbitrary header verifies only
// if it carries the genuine signature and header list; a mutation that
// changes what the signature covers never verifies, and one that does not
// (an unsigned header) always does.
func FuzzVerify(f *testing.F) {
	base, baseBody, baseAuth := fuzzRequest(f)
	f.Add(base.Header.Get("Authorization"), uint8(0), "GET", int64(0))
	f.Add("SDK-HMAC-SHA256 Access=AK,SignedHeaders=x-sdk-date,Signature="+baseAuth.Signature, uint8(1), "a/b", int64(1))
	f.Add("SDK-HMAC-SHA256 Credential=AK/x, SignedHeaders=;, Signature=", uint8(2), "k=v&x", int64(-1))
	f.Add("", uint8(3), "tag=a&tag=b&name=x%20y&limit=10&e", int64(900))
	f.Add("SDK-HMAC-SHA256 , , ,", uint8(4), " "+projectID, int64(0))
	f.Add("x", uint8(5), "{}", int64(7))
	f.Add("SDK-HMAC-SHA256 Access=\x00", uint8(6), "", int64(3))
	f.Add("", uint8(7), baseAuth.Signature, int64(0))
	f.Add("", uint8(8), strings.Join(baseAuth.SignedHeaders, ";"), int64(0))
	f.Add("", uint8(9), "/v2//x/%zz/", int64(0))
	f.Add("", uint8(10), "X-Extra", int64(0))

	f.Fuzz(func(t *testing.T, authz string, kind uint8, data string, n int64) {
		// 1. An arbitrary Authorization header against the genuine request.
		if a, err := ParseAuthorization(authz); err == nil {
			r := base.Clone(context.Background())
			if Verify(r, baseBody, a, testSK, fuzzDate) == nil &&
				(a.Signature != baseAuth.Signature || !slices.Equal(a.SignedHeaders, baseAuth.SignedHeaders)) {
				t.Fatalf("a forged Authorization verified: %q", authz)
			}
		}

		// 2. One mutation of the genuine request.
		r := base.Clone(context.Background())
		body := slices.Clone(baseBody)
		a := baseAuth
		a.SignedHeaders = slices.Clone(a.SignedHeaders)
		now := fuzzDate
		changed := true // whether the mutation changes what is signed
		switch kind % 11 {
		case 0:
			r.Method = data
			changed = data != base.Method
		case 1:
			if data == "" {
				return
			}
			r.URL.Path += "/" + data // adds a segment
		case 2:
			if data == "" {
				return
			}
			r.URL.RawQuery += "&" + url.QueryEscape("fz"+data) + "=" + url.QueryEscape(data)
		case 3:
			// Any raw query: equivalent exactly when net/url reads the same
			// parameters (which Verify must agree with), invalid when net/url
			// rejects it.
			r.URL.RawQuery = data
			got, err := url.ParseQuery(data)
			changed = err != nil || !sameQuery(got, base.URL.Query())
		case 4:
			r.Header.Set("X-Project-Id", data)
			changed = strings.TrimSpace(data) != projectID
		case 5:
			body = []byte(data)
			changed = data != string(baseBody)
		case 6:
			d := time.Duration(n%1800) * time.Second
			if d == 0 {
				return
			}
			r.Header.Set(HeaderSDKDate, now.Add(d).Format(SDKDateFormat))
		case 7:
			a.Signature = data
			changed = data != baseAuth.Signature
		case 8:
			a.SignedHeaders = strings.Split(data, ";")
			changed = data != strings.Join(baseAuth.SignedHeaders, ";")
		case 9:
			// Any path: no oracle short of a second implementation; it
			// must merely not panic.
			r.URL.Path, r.URL.RawPath = data, ""
			Verify(r, body, a, testSK, now)
			return
		case 10:
			// An unsigned header never matters.
			if !validHeaderName(data) || slices.ContainsFunc(a.SignedHeaders, func(h string) bool { return strings.EqualFold(h, data) }) ||
				strings.EqualFold(data, HeaderSDKDate) || strings.EqualFold(data, HeaderSDKContentSHA256) {
				return
			}
			r.Header.Add(data, "fuzz")
			changed = false
		}
		err := Verify(r, body, a, testSK, now)
		if changed && err == nil {
			t.Fatalf("mutation %d with %q verified", kind%11, data)
		}
		if !changed && err != nil {
			t.Fatalf("mutation %d with %q changes nothing signed, yet Verify: %v", kind%11, data, err)
		}
	})
}

func sameQuery(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok || len(av) != len(bv) {
			return false
		}
		av, bv = slices.Clone(av), slices.Clone(bv)
		slices.Sort(av)
		slices.Sort(bv)
		if !slices.Equal(av, bv) {
			return false
		}
	}
	return true
}
