// Package config turns flags and ATELIER_* environment variables into one
// typed Config. It is the only package that reads the environment.
package config

import (
	"github.com/atelier-dev/atelier/internal/dataset/autolabel/inference"

	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/mail"
	"github.com/spf13/pflag"
)

// Config is the server's configuration.
type Config struct {
	DataDir  string
	Listen   string
	Database string
	Region   string
	Endpoint string
	LogLevel string
	// DebugListen, when set, serves Go's profiles (net/http/pprof) on this
	// loopback address: off by default, and never on the API's listener.
	DebugListen string
	// MetricsListen, when set, serves /metrics in Prometheus' format on
	// this address (aggregate figures only), never on the API's listener.
	MetricsListen string

	// OBS selects an S3-compatible object store (Huawei OBS, MinIO, AWS S3)
	// instead of the local folder DATA_DIR/obs when OBSEndpoint is set.
	OBSEndpoint  string
	OBSAccessKey string
	OBSSecretKey string
	OBSRegion    string
	OBSPathStyle bool

	// Executor names what runs training jobs: "local" (sandboxed processes
	// on this machine, the default) or "slurm" (a Slurm cluster, see Slurm);
	// cluster executors add their names.
	Executor string
	// Slurm configures the Slurm executor.
	Slurm SlurmConfig
	// JobsDir holds the training jobs' working directories (code, inputs,
	// outputs, logs); empty for DATA_DIR/jobs. A cluster executor's tasks
	// run on other machines, so it must be on a file system they share
	// with the server, mounted at the same path.
	JobsDir string
	// Kubernetes* configure --executor kubernetes: the API server (a
	// kubeconfig file, or the pod's own service account when empty), the
	// namespace jobs run in, the ReadWriteMany claim mounted at JobsDir, the
	// image of jobs that name none, the jobs' pods' service account, and the
	// share of the cluster Atelier's jobs may use at once
	// ("cpu=16,memory=64Gi,gpu=2"), which Validate parses into
	// KubernetesCPU, KubernetesMemoryMiB and KubernetesGPUs.
	KubernetesKubeconfig     string
	KubernetesNamespace      string
	KubernetesJobsClaim      string
	KubernetesDefaultImage   string
	KubernetesServiceAccount string
	KubernetesCapacity       string
	KubernetesCPU            float64
	KubernetesMemoryMiB      int64
	KubernetesGPUs           int

	// LeaseTTL is how long a replica holds a background task, or the
	// training scheduler, without renewing its lease: when a replica dies,
	// another takes its work over once the lease lapses.
	LeaseTTL time.Duration

	// UnsafeNoJobSandbox runs training jobs without the sandbox, as the
	// server's own user: every job can then read the data directory, the
	// database and the server's secrets. Only for machines where the
	// sandbox cannot work and every job's author is trusted like the
	// operator.
	UnsafeNoJobSandbox bool
	// SecretsKeyFile is the key-encryption key that seals access-key
	// secrets and server keys in the database; empty for DATA_DIR/secrets.key
	// (created on first start). Replicas sharing a database share this file.
	SecretsKeyFile string
	// PreviousSecretsKeyFile is the key-encryption key being rotated away
	// from: secrets sealed with it are re-sealed with SecretsKeyFile's at
	// start. Empty when not rotating.
	PreviousSecretsKeyFile string

	// SMTPAddr (host:port) enables e-mail notifications through that SMTP
	// server; empty sends none. The password is read from SMTPPasswordFile
	// so that it never appears in the process list.
	SMTPAddr         string
	SMTPUser         string
	SMTPPasswordFile string
	SMTPFrom         string

	// ModelServers are the model servers pre-labeling may send samples
	// to, as name=http://host:port/model[/version][?labels=a,b][&timeout=30s]; Models
	// holds them parsed (Validate fills it). Only the operator names
	// them: a request never gives a URL the server would call.
	ModelServers []string
	Models       []inference.Endpoint
}

// DefaultLeaseTTL is --lease-ttl's default: a dead replica's work resumes
// within half a minute, and a live one keeps its work through what can
// hold up a renewal for a while: on SQLite, a renewal waits for the write
// lock behind a bulk import's batches (busy_timeout is 15 s, and the lock
// is not handed out in order), which a 15 s lease did not survive.
const DefaultLeaseTTL = 30 * time.Second

