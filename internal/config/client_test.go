package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestClientPrecedence(t *testing.T) {
	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap.json")
	if err := os.WriteFile(bootstrap, []byte(`{"endpoint":"http://boot","project_id":"p-boot","access_key":"AK-BOOT","secret_key":"SK-BOOT"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	skFile := filepath.Join(dir, "sk")
	if err := os.WriteFile(skFile, []byte("SK-FILE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		want    Client
		wantErr string
	}{
		{"bootstrap-only", nil, []string{"--bootstrap", bootstrap},
			Client{Endpoint: "http://boot", ProjectID: "p-boot", AccessKey: "AK-BOOT", SecretKey: "SK-BOOT"}, ""},
		{"env-over-bootstrap", map[string]string{"ATELIER_ENDPOINT": "http://env", "ATELIER_BOOTSTRAP": bootstrap}, nil,
			Client{Endpoint: "http://env", ProjectID: "p-boot", AccessKey: "AK-BOOT", SecretKey: "SK-BOOT"}, ""},
		{"flag-over-env", map[string]string{"ATELIER_ENDPOINT": "http://env"}, []string{"--endpoint", "http://flag", "--bootstrap", bootstrap},
			Client{Endpoint: "http://flag", ProjectID: "p-boot", AccessKey: "AK-BOOT", SecretKey: "SK-BOOT"}, ""},
		{"sk-file", nil, []string{"--endpoint", "http://x", "--project-id", "p", "--ak", "AK", "--sk-file", skFile},
			Client{Endpoint: "http://x", ProjectID: "p", AccessKey: "AK", SecretKey: "SK-FILE"}, ""},
		{"sk-file-over-env", map[string]string{"ATELIER_SECRET_KEY": "SK-ENV"}, []string{"--endpoint", "http://x", "--project-id", "p", "--ak", "AK", "--sk-file", skFile},
			Client{Endpoint: "http://x", ProjectID: "p", AccessKey: "AK", SecretKey: "SK-FILE"}, ""},
		{"sk-and-sk-file", nil, []string{"--sk", "SK", "--sk-file", skFile}, Client{}, "not both"},
		{"nothing", nil, []string{"--bootstrap", filepath.Join(dir, "missing.json")}, Client{}, "need --endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"ATELIER_ENDPOINT", "ATELIER_PROJECT_ID", "ATELIER_ACCESS_KEY", "ATELIER_SECRET_KEY", "ATELIER_TOKEN", "ATELIER_BOOTSTRAP"} {
				t.Setenv(k, tc.env[k])
			}
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			var c Client
			BindClient(fs, &c)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			got, err := c.Resolve()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Resolve() error = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(): %v", err)
			}
			got.flags, got.Bootstrap, got.SecretKeyFile = nil, "", ""
			if got != tc.want {
				t.Errorf("Resolve() = %+v, want %+v", got, tc.want)
			}
		})
	}
}
