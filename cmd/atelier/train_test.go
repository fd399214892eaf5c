package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// runCLI runs `atelier <group> …` against env with the bootstrap
// account's AK/SK, returning what it printed and its error.
func runCLI(t *testing.T, env *servertest.Env, group string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRoot(&out)
	a := env.Account
	root.SetArgs(append([]string{group, "--endpoint", env.URL, "--project-id", a.ProjectID, "--ak", a.AccessKey, "--sk", a.SecretKey}, args...))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func trainCLI(t *testing.T, env *servertest.Env, args ...string) (string, error) {
	t.Helper()
	return runCLI(t, env, "train", args...)
}

func TestTrainRunFollow(t *testing.T) {
	pollInterval = 100 * time.Millisecond
	env := servertest.Start(t, "sqlite")
	code := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(code, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("train.py", `import argparse, os
from lib.greet import greeting
p = argparse.ArgumentParser(); p.add_argument("--who"); p.add_argument("--train_url")
a = p.parse_args()
print(greeting(a.who), flush=True)
open(os.path.join(a.train_url, "model.txt"), "w").write("weights of " + a.who + "\n")
`)
	write("lib/__init__.py", "")
	write("lib/greet.py", "def greeting(who):\n    return 'hello from atelier, ' + who\n")
	write(".git/HEAD", "ref: refs/heads/main\n")
	write("lib/__pycache__/greet.cpython-311.pyc", "junk")

	out, err := trainCLI(t, env, "run", "--code", code, "--boot", "train.py", "--name", "cli-job", "--bucket", "cli-code",
		"--param", "who=Ada", "--output", "train_url", "--follow")
	if err != nil {
		t.Fatalf("train run --follow: %v\n%s", err, out)
	}
	for _, want := range []string{"Uploading " + code + " to obs://cli-code/cli-job/code/", "Uploaded 3/3 files",
		"hello from atelier, Ada\n", "--- training job ", " Completed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	ctx := context.Background()
	r, _, err := env.App.Objects.Get(ctx, "cli-code", "cli-job/train_url/model.txt", nil)
	if err != nil {
		t.Fatalf("output object: %v", err)
	}
	model, _ := io.ReadAll(r)
	r.Close()
	if string(model) != "weights of Ada\n" {
		t.Errorf("output model.txt = %q", model)
	}
	page, err := env.App.Objects.List(ctx, "cli-code", obs.ListOptions{Prefix: "cli-job/code/"})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range page.Objects {
		keys = append(keys, strings.TrimPrefix(o.Key, "cli-job/code/"))
	}
	if strings.Join(keys, ",") != "lib/__init__.py,lib/greet.py,train.py" {
		t.Errorf("uploaded code = %v; want the three sources without .git and __pycache__", keys)
	}
	id := regexp.MustCompile(`Created training job ([0-9a-f]{32})`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no job ID in the output:\n%s", out)
	}

	t.Run("logs", func(t *testing.T) {
		out, err := trainCLI(t, env, "logs", id[1])
		if err != nil || out != "hello from atelier, Ada\n" {
			t.Errorf("train logs = %q, %v", out, err)
		}
	})
	t.Run("list", func(t *testing.T) {
		out, err := trainCLI(t, env, "list", "--phase", "Completed")
		if err != nil || !strings.Contains(out, id[1]) || !strings.Contains(out, "cli-job") {
			t.Errorf("train list = %q, %v", out, err)
		}
		out, err = trainCLI(t, env, "list", "--phase", "Running")
		if err != nil || strings.Contains(out, id[1]) {
			t.Errorf("train list --phase Running = %q, %v", out, err)
		}
	})
	t.Run("show", func(t *testing.T) {
		out, err := trainCLI(t, env, "show", id[1])
		if err != nil || !strings.Contains(out, `"phase": "Completed"`) || !strings.Contains(out, `"code_dir": "obs://cli-code/cli-job/code/"`) {
			t.Errorf("train show = %q, %v", out, err)
		}
	})
	t.Run("failing-job", func(t *testing.T) {
		write("fail.sh", "echo about to fail\nexit 3\n")
		out, err := trainCLI(t, env, "run", "--code", code, "--boot", "fail.sh", "--name", "cli-fail", "--bucket", "cli-code", "--follow")
		if err == nil || !strings.Contains(err.Error(), "ended Failed") || !strings.Contains(out, "about to fail") || !strings.Contains(out, " Failed") {
			t.Errorf("failing job: err %v, output:\n%s", err, out)
		}
	})
	t.Run("stop", func(t *testing.T) {
		write("sleep.sh", "echo sleeping\nsleep 30\n")
		out, err := trainCLI(t, env, "run", "--code", code, "--boot", "sleep.sh", "--name", "cli-sleep", "--bucket", "cli-code")
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out)
		}
		sid := regexp.MustCompile(`Created training job ([0-9a-f]{32})`).FindStringSubmatch(out)
		if sid == nil {
			t.Fatalf("no job ID:\n%s", out)
		}
		if out, err := trainCLI(t, env, "stop", sid[1]); err != nil || !strings.Contains(out, "Training job "+sid[1]) {
			t.Fatalf("stop: %q, %v", out, err)
		}
		out, err = trainCLI(t, env, "logs", sid[1], "--follow")
		if err == nil || !strings.Contains(out, "Terminated") {
			t.Errorf("logs --follow of a stopped job: err %v, output:\n%s", err, out)
		}
	})
	t.Run("server-error", func(t *testing.T) {
		_, err := trainCLI(t, env, "show", "0123456789abcdef0123456789abcdef")
		if err == nil || !regexp.MustCompile(`ModelArts\.\d+: .+ \(HTTP 4\d\d\)`).MatchString(err.Error()) {
			t.Errorf("show of an unknown job: %v; want the error_code and error_msg", err)
		}
	})
}

func TestTrainCredentialsFromBootstrap(t *testing.T) {
	env := servertest.Start(t, "sqlite")
	var out bytes.Buffer
	root := newRoot(&out)
	root.SetArgs([]string{"train", "list", "--bootstrap", filepath.Join(env.DataDir, "bootstrap.json")})
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "ID") {
		t.Fatalf("train list with the bootstrap file: %v\n%s", err, out.String())
	}
	root = newRoot(&out)
	root.SetArgs([]string{"train", "list", "--bootstrap", filepath.Join(t.TempDir(), "missing.json")})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "bootstrap file") {
		t.Fatalf("train list without credentials: %v; want an error naming the bootstrap file", err)
	}
}

// TestTrainListPhase: an unknown --phase is refused with the valid ones
// (it used to print an empty table); a known one in any case is accepted.
func TestTrainListPhase(t *testing.T) {
	env := servertest.Start(t, "sqlite")
	for _, tc := range []struct {
		phase   string
		wantErr bool
	}{
		{"Bogus", true},
		{"", false},
		{"Completed", false},
		{"running", false},
	} {
		t.Run("phase-"+tc.phase, func(t *testing.T) {
			out, err := trainCLI(t, env, "list", "--phase", tc.phase)
			if !tc.wantErr {
				if err != nil || !strings.Contains(out, "PHASE") {
					t.Errorf("train list --phase %q: %v\n%s", tc.phase, err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("train list --phase %q succeeded; want an error. Output:\n%s", tc.phase, out)
			}
			for _, want := range []string{`--phase "` + tc.phase + `"`, "Creating", "Pending", "Running", "Completed", "Failed", "Terminating", "Terminated", "Abnormal"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("train list --phase %q: error %q lacks %q", tc.phase, err, want)
				}
			}
		})
	}
}