// SlurmConfig is where and as whom the Slurm executor submits jobs.
type SlurmConfig struct {
	// Partition and Account are sbatch's --partition and --account (empty:
	// the cluster's defaults).
	Partition string
	Account   string
	// JobUser is the unprivileged account jobs run as (sbatch --uid): never
	// root nor the server's user. Required with --executor slurm.
	JobUser string
	// BinDir holds sbatch, squeue, scancel, scontrol, sinfo, sacct and
	// sstat (empty: found in PATH).
	BinDir string
}

// Bind declares the serve flags on fs, each with its ATELIER_* variable (when set and non-empty) as
// the default, so that precedence is flag > environment > built-in default.
// A flag whose value is a secret never shows that value (from the
// environment) as its default in --help: see secretValue.
func Bind(fs *pflag.FlagSet, c *Config) {
	str := func(p *string, name, def, usage string, redact func(string) string) {
		env := "ATELIER_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if v := os.Getenv(env); v != "" {
			def = v
		}
		usage = fmt.Sprintf("%s (env %s)", usage, env)
		if redact == nil {
			fs.StringVar(p, name, def, usage)
			return
		}
		*p = def
		fs.Var(&secretValue{p: p, redact: redact}, name, usage)
		fs.SetAnnotation(name, secretAnnotation, []string{"true"})
	}
	str(&c.DataDir, "data-dir", "./atelier-data", "directory for the SQLite database, objects and job files", nil)
	str(&c.Listen, "listen", "127.0.0.1:8080", "address to serve the API on", nil)
	str(&c.Database, "database", "", "metadata database: empty for SQLite in the data dir, or a postgres:// URL", RedactURL)
	str(&c.Region, "region", "local-1", "region name of this installation", nil)
	str(&c.Endpoint, "endpoint", "", "public base URL of the API (default http://<listen>)", nil)
	str(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error", nil)
	str(&c.MetricsListen, "metrics-listen", "", "address (e.g. 127.0.0.1:9464, or the monitoring network's) to serve /metrics on in Prometheus' format: requests and latency by route, authorization decisions, the task queue, training jobs by phase (empty: off)", nil)
	str(&c.DebugListen, "debug-listen", "", "loopback address (e.g. 127.0.0.1:6060) to serve Go's CPU, heap, goroutine, mutex and block profiles on, for the operator (empty: off)", nil)
	str(&c.Executor, "executor", "local", "what runs training jobs: local (sandboxed processes on this machine), slurm (a Slurm cluster, through sbatch/squeue/scancel; see the --slurm-* flags) or kubernetes (Indexed Jobs in a cluster; see the --kubernetes-* flags)", nil)
	str(&c.Slurm.Partition, "slurm-partition", "", "with --executor slurm: the partition jobs are submitted to (empty: the cluster's default)", nil)
	str(&c.Slurm.Account, "slurm-account", "", "with --executor slurm: the Slurm account jobs are charged to (empty: the job user's default)", nil)
	str(&c.Slurm.JobUser, "slurm-job-user", "", "with --executor slurm: the unprivileged user (name or uid, on every node) training jobs run as; never root or the server's user", nil)
	str(&c.Slurm.BinDir, "slurm-bin-dir", "", "with --executor slurm: directory of Slurm's client commands (sbatch, squeue, …; empty: PATH)", nil)
	str(&c.KubernetesKubeconfig, "kubernetes-kubeconfig", "", "with --executor kubernetes: kubeconfig file of the cluster (empty: the pod's own service account, in-cluster)", nil)
	str(&c.KubernetesNamespace, "kubernetes-namespace", "", "with --executor kubernetes: namespace training jobs run in (required)", nil)
	str(&c.KubernetesJobsClaim, "kubernetes-jobs-claim", "", "with --executor kubernetes: ReadWriteMany PersistentVolumeClaim mounted at --jobs-dir in this server's pod; jobs' pods mount their own directories of it (required)", nil)
	str(&c.KubernetesDefaultImage, "kubernetes-default-image", "", "with --executor kubernetes: container image of jobs whose algorithm names none; it must hold the engines' interpreters (required)", nil)
	str(&c.KubernetesServiceAccount, "kubernetes-service-account", "", "with --executor kubernetes: service account of jobs' pods, best one with no rights (its token is never mounted; empty: the namespace's default)", nil)
	str(&c.KubernetesCapacity, "kubernetes-capacity", "", "with --executor kubernetes: resources Atelier's jobs may use at once, e.g. cpu=16,memory=64Gi,gpu=2 (required)", nil)
	str(&c.JobsDir, "jobs-dir", "", "directory for training jobs' working directories (default DATA_DIR/jobs); with a cluster executor, a shared file system mounted at the same path on every node", nil)
	str(&c.OBSEndpoint, "obs-endpoint", "", "URL of an S3-compatible object store (empty: the local folder DATA_DIR/obs)", nil)
	str(&c.OBSAccessKey, "obs-access-key", "", "access key of the S3-compatible object store", nil)
	str(&c.OBSSecretKey, "obs-secret-key", "", "secret key of the S3-compatible object store", hideAll)
	str(&c.OBSRegion, "obs-region", "us-east-1", "region of the S3-compatible object store", nil)
	str(&c.SecretsKeyFile, "secrets-key-file", "", "file holding the key that encrypts secrets in the database (default DATA_DIR/secrets.key, created on first start); replicas sharing a database must share it", nil)
	str(&c.PreviousSecretsKeyFile, "previous-secrets-key-file", "", "to rotate the key of --secrets-key-file: the old key file; secrets sealed with it are re-sealed with the new key at start", nil)
	str(&c.SMTPAddr, "smtp-addr", "", "SMTP server (host:port) that sends notification e-mail, with STARTTLS when it offers it (empty: no e-mail)", nil)
	str(&c.SMTPUser, "smtp-user", "", "user name for SMTP AUTH (empty: no authentication)", nil)
	str(&c.SMTPPasswordFile, "smtp-password-file", "", "file holding the SMTP AUTH password (one line)", nil)
	str(&c.SMTPFrom, "smtp-from", "", "sender address of notification e-mail, e.g. 'Atelier <atelier@example.com>'", nil)
	var models []string
	if v := os.Getenv("ATELIER_MODEL_SERVERS"); v != "" {
		models = strings.Split(v, ";")
	}
	fs.StringArrayVar(&c.ModelServers, "model-server", models,
		"a model server pre-labeling may use, name=http://host:port/model[/version][?labels=a,b][&timeout=30s] speaking the Open Inference Protocol v2; repeatable (env ATELIER_MODEL_SERVERS, ';'-separated)")
	lease := DefaultLeaseTTL
	if v := os.Getenv("ATELIER_LEASE_TTL"); v != "" {
		var err error
		if lease, err = time.ParseDuration(v); err != nil {
			lease = -1 // Validate refuses it
		}
	}
	fs.DurationVar(&c.LeaseTTL, "lease-ttl", lease, "how long a replica holds a background task or the training scheduler without renewing it; when a replica dies another takes its work over after this (env ATELIER_LEASE_TTL)")
	pathStyle := true
	if v := os.Getenv("ATELIER_OBS_PATH_STYLE"); v != "" {
		pathStyle = v == "true" || v == "1"
	}
	fs.BoolVar(&c.OBSPathStyle, "obs-path-style", pathStyle, "address buckets path-style (endpoint/bucket/key) instead of virtual-host style (env ATELIER_OBS_PATH_STYLE)")
	noSandbox := false
	if v := os.Getenv("ATELIER_UNSAFE_NO_JOB_SANDBOX"); v != "" {
		noSandbox = v == "true" || v == "1"
	}
	fs.BoolVar(&c.UnsafeNoJobSandbox, "unsafe-no-job-sandbox", noSandbox,
		"UNSAFE: run training jobs without the bubblewrap sandbox, able to read the database and every secret of the server (env ATELIER_UNSAFE_NO_JOB_SANDBOX)")
}

