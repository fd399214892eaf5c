package slurm

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// etcFiles are the parts of /etc programs need to resolve names, users and
// certificates, load libraries and know the time zone; the rest of the
// node's /etc (munge's key, Slurm's configuration) stays hidden.
var etcFiles = []string{
	"/etc/alternatives", "/etc/ca-certificates", "/etc/ca-certificates.conf", "/etc/debian_version",
	"/etc/gai.conf", "/etc/group", "/etc/host.conf", "/etc/hostname", "/etc/hosts",
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/mime.types",
	"/etc/nsswitch.conf", "/etc/os-release", "/etc/passwd", "/etc/pki", "/etc/protocols",
	"/etc/resolv.conf", "/etc/services", "/etc/ssl", "/etc/timezone",
}

// sandboxArgs is bubblewrap's command line for a task, up to its
// environment: new user, PID, IPC and UTS namespaces (the job account has
// no privilege to give up), the runtime read-only, a private /tmp, and the
// task's directory and the job's mounts at their paths. The merged-/usr
// links are taken from the server's machine: nodes are expected to share
// its layout, and a missing optional path is skipped (the -try binds).
func (e *Executor) sandboxArgs(t executor.Task, spec executor.JobSpec) []string {
	a := []string{e.opts.Bwrap,
		"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--new-session", "--die-with-parent",
		"--ro-bind", "/usr", "/usr"}
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&fs.ModeSymlink != 0:
			if target, err := os.Readlink(d); err == nil {
				a = append(a, "--symlink", target, d)
			}
		case fi.IsDir():
			a = append(a, "--ro-bind", d, d)
		}
	}
	for _, f := range etcFiles {
		a = append(a, "--ro-bind-try", f, f)
	}
	a = append(a, "--ro-bind-try", "/sys", "/sys", "--proc", "/proc", "--dev", "/dev",
		"--perms", "1777", "--tmpfs", "/dev/shm", "--perms", "1777", "--tmpfs", "/tmp")
	if spec.Flavor.GPUs > 0 {
		devs, _ := filepath.Glob("/dev/nvidia*")
		for _, d := range devs {
			a = append(a, "--dev-bind-try", d, d)
		}
	}
	type bind struct {
		path     string
		writable bool
	}
	bs := []bind{{t.Dir, true}}
	for _, m := range spec.Mounts {
		bs = append(bs, bind{m.Path, m.Writable})
	}
	// An interpreter outside the runtime (/opt/conda/bin/python) brings
	// its installation along, read-only.
	if cmd := t.Command[0]; filepath.IsAbs(cmd) && !slices.ContainsFunc([]string{"/usr", "/bin", "/sbin", "/lib", "/lib64"}, func(r string) bool { return within(cmd, r) }) &&
		!slices.ContainsFunc(bs, func(b bind) bool { return within(cmd, b.path) }) {
		bs = append(bs, bind{installation(cmd), false})
	}
	slices.SortStableFunc(bs, func(x, y bind) int { return strings.Compare(x.path, y.path) })
	made := map[string]bool{}
	for _, b := range bs {
		var parents []string
		for d := filepath.Dir(b.path); d != "/" && !made[d]; d = filepath.Dir(d) {
			parents = append(parents, d)
			made[d] = true
		}
		for _, d := range slices.Backward(parents) {
			a = append(a, "--perms", "0755", "--dir", d)
		}
	}
	for _, b := range bs {
		op := "--ro-bind"
		if b.writable {
			op = "--bind"
		}
		a = append(a, op, b.path, b.path)
	}
	return append(a, "--remount-ro", "/", "--chdir", t.Dir)
}

// installation is the directory to show for an executable outside the
// runtime: the prefix above its bin/ when that is at least two levels
// deep (an interpreter's libraries are there), else its own directory.
func installation(file string) string {
	dir := filepath.Dir(file)
	depth := func(p string) int { return strings.Count(strings.Trim(p, "/"), "/") + 1 }
	if b := filepath.Base(dir); (b == "bin" || b == "sbin") && depth(filepath.Dir(dir)) >= 2 {
		return filepath.Dir(dir)
	}
	return dir
}
