package kube

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestObjectNames(t *testing.T) {
	for _, id := range []string{
		"0194a7c2e5f67a8b9c0d1e2f3a4b5c6d", // store.NewID's form
		"job-TestContract/two-tasks-topology-env-and-exit-codes",
		"---", "UPPER_case.id", strings.Repeat("x", 300), "",
	} {
		name, err := objectName(id)
		if err != nil {
			t.Fatal(err)
		}
		// The pods' host names are <name>-<index>, DNS labels too.
		if !dnsLabel.MatchString(name) || len(name) > 50 || !strings.HasPrefix(name, "atelier-") {
			t.Errorf("objectName(%q) = %q: want a DNS label of at most 50 characters", id, name)
		}
		if v := labelValue(id); len(v) > 63 || v != "" && !dnsLabel.MatchString(v) {
			t.Errorf("labelValue(%q) = %q", id, v)
		}
	}
	if a, b := dnsPart("job-A", 33), dnsPart("job-a", 33); a == b {
		t.Errorf("ids differing in case share the part %q", a)
	}
	if got := dnsPart("0194a7c2e5f67a8b9c0d1e2f3a4b5c6d", 33); got != "0194a7c2e5f67a8b9c0d1e2f3a4b5c6d" {
		t.Errorf("a store id is changed to %q", got)
	}
}

func TestTaskEnv(t *testing.T) {
	tasks := func(values ...string) []executor.Task {
		var ts []executor.Task
		for i, v := range values {
			ts = append(ts, executor.Task{ID: "worker-" + string(rune('0'+i)), Index: i, Env: map[string]string{"V": v, "SAME": "$HOME"}})
		}
		return ts
	}
	for _, tc := range []struct {
		name        string
		values      []string
		want        string
		unsupported bool
	}{
		{"same", []string{"a$b", "a$b"}, "a$$b", false},
		{"instance-names", []string{"job-x-worker-0", "job-x-worker-1", "job-x-worker-2"}, "job-x-worker-$(VC_TASK_INDEX)", false},
		{"index-after-an-earlier-digit", []string{"w0-0", "w0-1"}, "w0-$(VC_TASK_INDEX)", false},
		{"dollar-around-the-index", []string{"$0$", "$1$"}, "$$$(VC_TASK_INDEX)$$", false},
		{"seeds", []string{"17", "42"}, "", true},
		{"index-twice", []string{"0-0", "1-1"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := taskEnv(tasks(tc.values...))
			if tc.unsupported {
				if !errors.Is(err, executor.ErrUnsupported) {
					t.Fatalf("taskEnv: %v, want ErrUnsupported", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, e := range env {
				got[e.Name] = e.Value
			}
			if got["V"] != tc.want || got["SAME"] != "$$HOME" {
				t.Errorf("V=%q SAME=%q, want V=%q SAME=$$HOME", got["V"], got["SAME"], tc.want)
			}
		})
	}
	// The executor's topology cannot be overridden by Task.Env.
	env, err := taskEnv([]executor.Task{{Env: map[string]string{"RANK": "7", "MASTER_ADDR": "evil"}}})
	if err != nil || len(env) != 0 {
		t.Errorf("topology variables from Task.Env: %v, %v", env, err)
	}
}

func TestSplitTimestamp(t *testing.T) {
	text, at, ok := splitTimestamp([]byte("2026-12-07T14:00:00.123456789Z hello world\n"))
	if !ok || string(text) != "hello world\n" || !at.Equal(time.Date(2026, 12, 7, 14, 0, 0, 123456789, time.UTC)) {
		t.Errorf("split: %q %v %v", text, at, ok)
	}
	if text, _, ok := splitTimestamp([]byte("continued line\n")); ok || string(text) != "continued line\n" {
		t.Errorf("a line without a timestamp: %q %v", text, ok)
	}
}

func TestDefaultFlavors(t *testing.T) {
	fs := DefaultFlavors(executor.Resources{CPU: 16, MemoryMiB: 65536, GPUs: 2})
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	want := "kubernetes.cpu.1u4g kubernetes.cpu.2u8g kubernetes.cpu.4u16g kubernetes.cpu.8u32g kubernetes.cpu.16u64g kubernetes.gpu.1 kubernetes.gpu.2"
	if strings.Join(ids, " ") != want {
		t.Errorf("flavors %v, want %s", ids, want)
	}
	if err := executor.ValidateFlavors(fs); err != nil {
		t.Error(err)
	}
}
