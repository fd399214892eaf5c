package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/atelier-dev/atelier/internal/config"
)

// repoRoot is the repository's root, from this package's directory.
const repoRoot = "../.."

// flagToken is a long flag as the deployment files write it.
var flagToken = regexp.MustCompile(`--[a-z][a-z0-9-]*[a-z0-9]`)

// deployFlags returns the serve flags the deployment guide and the files
// it ships (systemd unit, container file, Kubernetes manifests) name,
// with where each was found. In the guide's shell blocks only the lines
// that run atelier count: the others are useradd's, docker's, kubectl's.
func deployFlags(t *testing.T) map[string]string {
	t.Helper()
	found := map[string]string{}
	add := func(where, text string) {
		for _, f := range flagToken.FindAllString(text, -1) {
			if _, ok := found[f]; !ok {
				found[f] = where
			}
		}
	}
	guide, err := os.ReadFile(filepath.Join(repoRoot, "docs/deploy.md"))
	if err != nil {
		t.Fatalf("read the deployment guide: %v", err)
	}
	inCode := false
	for i, line := range strings.Split(string(guide), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
			continue
		}
		where := "docs/deploy.md:" + strconv.Itoa(i+1)
		if inCode {
			if strings.Contains(line, "atelier serve") {
				add(where, line)
			}
			continue
		}
		// In prose, a code span that starts with another command
		// (`sbatch --uid`) names that command's flags.
		for j, part := range strings.Split(line, "`") {
			if f := strings.Fields(part); j%2 == 1 && len(f) > 0 && !strings.HasPrefix(f[0], "--") && f[0] != "atelier" {
				continue
			}
			add(where, part)
		}
	}
	err = filepath.WalkDir(filepath.Join(repoRoot, "deploy"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		for i, line := range strings.Split(string(data), "\n") {
			// Only the lines that hand atelier its arguments.
			if strings.Contains(line, "atelier serve") || strings.HasPrefix(strings.TrimSpace(line), "- --") ||
				strings.HasPrefix(line, "CMD ") || strings.HasPrefix(line, "ExecStart=") {
				add(rel+":"+strconv.Itoa(i+1), line)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read deploy/: %v", err)
	}
	return found
}

// testSources is the text of every test file of the repository but this one.
func testSources(t *testing.T) string {
	t.Helper()
	var all strings.Builder
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") || filepath.Base(p) == "deploy_doc_test.go" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		all.Write(data)
		return nil
	})
	if err != nil {
		t.Fatalf("read the tests: %v", err)
	}
	return all.String()
}

// TestDeployGuideFlags holds docs/deploy.md and deploy/ to the server: every
// flag they name is a flag of atelier serve, and every one is exercised by
// some test (handed to the flag parser or to a started server as
// "--name…"), so that a flag the guide recommends cannot silently stop
// working or be renamed.
func TestDeployGuideFlags(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	var c config.Config
	config.Bind(fs, &c)
	flags := deployFlags(t)
	if len(flags) < 10 {
		t.Fatalf("found only %d flags in the deployment guide and files: %v", len(flags), flags)
	}
	tests := testSources(t)
	names := make([]string, 0, len(flags))
	for f := range flags {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		if fs.Lookup(strings.TrimPrefix(f, "--")) == nil {
			t.Errorf("%s names %s, which atelier serve does not have", flags[f], f)
			continue
		}
		if !strings.Contains(tests, `"`+f+`"`) && !strings.Contains(tests, `"`+f+`=`) {
			t.Errorf("%s names %s, but no test passes it to the server or its flag parser", flags[f], f)
		}
	}
}

// TestDeployedCommandLinesParse: the command lines the systemd unit and the
// container file run are accepted by atelier serve's flags and checks.
func TestDeployedCommandLinesParse(t *testing.T) {
	for _, tc := range []struct {
		file, prefix string
		// split turns the line after prefix into arguments.
		split func(string) []string
	}{
		{"deploy/systemd/atelier.service", "ExecStart=/usr/local/bin/atelier serve ", strings.Fields},
		{"deploy/Containerfile", "CMD ", jsonArgs},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(repoRoot, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var args []string
			for _, line := range strings.Split(string(data), "\n") {
				if rest, ok := strings.CutPrefix(line, tc.prefix); ok {
					args = tc.split(rest)
				}
			}
			if len(args) > 0 && args[0] == "serve" {
				args = args[1:] // the image's command line names the subcommand
			}
			if len(args) == 0 {
				t.Fatalf("%s has no line starting %q", tc.file, tc.prefix)
			}
			for _, k := range []string{"ATELIER_DATABASE", "ATELIER_OBS_ENDPOINT", "ATELIER_EXECUTOR", "ATELIER_LEASE_TTL", "ATELIER_JOBS_DIR"} {
				t.Setenv(k, "")
			}
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			var c config.Config
			config.Bind(fs, &c)
			if err := fs.Parse(args); err != nil {
				t.Fatalf("%s: atelier serve %q: %v", tc.file, args, err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("%s: atelier serve %q: %v", tc.file, args, err)
			}
		})
	}
}

// jsonArgs splits a Containerfile's exec form, ["a", "b"].
func jsonArgs(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit (with
// ExecStart pointing at this binary), where systemd is installed.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "deploy/systemd/atelier.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "atelier.service")
	text := strings.ReplaceAll(string(data), "/usr/local/bin/atelier", atelierBinary(t))
	if err := os.WriteFile(unit, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify deploy/systemd/atelier.service: %v\n%s", err, out)
	}
}
