package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/mail"
	"github.com/atelier-dev/atelier/internal/mail/mailtest"
)

const from = "Atelier <atelier@example.com>"

func newSender(t *testing.T, srv *mailtest.Server, user, password string) *mail.Sender {
	t.Helper()
	var opts []mail.Option
	if ca := srv.RootCAs(); ca != nil {
		opts = append(opts, mail.WithTLSConfig(&tls.Config{RootCAs: ca}))
	}
	opts = append(opts, mail.WithTimeout(5*time.Second))
	s, err := mail.NewSender(mail.Config{Addr: srv.Addr(), User: user, Password: password, From: from}, opts...)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	return s
}

func TestSendDelivers(t *testing.T) {
	tests := []struct {
		name     string
		opts     mailtest.Options
		user     string
		password string
		wantTLS  bool
	}{
		{name: "plain", opts: mailtest.Options{}},
		{name: "starttls-offered-is-used", opts: mailtest.Options{TLS: true}, wantTLS: true},
		{name: "auth-over-starttls", opts: mailtest.Options{TLS: true, User: "relay", Password: "s3cret"}, user: "relay", password: "s3cret", wantTLS: true},
		{name: "auth-plaintext-to-loopback", opts: mailtest.Options{User: "relay", Password: "s3cret"}, user: "relay", password: "s3cret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.Start(t, tc.opts)
			s := newSender(t, srv, tc.user, tc.password)
			msg := mail.Message{
				To:      "Zoë Labeler <zoe@example.org>",
				Subject: "Nouvelle tâche d'étiquetage: « chats » ✓",
				Text:    "Bonjour Zoë,\nune tâche vous attend: 12 images à étiqueter.\n",
				HTML:    "<p>Bonjour Zoë, une tâche vous attend.</p>",
			}
			before := time.Now().Add(-time.Second)
			if err := s.Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.WaitFor(t, 1, 5*time.Second)
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1", len(got))
			}
			m := got[0]
			if m.ParseErr != nil {
				t.Fatalf("received message does not parse: %v\n%s", m.ParseErr, m.Data)
			}
			if m.From != "atelier@example.com" || len(m.To) != 1 || m.To[0] != "zoe@example.org" {
				t.Errorf("envelope from %q to %q, want atelier@example.com to [zoe@example.org]", m.From, m.To)
			}
			if m.TLS != tc.wantTLS {
				t.Errorf("session TLS = %v, want %v", m.TLS, tc.wantTLS)
			}
			if m.AuthUser != tc.user {
				t.Errorf("authenticated as %q, want %q", m.AuthUser, tc.user)
			}
			if m.Subject != msg.Subject {
				t.Errorf("Subject %q, want %q", m.Subject, msg.Subject)
			}
			if m.Text != msg.Text {
				t.Errorf("text body %q, want %q", m.Text, msg.Text)
			}
			if m.HTML != msg.HTML {
				t.Errorf("HTML body %q, want %q", m.HTML, msg.HTML)
			}
			to, err := m.Header.AddressList("To")
			if err != nil || len(to) != 1 || to[0].Address != "zoe@example.org" || to[0].Name != "Zoë Labeler" {
				t.Errorf("To header %q parses as %v (%v), want Zoë Labeler <zoe@example.org>", m.HeaderTo, to, err)
			}
			fromHdr, err := m.Header.AddressList("From")
			if err != nil || len(fromHdr) != 1 || fromHdr[0].Address != "atelier@example.com" {
				t.Errorf("From header %q parses as %v (%v)", m.Header.Get("From"), fromHdr, err)
			}
			date, err := m.Header.Date()
			if err != nil || date.Before(before) || date.After(time.Now().Add(time.Second)) {
				t.Errorf("Date header %q (%v) is not the time of sending", m.Header.Get("Date"), err)
			}
			if id := m.Header.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
				t.Errorf("Message-ID %q, want <…@example.com>", id)
			}
			if !strings.Contains(strings.ToLower(string(m.Data)), "charset=utf-8") {
				t.Errorf("no UTF-8 charset declared in:\n%s", m.Data)
			}
		})
	}
}

func TestMessageIDsDiffer(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	s := newSender(t, srv, "", "")
	for range 2 {
		if err := s.Send(context.Background(), mail.Message{To: "a@example.org", Subject: "x", Text: "y"}); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	got := srv.WaitFor(t, 2, 5*time.Second)
	if a, b := got[0].Header.Get("Message-Id"), got[1].Header.Get("Message-Id"); a == b {
		t.Fatalf("two messages share Message-ID %q", a)
	}
}

func TestWrongPasswordIsPermanent(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: true, User: "relay", Password: "s3cret"})
	s := newSender(t, srv, "relay", "guess")
	err := s.SendWithRetry(context.Background(), mail.Message{To: "a@example.org", Subject: "x", Text: "y"}, 3, func(int) time.Duration { return time.Millisecond })
	if err == nil {
		t.Fatal("Send with a wrong password succeeded")
	}
	if !mail.Permanent(err) {
		t.Fatalf("wrong password classified temporary: %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server accepted %d messages", n)
	}
}

