// Package secrets seals values the server keeps at rest (access-key secrets,
// its token-signing and presign keys) with a key-encryption key (KEK) that
// lives outside the database, so a dump or backup of the database yields
// nothing usable without the KEK file. It owns the KEK file's format and the
// sealed value's format; it knows nothing of tables or rows: callers name
// each value's identity (its row) as additional authenticated data, so a
// sealed value copied into another row does not open there.
package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// KeySize is the size of a KEK: AES-256.
const KeySize = 32

// prefix marks a sealed value and names its format: AES-256-GCM with a random
// 96-bit nonce, stored as base64(nonce || ciphertext || tag). A later format
// (another KEK, another cipher) gets another prefix, so stored values say how
// to open them and a rotation can proceed row by row.
const prefix = "v1:"

// ErrWrongKey reports a sealed value that does not open with this KEK: it
// was sealed with another KEK, for another row, or has been altered.
var ErrWrongKey = errors.New("does not decrypt with this key-encryption key (sealed with another key, or altered)")

// Box seals and opens values with one KEK. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
	id   string
}

// New returns a Box over a 32-byte KEK.
func New(kek []byte) (*Box, error) {
	if len(kek) != KeySize {
		return nil, fmt.Errorf("key-encryption key is %d bytes; want %d", len(kek), KeySize)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("atelier kek id\x00"), kek...))
	return &Box{aead: aead, id: hex.EncodeToString(sum[:4])}, nil
}

// Generate returns a Box over a fresh random KEK and the KEK itself.
func Generate() (*Box, []byte, error) {
	kek := make([]byte, KeySize)
	if _, err := rand.Read(kek); err != nil {
		return nil, nil, fmt.Errorf("generate key-encryption key: %w", err)
	}
	b, err := New(kek)
	return b, kek, err
}

// ID is a short fingerprint of the KEK (not derived in a way that helps
// guess it), for log lines and error messages that must tell keys apart.
func (b *Box) ID() string { return b.id }

// Sealed reports whether a stored value is in a sealed format (as opposed to
// a plaintext value written before values were sealed).
func Sealed(stored string) bool { return strings.HasPrefix(stored, prefix) }

// Seal encrypts plaintext for the row named by aad.
func (b *Box) Seal(aad string, plaintext []byte) string {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		// crypto/rand.Read never fails on supported platforms (it panics
		// itself since Go 1.24 rather than return an error).
		panic(fmt.Sprintf("secrets: read random nonce: %v", err))
	}
	out := b.aead.Seal(nonce, nonce, plaintext, []byte(aad))
	return prefix + base64.RawStdEncoding.EncodeToString(out)
}

// Open decrypts a value sealed for the row named by aad.
func (b *Box) Open(aad, stored string) ([]byte, error) {
	if !Sealed(stored) {
		return nil, errors.New("value is not sealed (no " + prefix + " prefix)")
	}
	raw, err := base64.RawStdEncoding.DecodeString(stored[len(prefix):])
	if err != nil || len(raw) < b.aead.NonceSize()+b.aead.Overhead() {
		return nil, errors.New("sealed value is malformed")
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return nil, ErrWrongKey
	}
	return pt, nil
}

// FileMode is the mode of a KEK file: readable by the server's user only.
const FileMode = 0o600

// LoadFile reads a KEK file (64 hex digits, surrounding white space
// ignored). A missing file is reported as fs.ErrNotExist.
func LoadFile(path string) (*Box, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key-encryption key file: %w", err)
	}
	kek, err := hex.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil || len(kek) != KeySize {
		return nil, fmt.Errorf("key-encryption key file %s must hold %d hex digits (%d random bytes)", path, 2*KeySize, KeySize)
	}
	return New(kek)
}

// CreateFile generates a KEK and writes it to path with mode 0600 whatever
// the umask. It never replaces an existing file: a KEK that sealed data must
// not be lost to a new one, so an existing path is fs.ErrExist.
func CreateFile(path string) (*Box, error) {
	b, kek, err := Generate()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return nil, fmt.Errorf("create key-encryption key file: %w", err)
	}
	werr := func() error {
		if err := f.Chmod(FileMode); err != nil {
			return err
		}
		if _, err := f.WriteString(hex.EncodeToString(kek) + "\n"); err != nil {
			return err
		}
		return f.Sync()
	}()
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		// A half-written KEK file would be read as a wrong key on the
		// next start; nothing has been sealed with it yet.
		os.Remove(path)
		return nil, fmt.Errorf("write key-encryption key file %s: %w", path, werr)
	}
	return b, nil
}

// IsNotExist reports whether err is a missing KEK file.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
