package authn

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const sig64 = "55741b610f3c9fa3ae40b5a8021ebf7ebc2a28a603fc62d25cb3bfe6608e1994"

func TestParseAuthorization(t *testing.T) {
	for _, tc := range []struct {
		name    string
		header  string
		want    Authorization
		wantErr error
	}{
		{"sdk", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=user-agent;x-project-id;x-sdk-date, Signature=" + sig64,
			Authorization{AlgorithmHMACSHA256, "AK1", []string{"user-agent", "x-project-id", "x-sdk-date"}, sig64}, nil},
		{"no-spaces", "SDK-HMAC-SHA256 Access=AK1,SignedHeaders=x-sdk-date,Signature=" + sig64,
			Authorization{AlgorithmHMACSHA256, "AK1", []string{"x-sdk-date"}, sig64}, nil},
		{"extra-spaces", "  SDK-HMAC-SHA256   Access = AK1 ,\tSignedHeaders=host;x-sdk-date ,  Signature=" + sig64 + "  ",
			Authorization{AlgorithmHMACSHA256, "AK1", []string{"host", "x-sdk-date"}, sig64}, nil},
		{"credential-form", "SDK-HMAC-SHA256 Credential=ZIRRKMTWPTQFQI1WKNKB/20150907//ec2/sdk_request, SignedHeaders=content-type;host;x-sdk-date, Signature=" + sig64,
			Authorization{AlgorithmHMACSHA256, "ZIRRKMTWPTQFQI1WKNKB", []string{"content-type", "host", "x-sdk-date"}, sig64}, nil},
		{"reordered-and-unknown", "SDK-HMAC-SHA256 Signature=" + sig64 + ", Region=cn-north-4, access=AK1, signedheaders=x-sdk-date",
			Authorization{AlgorithmHMACSHA256, "AK1", []string{"x-sdk-date"}, sig64}, nil},
		{"empty-signed-headers", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=, Signature=" + sig64,
			Authorization{AlgorithmHMACSHA256, "AK1", nil, sig64}, nil},
		{"trailing-comma", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=x-sdk-date, Signature=" + sig64 + ",",
			Authorization{AlgorithmHMACSHA256, "AK1", []string{"x-sdk-date"}, sig64}, nil},

		{"empty", "", Authorization{}, ErrMissingAuth},
		{"blank", "   ", Authorization{}, ErrMissingAuth},
		{"bearer", "Bearer abc", Authorization{}, ErrUnsupportedAlgorithm},
		{"sm3", "SDK-HMAC-SM3 Access=AK1, SignedHeaders=x-sdk-date, Signature=" + sig64, Authorization{}, ErrUnsupportedAlgorithm},
		{"derived", "V11-HMAC-SHA256 Credential=AK1/20260101/cn-north-4/modelarts, SignedHeaders=x-sdk-date, Signature=" + sig64, Authorization{}, ErrUnsupportedAlgorithm},
		{"algorithm-lower-case", "sdk-hmac-sha256 Access=AK1, SignedHeaders=x-sdk-date, Signature=" + sig64, Authorization{}, ErrUnsupportedAlgorithm},
		{"algorithm-only", "SDK-HMAC-SHA256", Authorization{}, ErrMalformedAuth},
		{"no-access", "SDK-HMAC-SHA256 SignedHeaders=x-sdk-date, Signature=" + sig64, Authorization{}, ErrMalformedAuth},
		{"empty-access", "SDK-HMAC-SHA256 Access=, SignedHeaders=x-sdk-date, Signature=" + sig64, Authorization{}, ErrMalformedAuth},
		{"access-twice", "SDK-HMAC-SHA256 Access=A, Credential=B/x, SignedHeaders=x-sdk-date, Signature=" + sig64, Authorization{}, ErrMalformedAuth},
		{"access-too-long", "SDK-HMAC-SHA256 Access=" + strings.Repeat("A", 129) + ", SignedHeaders=x-sdk-date, Signature=" + sig64, Authorization{}, ErrMalformedAuth},
		{"no-signed-headers", "SDK-HMAC-SHA256 Access=AK1, Signature=" + sig64, Authorization{}, ErrMalformedAuth},
		{"signed-headers-twice", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=a, SignedHeaders=b, Signature=" + sig64, Authorization{}, ErrMalformedAuth},
		{"empty-header-name", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;;x-sdk-date, Signature=" + sig64, Authorization{}, ErrMalformedAuth},
		{"bad-header-name", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=ho st, Signature=" + sig64, Authorization{}, ErrMalformedAuth},
		{"too-many-headers", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=" + strings.Repeat("a;", 64) + "a, Signature=" + sig64, Authorization{}, ErrMalformedAuth},
		{"no-signature", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=x-sdk-date", Authorization{}, ErrMalformedAuth},
		{"signature-twice", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=x-sdk-date, Signature=" + sig64 + ", Signature=" + sig64, Authorization{}, ErrMalformedAuth},
		{"signature-short", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=x-sdk-date, Signature=" + sig64[:62], Authorization{}, ErrMalformedAuth},
		{"signature-upper-case", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=x-sdk-date, Signature=" + strings.ToUpper(sig64), Authorization{}, ErrMalformedAuth},
		{"signature-not-hex", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=x-sdk-date, Signature=" + strings.Repeat("g", 64), Authorization{}, ErrMalformedAuth},
		{"parameter-without-value", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders, Signature=" + sig64, Authorization{}, ErrMalformedAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAuthorization(tc.header)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ParseAuthorization: %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAuthorization: %v", err)
			}
			if got.Algorithm != tc.want.Algorithm || got.AccessKey != tc.want.AccessKey ||
				got.Signature != tc.want.Signature || !slices.Equal(got.SignedHeaders, tc.want.SignedHeaders) {
				t.Errorf("ParseAuthorization = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestErrorsAreDistinct checks the sentinels the HTTP layer maps.
func TestErrorsAreDistinct(t *testing.T) {
	if !errors.Is(ErrUnsupportedAlgorithm, ErrMalformedAuth) {
		t.Error("ErrUnsupportedAlgorithm is not an ErrMalformedAuth")
	}
	all := []error{ErrMissingAuth, ErrMalformedAuth, ErrSignatureMismatch, ErrRequestExpired, ErrTokenInvalid, ErrTokenExpired}
	for i, a := range all {
		for j, b := range all {
			if i != j && errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v)", a, b)
			}
		}
	}
}
