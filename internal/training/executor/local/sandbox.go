package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
	"github.com/atelier-dev/atelier/internal/training/executor/bwrap"
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
	runtime, visible := bwrap.Runtime(gpus > 0)
	b = append(b, runtime...)
	s.visible = visible
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
	var bs []bwrap.Bind
	for _, p := range runtime {
		bs = append(bs, bwrap.Bind{Path: p})
	}
	for _, m := range mounts {
		bs = append(bs, bwrap.Bind{Path: m.Path, Writable: m.Writable})
	}
	if dir != "/" {
		bs = append(bs, bwrap.Bind{Path: dir, Writable: true})
	}
	a = append(a, bwrap.Binds(bs)...)
	// The sandbox's own root (a tmpfs) is read-only too: a task writes
	// only where a writable mount, /tmp or /dev/shm lets it.
	return append(a, "--remount-ro", "/", "--chdir", dir, "--")
}

// checkMount refuses a job mount that would show a task a protected path
// other than the job's own files: a protected path inside it.
func (s *sandbox) checkMount(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("mount %q is not an absolute path", p)
	}
	for _, q := range s.protected {
		if executor.Within(q, p) && q != p {
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
		if slices.ContainsFunc(append(slices.Clone(s.visible), own...), func(v string) bool { return executor.Within(dir, v) }) {
			continue
		}
		p := bwrap.Installation(c)
		for _, q := range s.protected {
			if executor.Within(q, p) || executor.Within(p, q) {
				return nil, fmt.Errorf("command %s is in %s, which tasks may not see (it holds or is in %s)", cmd, p, q)
			}
		}
		out = append(out, p)
	}
	return out, nil
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
