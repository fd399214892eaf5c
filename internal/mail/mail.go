// Package mail owns sending e-mail over SMTP: composing a notification
// (headers, UTF-8 bodies), delivering it through the configured server with
// STARTTLS when offered and SMTP AUTH when configured, and telling a
// permanent failure (5xx, bad address) from a temporary one (4xx, network)
// so that callers retry only what can succeed later.
package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// Config names the SMTP server and the sender.
type Config struct {
	// Addr is the SMTP server as host:port.
	Addr     string
	User     string
	Password string
	// From is the envelope and header sender, e.g. "Atelier <atelier@example.com>".
	From string
	// HELO is the name given in EHLO/HELO; empty for this machine's host name.
	HELO string
}

// Enabled reports whether a server is configured at all.
func (c Config) Enabled() bool { return c.Addr != "" }

// Validate checks the configuration without contacting the server.
func (c Config) Validate() error {
	if _, _, err := splitAddr(c.Addr); err != nil {
		return err
	}
	if _, err := parseFrom(c.From); err != nil {
		return err
	}
	if c.Password != "" && c.User == "" {
		return errors.New("mail: an SMTP password is set without a user")
	}
	if c.User != "" && c.Password == "" {
		return fmt.Errorf("mail: SMTP user %q has no password", c.User)
	}
	if strings.ContainsAny(c.HELO, " \r\n") {
		return fmt.Errorf("mail: HELO name %q must be a single word", c.HELO)
	}
	return nil
}

func splitAddr(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("mail: SMTP server address %q must be host:port: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if host == "" || err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("mail: SMTP server address %q must be host:port with a host and a port from 1 to 65535", addr)
	}
	return host, port, nil
}

func parseFrom(from string) (*netmail.Address, error) {
	if from == "" {
		return nil, errors.New("mail: the sender address (From) is empty")
	}
	a, err := parseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: sender address %q: %w", from, err)
	}
	return a, nil
}

// parseAddress accepts one RFC 5322 address. CR and LF are refused before
// parsing because they are what header injection is made of.
func parseAddress(s string) (*netmail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("contains a line break")
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("not a valid e-mail address: %w", err)
	}
	return a, nil
}

// Option adjusts a Sender.
type Option func(*Sender)

// WithTLSConfig sets the TLS configuration of STARTTLS, e.g. RootCAs that
// trust a private server's certificate. ServerName defaults to the host of
// Config.Addr.
func WithTLSConfig(c *tls.Config) Option {
	return func(s *Sender) { s.tls = c.Clone() }
}

// WithTimeout bounds each connection's dial and each SMTP command (default
// 30 seconds).
func WithTimeout(d time.Duration) Option {
	return func(s *Sender) { s.timeout = d }
}

// Sender delivers messages through one SMTP server. It is safe for
// concurrent use: each Send opens its own connection.
type Sender struct {
	cfg     Config
	host    string
	port    int
	from    *netmail.Address
	tls     *tls.Config
	timeout time.Duration
}

// NewSender checks cfg and returns a Sender; it does not connect.
func NewSender(cfg Config, opts ...Option) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, port, _ := splitAddr(cfg.Addr)
	from, _ := parseFrom(cfg.From)
	s := &Sender{cfg: cfg, host: host, port: port, from: from, timeout: 30 * time.Second}
	for _, o := range opts {
		o(s)
	}
	if s.tls == nil {
		s.tls = &tls.Config{}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = host
	}
	if s.tls.MinVersion == 0 {
		s.tls.MinVersion = tls.VersionTLS12
	}
	return s, nil
}

// Message is one notification to one recipient.
type Message struct {
	To      string
	Subject string
	// Text is the plain-text body; HTML, when set, is sent as its
	// alternative.
	Text string
	HTML string
}

// ErrInvalidMessage is wrapped by Send's error for a message that cannot be
// sent as given (bad address, line break in a header, no body); it is
// permanent.
var ErrInvalidMessage = errors.New("invalid message")

// ErrPlaintextAuth is wrapped by Send's error when the server would receive
// the SMTP password over an unencrypted connection; it is permanent.
var ErrPlaintextAuth = errors.New("refusing to send the SMTP password over an unencrypted connection")

// permanentError marks failures that no retry can cure and that carry no
// SMTP reply code of their own.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err: err} }

// Send delivers m over a new connection. ctx bounds the whole exchange:
// cancelling it closes the connection.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg, err := s.compose(m)
	if err != nil {
		return fmt.Errorf("mail: compose message to %q: %w", m.To, err)
	}
	client, err := s.client(ctx)
	if err != nil {
		return fmt.Errorf("mail: set up SMTP client for %s: %w", s.cfg.Addr, err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send to %s via %s: %w", m.To, s.cfg.Addr, err)
	}
	return nil
}

