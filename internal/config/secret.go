package config

import (
	"net/url"

	"github.com/spf13/pflag"
)

// secretAnnotation marks a flag whose value is a secret (or may hold one).
const secretAnnotation = "atelier_secret"

// secretValue is a string flag whose String, which pflag uses for the
// default shown in --help (and anything else that prints flag values),
// shows the value redacted: a default taken from the environment must not
// appear on a terminal, in a CI log or in a bug report.
type secretValue struct {
	p      *string
	redact func(string) string
}

func (v *secretValue) Set(s string) error { *v.p = s; return nil }
func (v *secretValue) Type() string       { return "string" }
func (v *secretValue) String() string {
	if v.p == nil || *v.p == "" {
		return ""
	}
	return v.redact(*v.p)
}

// hideAll redacts a value that is a secret as a whole. The empty string
// makes pflag print no default at all.
func hideAll(string) string { return "" }

// redacted replaces a password in a URL.
const redacted = "xxxxx"

// RedactURL hides the password of a URL, in its user information
// (postgres://user:password@host/db) or in a password query parameter
// (postgres://host/db?password=…); a URL without one is returned as is. A
// value that does not parse as a URL is hidden entirely, since it might be
// a secret that only looks broken.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redacted
	}
	if !hasPassword(u) {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), redacted)
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", redacted)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func hasPassword(u *url.URL) bool {
	_, inUser := u.User.Password()
	return inUser || u.Query().Has("password")
}

// SecretsOnCommandLine names the flags of fs that were given a secret on the
// command line, where any user of the machine can read it (ps, /proc): the
// caller warns about each. A URL flag counts only when it holds a password.
func SecretsOnCommandLine(fs *pflag.FlagSet) []string {
	var names []string
	fs.Visit(func(f *pflag.Flag) {
		if v, ok := f.Annotations[secretAnnotation]; !ok || len(v) == 0 {
			return
		}
		// A value shown as is holds nothing secret (a URL without a password).
		sv, ok := f.Value.(*secretValue)
		if !ok || *sv.p == "" || sv.redact(*sv.p) == *sv.p {
			return
		}
		names = append(names, "--"+f.Name)
	})
	return names
}

// SecretStringVar declares a string flag whose value is a secret: --help
// never shows it and SecretsOnCommandLine reports it when given.
func SecretStringVar(fs *pflag.FlagSet, p *string, name, usage string) {
	fs.Var(&secretValue{p: p, redact: hideAll}, name, usage)
	fs.SetAnnotation(name, secretAnnotation, []string{"true"})
}
