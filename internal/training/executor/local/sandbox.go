package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// NobodyID is the uid and gid tasks run as when the server is root and
// Options.TaskUID is not set: Debian's "nobody"/"nogroup", which owns no
// files and runs nothing that a task could reach from inside its sandbox
// (its own PID namespace hides every other process, nobody's included).
const NobodyID = 65534

// sandbox is how tasks are isolated: bubblewrap puts each task in new
// mount, PID, IPC and UTS namespaces whose file system holds the runtime
// read-only (/usr and the merged-/usr links, a few files of /etc, /sys),
// a private /tmp, /dev/shm, /proc and /dev, the interpreter's installation,
// and the job's own directories; nothing else of the host. The network is
// the host's: a job's tasks rendezvous on 127.0.0.1 (MASTER_ADDR), each in
// its own sandbox, and jobs download over it.
//
// When the server is root, bubblewrap runs as root (so it can reach the
// job's directories inside the 0700 data directory), keeps only CAP_SETUID,
// CAP_SETGID and CAP_SETPCAP in the sandbox, and the task's first process
// drops to TaskUID/TaskGID with setpriv(1), clearing every capability and
// the bounding set (bubblewrap also sets no_new_privs, so nothing regains
// them). Otherwise bubblewrap makes an unprivileged user namespace and the
// task keeps the server's uid, which then matters less: it sees none of the
// server's files.
type sandbox struct {
	bwrap   string
	setpriv string // "" when the server is not root
	uid     int
	gid     int
	// base is bubblewrap's arguments for the runtime and namespaces,
	// shared by every task.
	base []string
	// visible are host paths every task sees (read-only), to tell which
	// commands need their installation bound.
	visible []string
	// protected are paths no task may see; a mount under one is allowed
	// only when it is the job's own (JobSpec.Mounts, Task.Dir).
	protected []string
}

// etcFiles are the parts of /etc programs need to resolve names, users and
// certificates, load libraries and know the time zone. Everything else in
// /etc (credentials, the server's configuration) stays hidden.
var etcFiles = []string{
	"/etc/alternatives", "/etc/ca-certificates", "/etc/ca-certificates.conf", "/etc/debian_version",
	"/etc/gai.conf", "/etc/group", "/etc/host.conf", "/etc/hostname", "/etc/hosts",
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/mime.types",
	"/etc/nsswitch.conf", "/etc/os-release", "/etc/passwd", "/etc/pki", "/etc/protocols",
	"/etc/resolv.conf", "/etc/services", "/etc/ssl", "/etc/timezone",
}

// newSandbox finds bubblewrap (and setpriv when root) and prepares the
// arguments every task shares. It does not check that the sandbox works:
// probe does.
func newSandbox(opts Options, gpus int) (*sandbox, error) {
	const hint = "install bubblewrap (Debian: apt-get install bubblewrap), or opt out with --unsafe-no-job-sandbox, which lets every job read the server's secrets"
	s := &sandbox{bwrap: opts.Bwrap, uid: opts.TaskUID, gid: opts.TaskGID}
	const helperPath = "/usr/bin:/bin:/usr/sbin:/sbin"
	var err error
	if s.bwrap == "" {
		if s.bwrap, err = lookPath("bwrap", helperPath, "/"); err != nil {
			return nil, fmt.Errorf("job sandbox: bubblewrap not found (%v): %s", err, hint)
		}
	} else if err := checkExecutable(s.bwrap); err != nil {
		return nil, fmt.Errorf("job sandbox: bubblewrap: %v: %s", err, hint)
	}
	if os.Geteuid() == 0 {
		if s.setpriv, err = lookPath("setpriv", helperPath, "/"); err != nil {
			return nil, fmt.Errorf("job sandbox needs setpriv (util-linux) to run tasks unprivileged: %w", err)
		}
		if s.uid == 0 {
			s.uid = NobodyID
		}
		if s.gid == 0 {
			s.gid = NobodyID
		}
	} else {
		s.uid, s.gid = os.Geteuid(), os.Getegid()
	}
	for _, p := range opts.Protected {
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("job sandbox: protected path %q: %w", p, err)
		}
		s.protected = append(s.protected, abs)
		if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
			s.protected = append(s.protected, real)
		}
	}

	b := []string{
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		// One session for the whole sandbox, led by bubblewrap's init
		// (PID 1 inside): its process group is what Terminate signals.
		"--new-session",
	}
	if s.setpriv != "" {
		b = append(b, "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP")
	} else {
		b = append(b, "--unshare-user")
	}
	b = append(b, "--ro-bind", "/usr", "/usr")
	s.visible = append(s.visible, "/usr")
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&fs.ModeSymlink != 0:
			if target, err := os.Readlink(d); err == nil {
				b = append(b, "--symlink", target, d)
			}
		case fi.IsDir():
			b = append(b, "--ro-bind", d, d)
			s.visible = append(s.visible, d)
		}
	}
	for _, f := range etcFiles {
		b = append(b, "--ro-bind-try", f, f)
	}
	// /sys tells frameworks about CPUs, NUMA and GPUs; it holds no secrets
	// and is read-only here.
	b = append(b, "--ro-bind-try", "/sys", "/sys",
		"--proc", "/proc", "--dev", "/dev",
		"--perms", "1777", "--tmpfs", "/dev/shm",
		"--perms", "1777", "--tmpfs", "/tmp")
	if gpus > 0 {
		devs, _ := filepath.Glob("/dev/nvidia*")
		for _, d := range devs {
			b = append(b, "--dev-bind-try", d, d)
		}
	}
	s.base = b
	return s, nil
}

