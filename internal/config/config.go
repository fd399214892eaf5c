// Package config turns flags and ATELIER_* environment variables into one
// typed Config. It is the only package that reads the environment.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

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

	// OBS selects an S3-compatible object store (Huawei OBS, MinIO, AWS S3)
	// instead of the local folder DATA_DIR/obs when OBSEndpoint is set.
	OBSEndpoint  string
	OBSAccessKey string
	OBSSecretKey string
	OBSRegion    string
	OBSPathStyle bool

	// UnsafeNoJobSandbox runs training jobs without the sandbox, as the
	// server's own user: every job can then read the data directory, the
	// database and the server's secrets. Only for machines where the
	// sandbox cannot work and every job's author is trusted like the
	// operator.
	UnsafeNoJobSandbox bool
}

// Bind declares the serve flags on fs, each with its ATELIER_* variable (when set and non-empty) as
// the default, so that precedence is flag > environment > built-in default.
func Bind(fs *pflag.FlagSet, c *Config) {
	str := func(p *string, name, def, usage string) {
		env := "ATELIER_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if v := os.Getenv(env); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, fmt.Sprintf("%s (env %s)", usage, env))
	}
	str(&c.DataDir, "data-dir", "./atelier-data", "directory for the SQLite database, objects and job files")
	str(&c.Listen, "listen", "127.0.0.1:8080", "address to serve the API on")
	str(&c.Database, "database", "", "metadata database: empty for SQLite in the data dir, or a postgres:// URL")
	str(&c.Region, "region", "local-1", "region name of this installation")
	str(&c.Endpoint, "endpoint", "", "public base URL of the API (default http://<listen>)")
	str(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	str(&c.OBSEndpoint, "obs-endpoint", "", "URL of an S3-compatible object store (empty: the local folder DATA_DIR/obs)")
	str(&c.OBSAccessKey, "obs-access-key", "", "access key of the S3-compatible object store")
	str(&c.OBSSecretKey, "obs-secret-key", "", "secret key of the S3-compatible object store")
	str(&c.OBSRegion, "obs-region", "us-east-1", "region of the S3-compatible object store")
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
	if c.Listen == "" {
		return fmt.Errorf("--listen must not be empty")
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
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel)
	}
	return nil
}
