package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestHelpHidesSecrets: a secret taken from the environment is used, but
// --help never prints it; a database URL is shown with its password hidden.
func TestHelpHidesSecrets(t *testing.T) {
	const (
		obsSecret = "obs-SECRET-4f1c9a"
		pgPass    = "pg-PASS-77d0e2"
	)
	tests := []struct {
		name, env, value, shown string
	}{
		{"obs-secret-key", "ATELIER_OBS_SECRET_KEY", obsSecret, ""},
		{"database", "ATELIER_DATABASE", "postgres://atelier:" + pgPass + "@db:5432/atelier?sslmode=disable", "postgres://atelier:xxxxx@db:5432/atelier?sslmode=disable"},
		{"database", "ATELIER_DATABASE", "postgres://atelier@db/atelier?password=" + pgPass, "postgres://atelier@db/atelier?password=xxxxx"},
		{"database", "ATELIER_DATABASE", "postgres://atelier@db/atelier", "postgres://atelier@db/atelier"},
	}
	for _, tc := range tests {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			var c Config
			Bind(fs, &c)
			if err := fs.Parse(nil); err != nil {
				t.Fatal(err)
			}
			if got := map[string]string{"obs-secret-key": c.OBSSecretKey, "database": c.Database}[tc.name]; got != tc.value {
				t.Errorf("--%s from %s = %q; want %q", tc.name, tc.env, got, tc.value)
			}
			help := fs.FlagUsages()
			for _, secret := range []string{obsSecret, pgPass} {
				if strings.Contains(help, secret) {
					t.Errorf("--help shows the secret %q:\n%s", secret, help)
				}
			}
			if tc.shown != "" && !strings.Contains(help, tc.shown) {
				t.Errorf("--help does not show the redacted default %q:\n%s", tc.shown, help)
			}
		})
	}
}

func TestSecretsOnCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{nil, nil},
		{[]string{"--listen", "0.0.0.0:1"}, nil},
		{[]string{"--obs-secret-key", "s"}, []string{"--obs-secret-key"}},
		{[]string{"--database", "postgres://u@db/x"}, nil},
		{[]string{"--database", "postgres://u:p@db/x", "--obs-secret-key", "s"}, []string{"--database", "--obs-secret-key"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv("ATELIER_OBS_SECRET_KEY", "from-env")
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			var c Config
			Bind(fs, &c)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			got := SecretsOnCommandLine(fs)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("SecretsOnCommandLine = %v; want %v", got, tc.want)
			}
		})
	}
}