func (s *Sender) compose(m Message) (*gomail.Msg, error) {
	to, err := parseAddress(m.To)
	if err != nil {
		return nil, permanent(fmt.Errorf("%w: recipient: %w", ErrInvalidMessage, err))
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, permanent(fmt.Errorf("%w: subject contains a line break", ErrInvalidMessage))
	}
	if m.Text == "" {
		return nil, permanent(fmt.Errorf("%w: empty text body", ErrInvalidMessage))
	}
	msg := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP))
	if err := msg.From(s.from.String()); err != nil {
		return nil, permanent(fmt.Errorf("%w: sender: %w", ErrInvalidMessage, err))
	}
	if err := msg.To(to.String()); err != nil {
		return nil, permanent(fmt.Errorf("%w: recipient: %w", ErrInvalidMessage, err))
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	id, err := s.messageID()
	if err != nil {
		return nil, err
	}
	msg.SetMessageIDWithValue(id)
	// Notifications are machine-made: RFC 3834 asks auto-responders
	// (vacation replies) not to answer them.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// messageID is unique per message and names the sender's domain rather
// than this machine, whose name may be internal.
func (s *Sender) messageID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("message id: %w", err)
	}
	domain := "atelier.invalid"
	if at := strings.LastIndexByte(s.from.Address, '@'); at >= 0 && at < len(s.from.Address)-1 {
		domain = s.from.Address[at+1:]
	}
	return hex.EncodeToString(b[:]) + "@" + domain, nil
}

func (s *Sender) client(ctx context.Context) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTLSPolicy(gomail.TLSOpportunistic),
		gomail.WithTLSConfig(s.tls),
		gomail.WithTimeout(s.timeout),
		gomail.WithDialContextFunc(dialClosingOnCancel(ctx)),
	}
	if s.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.cfg.HELO))
	}
	if s.cfg.User != "" {
		opts = append(opts, gomail.WithSMTPAuthCustom(&guardedAuth{host: s.host, user: s.cfg.User, password: s.cfg.Password}))
	}
	return gomail.NewClient(s.host, opts...)
}

// dialClosingOnCancel dials a connection that is closed when ctx ends:
// go-mail honours the context while dialing only, and a stalled server
// would otherwise hold a cancelled Send until the command timeout.
func dialClosingOnCancel(ctx context.Context) gomail.DialContextFunc {
	return func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dialCtx, network, addr)
		if err != nil {
			return nil, err
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		return &stopOnClose{Conn: conn, stop: stop}, nil
	}
}

type stopOnClose struct {
	net.Conn
	stop func() bool
}

func (c *stopOnClose) Close() error {
	c.stop()
	return c.Conn.Close()
}

// guardedAuth is the SMTP AUTH of a Sender. It decides where go-mail's
// automatic choice does not fit: go-mail never uses PLAIN or LOGIN on an
// unencrypted connection, even to a relay on the same machine, and says
// only that no mechanism was found when it refuses.
type guardedAuth struct {
	host, user, password string
	mech                 gosmtp.Auth
}

func (a *guardedAuth) Start(server *gosmtp.ServerInfo) (string, []byte, error) {
	if err := checkAuthTransport(a.host, server.TLS); err != nil {
		return "", nil, permanent(err)
	}
	// The transport is checked above, so go-mail's own check (which
	// knows loopback only by three spellings) is told to allow it.
	switch {
	case hasMech(server.Auth, "PLAIN"):
		a.mech = gosmtp.PlainAuth("", a.user, a.password, server.Name, true)
	case hasMech(server.Auth, "LOGIN"):
		a.mech = gosmtp.LoginAuth(a.user, a.password, server.Name, true)
	default:
		return "", nil, permanent(fmt.Errorf("SMTP server %s offers no AUTH mechanism this client uses (PLAIN or LOGIN); it offers %q",
			a.host, server.Auth))
	}
	return a.mech.Start(server)
}

func (a *guardedAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.mech.Next(fromServer, more)
}

func hasMech(offered []string, mech string) bool {
	for _, m := range offered {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// checkAuthTransport refuses to send a password in plain text to anything
// but this machine: on the network it could be read or the unencrypted
// server impersonated (a stripped STARTTLS offer looks the same).
func checkAuthTransport(host string, encrypted bool) error {
	if encrypted || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("%w to %s: the server did not offer STARTTLS; use a server that does, or a relay on this machine (localhost)",
		ErrPlaintextAuth, host)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