// Validate checks the configuration and fills derived defaults.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("--data-dir must not be empty")
	}
	// Jobs run in their own working directories: every path handed to them
	// (and stored) must not depend on the server's working directory.
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("--data-dir %q: %w", c.DataDir, err)
	}
	c.DataDir = abs
	if c.JobsDir == "" {
		c.JobsDir = filepath.Join(abs, "jobs")
	} else if c.JobsDir, err = filepath.Abs(c.JobsDir); err != nil {
		return fmt.Errorf("--jobs-dir: %w", err)
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.LeaseTTL < time.Second {
		return fmt.Errorf("--lease-ttl %v: want a duration of at least 1s (leases are renewed every 500ms), e.g. 30s", c.LeaseTTL)
	}
	switch c.Executor {
	case "", "local":
		c.Executor = "local"
	case "slurm":
		if c.Slurm.JobUser == "" {
			return fmt.Errorf("--executor slurm needs --slurm-job-user, the unprivileged user jobs run as")
		}
		// The job user cannot enter the data directory (0700), and the
		// nodes need the jobs directory on a file system they share.
		if c.JobsDir == abs || strings.HasPrefix(c.JobsDir, abs+string(filepath.Separator)) {
			return fmt.Errorf("--executor slurm needs --jobs-dir outside --data-dir, on a file system the Slurm nodes share")
		}
	case "kubernetes":
		if err := c.validateKubernetes(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("--executor %q: want local, slurm or kubernetes", c.Executor)
	}
	for _, f := range []struct {
		p    *string
		flag string
	}{{&c.SecretsKeyFile, "--secrets-key-file"}, {&c.PreviousSecretsKeyFile, "--previous-secrets-key-file"}} {
		if *f.p != "" {
			if *f.p, err = filepath.Abs(*f.p); err != nil {
				return fmt.Errorf("%s: %w", f.flag, err)
			}
		}
	}
	if c.Listen == "" {
		return fmt.Errorf("--listen must not be empty")
	}
	if err := checkDebugListen(c.DebugListen); err != nil {
		return err
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return fmt.Errorf("--metrics-listen %q: want host:port, e.g. 127.0.0.1:9464: %w", c.MetricsListen, err)
		}
	}
	c.Models = nil
	for _, m := range c.ModelServers {
		ep, err := inference.ParseEndpoint(strings.TrimSpace(m))
		if err != nil {
			return fmt.Errorf("--model-server: %w", err)
		}
		c.Models = append(c.Models, ep)
	}
	if c.Region == "" || strings.ContainsAny(c.Region, " _/") {
		return fmt.Errorf("--region %q must be a non-empty name without spaces, '_' or '/'", c.Region)
	}
	if c.Endpoint == "" {
		c.Endpoint = "http://" + c.Listen
	}
	c.Endpoint = strings.TrimRight(c.Endpoint, "/")
	if c.OBSEndpoint != "" {
		if !strings.HasPrefix(c.OBSEndpoint, "http://") && !strings.HasPrefix(c.OBSEndpoint, "https://") {
			return fmt.Errorf("--obs-endpoint %q must be an http:// or https:// URL", c.OBSEndpoint)
		}
		if c.OBSAccessKey == "" || c.OBSSecretKey == "" {
			return fmt.Errorf("--obs-endpoint needs --obs-access-key and --obs-secret-key")
		}
	}
	if err := c.validateSMTP(); err != nil {
		return err
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel)
	}
	return nil
}