func TestRecipientRejections(t *testing.T) {
	msg := mail.Message{To: "member@example.org", Subject: "task", Text: "body"}
	fast := func(int) time.Duration { return time.Millisecond }
	tests := []struct {
		name         string
		code, times  int
		attempts     int
		wantErr      bool
		wantPerm     bool
		wantAttempts int
		wantMessages int
	}{
		{name: "451-twice-then-accepted", code: 451, times: 2, attempts: 3, wantAttempts: 3, wantMessages: 1},
		{name: "451-outlasts-attempts", code: 451, times: 5, attempts: 3, wantErr: true, wantAttempts: 3},
		{name: "550-not-retried", code: 550, times: 0, attempts: 3, wantErr: true, wantPerm: true, wantAttempts: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.Start(t, mailtest.Options{})
			srv.RejectRecipient(msg.To, tc.code, tc.times)
			s := newSender(t, srv, "", "")
			err := s.SendWithRetry(context.Background(), msg, tc.attempts, fast)
			if (err != nil) != tc.wantErr {
				t.Fatalf("SendWithRetry error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && mail.Permanent(err) != tc.wantPerm {
				t.Errorf("Permanent(%v) = %v, want %v", err, mail.Permanent(err), tc.wantPerm)
			}
			if n := srv.Attempts(msg.To); n != tc.wantAttempts {
				t.Errorf("server saw %d RCPT attempts, want %d", n, tc.wantAttempts)
			}
			if n := len(srv.Messages()); n != tc.wantMessages {
				t.Errorf("server accepted %d messages, want %d", n, tc.wantMessages)
			}
		})
	}
}

func TestSingleSendClassifiesReplies(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	srv.RejectRecipient("temp@example.org", 451, 0)
	srv.RejectRecipient("gone@example.org", 550, 0)
	s := newSender(t, srv, "", "")
	for _, tc := range []struct {
		to   string
		perm bool
	}{{"temp@example.org", false}, {"gone@example.org", true}} {
		err := s.Send(context.Background(), mail.Message{To: tc.to, Subject: "x", Text: "y"})
		if err == nil {
			t.Fatalf("Send to rejected %s succeeded", tc.to)
		}
		if mail.Permanent(err) != tc.perm {
			t.Errorf("Send to %s: Permanent(%v) = %v, want %v", tc.to, err, !tc.perm, tc.perm)
		}
	}
}

func TestConnectionRefusedIsTemporary(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	s, err := mail.NewSender(mail.Config{Addr: addr, From: from})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), mail.Message{To: "a@example.org", Subject: "x", Text: "y"})
	if err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
	if mail.Permanent(err) {
		t.Fatalf("refused connection classified permanent: %v", err)
	}
}

func TestUntrustedCertificateIsPermanent(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: true})
	// No RootCAs: the self-signed certificate cannot verify.
	s, err := mail.NewSender(mail.Config{Addr: srv.Addr(), From: from})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), mail.Message{To: "a@example.org", Subject: "x", Text: "y"})
	if err == nil {
		t.Fatal("Send over STARTTLS with an untrusted certificate succeeded")
	}
	if !mail.Permanent(err) {
		t.Fatalf("certificate failure classified temporary: %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server accepted %d messages despite the failed handshake", n)
	}
}

func TestCancelDuringBackoffReturnsPromptly(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	srv.RejectRecipient("member@example.org", 451, 0)
	s := newSender(t, srv, "", "")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := s.SendWithRetry(ctx, mail.Message{To: "member@example.org", Subject: "x", Text: "y"}, 5, func(int) time.Duration { return time.Hour })
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("SendWithRetry returned %v after cancellation, want promptly", elapsed)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v does not say the context was cancelled", err)
	}
	if n := srv.Attempts("member@example.org"); n != 1 {
		t.Fatalf("server saw %d attempts, want 1 (cancelled during the first wait)", n)
	}
}

// A server that accepts the connection but never answers must not hold a
// cancelled Send until the command timeout.
func TestCancelDuringStalledConversation(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent: no greeting
		}
	}()
	s, err := mail.NewSender(mail.Config{Addr: l.Addr().String(), From: from}, mail.WithTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Send(ctx, mail.Message{To: "a@example.org", Subject: "x", Text: "y"})
	if err == nil {
		t.Fatal("Send to a silent server succeeded")
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("Send returned %v after its context ended, want promptly", elapsed)
	}
	if mail.Permanent(err) {
		t.Fatalf("a stalled server classified permanent: %v", err)
	}
}

