package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/textproto"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Permanent reports whether err is a failure that retrying the same message
// cannot cure: an SMTP 5xx reply (unknown mailbox, rejected sender, wrong
// password), an invalid message, a refused plaintext password or a server
// certificate that does not verify. Everything else — 4xx replies, refused
// or broken connections, timeouts — is temporary.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	var pe *permanentError
	if errors.As(err, &pe) || errors.Is(err, ErrInvalidMessage) || errors.Is(err, ErrPlaintextAuth) {
		return true
	}
	// go-mail classifies the replies of the mail transaction itself.
	var se *gomail.SendError
	if errors.As(err, &se) {
		if se.IsTemp() {
			return false
		}
		if code := se.ErrorCode(); code != 0 {
			return code >= 500
		}
		switch se.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
			return true
		}
		// No reply code: the connection failed mid-transaction.
		return false
	}
	// Replies outside a transaction (greeting, EHLO, STARTTLS, AUTH).
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code >= 500
	}
	var (
		unknownCA   x509.UnknownAuthorityError
		hostname    x509.HostnameError
		invalidCert x509.CertificateInvalidError
		verify      *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalidCert) || errors.As(err, &verify) {
		return true
	}
	return false
}

// SendWithRetry sends m, retrying temporary failures until attempts sends
// have been made; backoff(n) is the wait after the n-th failed attempt
// (nil for ExponentialBackoff(time.Second, time.Minute)). It stops at the
// first permanent failure, and when ctx ends while waiting it returns at
// once with ctx's error and the last failure.
func (s *Sender) SendWithRetry(ctx context.Context, m Message, attempts int, backoff func(attempt int) time.Duration) error {
	if attempts < 1 {
		attempts = 1
	}
	if backoff == nil {
		backoff = ExponentialBackoff(time.Second, time.Minute)
	}
	for attempt := 1; ; attempt++ {
		err := s.Send(ctx, m)
		if err == nil {
			return nil
		}
		if Permanent(err) {
			return err
		}
		if attempt >= attempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("stopped retrying after attempt %d: %w (last failure: %w)", attempt, ctx.Err(), err)
		}
		t := time.NewTimer(backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("stopped retrying after attempt %d: %w (last failure: %w)", attempt, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// ExponentialBackoff returns waits that double from base up to max, each
// drawn at random from its upper half so that senders which failed
// together do not retry together.
func ExponentialBackoff(base, max time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < max; i++ {
			d *= 2
		}
		if d > max || d <= 0 {
			d = max
		}
		if d <= 1 {
			return d
		}
		half := d / 2
		return half + rand.N(d-half+1)
	}
}
