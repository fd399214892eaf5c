// Package config turns flags and ATELIER_* environment variables into one
// typed Config. It is the only package that reads the environment.
package config

import (
	"fmt"
	"os"
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
}

// Validate checks the configuration and fills derived defaults.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("--data-dir must not be empty")
	}
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
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel)
	}
	return nil
}
