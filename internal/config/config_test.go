package config

import (
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

func TestPrecedenceFlagOverEnvOverDefault(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    Config
		wantErr bool
	}{
		{name: "defaults", want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true}},
		{name: "environment", env: map[string]string{"ATELIER_DATA_DIR": "/srv/atelier", "ATELIER_DATABASE": "postgres://db/atelier", "ATELIER_REGION": "eu-1"},
			want: Config{DataDir: "/srv/atelier", Listen: "127.0.0.1:8080", Database: "postgres://db/atelier", Region: "eu-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true}},
		{name: "flag-beats-environment", env: map[string]string{"ATELIER_LISTEN": "0.0.0.0:9000"}, args: []string{"--listen", "127.0.0.1:7000", "--endpoint", "https://atelier.example/"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:7000", Region: "local-1", Endpoint: "https://atelier.example", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true}},
		{name: "s3", args: []string{"--obs-endpoint", "http://127.0.0.1:7070", "--obs-access-key", "ak", "--obs-secret-key", "sk", "--obs-path-style=false"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info",
				OBSEndpoint: "http://127.0.0.1:7070", OBSAccessKey: "ak", OBSSecretKey: "sk", OBSRegion: "us-east-1"}},
		{name: "secrets-key-file", env: map[string]string{"ATELIER_SECRETS_KEY_FILE": "/etc/atelier/secrets.key"}, args: []string{"--previous-secrets-key-file", "/etc/atelier/old.key"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true,
				SecretsKeyFile: "/etc/atelier/secrets.key", PreviousSecretsKeyFile: "/etc/atelier/old.key"}},
		{name: "s3-without-keys", args: []string{"--obs-endpoint", "http://127.0.0.1:7070"}, wantErr: true},
		{name: "s3-not-a-url", args: []string{"--obs-endpoint", "127.0.0.1:7070", "--obs-access-key", "ak", "--obs-secret-key", "sk"}, wantErr: true},
		{name: "bad-region", args: []string{"--region", "a b"}, wantErr: true},
		{name: "bad-log-level", args: []string{"--log-level", "loud"}, wantErr: true},
		{name: "empty-data-dir", args: []string{"--data-dir", ""}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"ATELIER_DATA_DIR", "ATELIER_LISTEN", "ATELIER_DATABASE", "ATELIER_REGION", "ATELIER_ENDPOINT", "ATELIER_LOG_LEVEL",
				"ATELIER_OBS_ENDPOINT", "ATELIER_OBS_ACCESS_KEY", "ATELIER_OBS_SECRET_KEY", "ATELIER_OBS_REGION", "ATELIER_OBS_PATH_STYLE", "ATELIER_SECRETS_KEY_FILE", "ATELIER_PREVIOUS_SECRETS_KEY_FILE"} {
				t.Setenv(k, "")
				if v, ok := tc.env[k]; ok {
					t.Setenv(k, v)
				}
			}
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			var c Config
			Bind(fs, &c)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Validate accepted %+v", c)
				}
				return
			}
			if tc.want.DataDir != "" && !filepath.IsAbs(tc.want.DataDir) {
				abs, _ := filepath.Abs(tc.want.DataDir)
				tc.want.DataDir = abs
			}
			if err != nil || c != tc.want {
				t.Fatalf("got %+v (err %v), want %+v", c, err, tc.want)
			}
		})
	}
}