func (c *Config) validateSMTP() error {
	if c.SMTPAddr == "" {
		if c.SMTPUser != "" || c.SMTPPasswordFile != "" || c.SMTPFrom != "" {
			return fmt.Errorf("--smtp-user, --smtp-password-file and --smtp-from need --smtp-addr")
		}
		return nil
	}
	if c.SMTPFrom == "" {
		return fmt.Errorf("--smtp-addr needs --smtp-from, the sender address of notification e-mail")
	}
	if (c.SMTPUser == "") != (c.SMTPPasswordFile == "") {
		return fmt.Errorf("--smtp-user and --smtp-password-file go together")
	}
	if c.SMTPPasswordFile != "" {
		abs, err := filepath.Abs(c.SMTPPasswordFile)
		if err != nil {
			return fmt.Errorf("--smtp-password-file: %w", err)
		}
		c.SMTPPasswordFile = abs
	}
	// Mail reads the password file and checks the address and sender, so
	// that a mistake stops the start rather than the first notification.
	if _, err := c.Mail(); err != nil {
		return err
	}
	return nil
}

// Mail is the configuration of the notification mail sender, with the
// password read from --smtp-password-file; the zero mail.Config (not
// Enabled) when --smtp-addr is empty.
func (c Config) Mail() (mail.Config, error) {
	if c.SMTPAddr == "" {
		return mail.Config{}, nil
	}
	mc := mail.Config{Addr: c.SMTPAddr, User: c.SMTPUser, From: c.SMTPFrom}
	if c.SMTPPasswordFile != "" {
		b, err := os.ReadFile(c.SMTPPasswordFile)
		if err != nil {
			return mail.Config{}, fmt.Errorf("--smtp-password-file: %w", err)
		}
		// One line; the final line break an editor adds is not part of it.
		mc.Password = strings.TrimRight(string(b), "\r\n")
		if mc.Password == "" {
			return mail.Config{}, fmt.Errorf("--smtp-password-file %s is empty", c.SMTPPasswordFile)
		}
		if strings.ContainsAny(mc.Password, "\r\n") {
			return mail.Config{}, fmt.Errorf("--smtp-password-file %s holds more than one line", c.SMTPPasswordFile)
		}
	}
	if err := mc.Validate(); err != nil {
		return mail.Config{}, fmt.Errorf("SMTP configuration (--smtp-addr, --smtp-from): %w", err)
	}
	return mc, nil
}

