package slurm

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// The batch script runs on the job's first node and records every task's
// exit status; the step script runs each task. See the package doc.
var (
	//go:embed job.sh
	jobScript []byte
	//go:embed step.sh
	stepScript []byte
)

// taskPath is the PATH tasks start with (Task.Env may replace it).
const taskPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// handleVersion changes when handleData does in a way older code cannot
// read.
const handleVersion = 1

// handleData is a Handle's JSON content; its field names are stable.
type handleData struct {
	Version int    `json:"v"`
	JobID   string `json:"slurm_job"`
	Task    int    `json:"task"`
	// Ctl is the task's control directory (ExitCodePath + ".slurm"), where
	// the batch script records the exit status.
	Ctl  string `json:"ctl"`
	Exit string `json:"exit_file"`
}

func (d handleData) encode() executor.Handle { return executor.EncodeHandle(d) }

func decodeHandle(h executor.Handle) (handleData, error) {
	var d handleData
	if err := executor.DecodeHandle(h, &d); err != nil {
		return d, fmt.Errorf("decode slurm handle: %w", err)
	}
	switch {
	case d.Version != handleVersion:
		return d, fmt.Errorf("decode slurm handle: unknown version %d", d.Version)
	case d.JobID == "" || strings.Trim(d.JobID, "0123456789") != "":
		return d, fmt.Errorf("decode slurm handle: job id %q", d.JobID)
	case !filepath.IsAbs(d.Ctl) || !filepath.IsAbs(d.Exit) || d.Task < 0:
		return d, errors.New("decode slurm handle: invalid paths or task")
	}
	return d, nil
}

// Start writes the tasks' control directories and submits the job; see
// the package doc. Slurm starts all tasks or none, so a failure leaves
// nothing running.
func (e *Executor) Start(ctx context.Context, spec executor.JobSpec) ([]executor.Handle, error) {
	if len(spec.Tasks) == 0 {
		return nil, errors.New("start job: no task")
	}
	var writable []string
	for _, m := range spec.Mounts {
		if err := e.checkVisible(m.Path); err != nil {
			return nil, fmt.Errorf("start job %s: %w", spec.JobID, err)
		}
		if m.Writable {
			writable = append(writable, m.Path)
		}
	}
	ctls := make([]string, len(spec.Tasks))
	for i, t := range spec.Tasks {
		if err := e.prepare(spec, t, writable); err != nil {
			return nil, fmt.Errorf("start task %s of job %s: %w", t.ID, spec.JobID, err)
		}
		ctls[i] = t.ExitCodePath + ".slurm"
	}
	for _, s := range []struct {
		name string
		body []byte
	}{{"job.sh", jobScript}, {"step.sh", stepScript}} {
		if err := e.writeOwned(filepath.Join(ctls[0], s.name), s.body); err != nil {
			return nil, fmt.Errorf("start job %s: %w", spec.JobID, err)
		}
	}
	// What the tasks write becomes the job account's.
	roots := slices.Clone(writable)
	for _, t := range spec.Tasks {
		roots = append(roots, t.Dir)
	}
	slices.Sort(roots)
	for _, r := range slices.Compact(roots) {
		if err := e.give(r); err != nil {
			return nil, fmt.Errorf("start job %s: %w", spec.JobID, err)
		}
	}
	args := e.sbatchArgs(spec, ctls[0])
	args = append(args, filepath.Join(ctls[0], "job.sh"), filepath.Join(ctls[0], "step.sh"))
	args = append(args, ctls...)
	out, err := e.run(ctx, "sbatch", args...)
	if err != nil {
		return nil, fmt.Errorf("submit job %s (all %d tasks) to Slurm: %w", spec.JobID, len(spec.Tasks), err)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	if id == "" || strings.Trim(id, "0123456789") != "" {
		return nil, fmt.Errorf("submit job %s to Slurm: sbatch printed %q, not a job id", spec.JobID, out)
	}
	e.log.Info("slurm job submitted", "job", spec.JobID, "slurm_job", id, "tasks", len(spec.Tasks))
	hs := make([]executor.Handle, len(spec.Tasks))
	for i, t := range spec.Tasks {
		hs[i] = handleData{Version: handleVersion, JobID: id, Task: i, Ctl: ctls[i], Exit: t.ExitCodePath}.encode()
	}
	return hs, nil
}

// sbatchArgs is sbatch's command line up to the script.
func (e *Executor) sbatchArgs(spec executor.JobSpec, ctl0 string) []string {
	n := strconv.Itoa(len(spec.Tasks))
	args := []string{"--parsable", "--job-name=" + jobName(spec.JobID),
		"--uid=" + strconv.Itoa(e.uid), "--gid=" + strconv.Itoa(e.gid),
		"--nodes=" + n, "--ntasks=" + n, "--ntasks-per-node=1",
		"--export=NIL", "--no-requeue", "--chdir=" + ctl0,
		"--output=" + filepath.Join(ctl0, "batch.out"), "--open-mode=append"}
	f := spec.Flavor
	if f.CPU > 0 {
		args = append(args, "--cpus-per-task="+strconv.Itoa(int(math.Ceil(f.CPU))))
	}
	if f.MemoryMiB > 0 {
		args = append(args, "--mem="+strconv.FormatInt(f.MemoryMiB, 10)+"M")
	}
	if f.GPUs > 0 {
		g := "gpu:"
		if f.GPUType != "" {
			g += f.GPUType + ":"
		}
		args = append(args, "--gres="+g+strconv.Itoa(f.GPUs))
	}
	if e.opts.Partition != "" {
		args = append(args, "--partition="+e.opts.Partition)
	}
	if e.opts.Account != "" {
		args = append(args, "--account="+e.opts.Account)
	}
	return args
}

// jobName is the Slurm job name for an Atelier job: "atelier-<id>",
// without characters squeue's output or a shell would trip on.
func jobName(id string) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, id)
	if len(clean) > 100 {
		clean = clean[:100]
	}
	return "atelier-" + clean
}

