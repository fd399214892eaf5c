package config

import (
	"net/url"
	"reflect"

	"github.com/atelier-dev/atelier/internal/dataset/autolabel/inference"

	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestPrecedenceFlagOverEnvOverDefault(t *testing.T) {
	dir := t.TempDir()
	passwordFile := filepath.Join(dir, "smtp-password")
	if err := os.WriteFile(passwordFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
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
		{name: "smtp-flags", args: []string{"--smtp-addr", "smtp.example.com:587", "--smtp-user", "atelier", "--smtp-password-file", passwordFile, "--smtp-from", "Atelier <atelier@example.com>"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true,
				SMTPAddr: "smtp.example.com:587", SMTPUser: "atelier", SMTPPasswordFile: passwordFile, SMTPFrom: "Atelier <atelier@example.com>"}},
		{name: "smtp-environment", env: map[string]string{"ATELIER_SMTP_ADDR": "127.0.0.1:25", "ATELIER_SMTP_FROM": "atelier@example.com"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true,
				SMTPAddr: "127.0.0.1:25", SMTPFrom: "atelier@example.com"}},
		{name: "smtp-without-from", args: []string{"--smtp-addr", "smtp.example.com:587"}, wantErr: true},
		{name: "smtp-bad-from", args: []string{"--smtp-addr", "smtp.example.com:587", "--smtp-from", "atelier"}, wantErr: true},
		{name: "smtp-addr-without-port", args: []string{"--smtp-addr", "smtp.example.com", "--smtp-from", "atelier@example.com"}, wantErr: true},
		{name: "smtp-from-without-addr", args: []string{"--smtp-from", "atelier@example.com"}, wantErr: true},
		{name: "smtp-user-without-password", args: []string{"--smtp-addr", "smtp.example.com:587", "--smtp-from", "atelier@example.com", "--smtp-user", "atelier"}, wantErr: true},
		{name: "smtp-password-file-missing", args: []string{"--smtp-addr", "smtp.example.com:587", "--smtp-from", "atelier@example.com", "--smtp-user", "atelier", "--smtp-password-file", filepath.Join(dir, "nope")}, wantErr: true},
		{name: "smtp-password-file-empty", args: []string{"--smtp-addr", "smtp.example.com:587", "--smtp-from", "atelier@example.com", "--smtp-user", "atelier", "--smtp-password-file", emptyFile}, wantErr: true},
		{name: "model-servers", args: []string{"--model-server", "pets=http://127.0.0.1:8000/resnet/2?labels=cat,dog", "--model-server", "text=https://models.internal/bert"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true,
				ModelServers: []string{"pets=http://127.0.0.1:8000/resnet/2?labels=cat,dog", "text=https://models.internal/bert"},
				Models: []inference.Endpoint{
					{Name: "pets", URL: &url.URL{Scheme: "http", Host: "127.0.0.1:8000"}, Model: "resnet", Version: "2", Labels: []string{"cat", "dog"}},
					{Name: "text", URL: &url.URL{Scheme: "https", Host: "models.internal"}, Model: "bert"}}}},
		{name: "model-server-not-a-url", args: []string{"--model-server", "pets=ftp://h/m"}, wantErr: true},
		{name: "model-server-without-name", args: []string{"--model-server", "http://h:8000/m"}, wantErr: true},
		{name: "s3-without-keys", args: []string{"--obs-endpoint", "http://127.0.0.1:7070"}, wantErr: true},
		{name: "s3-not-a-url", args: []string{"--obs-endpoint", "127.0.0.1:7070", "--obs-access-key", "ak", "--obs-secret-key", "sk"}, wantErr: true},
		{name: "bad-region", args: []string{"--region", "a b"}, wantErr: true},
		{name: "debug-listen", env: map[string]string{"ATELIER_DEBUG_LISTEN": "127.0.0.1:6060"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true, DebugListen: "127.0.0.1:6060"}},
		{name: "debug-listen-ipv6-loopback", args: []string{"--debug-listen", "[::1]:0"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true, DebugListen: "[::1]:0"}},
		{name: "debug-listen-localhost", args: []string{"--debug-listen", "localhost:6060"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true, DebugListen: "localhost:6060"}},
		{name: "debug-listen-all-interfaces", args: []string{"--debug-listen", "0.0.0.0:6060"}, wantErr: true},
		{name: "debug-listen-no-host", args: []string{"--debug-listen", ":6060"}, wantErr: true},
		{name: "debug-listen-remote", args: []string{"--debug-listen", "10.0.0.5:6060"}, wantErr: true},
		{name: "debug-listen-no-port", args: []string{"--debug-listen", "127.0.0.1"}, wantErr: true},
		{name: "metrics-listen", env: map[string]string{"ATELIER_METRICS_LISTEN": "0.0.0.0:9464"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true, MetricsListen: "0.0.0.0:9464"}},
		{name: "metrics-listen-no-port", args: []string{"--metrics-listen", "10.0.0.5"}, wantErr: true},
		{name: "jobs-dir", env: map[string]string{"ATELIER_JOBS_DIR": "/elsewhere"}, args: []string{"--executor", "local", "--jobs-dir", "/shared/atelier-jobs"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true, JobsDir: "/shared/atelier-jobs"}},
		{name: "lease-ttl", env: map[string]string{"ATELIER_LEASE_TTL": "1m"}, args: []string{"--lease-ttl", "5s"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true, LeaseTTL: 5 * time.Second}},
		{name: "lease-ttl-environment", env: map[string]string{"ATELIER_LEASE_TTL": "45s"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true, LeaseTTL: 45 * time.Second}},
		{name: "lease-ttl-too-short", args: []string{"--lease-ttl", "200ms"}, wantErr: true},
		{name: "lease-ttl-malformed-environment", env: map[string]string{"ATELIER_LEASE_TTL": "soon"}, wantErr: true},
		{name: "unknown-executor", args: []string{"--executor", "nomad"}, wantErr: true},
		{name: "slurm", env: map[string]string{"ATELIER_SLURM_JOB_USER": "atelier-job", "ATELIER_JOBS_DIR": "/shared/jobs"},
			args: []string{"--executor", "slurm", "--slurm-partition", "gpu", "--slurm-account", "ml", "--slurm-bin-dir", "/opt/slurm/bin"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true,
				Executor: "slurm", JobsDir: "/shared/jobs", Slurm: SlurmConfig{Partition: "gpu", Account: "ml", JobUser: "atelier-job", BinDir: "/opt/slurm/bin"}}},
		{name: "slurm-without-job-user", args: []string{"--executor", "slurm", "--jobs-dir", "/shared/jobs"}, wantErr: true},
		{name: "slurm-jobs-dir-in-data-dir", args: []string{"--executor", "slurm", "--slurm-job-user", "atelier-job"}, wantErr: true},
		{name: "kubernetes", env: map[string]string{"ATELIER_KUBERNETES_NAMESPACE": "atelier", "ATELIER_KUBERNETES_JOBS_CLAIM": "atelier-jobs"},
			args: []string{"--executor", "kubernetes", "--jobs-dir", "/jobs", "--kubernetes-default-image", "registry.example/atelier-runtime:1",
				"--kubernetes-service-account", "atelier-training", "--kubernetes-capacity", "cpu=16.5,memory=64Gi,gpu=2", "--kubernetes-kubeconfig", "/etc/atelier/kubeconfig"},
			want: Config{DataDir: "./atelier-data", Listen: "127.0.0.1:8080", Region: "local-1", Endpoint: "http://127.0.0.1:8080", LogLevel: "info", OBSRegion: "us-east-1", OBSPathStyle: true,
				Executor: "kubernetes", JobsDir: "/jobs", KubernetesNamespace: "atelier", KubernetesJobsClaim: "atelier-jobs", KubernetesDefaultImage: "registry.example/atelier-runtime:1",
				KubernetesServiceAccount: "atelier-training", KubernetesKubeconfig: "/etc/atelier/kubeconfig", KubernetesCapacity: "cpu=16.5,memory=64Gi,gpu=2",
				KubernetesCPU: 16.5, KubernetesMemoryMiB: 65536, KubernetesGPUs: 2}},
		{name: "kubernetes-without-namespace", args: append(kubeArgs("cpu=1,memory=1Gi"), "--kubernetes-namespace", ""), wantErr: true},
		{name: "kubernetes-without-claim", args: []string{"--executor", "kubernetes", "--kubernetes-namespace", "a", "--kubernetes-default-image", "i", "--kubernetes-capacity", "cpu=1,memory=1Gi"}, wantErr: true},
		{name: "kubernetes-without-image", args: []string{"--executor", "kubernetes", "--kubernetes-namespace", "a", "--kubernetes-jobs-claim", "c", "--kubernetes-capacity", "cpu=1,memory=1Gi"}, wantErr: true},
		{name: "kubernetes-without-capacity", args: kubeArgs(""), wantErr: true},
		{name: "kubernetes-capacity-without-memory", args: kubeArgs("cpu=4"), wantErr: true},
		{name: "kubernetes-capacity-memory-without-unit", args: kubeArgs("cpu=4,memory=4096"), wantErr: true},
		{name: "kubernetes-capacity-negative-gpus", args: kubeArgs("cpu=4,memory=4Gi,gpu=-1"), wantErr: true},
		{name: "kubernetes-capacity-unknown-resource", args: kubeArgs("cpu=4,memory=4Gi,tpu=1"), wantErr: true},
		{name: "kubernetes-capacity-zero-cpu", args: kubeArgs("cpu=0,memory=4Gi"), wantErr: true},
		{name: "bad-log-level", args: []string{"--log-level", "loud"}, wantErr: true},
		{name: "empty-data-dir", args: []string{"--data-dir", ""}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"ATELIER_DATA_DIR", "ATELIER_LISTEN", "ATELIER_DATABASE", "ATELIER_REGION", "ATELIER_ENDPOINT", "ATELIER_LOG_LEVEL",
				"ATELIER_OBS_ENDPOINT", "ATELIER_OBS_ACCESS_KEY", "ATELIER_OBS_SECRET_KEY", "ATELIER_OBS_REGION", "ATELIER_OBS_PATH_STYLE", "ATELIER_SECRETS_KEY_FILE", "ATELIER_PREVIOUS_SECRETS_KEY_FILE",
				"ATELIER_SMTP_ADDR", "ATELIER_SMTP_USER", "ATELIER_SMTP_PASSWORD_FILE", "ATELIER_SMTP_FROM", "ATELIER_DEBUG_LISTEN", "ATELIER_METRICS_LISTEN",
				"ATELIER_EXECUTOR", "ATELIER_JOBS_DIR", "ATELIER_LEASE_TTL", "ATELIER_SLURM_PARTITION", "ATELIER_SLURM_ACCOUNT", "ATELIER_SLURM_JOB_USER", "ATELIER_SLURM_BIN_DIR",
				"ATELIER_KUBERNETES_KUBECONFIG", "ATELIER_KUBERNETES_NAMESPACE", "ATELIER_KUBERNETES_JOBS_CLAIM",
				"ATELIER_KUBERNETES_DEFAULT_IMAGE", "ATELIER_KUBERNETES_SERVICE_ACCOUNT", "ATELIER_KUBERNETES_CAPACITY"} {
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
			// Derived defaults every case shares unless it sets them.
			if tc.want.Executor == "" {
				tc.want.Executor = "local"
			}
			if tc.want.LeaseTTL == 0 {
				tc.want.LeaseTTL = DefaultLeaseTTL
			}
			if tc.want.JobsDir == "" {
				tc.want.JobsDir = filepath.Join(tc.want.DataDir, "jobs")
			}
			if err != nil || !reflect.DeepEqual(c, tc.want) {
				t.Fatalf("got %+v (err %v), want %+v", c, err, tc.want)
			}
		})
	}
}

