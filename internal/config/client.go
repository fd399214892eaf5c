package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Client is how the CLI's commands find a server and their credentials:
// each setting from its flag, else its ATELIER_* variable, else the
// bootstrap.json a local server wrote (read only when something is
// missing).
type Client struct {
	Endpoint      string
	ProjectID     string
	AccessKey     string
	SecretKey     string
	SecretKeyFile string
	Token         string
	// Bootstrap is the bootstrap.json to take missing settings from.
	Bootstrap string

	flags *pflag.FlagSet // where BindClient declared them, to tell a flag from a variable
}

// BindClient declares the client flags on fs, with their ATELIER_*
// variables as defaults (flag > environment > bootstrap file). Secret
// values never show in --help.
func BindClient(fs *pflag.FlagSet, c *Client) {
	c.flags = fs
	env := func(name string) string { return os.Getenv(name) }
	fs.StringVar(&c.Endpoint, "endpoint", env("ATELIER_ENDPOINT"), "server URL (env ATELIER_ENDPOINT; default: the bootstrap file's)")
	fs.StringVar(&c.ProjectID, "project-id", env("ATELIER_PROJECT_ID"), "project ID (env ATELIER_PROJECT_ID; default: the bootstrap file's)")
	fs.StringVar(&c.AccessKey, "ak", env("ATELIER_ACCESS_KEY"), "access key (env ATELIER_ACCESS_KEY; default: the bootstrap file's)")
	c.SecretKey = env("ATELIER_SECRET_KEY")
	SecretStringVar(fs, &c.SecretKey, "sk", "secret key; visible to other users in the process list, prefer env ATELIER_SECRET_KEY or --sk-file (default: the bootstrap file's)")
	fs.StringVar(&c.SecretKeyFile, "sk-file", "", "file holding the secret key (instead of --sk)")
	c.Token = env("ATELIER_TOKEN")
	SecretStringVar(fs, &c.Token, "token", "a project-scoped token instead of an AK/SK; visible to other users in the process list, prefer env ATELIER_TOKEN")
	bootstrap := "./atelier-data/bootstrap.json"
	if v := env("ATELIER_BOOTSTRAP"); v != "" {
		bootstrap = v
	}
	fs.StringVar(&c.Bootstrap, "bootstrap", bootstrap, "bootstrap.json to take missing settings from (env ATELIER_BOOTSTRAP)")
}

// Resolve returns the settings to connect with: the secret key read from
// SecretKeyFile when given, and what is still missing taken from the
// bootstrap file.
func (c Client) Resolve() (Client, error) {
	if c.SecretKeyFile != "" {
		if c.flags != nil && c.flags.Changed("sk") {
			return c, errors.New("give the secret key with --sk or --sk-file, not both")
		}
		data, err := os.ReadFile(c.SecretKeyFile)
		if err != nil {
			return c, fmt.Errorf("read --sk-file: %w", err)
		}
		if c.SecretKey = strings.TrimSpace(string(data)); c.SecretKey == "" {
			return c, fmt.Errorf("--sk-file %s is empty", c.SecretKeyFile)
		}
	}
	if c.Endpoint != "" && c.ProjectID != "" && (c.AccessKey != "" || c.Token != "") {
		return c, nil
	}
	data, err := os.ReadFile(c.Bootstrap)
	if err != nil {
		return c, fmt.Errorf("need --endpoint, --project-id and --ak/--sk (or --token), or a bootstrap file with them: %w", err)
	}
	var b struct {
		Endpoint  string `json:"endpoint"`
		ProjectID string `json:"project_id"`
		AccessKey string `json:"access_key"`
		SecretKey string `json:"secret_key"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return c, fmt.Errorf("read %s: %w", c.Bootstrap, err)
	}
	if c.Endpoint == "" {
		c.Endpoint = b.Endpoint
	}
	if c.ProjectID == "" {
		c.ProjectID = b.ProjectID
	}
	if c.AccessKey == "" && c.Token == "" {
		c.AccessKey, c.SecretKey = b.AccessKey, b.SecretKey
	}
	return c, nil
}
