package mailtest_test

import (
	"crypto/tls"
	"errors"
	"net/smtp"
	"net/textproto"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/mail/mailtest"
)

// The server is checked with the standard library's client, so that its
// behaviour does not rest on the sender it is used to test.

func dial(t *testing.T, srv *mailtest.Server) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatalf("dial %s: %v", srv.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func code(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

func TestAuthRequired(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{User: "u", Password: "p", TLS: true})
	c := dial(t, srv)
	if err := c.Mail("a@example.com"); code(err) != 502 {
		t.Fatalf("MAIL before AUTH: %v, want a 502 reply", err)
	}
	tlsConfig := &tls.Config{RootCAs: srv.RootCAs(), ServerName: "127.0.0.1"}
	if err := c.StartTLS(tlsConfig); err != nil {
		t.Fatalf("STARTTLS with RootCAs: %v", err)
	}
	if err := c.Auth(smtp.PlainAuth("", "u", "wrong", "127.0.0.1")); code(err) != 535 {
		t.Fatalf("AUTH with a wrong password: %v, want a 535 reply", err)
	}
	// net/smtp quits after a failed AUTH.
	c = dial(t, srv)
	if err := c.StartTLS(tlsConfig); err != nil {
		t.Fatalf("STARTTLS with RootCAs: %v", err)
	}
	if err := c.Auth(smtp.PlainAuth("", "u", "p", "127.0.0.1")); err != nil {
		t.Fatalf("AUTH: %v", err)
	}
	send(t, c, "a@example.com", "b@example.org", "Subject: hi\r\n\r\nbody\r\n")
	m := srv.WaitFor(t, 1, 5*time.Second)[0]
	if !m.TLS || m.AuthUser != "u" || m.Subject != "hi" || m.Text != "body\n" {
		t.Fatalf("recorded %+v, want TLS, user u, subject hi, text body", m)
	}
}

func TestRejectRecipientCountsDown(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	srv.RejectRecipient("Busy@Example.org", 451, 2)
	srv.RejectRecipient("gone@example.org", 550, 0)
	c := dial(t, srv)
	if err := c.Mail("a@example.com"); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{451, 451, 0} {
		if err := c.Rcpt("busy@example.org"); code(err) != want {
			t.Fatalf("RCPT busy@example.org attempt %d: %v, want reply %d", i+1, err, want)
		}
	}
	for i := range 3 {
		if err := c.Rcpt("gone@example.org"); code(err) != 550 {
			t.Fatalf("RCPT gone@example.org attempt %d: %v, want 550 every time", i+1, err)
		}
	}
	if n := srv.Attempts("busy@example.org"); n != 3 {
		t.Fatalf("Attempts = %d, want 3", n)
	}
}

func TestParsesMultipart(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	c := dial(t, srv)
	send(t, c, "a@example.com", "b@example.org", "Subject: =?UTF-8?q?caf=C3=A9?=\r\nTo: B <b@example.org>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/alternative; boundary=XX\r\n\r\n"+
		"--XX\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n"+
		"--XX\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+Y2Fmw6k8L3A+\r\n--XX--\r\n")
	m := srv.WaitFor(t, 1, 5*time.Second)[0]
	if m.ParseErr != nil {
		t.Fatal(m.ParseErr)
	}
	if m.Subject != "café" || m.HeaderTo != "B <b@example.org>" || m.Text != "café" || m.HTML != "<p>café</p>" {
		t.Fatalf("parsed subject %q, To %q, text %q, html %q", m.Subject, m.HeaderTo, m.Text, m.HTML)
	}
}

func send(t *testing.T, c *smtp.Client, from, to, data string) {
	t.Helper()
	if err := c.Mail(from); err != nil {
		t.Fatalf("MAIL: %v", err)
	}
	if err := c.Rcpt(to); err != nil {
		t.Fatalf("RCPT: %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	if _, err := w.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("end of DATA: %v", err)
	}
}
