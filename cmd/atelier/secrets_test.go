package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// execute runs `atelier args…` and returns what it printed on stdout and
// stderr, and its error.
func execute(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out)
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// TestHelpShowsNoSecret: secrets in the environment (which flags take as
// defaults) never appear in any command's --help.
func TestHelpShowsNoSecret(t *testing.T) {
	const (
		obsSecret = "obs-SECRET-91ab3c"
		pgPass    = "pg-PASS-5e0f7d"
		sk        = "SK-SECRET-c4d2e1"
		token     = "TOKEN-SECRET-7a8b9c"
	)
	t.Setenv("ATELIER_OBS_SECRET_KEY", obsSecret)
	t.Setenv("ATELIER_DATABASE", "postgres://atelier:"+pgPass+"@db:5432/atelier")
	t.Setenv("ATELIER_SECRET_KEY", sk)
	t.Setenv("ATELIER_TOKEN", token)
	for _, cmd := range [][]string{{"serve", "--help"}, {"train", "run", "--help"}, {"data", "upload", "--help"}} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			stdout, stderr, err := execute(t, cmd...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout, "--") {
				t.Fatalf("no help printed:\n%s", stdout)
			}
			for _, secret := range []string{obsSecret, pgPass, sk, token} {
				if strings.Contains(stdout+stderr, secret) {
					t.Errorf("help shows the secret %q:\n%s%s", secret, stdout, stderr)
				}
			}
		})
	}
}

// TestSecretOnCommandLineWarns: a secret given as a flag works but warns
// that other users can read it; --sk-file and the environment do not warn.
func TestSecretOnCommandLineWarns(t *testing.T) {
	env := servertest.Start(t, "sqlite")
	a := env.Account
	skFile := filepath.Join(t.TempDir(), "sk")
	if err := os.WriteFile(skFile, []byte(a.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"train", "list", "--bootstrap", filepath.Join(t.TempDir(), "none.json"), "--endpoint", env.URL, "--project-id", a.ProjectID, "--ak", a.AccessKey}
	tests := []struct {
		name    string
		args    []string
		env     string // ATELIER_SECRET_KEY
		warning string // "" for none
		wantErr string
	}{
		{name: "sk-flag", args: []string{"--sk", a.SecretKey}, warning: "--sk on the command line is visible to other users"},
		{name: "sk-file", args: []string{"--sk-file", skFile}},
		{name: "sk-environment", env: a.SecretKey},
		{name: "sk-and-sk-file", args: []string{"--sk", a.SecretKey, "--sk-file", skFile}, wantErr: "not both"},
		{name: "sk-file-missing", args: []string{"--sk-file", skFile + ".nope"}, wantErr: "read --sk-file"},
		{name: "empty-sk-file", args: []string{"--sk-file", os.DevNull}, wantErr: "is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("ATELIER_SECRET_KEY", tc.env)
			stdout, stderr, err := execute(t, append(base, tc.args...)...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v; want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("train list: %v\n%s%s", err, stdout, stderr)
			}
			if tc.warning == "" && stderr != "" {
				t.Errorf("unexpected stderr: %q", stderr)
			}
			if tc.warning != "" && !strings.Contains(stderr, tc.warning) {
				t.Errorf("stderr = %q; want the warning %q", stderr, tc.warning)
			}
			if strings.Contains(stderr, a.SecretKey) {
				t.Errorf("the warning repeats the secret: %q", stderr)
			}
		})
	}
	t.Run("token-flag", func(t *testing.T) {
		_, stderr, _ := execute(t, "data", "show", "x", "--bootstrap", os.DevNull, "--endpoint", env.URL, "--project-id", a.ProjectID, "--token", "not-a-token")
		if !strings.Contains(stderr, "--token on the command line is visible to other users") {
			t.Errorf("stderr = %q; want a warning about --token", stderr)
		}
	})
}

// TestServeWarnsAboutCommandLineSecrets: serve warns about a secret given as
// a flag (before anything else can fail) and not about the environment.
func TestServeWarnsAboutCommandLineSecrets(t *testing.T) {
	t.Setenv("ATELIER_OBS_SECRET_KEY", "")
	t.Setenv("ATELIER_DATABASE", "")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"obs-secret-key", []string{"--obs-secret-key", "s3cr3t"}, []string{"--obs-secret-key on the command line"}},
		{"database-password", []string{"--database", "postgres://u:pw@127.0.0.1:1/x"}, []string{"--database on the command line"}},
		{"database-without-password", []string{"--database", "postgres://u@127.0.0.1:1/x"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// An invalid log level makes serve stop before opening anything.
			_, stderr, err := execute(t, append([]string{"serve", "--log-level", "loud", "--data-dir", t.TempDir()}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), "--log-level") {
				t.Fatalf("serve: %v; want the --log-level error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr = %q; want %q", stderr, w)
				}
			}
			if tc.want == nil && stderr != "" {
				t.Errorf("unexpected stderr: %q", stderr)
			}
			if strings.Contains(stderr, "s3cr3t") || strings.Contains(stderr, ":pw@") {
				t.Errorf("the warning repeats the secret: %q", stderr)
			}
		})
	}
}
