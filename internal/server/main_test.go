package server_test

import (
	"os"
	"testing"

	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// TestMain gives every test server a copy of a migrated template database
// (see servertest.Main).
//
// Every test runs in parallel (t.Parallel): each has its own servers,
// databases and data directories, and most of their time is spent waiting
// (tasks, jobs, restarts), not computing. The exceptions touch
// process-wide state and stay sequential, which Go runs before any
// parallel test starts: TestDataDirModes (the umask),
// TestObjectAPIStreamsUploads (the process's allocation counter) and
// TestTrainingJobCannotReadServerSecrets (an environment variable).
func TestMain(m *testing.M) { os.Exit(servertest.Main(m)) }