// checkDebugListen accepts an empty address (off) or a loopback one. The
// profiles show the server's stacks and allocation sites and have no
// sign-in, so only someone on the machine (or through an SSH tunnel) may
// reach them: a non-loopback address is refused rather than trusted to a
// firewall.
func checkDebugListen(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--debug-listen %q: want host:port, e.g. 127.0.0.1:6060: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--debug-listen %q: the profiling listener has no sign-in, so it listens on loopback only "+
			"(127.0.0.1, ::1 or localhost); reach it from elsewhere through an SSH tunnel", addr)
	}
	return nil
}

// validateKubernetes checks the --kubernetes-* flags of --executor
// kubernetes and parses the capacity.
func (c *Config) validateKubernetes() error {
	for _, f := range []struct{ v, flag string }{{c.KubernetesNamespace, "--kubernetes-namespace"},
		{c.KubernetesJobsClaim, "--kubernetes-jobs-claim"}, {c.KubernetesDefaultImage, "--kubernetes-default-image"},
		{c.KubernetesCapacity, "--kubernetes-capacity"}} {
		if f.v == "" {
			return fmt.Errorf("--executor kubernetes needs %s", f.flag)
		}
	}
	if c.KubernetesKubeconfig != "" {
		abs, err := filepath.Abs(c.KubernetesKubeconfig)
		if err != nil {
			return fmt.Errorf("--kubernetes-kubeconfig: %w", err)
		}
		c.KubernetesKubeconfig = abs
	}
	c.KubernetesCPU, c.KubernetesMemoryMiB, c.KubernetesGPUs = 0, 0, 0
	for _, kv := range strings.Split(c.KubernetesCapacity, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		var err error
		switch k {
		case "cpu":
			c.KubernetesCPU, err = strconv.ParseFloat(v, 64)
			if err == nil && (c.KubernetesCPU <= 0 || math.IsInf(c.KubernetesCPU, 0) || math.IsNaN(c.KubernetesCPU)) {
				err = errors.New("not a positive number")
			}
		case "memory":
			c.KubernetesMemoryMiB, err = parseMiB(v)
		case "gpu":
			c.KubernetesGPUs, err = strconv.Atoi(v)
			if err == nil && c.KubernetesGPUs < 0 {
				err = errors.New("negative")
			}
		default:
			err = errors.New("want cpu=, memory= or gpu=")
		}
		if err != nil {
			return fmt.Errorf("--kubernetes-capacity %q: %s: %w", c.KubernetesCapacity, kv, err)
		}
	}
	if c.KubernetesCPU == 0 || c.KubernetesMemoryMiB == 0 {
		return fmt.Errorf("--kubernetes-capacity %q: needs cpu= and memory=", c.KubernetesCapacity)
	}
	return nil
}

// parseMiB reads a size with a Mi, Gi or Ti suffix into MiB.
func parseMiB(s string) (int64, error) {
	for suffix, mul := range map[string]int64{"Mi": 1, "Gi": 1 << 10, "Ti": 1 << 20} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil || v <= 0 || v > math.MaxInt64/mul {
				return 0, errors.New("not a positive size")
			}
			return v * mul, nil
		}
	}
	return 0, errors.New("want a size in Mi, Gi or Ti, e.g. 64Gi")
}
