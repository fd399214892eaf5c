// Package bwrap owns the parts of bubblewrap's command line that the
// executors sandboxing tasks with it (local, and Slurm on each node)
// share: the read-only runtime a task sees, the binds of its own
// directories with the parents bubblewrap must create, and the
// installation an interpreter outside the runtime brings along. Each
// executor adds its namespaces and privileges, which differ.
package bwrap

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// etcFiles are the parts of /etc programs need to resolve names, users and
// certificates, load libraries and know the time zone. Everything else in
// /etc (credentials, the server's configuration, munge's key, Slurm's
// configuration) stays hidden.
var etcFiles = []string{
	"/etc/alternatives", "/etc/ca-certificates", "/etc/ca-certificates.conf", "/etc/debian_version",
	"/etc/gai.conf", "/etc/group", "/etc/host.conf", "/etc/hostname", "/etc/hosts",
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/mime.types",
	"/etc/nsswitch.conf", "/etc/os-release", "/etc/passwd", "/etc/pki", "/etc/protocols",
	"/etc/resolv.conf", "/etc/services", "/etc/ssl", "/etc/timezone",
}

// Runtime is the read-only view of this machine every task gets: /usr,
// the /bin, /sbin and /lib directories (as the links they are on a
// merged-/usr system), the parts of /etc above, /sys (CPUs, NUMA and GPUs
// for frameworks; no secrets), fresh /proc and /dev, private /tmp and
// /dev/shm, and the NVIDIA devices when gpus is set. visible are the
// directories bound whole, for callers that decide what else to show.
func Runtime(gpus bool) (args, visible []string) {
	args = []string{"--ro-bind", "/usr", "/usr"}
	visible = []string{"/usr"}
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&fs.ModeSymlink != 0:
			if target, err := os.Readlink(d); err == nil {
				args = append(args, "--symlink", target, d)
			}
		case fi.IsDir():
			args = append(args, "--ro-bind", d, d)
			visible = append(visible, d)
		}
	}
	for _, f := range etcFiles {
		args = append(args, "--ro-bind-try", f, f)
	}
	args = append(args, "--ro-bind-try", "/sys", "/sys",
		"--proc", "/proc", "--dev", "/dev",
		"--perms", "1777", "--tmpfs", "/dev/shm",
		"--perms", "1777", "--tmpfs", "/tmp")
	if gpus {
		devs, _ := filepath.Glob("/dev/nvidia*")
		for _, d := range devs {
			args = append(args, "--dev-bind-try", d, d)
		}
	}
	return args, visible
}

// Bind is a host directory shown to a task at the same path.
type Bind struct {
	Path     string
	Writable bool
}

// Binds is the command line that shows binds: parents before children, so
// that a nested bind is not hidden by its parent's, each preceded by the
// missing parent directories bubblewrap would otherwise create private
// (the task user must be able to walk through them).
func Binds(binds []Bind) []string {
	bs := slices.Clone(binds)
	slices.SortStableFunc(bs, func(x, y Bind) int { return strings.Compare(x.Path, y.Path) })
	var a []string
	made := map[string]bool{}
	for _, b := range bs {
		var parents []string
		for d := filepath.Dir(b.Path); d != "/" && !made[d]; d = filepath.Dir(d) {
			parents = append(parents, d)
			made[d] = true
		}
		for _, d := range slices.Backward(parents) {
			a = append(a, "--perms", "0755", "--dir", d)
		}
	}
	for _, b := range bs {
		op := "--ro-bind"
		if b.Writable {
			op = "--bind"
		}
		a = append(a, op, b.Path, b.Path)
	}
	return a
}

// Installation is the directory to make visible for an executable: the
// prefix above its bin/ (where an interpreter keeps its libraries) when
// that prefix is at least two levels deep, else the executable's own
// directory when that is, else the file alone. A home directory such as
// /root is never bound whole.
func Installation(file string) string {
	dir := filepath.Dir(file)
	depth := func(p string) int { return strings.Count(strings.Trim(p, "/"), "/") + 1 }
	if b := filepath.Base(dir); (b == "bin" || b == "sbin") && depth(filepath.Dir(dir)) >= 2 {
		return filepath.Dir(dir)
	}
	if depth(dir) >= 2 {
		return dir
	}
	return file
}
