package slurm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// noFollow keeps the executor from following a symbolic link the job
// account planted in its control directory.
const noFollow = syscall.O_NOFOLLOW

// record is a task's recorded end: "<code> <start ms> <end ms>".
type record struct {
	code       int
	start, end time.Time
}

func parseRecord(b []byte) (record, error) {
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return record{}, fmt.Errorf("malformed exit status %q", b)
	}
	var n [3]int64
	for i, s := range f {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return record{}, fmt.Errorf("malformed exit status %q", b)
		}
		n[i] = v
	}
	if n[0] > 255 {
		return record{}, fmt.Errorf("exit status %d out of range", n[0])
	}
	return record{code: int(n[0]), start: time.UnixMilli(n[1]), end: time.UnixMilli(n[2])}, nil
}

func (r record) String() string {
	return fmt.Sprintf("%d %d %d\n", r.code, r.start.UnixMilli(), r.end.UnixMilli())
}

func (r record) state() executor.State {
	return executor.State{Exited: true, ExitCode: r.code, Signal: executor.SignalName(r.code), StartedAt: r.start, EndedAt: r.end}
}

// readSmall reads a small regular file without following a symbolic link.
func readSmall(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return io.ReadAll(io.LimitReader(f, 256))
}

// recorded returns the task's exit status when it is known: from
// ExitCodePath, else from the control directory (then copied to
// ExitCodePath, which only the server writes).
func (e *Executor) recorded(d handleData) (record, bool, error) {
	if b, err := readSmall(d.Exit); err == nil {
		r, err := parseRecord(b)
		return r, err == nil, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return record{}, false, fmt.Errorf("read exit status: %w", err)
	}
	b, err := readSmall(filepath.Join(d.Ctl, "exit"))
	if errors.Is(err, os.ErrNotExist) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, fmt.Errorf("read the recorded exit status: %w", err)
	}
	r, err := parseRecord(b)
	if err != nil {
		return record{}, false, err
	}
	if err := e.save(d.Exit, r); err != nil {
		e.log.Warn("keep the exit status", "file", d.Exit, "err", err)
	}
	return r, true, nil
}

// save writes ExitCodePath atomically.
func (e *Executor) save(path string, r record) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(r.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// jobState is what squeue says about a job: its state and start time;
// found is false once Slurm forgot it.
type jobState struct {
	found bool
	state string
	start time.Time
}

func (j jobState) pending() bool {
	switch j.state {
	case "PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SPECIAL_EXIT":
		return true
	}
	return false
}

func (j jobState) running() bool {
	switch j.state {
	case "RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING":
		return true
	}
	return false
}

// queryTTL is how long an answer of squeue serves: the tasks of a job,
// polled one after the other, share one call.
const queryTTL = 100 * time.Millisecond

type cachedQuery struct {
	at time.Time
	j  jobState
}

// query asks squeue about a job, ended ones included (for MinJobAge).
func (e *Executor) query(ctx context.Context, id string) (jobState, error) {
	e.mu.Lock()
	c, ok := e.queries[id]
	e.mu.Unlock()
	if ok && time.Since(c.at) < queryTTL {
		return c.j, nil
	}
	j, err := e.squeue(ctx, id)
	if err != nil {
		return j, err
	}
	e.mu.Lock()
	now := time.Now()
	for k, c := range e.queries {
		if now.Sub(c.at) >= queryTTL {
			delete(e.queries, k)
		}
	}
	e.queries[id] = cachedQuery{now, j}
	e.mu.Unlock()
	return j, nil
}

func (e *Executor) squeue(ctx context.Context, id string) (jobState, error) {
	out, err := e.run(ctx, "squeue", "-h", "-t", "all", "-j", id, "-o", "%T|%S")
	if err != nil {
		var ce *cmdError
		if errors.As(err, &ce) && strings.Contains(ce.msg, "Invalid job id") {
			return jobState{}, nil
		}
		return jobState{}, err
	}
	line := strings.TrimSpace(out)
	if line == "" {
		return jobState{}, nil
	}
	line, _, _ = strings.Cut(line, "\n")
	st, start, _ := strings.Cut(line, "|")
	j := jobState{found: true, state: st}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05", start, time.Local); err == nil {
		j.start = t
	}
	return j, nil
}

