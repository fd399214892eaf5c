package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// State reads the task's recorded exit status, or failing that looks for
// its wrapper in /proc. A task is Lost when neither exists: the machine
// rebooted, or something killed the wrapper (the task's own processes may
// then still run: Terminate stops them).
func (e *Executor) State(ctx context.Context, h executor.Handle) (executor.State, error) {
	d, err := decodeHandle(h)
	if err != nil {
		return executor.State{}, err
	}
	st := executor.State{StartedAt: d.StartedAt}
	// The wrapper writes the status just before it exits, so the status is
	// read both before and after looking for the wrapper.
	for range 2 {
		ended, err := readExit(d.ExitFile, &st)
		if err != nil {
			return executor.State{}, fmt.Errorf("state of task %s: %w", d.Task, err)
		}
		if ended {
			e.forget(d.key())
			return st, nil
		}
		if d.BootID != e.bootID {
			break
		}
		if alive(d.PID, d.PIDStart) {
			st.Running = true
			return st, nil
		}
	}
	e.forget(d.key())
	st.Lost = true
	return st, nil
}

// readExit fills st from the exit status file, if there is one.
func readExit(path string, st *executor.State) (bool, error) {
	// Never through a symbolic link: the file is the wrapper's, and a link
	// there is something else's doing.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read exit status: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("read exit status: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("read exit status: %s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return false, fmt.Errorf("read exit status: %w", err)
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || code < 0 || code > 255 {
		return false, fmt.Errorf("read exit status: malformed %s", path)
	}
	st.Exited = true
	st.ExitCode = code
	st.EndedAt = fi.ModTime()
	st.Signal = executor.SignalName(code)
	return true, nil
}

// Terminate sends SIGTERM to the task's process group and, after grace,
// SIGKILL if any of it is still alive. It works from the handle and /proc
// alone, so also for tasks started before a restart; but the SIGKILL is a
// timer in this process, so a caller that restarts during the grace period
// calls Terminate again. A task that has ended (or whose group id now
// belongs to another process) is left alone, without error.
func (e *Executor) Terminate(ctx context.Context, h executor.Handle, grace time.Duration) error {
	d, err := decodeHandle(h)
	if err != nil {
		return err
	}
	if d.BootID != e.bootID {
		return nil // nothing from an earlier boot is running
	}
	n, err := e.signalGroup(d, syscall.SIGTERM)
	if err != nil {
		return fmt.Errorf("terminate task %s: %w", d.Task, err)
	}
	if n == 0 {
		return nil
	}
	e.log.Info("task terminating", "job", d.Job, "task", d.Task, "pid", d.PGID, "grace", grace)
	time.AfterFunc(grace, func() {
		n, err := e.signalGroup(d, syscall.SIGKILL)
		switch {
		case err != nil:
			e.log.Error("kill task after grace", "job", d.Job, "task", d.Task, "err", err)
		case n > 0:
			e.log.Info("task killed after grace", "job", d.Job, "task", d.Task, "pid", d.PGID, "processes", n)
		}
	})
	return nil
}

// signalGroup sends sig to the task's group if any of its processes is
// alive, and returns how many were.
func (e *Executor) signalGroup(d handleData, sig syscall.Signal) (int, error) {
	ms, ok, err := groupMembers(d.PGID, d.PGIDStart)
	if err != nil || !ok {
		return 0, err
	}
	n := liveMembers(ms)
	if n == 0 {
		return 0, nil
	}
	if sig == syscall.SIGKILL && sandboxInit(d.PGID) {
		// The sandbox's init must outlive the task to report its status
		// (killed, it would be reported as SIGKILL even when the task
		// already died of SIGTERM); it exits by itself once its children
		// have, and the wrapper kills it after the task.
		for _, m := range ms {
			if !m.zombie() && m.PID != d.PGID {
				if err := syscall.Kill(m.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
					return 0, fmt.Errorf("send %s to %d: %w", executor.SignalName(128+int(sig)), m.PID, err)
				}
			}
		}
		return n, nil
	}
	if err := syscall.Kill(-d.PGID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return 0, fmt.Errorf("send %s to group %d: %w", executor.SignalName(128+int(sig)), d.PGID, err)
	}
	return n, nil
}

// sample is the previous Usage reading of a task.
type sample struct {
	ticks  uint64  // CPU ticks of the group
	uptime float64 // seconds after boot
}

// Usage sums CPU and resident memory over the task's process group. The
// first sample of a task (or the first after a restart) averages CPU over
// the task's lifetime; later ones cover the time since the previous one.
// A task that is not running uses nothing.
func (e *Executor) Usage(ctx context.Context, h executor.Handle) (executor.Usage, error) {
	d, err := decodeHandle(h)
	if err != nil {
		return executor.Usage{}, err
	}
	u := executor.Usage{At: e.now()}
	if d.BootID != e.bootID {
		return u, nil
	}
	ms, ok, err := groupMembers(d.PGID, d.PGIDStart)
	if err != nil {
		return executor.Usage{}, fmt.Errorf("usage of task %s: %w", d.Task, err)
	}
	if !ok || liveMembers(ms) == 0 {
		e.forget(d.key())
		return u, nil
	}
	up, err := uptimeSeconds()
	if err != nil {
		return executor.Usage{}, fmt.Errorf("usage of task %s: %w", d.Task, err)
	}
	var ticks uint64
	for _, m := range ms {
		ticks += m.CPUTicks
		u.MemoryMiB += rssMiB(m.PID)
	}
	cur := sample{ticks: ticks, uptime: up}
	prev, seen := e.swapSample(d.key(), cur)
	if !seen {
		prev = sample{uptime: float64(d.PGIDStart) / clockTicks}
	}
	// Ticks can drop when a process whose CPU time was counted ends without
	// a parent in the group to inherit it.
	if dt := cur.uptime - prev.uptime; dt > 0 && cur.ticks > prev.ticks {
		u.CPUPercent = float64(cur.ticks-prev.ticks) / clockTicks / dt * 100
	}
	return u, nil
}

func (e *Executor) swapSample(k sampleKey, s sample) (sample, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	prev, ok := e.samples[k]
	if !ok && len(e.samples) >= maxSamples {
		var oldest sampleKey
		first := true
		for k2, s2 := range e.samples {
			if first || s2.uptime < e.samples[oldest].uptime {
				oldest, first = k2, false
			}
		}
		delete(e.samples, oldest)
	}
	e.samples[k] = s
	return prev, ok
}

func (e *Executor) forget(k sampleKey) {
	e.mu.Lock()
	delete(e.samples, k)
	e.mu.Unlock()
}
