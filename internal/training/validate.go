package training

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"unicode/utf8"

	"github.com/atelier-dev/atelier/internal/obs"
)

// Limits of the reference, and Atelier's own where the reference has none.
const (
	MaxNameLen        = 64
	MaxDescriptionLen = 256
	MaxChannels       = 20  // inputs, outputs
	MaxParameters     = 100 // hyperparameters
	MaxEnvironments   = 100
	MaxEnvKeyLen      = 8192
	MaxEnvValueLen    = 4096
	MaxParamValueLen  = 8192
)

var (
	nameRe      = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	paramNameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	envKeyRe    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func checkName(field, name string) error {
	n := utf8.RuneCountInString(name)
	if n < 1 || n > MaxNameLen || !nameRe.MatchString(name) {
		return badRequest("%s must be 1 to %d characters of letters, digits, '_' and '-'", field, MaxNameLen)
	}
	return nil
}

func checkDescription(field, d string) error {
	if utf8.RuneCountInString(d) > MaxDescriptionLen {
		return badRequest("%s must be at most %d characters", field, MaxDescriptionLen)
	}
	return nil
}

// checkParameters validates hyperparameters: names become "--name=value"
// arguments, so they are restricted to a safe alphabet; values are passed as
// one argument each and are never interpreted by a shell.
func checkParameters(field string, ps []Parameter) error {
	if len(ps) > MaxParameters {
		return invalid(CodeParamRange, "The parameter(%s) exceeds the upper limit %d.", field, MaxParameters)
	}
	seen := map[string]bool{}
	for i, p := range ps {
		if !paramNameRe.MatchString(p.Name) {
			return badRequest("%s[%d].name %q must start with a letter, digit or '_' and contain only letters, digits, '_', '.' and '-' (at most 128)", field, i, p.Name)
		}
		if seen[p.Name] {
			return invalid(CodeParameterKeyRepeat, "parameter key repeat: %s.", p.Name)
		}
		seen[p.Name] = true
		if len(p.Value) > MaxParamValueLen || strings.ContainsRune(p.Value, 0) {
			return badRequest("%s[%d].value must be at most %d bytes without NUL", field, i, MaxParamValueLen)
		}
		if err := checkDescription(fmt.Sprintf("%s[%d].description", field, i), p.Description); err != nil {
			return err
		}
	}
	return nil
}

// normalizeParameters fills each parameter's constraint defaults as the
// reference answers them.
func normalizeParameters(ps []Parameter) []Parameter {
	out := make([]Parameter, 0, len(ps))
	t, f := true, false
	for _, p := range ps {
		if p.Constraint == nil {
			p.Constraint = &ParameterConstraint{}
		}
		c := *p.Constraint
		if c.Type == "" {
			c.Type = "String"
		}
		if c.Editable == nil {
			c.Editable = &t
		}
		if c.Required == nil {
			c.Required = &f
		}
		if c.Sensitive == nil {
			c.Sensitive = &f
		}
		if c.ValidType == "" {
			c.ValidType = "None"
		}
		if c.ValidRange == nil {
			c.ValidRange = []string{}
		}
		p.Constraint = &c
		out = append(out, p)
	}
	return out
}

// parseOBSDir parses an OBS directory location (code dir, input, output,
// log path); a location without a trailing "/" is taken as a directory.
func parseOBSDir(field, s string) (obs.Path, error) {
	p, err := obs.ParsePath(s)
	if err != nil {
		return obs.Path{}, invalid(CodeInvalidOBSPath, "Invalid obs path: %s, reason: %s (%s).", s, reasonOf(err), field)
	}
	if p.Key != "" && !strings.HasSuffix(p.Key, "/") {
		p.Key += "/"
	}
	return p, nil
}

// parseOBSAny parses an OBS location that may be an object or a directory.
func parseOBSAny(field, s string) (obs.Path, error) {
	p, err := obs.ParsePath(s)
	if err != nil {
		return obs.Path{}, invalid(CodeInvalidOBSPath, "Invalid obs path: %s, reason: %s (%s).", s, reasonOf(err), field)
	}
	return p, nil
}

func reasonOf(err error) string {
	switch {
	case errors.Is(err, obs.ErrInvalidBucket):
		return "invalid bucket name"
	case errors.Is(err, obs.ErrInvalidKey):
		return `invalid key (empty, ".", ".." segments, control characters or backslashes are not allowed)`
	}
	return "want obs://bucket/path/ or /bucket/path/"
}

// codeLocation parses a code directory and a boot file inside it. "../"
// tricks cannot escape: keys with "." or ".." segments are refused by the
// parser, and the boot file's key must start with the code directory's.
func codeLocation(codeDir, bootFile string) (dir, boot obs.Path, err error) {
	dir, err = obs.ParsePath(codeDir)
	if err != nil || dir.Key == "" {
		return dir, boot, invalid(CodeCodeDir, "code directory path error: %q must be obs://bucket/dir/ or /bucket/dir/.", codeDir)
	}
	if !strings.HasSuffix(dir.Key, "/") {
		dir.Key += "/"
	}
	boot, err = obs.ParsePath(bootFile)
	if err != nil || boot.IsDir() {
		return dir, boot, invalid(CodeBootFile, "code startup file path error: %q is not a file path.", bootFile)
	}
	if boot.Bucket != dir.Bucket || !strings.HasPrefix(boot.Key, dir.Key) {
		return dir, boot, invalid(CodeBootFile, "code startup file path error: the boot file %q is not inside the code directory %q.", bootFile, codeDir)
	}
	return dir, boot, nil
}

// checkCodeExists checks that the code directory holds objects and the boot
// file exists, and returns the code's total size.
func (s *Service) checkCodeExists(ctx context.Context, dir, boot obs.Path) (int64, error) {
	if err := s.objects.HeadBucket(ctx, dir.Bucket); err != nil {
		if errors.Is(err, obs.ErrBucketNotFound) {
			return 0, invalid(CodeCodeDir, "code directory path error: bucket %q does not exist.", dir.Bucket)
		}
		return 0, fmt.Errorf("head bucket %s: %w", dir.Bucket, err)
	}
	var size int64
	var n int
	opts := obs.ListOptions{Prefix: dir.Key}
	for {
		page, err := s.objects.List(ctx, dir.Bucket, opts)
		if err != nil {
			return 0, fmt.Errorf("list code directory %s: %w", dir, err)
		}
		for _, o := range page.Objects {
			size += o.Size
			n++
		}
		if !page.Truncated || n >= 100000 {
			break
		}
		opts.StartAfter = page.NextStartAfter
	}
	if n == 0 {
		return 0, invalid(CodeCodeDir, "code directory path error: %s does not exist or is empty.", dir)
	}
	if _, err := s.objects.Head(ctx, boot.Bucket, boot.Key); err != nil {
		if errors.Is(err, obs.ErrNotFound) {
			return 0, invalid(CodeBootFile, "code startup file path error: %s does not exist.", boot)
		}
		return 0, fmt.Errorf("head boot file %s: %w", boot, err)
	}
	return size, nil
}

// checkBucket checks that a bucket exists.
func (s *Service) checkBucket(ctx context.Context, field string, p obs.Path) error {
	if err := s.objects.HeadBucket(ctx, p.Bucket); err != nil {
		if errors.Is(err, obs.ErrBucketNotFound) {
			return invalid(CodeBucketNotExist, "OBS bucket %q of %s does not exist.", p.Bucket, field)
		}
		return fmt.Errorf("head bucket %s: %w", p.Bucket, err)
	}
	return nil
}

// checkExists checks that an input location holds data: an object, or a
// directory prefix with at least one object.
func (s *Service) checkExists(ctx context.Context, field string, p obs.Path) error {
	if err := s.checkBucket(ctx, field, p); err != nil {
		return err
	}
	if !p.IsDir() {
		if _, err := s.objects.Head(ctx, p.Bucket, p.Key); err == nil {
			return nil
		} else if !errors.Is(err, obs.ErrNotFound) {
			return fmt.Errorf("head %s: %w", p, err)
		}
	}
	prefix := p.Key
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	page, err := s.objects.List(ctx, p.Bucket, obs.ListOptions{Prefix: prefix, MaxKeys: 1})
	if err != nil {
		return fmt.Errorf("list %s: %w", p, err)
	}
	if len(page.Objects) == 0 {
		return invalid(CodeOBSPathNotExist, "OBS path %s does not exist (%s).", p, field)
	}
	return nil
}

func cpuArch() string {
	switch runtime.GOARCH {
	case "amd64", "386":
		return "x86"
	case "arm64", "arm":
		return "arm"
	}
	return runtime.GOARCH
}