// completed asks the job completion log (sacct -c) how a job that left
// squeue ended.
func (e *Executor) completed(ctx context.Context, id string) (string, error) {
	out, err := e.run(ctx, "sacct", "-c", "-n", "-P", "-j", id, "-o", "state")
	if err != nil {
		return "", err
	}
	st, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	return st, nil
}

// State reports a task's state; see the package doc.
func (e *Executor) State(ctx context.Context, h executor.Handle) (executor.State, error) {
	d, err := decodeHandle(h)
	if err != nil {
		return executor.State{}, err
	}
	if r, ok, err := e.recorded(d); ok || err != nil {
		return r.state(), err
	}
	j, err := e.query(ctx, d.JobID)
	if err != nil {
		return executor.State{}, fmt.Errorf("task state: %w", err)
	}
	switch {
	case j.found && j.pending():
		return executor.State{}, nil
	case j.found && j.running():
		return executor.State{Running: true, StartedAt: j.start}, nil
	}
	// The job has ended: the batch script recorded the status before it
	// did, unless the job was cancelled or its node failed.
	if r, ok, err := e.recorded(d); ok || err != nil {
		return r.state(), err
	}
	// A task whose step never started and that was terminated (by the
	// executor, or by a cancellation of the whole job) while it waited in
	// the queue ended as if by SIGTERM; any other end without a status is
	// a loss (the node failed, the batch script was killed).
	_, err = os.Lstat(filepath.Join(d.Ctl, "step"))
	started := err == nil
	_, err = os.Lstat(filepath.Join(d.Ctl, "cancel"))
	cancelled := err == nil
	state := j.state
	if !j.found && !cancelled && !started {
		if state, err = e.completed(ctx, d.JobID); err != nil {
			e.log.Warn("read the job completion log", "slurm_job", d.JobID, "err", err)
		}
	}
	if !started && (cancelled || strings.HasPrefix(state, "CANCELLED")) {
		now := time.Now()
		r := record{code: 128 + int(syscall.SIGTERM), start: now, end: now}
		if err := e.save(d.Exit, r); err != nil {
			e.log.Warn("keep the exit status", "file", d.Exit, "err", err)
		}
		return r.state(), nil
	}
	e.log.Warn("slurm task lost", "slurm_job", d.JobID, "task", d.Task, "slurm_state", state)
	return executor.State{Lost: true}, nil
}

