package bwrap

import (
	"slices"
	"strings"
	"testing"
)

func TestBindsMakeParentsAndOrderNestedBinds(t *testing.T) {
	got := strings.Join(Binds([]Bind{
		{Path: "/jobs/j1/out", Writable: true},
		{Path: "/jobs/j1"},
		{Path: "/opt/conda"},
	}), " ")
	// Every parent a bind needs is made walkable, a bind's own path too
	// when another bind is inside it (the bind then mounts over it).
	want := "--perms 0755 --dir /jobs --perms 0755 --dir /jobs/j1 --perms 0755 --dir /opt " +
		"--ro-bind /jobs/j1 /jobs/j1 --bind /jobs/j1/out /jobs/j1/out --ro-bind /opt/conda /opt/conda"
	if got != want {
		t.Errorf("binds:\n got %s\nwant %s", got, want)
	}
}

func TestInstallation(t *testing.T) {
	cases := []struct{ file, want string }{
		{"/opt/conda/bin/python", "/opt/conda"}, // the prefix above bin/
		{"/root/.pyenv/versions/3.11.7/bin/python3.11", "/root/.pyenv/versions/3.11.7"},
		{"/home/u/bin/python", "/home/u"}, // two levels deep
		{"/root/bin/python", "/root/bin"}, // /root is never bound whole
		{"/opt/tool/run", "/opt/tool"},
		{"/root/python", "/root/python"}, // a file in a home: the file alone
	}
	for _, c := range cases {
		if got := Installation(c.file); got != c.want {
			t.Errorf("Installation(%s) = %s, want %s", c.file, got, c.want)
		}
	}
}

func TestRuntimeHidesEtc(t *testing.T) {
	args, visible := Runtime(false)
	if !slices.Contains(visible, "/usr") {
		t.Errorf("/usr is not among the visible directories %v", visible)
	}
	for i, a := range args {
		if (a == "--ro-bind" || a == "--ro-bind-try" || a == "--bind") && i+1 < len(args) && args[i+1] == "/etc" {
			t.Fatalf("the whole of /etc is bound: %v", args)
		}
	}
	if slices.Contains(args, "--dev-bind-try") {
		t.Errorf("devices bound without GPUs: %v", args)
	}
}
