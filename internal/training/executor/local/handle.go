package local

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// handleVersion changes when handleData does in a way older code cannot
// read; handles are stored by the caller, so old versions must stay readable.
const handleVersion = 1

// handleData is a Handle's JSON content. Field names are stable: changing
// one breaks every stored handle.
type handleData struct {
	Version int    `json:"v"`
	Job     string `json:"job"`
	Task    string `json:"task"`
	// BootID is the kernel's boot id when the task started.
	BootID string `json:"boot_id"`
	// PID is the wrapper that waits for the task and records its status;
	// PIDStart is its start time in clock ticks after boot (field 22 of
	// /proc/<pid>/stat).
	PID      int    `json:"pid"`
	PIDStart uint64 `json:"pid_start"`
	// PGID is the task's process group (and session): the pid of the
	// process that execs Task.Command. PGIDStart is its start time.
	PGID      int       `json:"pgid"`
	PGIDStart uint64    `json:"pgid_start"`
	ExitFile  string    `json:"exit_file"`
	LogFile   string    `json:"log_file"`
	StartedAt time.Time `json:"started_at"`
}

func (d handleData) encode() executor.Handle { return executor.EncodeHandle(d) }

// decodeHandle parses and checks a handle. A handle that passes names pids
// above 1, so signalling -PGID can never mean "every process" (kill(-1)).
func decodeHandle(h executor.Handle) (handleData, error) {
	var d handleData
	if err := executor.DecodeHandle(h, &d); err != nil {
		return handleData{}, fmt.Errorf("decode local handle: %w", err)
	}
	switch {
	case d.Version != handleVersion:
		return handleData{}, fmt.Errorf("decode local handle: unknown version %d", d.Version)
	case d.PID <= 1 || d.PGID <= 1:
		return handleData{}, errors.New("decode local handle: invalid pid")
	case d.BootID == "":
		return handleData{}, errors.New("decode local handle: no boot id")
	case !filepath.IsAbs(d.ExitFile):
		return handleData{}, errors.New("decode local handle: exit file path is not absolute")
	}
	return d, nil
}

// key identifies the task in the executor's memory.
func (d handleData) key() sampleKey { return sampleKey{d.PGID, d.PGIDStart} }

type sampleKey struct {
	pgid  int
	start uint64
}
