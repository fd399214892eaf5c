package secrets

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestSealOpen(t *testing.T) {
	box, _, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	const secret = "K7hQ2mZp9XvR4tLw8sYc1NbG6dFj3eAu0iOkVnMq"
	sealed := box.Seal("credentials/AKIA1", []byte(secret))
	if !Sealed(sealed) || strings.Contains(sealed, secret) {
		t.Fatalf("Seal = %q; want a v1: value without the plaintext", sealed)
	}
	if again := box.Seal("credentials/AKIA1", []byte(secret)); again == sealed {
		t.Errorf("two seals of the same value are identical (%q): the nonce is not random", sealed)
	}
	got, err := box.Open("credentials/AKIA1", sealed)
	if err != nil || string(got) != secret {
		t.Fatalf("Open = %q, %v; want the secret back", got, err)
	}
	flipped := []byte(sealed)
	flipped[len(flipped)-3] ^= 'A' ^ 'B'
	tests := []struct {
		name   string
		box    *Box
		aad    string
		stored string
	}{
		{"value-moved-to-another-row", box, "credentials/AKIA2", sealed},
		{"another-kek", other, "credentials/AKIA1", sealed},
		{"altered", box, "credentials/AKIA1", string(flipped)},
		{"plaintext", box, "credentials/AKIA1", secret},
		{"truncated", box, "credentials/AKIA1", sealed[:10]},
		{"not-base64", box, "credentials/AKIA1", "v1:!!!!"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := tc.box.Open(tc.aad, tc.stored); err == nil {
				t.Fatalf("Open(%q, %q) = %q; want an error", tc.aad, tc.stored, got)
			}
		})
	}
	if _, err := other.Open("credentials/AKIA1", sealed); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Open with another KEK: %v; want ErrWrongKey", err)
	}
	if box.ID() == other.ID() || len(box.ID()) != 8 {
		t.Errorf("IDs %q and %q: want 8 hex digits that differ between keys", box.ID(), other.ID())
	}
}

func TestKeyFile(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })

	path := filepath.Join(t.TempDir(), "secrets.key")
	if _, err := LoadFile(path); !IsNotExist(err) {
		t.Fatalf("LoadFile of a missing file: %v; want fs.ErrNotExist", err)
	}
	created, err := CreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode under umask 0 = %o; want 600", mode)
	}
	loaded, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed := created.Seal("server_secrets/presign-key", []byte("k"))
	if got, err := loaded.Open("server_secrets/presign-key", sealed); err != nil || string(got) != "k" {
		t.Errorf("a value sealed with the created key does not open with the loaded one: %q, %v", got, err)
	}
	if _, err := CreateFile(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateFile over an existing key file: %v; want fs.ErrExist (a KEK is never replaced)", err)
	}
	for name, content := range map[string]string{"short": "abcd\n", "not-hex": strings.Repeat("zz", KeySize), "empty": ""} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "k")
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadFile(p); err == nil || !strings.Contains(err.Error(), "hex digits") {
				t.Errorf("LoadFile(%q) = %v; want an error naming the expected format", content, err)
			}
		})
	}
}

// BenchmarkOpen is the cost a credential pays once, when it is loaded into
// the identity cache (not per request).
func BenchmarkOpen(b *testing.B) {
	box, _, err := Generate()
	if err != nil {
		b.Fatal(err)
	}
	sealed := box.Seal("credentials/AKIA1", []byte("K7hQ2mZp9XvR4tLw8sYc1NbG6dFj3eAu0iOkVnMq"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := box.Open("credentials/AKIA1", sealed); err != nil {
			b.Fatal(err)
		}
	}
}