// kubeArgs are a complete --executor kubernetes but for the capacity.
func kubeArgs(capacity string) []string {
	return []string{"--executor", "kubernetes", "--kubernetes-namespace", "atelier", "--kubernetes-jobs-claim", "atelier-jobs",
		"--kubernetes-default-image", "registry.example/runtime:1", "--kubernetes-capacity", capacity}
}

func TestMailConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name         string
		cfg          Config
		wantPassword string
		wantErr      string
	}{
		{name: "not-configured", cfg: Config{}},
		{name: "no-auth", cfg: Config{SMTPAddr: "127.0.0.1:25", SMTPFrom: "a@example.com"}},
		{name: "password-trailing-newline", cfg: Config{SMTPAddr: "smtp.example.com:587", SMTPFrom: "a@example.com", SMTPUser: "u",
			SMTPPasswordFile: write("lf", "pa ss\n")}, wantPassword: "pa ss"},
		{name: "password-crlf", cfg: Config{SMTPAddr: "smtp.example.com:587", SMTPFrom: "a@example.com", SMTPUser: "u",
			SMTPPasswordFile: write("crlf", "pass\r\n")}, wantPassword: "pass"},
		{name: "password-two-lines", cfg: Config{SMTPAddr: "smtp.example.com:587", SMTPFrom: "a@example.com", SMTPUser: "u",
			SMTPPasswordFile: write("two", "pass\nmore\n")}, wantErr: "more than one line"},
		{name: "password-unreadable", cfg: Config{SMTPAddr: "smtp.example.com:587", SMTPFrom: "a@example.com", SMTPUser: "u",
			SMTPPasswordFile: filepath.Join(dir, "missing")}, wantErr: "--smtp-password-file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mc, err := tc.cfg.Mail()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Mail() error = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Mail(): %v", err)
			}
			if mc.Enabled() != (tc.cfg.SMTPAddr != "") || mc.Addr != tc.cfg.SMTPAddr || mc.From != tc.cfg.SMTPFrom || mc.User != tc.cfg.SMTPUser {
				t.Errorf("Mail() = %+v, does not carry %+v", mc, tc.cfg)
			}
			if mc.Password != tc.wantPassword {
				t.Errorf("password %q, want %q", mc.Password, tc.wantPassword)
			}
		})
	}
}