// step is the id of the job step running a task, which the step script
// records when it starts; "" before that.
func (e *Executor) step(d handleData) (string, error) {
	b, err := readSmall(filepath.Join(d.Ctl, "step"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the task's step id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if job, st, ok := strings.Cut(id, "."); !ok || job != d.JobID || st == "" || strings.Trim(st, "0123456789") != "" {
		return "", fmt.Errorf("malformed step id %q", id)
	}
	return id, nil
}

// Terminate sends SIGTERM to the task's step, whose script SIGKILLs the
// task's sandbox after grace; a job still waiting in the queue is
// cancelled. See the package doc.
func (e *Executor) Terminate(ctx context.Context, h executor.Handle, grace time.Duration) error {
	d, err := decodeHandle(h)
	if err != nil {
		return err
	}
	if _, ok, err := e.recorded(d); ok || err != nil {
		return err
	}
	// The mark holds the grace period, which the step script gives the
	// task before it SIGKILLs the sandbox; and a task whose step has not
	// started yet never runs (the step script looks for the mark after
	// recording its id, and this looks for the id after writing the mark).
	// (The control directory is the job account's: no link is followed.)
	f, err := os.OpenFile(filepath.Join(d.Ctl, "cancel"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|noFollow, 0o644)
	if err == nil {
		_, err = fmt.Fprintf(f, "%d\n", max(grace.Milliseconds(), 0))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("terminate task: write its grace period: %w", err)
	}
	st, err := e.step(d)
	if err != nil {
		return fmt.Errorf("terminate task: %w", err)
	}
	if st == "" {
		j, err := e.query(ctx, d.JobID)
		if err != nil {
			return fmt.Errorf("terminate task: %w", err)
		}
		if j.found && j.pending() {
			return e.scancel(ctx, d.JobID)
		}
		return nil
	}
	// The step script acts on the mark by itself where the file system
	// shows it at once; Slurm's signal reaches the step however slowly
	// the mark travels. Terminate does not wait for the round trip to the
	// controller (tens to hundreds of milliseconds).
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := e.scancel(ctx, "--signal=TERM", st); err != nil && e.stepAlive(ctx, st) {
			// (scancel fails, sometimes silently, on a step that is ending.)
			e.log.Warn("signal the task's step", "slurm_step", st, "err", err)
		}
	}()
	return nil
}

// stepAlive reports whether squeue still lists a job step (true when it
// cannot tell).
func (e *Executor) stepAlive(ctx context.Context, step string) bool {
	out, err := e.run(ctx, "squeue", "-h", "-s", step, "-o", "%i")
	if err != nil {
		var ce *cmdError
		return !errors.As(err, &ce) || !strings.Contains(ce.msg, "Invalid job id")
	}
	return strings.TrimSpace(out) == step
}

// scancel runs scancel; a job or step that has already ended is no error.
func (e *Executor) scancel(ctx context.Context, args ...string) error {
	_, err := e.run(ctx, "scancel", args...)
	var ce *cmdError
	if errors.As(err, &ce) && (strings.Contains(ce.msg, "already completing or completed") || strings.Contains(ce.msg, "Invalid job id")) {
		return nil
	}
	return err
}

// cpuSample is a task's CPU time at a moment, for the next percentage.
type cpuSample struct {
	at  time.Time
	cpu time.Duration
}

// Usage reads the task's step from sstat: CPU time since the previous
// sample over wall time, and the average resident memory. It fails when
// the cluster gathers no accounting (JobAcctGatherType=jobacct_gather/none)
// or the step is not running.
func (e *Executor) Usage(ctx context.Context, h executor.Handle) (executor.Usage, error) {
	d, err := decodeHandle(h)
	if err != nil {
		return executor.Usage{}, err
	}
	st, err := e.step(d)
	if err != nil {
		return executor.Usage{}, fmt.Errorf("task usage: %w", err)
	}
	if st == "" {
		return executor.Usage{}, errors.New("task usage: the task's step is not running")
	}
	out, err := e.run(ctx, "sstat", "-n", "-P", "-j", st, "-o", "AveCPU,AveRSS")
	if err != nil {
		return executor.Usage{}, fmt.Errorf("task usage: %w", err)
	}
	cpuText, rssText, ok := strings.Cut(strings.TrimSpace(out), "|")
	if !ok {
		return executor.Usage{}, fmt.Errorf("task usage: sstat printed %q (is JobAcctGatherType set?)", out)
	}
	cpu, err1 := parseCPUTime(cpuText)
	rss, err2 := parseSize(rssText)
	if err := errors.Join(err1, err2); err != nil {
		return executor.Usage{}, fmt.Errorf("task usage: %w", err)
	}
	now := time.Now()
	u := executor.Usage{At: now, MemoryMiB: rss / (1 << 20)}
	e.mu.Lock()
	prev, seen := e.samples[d.Ctl]
	if len(e.samples) > 4096 {
		clear(e.samples)
	}
	e.samples[d.Ctl] = cpuSample{now, cpu}
	e.mu.Unlock()
	if seen && now.After(prev.at) && cpu >= prev.cpu {
		u.CPUPercent = 100 * float64(cpu-prev.cpu) / float64(now.Sub(prev.at))
	}
	return u, nil
}

// parseCPUTime reads Slurm's [DD-[HH:]]MM:SS[.mmm].
func parseCPUTime(s string) (time.Duration, error) {
	var days int64
	if d, rest, ok := strings.Cut(s, "-"); ok {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time %q", s)
		}
		days, s = n, rest
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("CPU time %q", s)
	}
	secs, err := strconv.ParseFloat(parts[len(parts)-1], 64)
	if err != nil {
		return 0, fmt.Errorf("CPU time %q", s)
	}
	total := time.Duration(secs * float64(time.Second))
	unit := time.Minute
	for i := len(parts) - 2; i >= 0; i-- {
		n, err := strconv.ParseInt(parts[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time %q", s)
		}
		total += time.Duration(n) * unit
		unit *= 60
	}
	return total + time.Duration(days)*24*time.Hour, nil
}

// parseSize reads Slurm's sizes: a number with an optional K, M, G or T
// suffix (powers of 1024), in bytes.
func parseSize(s string) (float64, error) {
	mult := 1.0
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K':
			mult, s = 1<<10, s[:n-1]
		case 'M':
			mult, s = 1<<20, s[:n-1]
		case 'G':
			mult, s = 1<<30, s[:n-1]
		case 'T':
			mult, s = 1<<40, s[:n-1]
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q", s)
	}
	return v * mult, nil
}