// prepare checks a task and writes its control directory and log file.
func (e *Executor) prepare(spec executor.JobSpec, t executor.Task, writable []string) error {
	if len(t.Command) == 0 {
		return errors.New("empty command")
	}
	if strings.Contains(t.Command[0], "=") {
		// env(1) would take it for a variable.
		return fmt.Errorf("command %q: a program name with '=' cannot be run", t.Command[0])
	}
	for _, p := range []string{t.Dir, t.LogPath, t.ExitCodePath} {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("path %q is not absolute", p)
		}
	}
	if err := e.checkVisible(t.Dir); err != nil {
		return err
	}
	for _, w := range append([]string{t.Dir}, writable...) {
		if executor.Within(t.ExitCodePath, w) {
			return fmt.Errorf("exit status file %s is inside %s, where the task could forge it", t.ExitCodePath, w)
		}
	}
	for k := range t.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("environment variable name %q", k)
		}
	}
	// A stale status (from an earlier run at the same path) would read as
	// this run's.
	if err := os.Remove(t.ExitCodePath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the previous exit status: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(t.ExitCodePath), 0o755); err != nil {
		return fmt.Errorf("create the status directory: %w", err)
	}
	if err := e.reachable(filepath.Dir(t.ExitCodePath)); err != nil {
		return err
	}
	ctl := t.ExitCodePath + ".slurm"
	if err := os.RemoveAll(ctl); err != nil {
		return fmt.Errorf("clear the control directory: %w", err)
	}
	if err := os.Mkdir(ctl, 0o700); err != nil {
		return fmt.Errorf("create the control directory: %w", err)
	}
	if err := os.Lchown(ctl, e.uid, e.gid); err != nil {
		return fmt.Errorf("give the control directory to the job account: %w", err)
	}
	// The log: appended to, by the job account.
	if err := os.MkdirAll(filepath.Dir(t.LogPath), 0o755); err != nil {
		return fmt.Errorf("create the log directory: %w", err)
	}
	lf, err := os.OpenFile(t.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND|noFollow, 0o644)
	if err != nil {
		return fmt.Errorf("create the log: %w", err)
	}
	err = lf.Chown(e.uid, e.gid)
	lf.Close()
	if err != nil {
		return fmt.Errorf("give the log to the job account: %w", err)
	}
	if err := e.reachable(filepath.Dir(t.LogPath)); err != nil {
		return err
	}

	env := map[string]string{"PATH": taskPath, "HOME": t.Dir, "LANG": "C.UTF-8", "TMPDIR": "/tmp"}
	for k, v := range t.Env {
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var box, envs []string
	for _, k := range keys {
		envs = append(envs, k+"="+env[k])
	}
	if e.opts.Unsandboxed {
		box = []string{"unsandboxed", t.Dir}
	} else {
		box = e.sandboxArgs(t, spec)
		box = append(box, "--clearenv")
		for _, k := range keys {
			box = append(box, "--setenv", k, env[k])
		}
	}
	for name, list := range map[string][]string{"log": {t.LogPath}, "argv": t.Command, "env": envs, "sandbox": box} {
		if err := e.writeOwned(filepath.Join(ctl, name), nulList(list)); err != nil {
			return err
		}
	}
	return nil
}

// nulList is a list as bash's mapfile -d ” reads it back: each item
// followed by a NUL. Items cannot hold a NUL (argv and environment
// strings never do).
func nulList(items []string) []byte {
	var b []byte
	for _, s := range items {
		b = append(b, s...)
		b = append(b, 0)
	}
	return b
}

// writeOwned writes a control file that the job's scripts read.
func (e *Executor) writeOwned(path string, body []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
	if err != nil {
		return fmt.Errorf("write control file: %w", err)
	}
	_, err = f.Write(body)
	if err == nil {
		err = f.Chown(e.uid, e.gid)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write control file %s: %w", path, err)
	}
	return nil
}

// give makes the job account the owner of a directory tree the tasks write
// in; symbolic links are changed, never followed.
func (e *Executor) give(root string) error {
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, e.uid, e.gid)
	})
	if err != nil {
		return fmt.Errorf("give %s to the job account: %w", root, err)
	}
	return e.reachable(root)
}

// checkVisible refuses a path the sandbox would show that is or holds a
// protected path (the data directory).
func (e *Executor) checkVisible(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("path %q is not absolute", p)
	}
	for _, q := range e.opts.Protected {
		if q != "" && executor.Within(q, p) {
			return fmt.Errorf("%s would show tasks %s", p, q)
		}
	}
	return nil
}
