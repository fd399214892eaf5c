package slurm

import (
	"path/filepath"
	"slices"

	"github.com/atelier-dev/atelier/internal/training/executor"
	"github.com/atelier-dev/atelier/internal/training/executor/bwrap"
)

// sandboxArgs is bubblewrap's command line for a task, up to its
// environment: new user, PID, IPC and UTS namespaces (the job account has
// no privilege to give up), the runtime read-only, a private /tmp, and the
// task's directory and the job's mounts at their paths. The merged-/usr
// links are taken from the server's machine: nodes are expected to share
// its layout, and a missing optional path is skipped (the -try binds).
func (e *Executor) sandboxArgs(t executor.Task, spec executor.JobSpec) []string {
	a := []string{e.opts.Bwrap,
		"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--new-session", "--die-with-parent"}
	runtime, _ := bwrap.Runtime(spec.Flavor.GPUs > 0)
	a = append(a, runtime...)
	bs := []bwrap.Bind{{Path: t.Dir, Writable: true}}
	for _, m := range spec.Mounts {
		bs = append(bs, bwrap.Bind{Path: m.Path, Writable: m.Writable})
	}
	// An interpreter outside the runtime (/opt/conda/bin/python) brings
	// its installation along, read-only.
	if cmd := t.Command[0]; filepath.IsAbs(cmd) && !slices.ContainsFunc([]string{"/usr", "/bin", "/sbin", "/lib", "/lib64"}, func(r string) bool { return executor.Within(cmd, r) }) &&
		!slices.ContainsFunc(bs, func(b bwrap.Bind) bool { return executor.Within(cmd, b.Path) }) {
		bs = append(bs, bwrap.Bind{Path: bwrap.Installation(cmd)})
	}
	a = append(a, bwrap.Binds(bs)...)
	return append(a, "--remount-ro", "/", "--chdir", t.Dir)
}
