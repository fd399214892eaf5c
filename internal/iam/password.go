package iam

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Passwords are stored as argon2id hashes in the PHC string format with the
// OWASP-recommended minimum cost (19 MiB, 2 passes, 1 lane).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

func hashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generate salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

func checkPassword(hash, password string) bool {
	h, ok := decodeHash(hash)
	if !ok {
		return false
	}
	got := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// argonHash is a decoded PHC string.
type argonHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func decodeHash(hash string) (argonHash, bool) {
	var h argonHash
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return h, false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return h, false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &h.threads); err != nil {
		return h, false
	}
	enc := base64.RawStdEncoding
	var err error
	if h.salt, err = enc.DecodeString(parts[4]); err != nil {
		return h, false
	}
	if h.key, err = enc.DecodeString(parts[5]); err != nil {
		return h, false
	}
	return h, true
}

// dummyHash is verified in place of a real hash when a login names a user
// that does not exist, has no password or belongs to no known account, so
// that such a login costs exactly what a wrong password costs and timing
// tells nothing about which names exist. It has the cost parameters of
// every stored hash; no password matches its all-zero key.
var dummyHash = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
	base64.RawStdEncoding.EncodeToString(make([]byte, 16)), base64.RawStdEncoding.EncodeToString(make([]byte, argonKeyLen)))

// validatePassword applies Huawei IAM's default password policy: 8–32
// characters with at least two of uppercase, lowercase, digits and special
// characters, and not the user name or its reverse.
func validatePassword(password, userName string) error {
	if n := len(password); n < 8 || n > 32 {
		return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "password must be 8 to 32 characters"}
	}
	var upper, lower, digit, special bool
	for _, r := range password {
		switch {
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= '0' && r <= '9':
			digit = true
		case r > ' ' && r < 0x7f:
			special = true
		default:
			return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "password may contain only printable ASCII characters without spaces"}
		}
	}
	kinds := 0
	for _, b := range []bool{upper, lower, digit, special} {
		if b {
			kinds++
		}
	}
	if kinds < 2 {
		return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "password must contain at least two of: uppercase letters, lowercase letters, digits, special characters"}
	}
	if userName != "" && (password == userName || password == reverse(userName)) {
		return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "password must not be the user name or the user name reversed"}
	}
	return nil
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// generatePassword returns a random password that satisfies validatePassword.
func generatePassword() (string, error) {
	const lower, upper, digits, special = "abcdefghijkmnpqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789", "-_.!@#%"
	all := lower + upper + digits + special
	out := make([]byte, 20)
	sets := []string{lower, upper, digits, special}
	for i := range out {
		set := all
		if i < len(sets) {
			set = sets[i]
		}
		c, err := randIndex(len(set))
		if err != nil {
			return "", err
		}
		out[i] = set[c]
	}
	return string(out), nil
}

func randIndex(n int) (int, error) {
	var b [1]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("read random: %w", err)
		}
		if int(b[0]) < 256-256%n {
			return int(b[0]) % n, nil
		}
	}
}

// randomString returns n characters from alphabet, uniformly.
func randomString(alphabet string, n int) (string, error) {
	out := make([]byte, n)
	for i := range out {
		c, err := randIndex(len(alphabet))
		if err != nil {
			return "", err
		}
		out[i] = alphabet[c]
	}
	return string(out), nil
}
