package mail

import (
	"errors"
	"testing"

	gosmtp "github.com/wneessen/go-mail/smtp"
)

func TestCheckAuthTransport(t *testing.T) {
	tests := []struct {
		host      string
		encrypted bool
		wantRefus bool
	}{
		{"smtp.example.com", true, false},
		{"smtp.example.com", false, true},
		{"192.0.2.10", false, true},
		{"2001:db8::1", false, true},
		{"localhost.example.com", false, true},
		{"localhost", false, false},
		{"LOCALHOST", false, false},
		{"127.0.0.1", false, false},
		{"127.0.0.53", false, false},
		{"::1", false, false},
	}
	for _, tc := range tests {
		err := checkAuthTransport(tc.host, tc.encrypted)
		if refused := err != nil; refused != tc.wantRefus {
			t.Errorf("checkAuthTransport(%q, encrypted=%v) = %v, want refused %v", tc.host, tc.encrypted, err, tc.wantRefus)
		}
		if err != nil && !errors.Is(err, ErrPlaintextAuth) {
			t.Errorf("refusal %v does not wrap ErrPlaintextAuth", err)
		}
	}
}

// The guard runs before any mechanism produces credentials: a refused
// Start returns no bytes to send.
func TestGuardedAuthRefusesBeforeCredentials(t *testing.T) {
	a := &guardedAuth{host: "smtp.example.com", user: "u", password: "hunter2"}
	mech, resp, err := a.Start(&gosmtp.ServerInfo{Name: "smtp.example.com", TLS: false, Auth: []string{"PLAIN", "LOGIN"}})
	if err == nil || mech != "" || resp != nil {
		t.Fatalf("Start over plaintext to a remote host = (%q, %q, %v), want a refusal and nothing to send", mech, resp, err)
	}
	if !Permanent(err) || !errors.Is(err, ErrPlaintextAuth) {
		t.Fatalf("refusal %v is not a permanent ErrPlaintextAuth", err)
	}
	mech, _, err = a.Start(&gosmtp.ServerInfo{Name: "smtp.example.com", TLS: true, Auth: []string{"LOGIN"}})
	if err != nil || mech != "LOGIN" {
		t.Fatalf("Start over TLS offering LOGIN = (%q, %v), want LOGIN", mech, err)
	}
	_, _, err = a.Start(&gosmtp.ServerInfo{Name: "smtp.example.com", TLS: true, Auth: []string{"GSSAPI"}})
	if err == nil || !Permanent(err) {
		t.Fatalf("Start with no usable mechanism = %v, want a permanent error", err)
	}
}
