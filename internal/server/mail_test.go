package server_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/mail"
	"github.com/atelier-dev/atelier/internal/mail/mailtest"
	"github.com/atelier-dev/atelier/internal/server"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// TestMailSenderFromConfig opens a server with and without --smtp-addr: with
// it, App.Mail delivers through the configured server with the password
// from --smtp-password-file; without it, App.Mail is nil.
func TestMailSenderFromConfig(t *testing.T) {
	t.Parallel()
	smtp := mailtest.Start(t, mailtest.Options{User: "atelier", Password: "from-the-file"})
	dir := t.TempDir()
	passwordFile := filepath.Join(dir, "smtp-password")
	if err := os.WriteFile(passwordFile, []byte("from-the-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		smtpAddr string
	}{{"configured", smtp.Addr()}, {"not-configured", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Config{DataDir: filepath.Join(dir, tc.name), Listen: "127.0.0.1:0", Region: servertest.Region, Endpoint: "http://127.0.0.1:1", LogLevel: "info"}
			if tc.smtpAddr != "" {
				cfg.SMTPAddr, cfg.SMTPUser, cfg.SMTPPasswordFile, cfg.SMTPFrom = tc.smtpAddr, "atelier", passwordFile, "Atelier <atelier@example.com>"
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			app, err := server.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer app.Close()
			if tc.smtpAddr == "" {
				if app.Mail != nil {
					t.Fatal("App.Mail is set without --smtp-addr")
				}
				return
			}
			if app.Mail == nil {
				t.Fatal("App.Mail is nil with --smtp-addr set")
			}
			if err := app.Mail.Send(ctx, mail.Message{To: "member@example.org", Subject: "hello", Text: "hi"}); err != nil {
				t.Fatalf("Send through App.Mail: %v", err)
			}
			got := smtp.WaitFor(t, 1, 5*time.Second)
			if got[0].AuthUser != "atelier" || got[0].From != "atelier@example.com" {
				t.Fatalf("received from %q authenticated as %q, want atelier@example.com as atelier", got[0].From, got[0].AuthUser)
			}
		})
	}
}