func TestHeaderInjectionRejected(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	s := newSender(t, srv, "", "")
	tests := []struct {
		name string
		msg  mail.Message
	}{
		{name: "subject-crlf", msg: mail.Message{To: "a@example.org", Subject: "Hello\r\nBcc: victim@example.net", Text: "x"}},
		{name: "subject-lf", msg: mail.Message{To: "a@example.org", Subject: "Hello\nBcc: victim@example.net", Text: "x"}},
		{name: "subject-cr", msg: mail.Message{To: "a@example.org", Subject: "Hello\rBcc: victim@example.net", Text: "x"}},
		{name: "to-crlf", msg: mail.Message{To: "a@example.org\r\nBcc: victim@example.net", Subject: "Hello", Text: "x"}},
		{name: "to-name-lf", msg: mail.Message{To: "\"A\nBcc: victim@example.net\" <a@example.org>", Subject: "Hello", Text: "x"}},
		{name: "to-two-addresses", msg: mail.Message{To: "a@example.org, victim@example.net", Subject: "Hello", Text: "x"}},
		{name: "to-not-an-address", msg: mail.Message{To: "not an address", Subject: "Hello", Text: "x"}},
		{name: "no-body", msg: mail.Message{To: "a@example.org", Subject: "Hello"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Send(context.Background(), tc.msg)
			if !errors.Is(err, mail.ErrInvalidMessage) {
				t.Fatalf("Send(%q) error = %v, want ErrInvalidMessage", tc.msg, err)
			}
			if !mail.Permanent(err) {
				t.Errorf("invalid message classified temporary: %v", err)
			}
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server received %d messages from rejected input:\n%s", n, srv.Messages()[0].Data)
	}
	if n := srv.Attempts("victim@example.net"); n != 0 {
		t.Fatalf("injected recipient got %d RCPT attempts", n)
	}
}

// A subject with non-ASCII text and characters that resemble header syntax
// stays one header after encoding.
func TestSubjectStaysOneHeader(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	s := newSender(t, srv, "", "")
	subject := "Re: Bcc: x@example.net – 标注任务 =?utf-8?q?fake?= " + strings.Repeat("long ", 30)
	if err := s.Send(context.Background(), mail.Message{To: "a@example.org", Subject: subject, Text: "x"}); err != nil {
		t.Fatal(err)
	}
	m := srv.WaitFor(t, 1, 5*time.Second)[0]
	if m.ParseErr != nil {
		t.Fatal(m.ParseErr)
	}
	if got := m.Header["Bcc"]; got != nil {
		t.Fatalf("a Bcc header appeared: %q", got)
	}
	if m.Subject != subject {
		t.Errorf("Subject %q, want %q", m.Subject, subject)
	}
}

func TestNewSenderValidates(t *testing.T) {
	tests := []struct {
		name    string
		cfg     mail.Config
		wantErr string
	}{
		{name: "ok", cfg: mail.Config{Addr: "smtp.example.com:587", From: "atelier@example.com"}},
		{name: "ok-with-name-and-auth", cfg: mail.Config{Addr: "[::1]:25", From: "Atelier <atelier@example.com>", User: "u", Password: "p", HELO: "atelier.example.com"}},
		{name: "no-port", cfg: mail.Config{Addr: "smtp.example.com", From: "atelier@example.com"}, wantErr: "host:port"},
		{name: "no-host", cfg: mail.Config{Addr: ":25", From: "atelier@example.com"}, wantErr: "host:port"},
		{name: "bad-port", cfg: mail.Config{Addr: "smtp.example.com:0", From: "atelier@example.com"}, wantErr: "port"},
		{name: "no-from", cfg: mail.Config{Addr: "smtp.example.com:25"}, wantErr: "sender address"},
		{name: "bad-from", cfg: mail.Config{Addr: "smtp.example.com:25", From: "atelier"}, wantErr: "sender address"},
		{name: "from-line-break", cfg: mail.Config{Addr: "smtp.example.com:25", From: "a@example.com\r\nBcc: b@example.com"}, wantErr: "line break"},
		{name: "user-without-password", cfg: mail.Config{Addr: "smtp.example.com:25", From: "a@example.com", User: "u"}, wantErr: "no password"},
		{name: "password-without-user", cfg: mail.Config{Addr: "smtp.example.com:25", From: "a@example.com", Password: "p"}, wantErr: "without a user"},
		{name: "bad-helo", cfg: mail.Config{Addr: "smtp.example.com:25", From: "a@example.com", HELO: "a b"}, wantErr: "HELO"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mail.NewSender(tc.cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("NewSender(%+v): %v", tc.cfg, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("NewSender(%+v) error = %v, want one mentioning %q", tc.cfg, err, tc.wantErr)
			}
		})
	}
	if (mail.Config{}).Enabled() || !(mail.Config{Addr: "x:25"}).Enabled() {
		t.Error("Enabled does not follow Addr")
	}
}

func TestExponentialBackoff(t *testing.T) {
	b := mail.ExponentialBackoff(100*time.Millisecond, time.Second)
	for _, tc := range []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 200 * time.Millisecond, 400 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, 500 * time.Millisecond, time.Second},
		{60, 500 * time.Millisecond, time.Second},
		{1000, 500 * time.Millisecond, time.Second},
	} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := b(tc.attempt)
			if d < tc.min || d > tc.max {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tc.attempt, d, tc.min, tc.max)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("backoff(%d) has no jitter: always %v", tc.attempt, b(tc.attempt))
		}
	}
}

func TestPermanentOfPlainErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("something odd"), false},
		{context.DeadlineExceeded, false},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
		{mail.ErrInvalidMessage, true},
		{mail.ErrPlaintextAuth, true},
	} {
		if got := mail.Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
