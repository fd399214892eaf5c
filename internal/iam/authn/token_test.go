package authn

import (
	"bytes"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef-token-key")
	otherKey = []byte("fedcba9876543210fedcba9876543210-other-key")
	issuedAt = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
)

func testClaims() Claims {
	return Claims{
		UserID:          "c2a6f3e0b9d84c0e8f0a1b2c3d4e5f60",
		DomainID:        "d78cbac186b744899480f25bd022f468",
		ProjectID:       projectID,
		Methods:         []string{"password"},
		IssuedAt:        issuedAt,
		ExpiresAt:       issuedAt.Add(24 * time.Hour),
		CredentialEpoch: 7,
		ID:              "5f1d6a0c9e8b4a3f2c1b0a9d8e7f6a5b",
	}
}

func newTestCodec(t testing.TB, key []byte) *Codec {
	t.Helper()
	c, err := NewCodec(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func equalClaims(a, b Claims) bool {
	return a.UserID == b.UserID && a.DomainID == b.DomainID && a.ProjectID == b.ProjectID &&
		slices.Equal(a.Methods, b.Methods) && a.IssuedAt.Equal(b.IssuedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.CredentialEpoch == b.CredentialEpoch && a.ID == b.ID
}

func TestTokenRoundTrip(t *testing.T) {
	c := newTestCodec(t, testKey)
	domainScoped := testClaims()
	domainScoped.ProjectID = ""
	many := testClaims()
	many.Methods = []string{"password", "token", "totp"}
	many.CredentialEpoch = -1
	many.UserID = strings.Repeat("ü", 127)
	none := testClaims()
	none.Methods = nil
	for name, cl := range map[string]Claims{"project": testClaims(), "domain": domainScoped, "many": many, "no-methods": none} {
		t.Run(name, func(t *testing.T) {
			tok, err := c.Issue(cl)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tok, TokenPrefix) || !regexp.MustCompile(`^[A-Za-z0-9_.-]+$`).MatchString(tok) {
				t.Errorf("token %q is not URL-safe with prefix %q", tok, TokenPrefix)
			}
			got, err := c.Verify(tok, issuedAt.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if !equalClaims(got, cl) {
				t.Errorf("Verify = %+v, want %+v", got, cl)
			}
			if got.ExpiresAt.Location() != time.UTC {
				t.Errorf("ExpiresAt in %v, want UTC", got.ExpiresAt.Location())
			}
		})
	}
}

func TestTokenIssueGeneratesID(t *testing.T) {
	c := newTestCodec(t, testKey)
	cl := testClaims()
	cl.ID = ""
	t1, _ := c.Issue(cl)
	t2, _ := c.Issue(cl)
	g1, err1 := c.Verify(t1, issuedAt)
	g2, err2 := c.Verify(t2, issuedAt)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(g1.ID) || g1.ID == g2.ID {
		t.Errorf("generated ids %q, %q: want distinct 32 hex digits", g1.ID, g2.ID)
	}
}

func TestTokenVerifyRejects(t *testing.T) {
	c := newTestCodec(t, testKey)
	tok, err := c.Issue(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	now := issuedAt.Add(time.Hour)
	payloadEnd := strings.LastIndexByte(tok, '.')
	otherClaims := testClaims()
	otherClaims.UserID = "admin"
	other, _ := newTestCodec(t, otherKey).Issue(otherClaims)

	for _, tc := range []struct {
		name, token string
	}{
		{"empty", ""},
		{"prefix-only", TokenPrefix},
		{"wrong-prefix", "MIIatelier2." + tok[len(TokenPrefix):]},
		{"no-prefix", tok[len(TokenPrefix):]},
		{"pki-looking", "MIIDXAYJKoZIhvcNAQcCoIIDTTCCA0kCAQExDTALBglghkgBZQMEAgEwggG"},
		{"other-key", other},
		{"mac-removed", tok[:payloadEnd]},
		{"mac-empty", tok[:payloadEnd+1]},
		{"mac-of-payload-only", tok[:payloadEnd] + "." + strings.Repeat("A", macB64Len)},
		{"extra-dot", tok[:payloadEnd] + ".." + tok[payloadEnd+1:]},
		{"trailing-data", tok + "A"},
		{"trailing-newline", tok + "\n"},
		{"payload-swapped", TokenPrefix + other[len(TokenPrefix):strings.LastIndexByte(other, '.')] + tok[payloadEnd:]},
		{"too-long", TokenPrefix + strings.Repeat("A", maxTokenLen)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Verify(tc.token, now); !errors.Is(err, ErrTokenInvalid) {
				t.Errorf("Verify: %v, want ErrTokenInvalid", err)
			}
		})
	}

	// Every single-character change and every truncation is caught,
	// including the malleable trailing bits of the base64 MAC.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
	for i := range len(tok) {
		for _, ch := range []byte(alphabet) {
			if tok[i] == ch {
				continue
			}
			mut := tok[:i] + string(ch) + tok[i+1:]
			if _, err := c.Verify(mut, now); !errors.Is(err, ErrTokenInvalid) {
				t.Fatalf("token with byte %d changed to %q: Verify = %v, want ErrTokenInvalid", i, ch, err)
			}
		}
		if _, err := c.Verify(tok[:i], now); !errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("token truncated to %d bytes: Verify = %v, want ErrTokenInvalid", i, err)
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	c := newTestCodec(t, testKey)
	cl := testClaims()
	tok, _ := c.Issue(cl)
	for _, tc := range []struct {
		name string
		now  time.Time
		want error
	}{
		{"just-issued", cl.IssuedAt, nil},
		{"before-expiry", cl.ExpiresAt.Add(-time.Microsecond), nil},
		{"at-expiry", cl.ExpiresAt, ErrTokenExpired},
		{"after-expiry", cl.ExpiresAt.Add(time.Hour), ErrTokenExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Verify(tok, tc.now)
			if (tc.want == nil) != (err == nil) || !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			if !equalClaims(got, cl) {
				t.Errorf("claims %+v, want %+v even when expired", got, cl)
			}
		})
	}
}

func TestNewCodec(t *testing.T) {
	if _, err := NewCodec(make([]byte, 31)); err == nil {
		t.Error("NewCodec accepted a 31-byte key")
	}
	if _, err := NewCodec(nil); err == nil {
		t.Error("NewCodec accepted no key")
	}
	key := bytes.Clone(testKey)
	c := newTestCodec(t, key)
	tok, _ := c.Issue(testClaims())
	key[0] ^= 1 // the codec keeps its own copy
	if _, err := c.Verify(tok, issuedAt); err != nil {
		t.Errorf("Verify after the caller's key slice changed: %v", err)
	}
}

func TestTokenIssueValidates(t *testing.T) {
	c := newTestCodec(t, testKey)
	for name, mutate := range map[string]func(*Claims){
		"no-user":          func(cl *Claims) { cl.UserID = "" },
		"no-domain":        func(cl *Claims) { cl.DomainID = "" },
		"expires-first":    func(cl *Claims) { cl.ExpiresAt = cl.IssuedAt },
		"zero-issued":      func(cl *Claims) { cl.IssuedAt = time.Time{} },
		"far-future":       func(cl *Claims) { cl.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"long-project":     func(cl *Claims) { cl.ProjectID = strings.Repeat("p", 256) },
		"empty-method":     func(cl *Claims) { cl.Methods = []string{""} },
		"too-many-methods": func(cl *Claims) { cl.Methods = make([]string, 9) },
	} {
		t.Run(name, func(t *testing.T) {
			cl := testClaims()
			mutate(&cl)
			if tok, err := c.Issue(cl); err == nil {
				t.Errorf("Issue(%+v) = %q, want an error", cl, tok)
			}
		})
	}
}

// FuzzTokenVerify: nothing panics; no string but a token the codec issued
// verifies; and any payload that was signed decodes safely.
func FuzzTokenVerify(f *testing.F) {
	c := newTestCodec(f, testKey)
	valid, err := c.Issue(testClaims())
	if err != nil {
		f.Fatal(err)
	}
	now := issuedAt.Add(time.Hour)
	f.Add(valid)
	f.Add(TokenPrefix)
	f.Add(TokenPrefix + "." + strings.Repeat("A", macB64Len))
	f.Add(valid[:len(valid)-1] + "B")
	f.Add("MIIatelier1.AAAA.AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := c.Verify(s, now); err == nil && s != valid {
			t.Fatalf("Verify accepted %q", s)
		}
		// The same bytes as a signed payload exercise the claims decoder.
		if cl, ok := decodeClaims([]byte(s)); ok {
			if len(cl.Methods) > maxMethods || len(cl.UserID) > maxClaimString {
				t.Fatalf("decodeClaims exceeded its limits: %+v", cl)
			}
		}
	})
}
