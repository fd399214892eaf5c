package obs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PresignPath is where PresignHandler is mounted and where the URLs a
// URLSigner makes point, below the signer's base URL.
const PresignPath = "/obs-presigned/"

// Query parameters of a presigned URL.
const (
	presignExpiresParam   = "X-Atelier-Expires"
	presignSignatureParam = "X-Atelier-Signature"
)

// Errors returned by URLSigner.Verify.
var (
	ErrSignatureInvalid = errors.New("presigned URL signature does not match")
	ErrSignatureExpired = errors.New("presigned URL has expired")
)

// URLSigner makes and checks the presigned GET URLs that Atelier serves
// itself (for the local store):
//
//	<baseURL>/obs-presigned/<bucket>/<escaped key>?X-Atelier-Expires=<unix seconds>&X-Atelier-Signature=<hex>
//
// where the signature is HMAC-SHA256 under the signer's key of
// "GET\n" + bucket + "\n" + key + "\n" + expires, with the key unescaped and
// expires exactly as it appears in the URL.
type URLSigner struct {
	baseURL string
	key     []byte
	now     func() time.Time
}

// NewURLSigner returns a signer for URLs under baseURL, an absolute URL
// such as "https://atelier.example.com" (a trailing "/" is dropped; a path
// prefix is kept). now is the clock, time.Now when nil. key must be secret
// and stable across restarts and replicas, or URLs handed out earlier stop
// working; NewURLSigner panics if it is empty, since every URL would then be
// forgeable.
func NewURLSigner(baseURL string, key []byte, now func() time.Time) *URLSigner {
	if len(key) == 0 {
		panic("obs: NewURLSigner: empty signing key")
	}
	if now == nil {
		now = time.Now
	}
	return &URLSigner{
		baseURL: strings.TrimSuffix(baseURL, "/"),
		key:     append([]byte(nil), key...),
		now:     now,
	}
}

// Sign returns a URL that lets its holder GET bucket/key for the duration
// expires from now. It does not validate bucket and key; Store.PresignGet
// does.
func (s *URLSigner) Sign(bucket, key string, expires time.Duration) string {
	exp := strconv.FormatInt(s.now().Add(expires).Unix(), 10)
	q := url.Values{
		presignExpiresParam:   {exp},
		presignSignatureParam: {hex.EncodeToString(s.mac(bucket, key, exp))},
	}
	return s.baseURL + PresignPath + url.PathEscape(bucket) + "/" + escapeKey(key) + "?" + q.Encode()
}

// Verify checks the expires and signature query values of a presigned URL
// for bucket/key: ErrSignatureInvalid if the signature is not the one Sign
// would make (compared in constant time), ErrSignatureExpired if it is but
// the expiry time has passed.
func (s *URLSigner) Verify(bucket, key, expires, signature string) error {
	got, err := hex.DecodeString(signature)
	if err != nil || !hmac.Equal(got, s.mac(bucket, key, expires)) {
		return fmt.Errorf("verify presigned URL for %s/%s: %w", bucket, key, ErrSignatureInvalid)
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		// Only a signer with a different encoding could have signed this.
		return fmt.Errorf("verify presigned URL for %s/%s: expiry %q: %w", bucket, key, expires, ErrSignatureInvalid)
	}
	if s.now().Unix() > exp {
		return fmt.Errorf("verify presigned URL for %s/%s: expired at %s: %w",
			bucket, key, time.Unix(exp, 0).UTC().Format(time.RFC3339), ErrSignatureExpired)
	}
	return nil
}

// mac signs the string to sign. It is unambiguous because valid bucket names
// and keys contain no newline (PresignHandler validates both before calling
// Verify).
func (s *URLSigner) mac(bucket, key, expires string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("GET\n" + bucket + "\n" + key + "\n" + expires))
	return m.Sum(nil)
}

// escapeKey escapes each "/"-separated segment of key for a URL path.
func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}
