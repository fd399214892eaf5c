package local

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat: 100 on
// every architecture Linux and Go share, whatever the kernel's own HZ.
const clockTicks = 100

// procStat is what the executor reads from /proc/<pid>/stat.
type procStat struct {
	PID   int
	State byte // 'R', 'S', 'Z' …
	PPID  int
	PGID  int
	// CPUTicks is utime+stime+cutime+cstime: the process's own CPU time and
	// that of the children it has reaped, so that CPU spent by a short-lived
	// child is not lost when the child ends.
	CPUTicks uint64
	// StartTicks is when the process started, in clock ticks after boot.
	// It survives exec and tells a process from a later one with its pid.
	StartTicks uint64
}

func (s procStat) zombie() bool { return s.State == 'Z' || s.State == 'X' }

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	s, err := parseStat(b)
	if err != nil {
		return procStat{}, fmt.Errorf("read /proc/%d/stat: %w", pid, err)
	}
	return s, nil
}

// parseStat parses a /proc/<pid>/stat line. The command name (field 2) is
// in parentheses and may itself hold spaces and parentheses, so the fields
// after it are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return procStat{}, errors.New("malformed stat: no command name")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:open])))
	if err != nil {
		return procStat{}, fmt.Errorf("malformed stat pid: %w", err)
	}
	// f[0] is field 3 (state); field n is f[n-3].
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errors.New("malformed stat: too few fields")
	}
	s := procStat{PID: pid, State: f[0][0]}
	ints := []struct {
		dst   *int
		field int
	}{{&s.PPID, 4}, {&s.PGID, 5}}
	for _, x := range ints {
		if *x.dst, err = strconv.Atoi(f[x.field-3]); err != nil {
			return procStat{}, fmt.Errorf("malformed stat field %d: %w", x.field, err)
		}
	}
	for _, field := range []int{14, 15, 16, 17} { // utime stime cutime cstime
		// cutime and cstime are signed in the kernel's format; never negative
		// in practice.
		v, err := strconv.ParseInt(f[field-3], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("malformed stat field %d: %w", field, err)
		}
		if v > 0 {
			s.CPUTicks += uint64(v)
		}
	}
	if s.StartTicks, err = strconv.ParseUint(f[22-3], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("malformed stat field 22: %w", err)
	}
	return s, nil
}

// rssMiB is a process's resident memory from /proc/<pid>/statm, 0 when the
// process has gone.
func rssMiB(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return float64(pages) * float64(os.Getpagesize()) / (1 << 20)
}

// groupMembers lists the processes, zombies included, in the process group
// pgid whose leader started at leaderStart (clock ticks after boot). A
// process that started before the leader cannot be in its group and is
// skipped. When a process with pid pgid exists but started at another time,
// the group id was recycled and nothing is the task's: ok is false.
func groupMembers(pgid int, leaderStart uint64) (members []procStat, ok bool, err error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false, fmt.Errorf("list processes: %w", err)
	}
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid <= 0 {
			continue
		}
		s, err := readProcStat(pid)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
				continue // ended while we looked
			}
			return nil, false, err
		}
		if s.PGID != pgid {
			continue
		}
		if pid == pgid && s.StartTicks != leaderStart {
			return nil, false, nil
		}
		if s.StartTicks < leaderStart {
			continue
		}
		members = append(members, s)
	}
	return members, true, nil
}

// liveMembers counts the members that are not zombies. A zombie's pid
// answers kill(pid, 0), and orphaned zombies wait for PID 1 (slow on some
// machines) to reap them, but they use nothing and die with nothing.
//
// A sandbox's init (PID 1 of the task's namespace) does not count either:
// it only reaps, it exits by itself once the task has, and killing it in
// that moment would record the task as killed by SIGKILL.
func liveMembers(ms []procStat) int {
	n := 0
	for _, m := range ms {
		if !m.zombie() && !sandboxInit(m.PID) {
			n++
		}
	}
	return n
}

// sandboxInit reports whether pid is PID 1 of a nested PID namespace.
func sandboxInit(pid int) bool {
	ids, err := nsPIDs(pid)
	return err == nil && len(ids) >= 2 && ids[len(ids)-1] == 1
}

// alive reports whether pid is the process that started at startTicks and
// is not a zombie.
func alive(pid int, startTicks uint64) bool {
	s, err := readProcStat(pid)
	return err == nil && s.StartTicks == startTicks && !s.zombie()
}

// uptimeSeconds is the time since boot, the clock StartTicks count on.
func uptimeSeconds() (float64, error) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, fmt.Errorf("read uptime: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("read uptime: empty /proc/uptime")
	}
	up, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("read uptime: %w", err)
	}
	return up, nil
}

// readBootID identifies this boot of the kernel: handles from an earlier
// boot name processes that no longer exist, whatever their pids now are.
func readBootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("read boot id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" {
		return "", errors.New("read boot id: empty")
	}
	return id, nil
}

// checkExecutable is what execve will say about p, as far as a stat and
// access(2) can tell.
func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	const xOK = 1
	if err := syscall.Access(p, xOK); err != nil {
		return fmt.Errorf("%s is not executable: %w", p, err)
	}
	return nil
}