// probe runs a tiny program in the sandbox, as a task would run, and fails
// unless it runs as the task user and sees none of the protected paths.
func (s *sandbox) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	const script = `want=$1; shift
if [ "$(id -u)" != "$want" ]; then echo "tasks run as uid $(id -u), not $want"; exit 1; fi
for p; do if [ -e "$p" ] || [ -L "$p" ]; then echo "tasks can see $p"; exit 1; fi; done
echo sandbox-ok`
	argv := append(s.args("/", nil, nil), s.command(append([]string{"/bin/sh", "-c", script, "atelier-probe", strconv.Itoa(s.uid)}, s.protected...))...)
	cmd := exec.CommandContext(ctx, s.bwrap, argv...)
	cmd.Env = []string{"PATH=" + DefaultPath, "LANG=C.UTF-8"}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("sandbox-ok")) {
		msg := strings.TrimSpace(string(out))
		if msg == "" && err != nil {
			msg = err.Error()
		}
		return fmt.Errorf("job sandbox check failed (%s %s): %s", s.bwrap, strings.Join(s.base[:4], " "), msg)
	}
	return nil
}

// command is argv as the sandbox runs it: through setpriv when the server is
// root, then a shell that execs argv, so that a command that cannot run is
// reported as the unsandboxed executor reports it.
func (s *sandbox) command(argv []string) []string {
	if s.setpriv == "" {
		return argv
	}
	return append([]string{s.setpriv, "--reuid=" + strconv.Itoa(s.uid), "--regid=" + strconv.Itoa(s.gid), "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", "--", "/bin/sh", "-c", `exec "$@"`, "atelier-task"}, argv...)
}

// args is bubblewrap's command line up to and including "--" for a task
// working in dir with the job's mounts and the read-only runtime paths.
func (s *sandbox) args(dir string, mounts []executor.Mount, runtime []string) []string {
	a := slices.Clone(s.base)
	type bind struct {
		path     string
		writable bool
	}
	var bs []bind
	for _, p := range runtime {
		bs = append(bs, bind{p, false})
	}
	for _, m := range mounts {
		bs = append(bs, bind{m.Path, m.Writable})
	}
	if dir != "/" {
		bs = append(bs, bind{dir, true})
	}
	// Parents before children, so that a nested mount is not hidden by its
	// parent's.
	slices.SortStableFunc(bs, func(x, y bind) int { return strings.Compare(x.path, y.path) })
	// bubblewrap creates the mount points' missing parents as private
	// directories; the task user must be able to walk through them.
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
	// The sandbox's own root (a tmpfs) is read-only too: a task writes
	// only where a writable mount, /tmp or /dev/shm lets it.
	return append(a, "--remount-ro", "/", "--chdir", dir, "--")
}

// within reports whether p is root or below it.
func within(p, root string) bool {
	if root == "/" {
		return true
	}
	return p == root || strings.HasPrefix(p, root+"/")
}

// checkMount refuses a job mount that would show a task a protected path
// other than the job's own files: a protected path inside it.
func (s *sandbox) checkMount(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("mount %q is not an absolute path", p)
	}
	for _, q := range s.protected {
		if within(q, p) && q != p {
			return fmt.Errorf("mount %s would show tasks %s", p, q)
		}
	}
	return nil
}

// runtimeFor returns the host paths a task must see to run cmd (an absolute
// path), besides what every task sees: the installation the command belongs
// to, e.g. /root/.pyenv/versions/3.11.7 for .../bin/python3.11, and that of
// the file a symlink (a virtualenv's python) points to.
func (s *sandbox) runtimeFor(cmd string, own []string) ([]string, error) {
	var out []string
	cands := []string{cmd}
	if real, err := filepath.EvalSymlinks(cmd); err == nil && real != cmd {
		cands = append(cands, real)
	}
	for _, c := range cands {
		// /bin/sh is visible through the sandbox's /bin -> usr/bin link:
		// what matters is where its directory really is.
		dir := filepath.Dir(c)
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real
		}
		if slices.ContainsFunc(append(slices.Clone(s.visible), own...), func(v string) bool { return within(dir, v) }) {
			continue
		}
		p := installation(c)
		for _, q := range s.protected {
			if within(q, p) || within(p, q) {
				return nil, fmt.Errorf("command %s is in %s, which tasks may not see (it holds or is in %s)", cmd, p, q)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// installation is the directory to make visible for an executable: the
// prefix above its bin/ (where an interpreter keeps its libraries) when
// that prefix is at least two levels deep, else the executable's own
// directory when that is, else the file alone. A home directory such as
// /root is never bound whole.
func installation(file string) string {
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

// nsPIDs is a process's pid in each PID namespace it is in, outermost
// first (the NSpid line of /proc/<pid>/status).
func nsPIDs(pid int) ([]int, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "NSpid:")
		if !ok {
			continue
		}
		var ids []int
		for _, x := range strings.Fields(rest) {
			n, err := strconv.Atoi(x)
			if err != nil {
				return nil, fmt.Errorf("malformed NSpid of %d", pid)
			}
			ids = append(ids, n)
		}
		return ids, nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("no NSpid in /proc status (Linux 4.1 or later is needed)")
}

// sandboxedProcess finds, among wrapper's descendants, the process that is
// inner in a nested PID namespace: a task reports its pid from inside its
// sandbox, and the executor needs the host's.
func sandboxedProcess(wrapper, inner int) (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	children := map[int][]int{}
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid <= 0 {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil {
			continue
		}
		children[st.PPID] = append(children[st.PPID], pid)
	}
	queue := slices.Clone(children[wrapper])
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if ids, err := nsPIDs(p); err == nil && len(ids) >= 2 && ids[len(ids)-1] == inner {
			return p, nil
		}
		queue = append(queue, children[p]...)
	}
	return 0, fmt.Errorf("no process of the sandbox has pid %d inside it", inner)
}
