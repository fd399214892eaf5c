package main

import (
	"os"
	"testing"

	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// runAsAtelier, set in a child's environment, makes the test binary the
// atelier command: a test that needs the real process (signals, exit codes)
// runs this binary again rather than building one with go build, which
// costs a compile without -race and a link of the whole program each run.
const runAsAtelier = "ATELIER_TEST_RUN_AS_ATELIER"

// TestMain is the atelier command in a child started with runAsAtelier, and
// otherwise runs the tests with servertest's template databases.
func TestMain(m *testing.M) {
	if os.Getenv(runAsAtelier) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(servertest.Main(m))
}

// atelierBinary is the program to run as atelier, with runAsAtelier=1 in
// its environment: this test binary.
func atelierBinary(t *testing.T) string {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatalf("find the test binary to run as atelier: %v", err)
	}
	return bin
}
