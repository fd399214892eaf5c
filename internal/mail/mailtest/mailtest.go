// Package mailtest owns an in-process SMTP server for tests: it listens on
// a loopback port, records every message it accepts, and can require AUTH
// PLAIN, offer STARTTLS with a certificate made at start, and reject
// recipients permanently or temporarily, so that senders and retries are
// tested against a real SMTP conversation.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configure a Server.
type Options struct {
	// User and Password, when User is set, make AUTH PLAIN required
	// before MAIL FROM.
	User     string
	Password string
	// TLS offers STARTTLS with a self-signed certificate for 127.0.0.1,
	// ::1 and localhost; RootCAs trusts it. Without TLS, AUTH is offered
	// on the plain connection (it is loopback).
	TLS bool
}

// Message is one message the server accepted.
type Message struct {
	// Envelope.
	From string
	To   []string
	// Data is the message as received, headers and body.
	Data []byte
	// TLS: the session had completed STARTTLS. AuthUser: who authenticated
	// ("" without AUTH).
	TLS      bool
	AuthUser string

	// Parsed from Data; ParseErr says why they are missing.
	Header   mail.Header
	Subject  string // decoded from its MIME encoded-words
	HeaderTo string
	Text     string // the text/plain part, decoded, line breaks as "\n"
	HTML     string // the text/html part, decoded, line breaks as "\n"
	ParseErr error
}

// Server is a running test SMTP server.
type Server struct {
	opts    Options
	smtp    *smtp.Server
	addr    string
	rootCAs *x509.CertPool

	mu       sync.Mutex
	messages []Message
	rejects  map[string]*reject
	attempts map[string]int
	changed  chan struct{} // closed and replaced on every accepted message
}

type reject struct {
	code  int
	times int // remaining rejections; < 0 for every attempt
}

// Start runs a server on a free loopback port until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, rejects: map[string]*reject{}, attempts: map[string]int{}, changed: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "mailtest.localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 50
	if opts.TLS {
		cert, pool, err := selfSigned()
		if err != nil {
			t.Fatalf("mailtest: make certificate: %v", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.rootCAs = pool
	} else {
		srv.AllowInsecureAuth = true
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s.smtp = srv
	s.addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("mailtest: serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// RootCAs trusts the server's certificate; nil without Options.TLS.
func (s *Server) RootCAs() *x509.CertPool { return s.rootCAs }

// Messages returns the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// WaitFor waits until at least n messages were accepted and returns them;
// the test fails if that takes longer than timeout.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := len(s.messages), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("mailtest: %d message(s) received within %v, want %d", got, timeout, n)
			return nil
		}
	}
}

// RejectRecipient makes RCPT TO addr fail with code (e.g. 550 for an
// unknown mailbox, 451 for a temporary failure) for the next times
// attempts, or for every attempt when times <= 0. Addresses compare
// case-insensitively.
func (s *Server) RejectRecipient(addr string, code, times int) {
	if code < 400 || code > 599 {
		panic(fmt.Sprintf("mailtest: rejection code %d is not a 4xx or 5xx reply", code))
	}
	if times <= 0 {
		times = -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejects[strings.ToLower(addr)] = &reject{code: code, times: times}
}

// Attempts is how many times RCPT TO named addr, accepted or not.
func (s *Server) Attempts(addr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[strings.ToLower(addr)]
}

func (s *Server) rcpt(to string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(to)
	s.attempts[key]++
	r := s.rejects[key]
	if r == nil || r.times == 0 {
		return nil
	}
	if r.times > 0 {
		r.times--
	}
	if r.code >= 500 {
		return &smtp.SMTPError{Code: r.code, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable: " + to}
	}
	return &smtp.SMTPError{Code: r.code, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "mailbox temporarily unavailable: " + to}
}

func (s *Server) record(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{srv: s, conn: c}, nil
}

// session is one SMTP session; go-smtp makes a new one after STARTTLS.
type session struct {
	srv      *Server
	conn     *smtp.Conn
	authUser string
	from     string
	to       []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.srv.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || ss.srv.opts.User == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, password string) error {
		if identity != "" && identity != user {
			return smtp.ErrAuthFailed
		}
		if user != ss.srv.opts.User || password != ss.srv.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.authUser = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.opts.User != "" && ss.authUser == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.srv.rcpt(to); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	m := Message{From: ss.from, To: append([]string(nil), ss.to...), Data: data, TLS: isTLS, AuthUser: ss.authUser}
	m.parse()
	ss.srv.record(m)
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }

// parse fills the parsed fields from Data without any mail library of the
// sender's, so that a test checks what any mail reader would see.
func (m *Message) parse() {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		m.ParseErr = fmt.Errorf("read message: %w", err)
		return
	}
	m.Header = msg.Header
	m.HeaderTo = msg.Header.Get("To")
	var dec mime.WordDecoder
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		m.ParseErr = fmt.Errorf("decode subject: %w", err)
		return
	}
	if err := m.parsePart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		m.ParseErr = err
	}
}

func (m *Message) parsePart(contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart %s: %w", mediaType, err)
			}
			if err := m.parsePart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("%s body: %w", mediaType, err)
	}
	// SMTP carries CRLF; tests compare with the "\n" they sent.
	decoded := strings.ReplaceAll(string(text), "\r\n", "\n")
	switch mediaType {
	case "text/plain":
		m.Text = decoded
	case "text/html":
		m.HTML = decoded
	}
	return nil
}

// selfSigned makes a certificate for the loopback names and a pool
// trusting it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
