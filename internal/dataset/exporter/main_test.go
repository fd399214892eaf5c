package exporter_test

import (
	"os"
	"testing"

	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// TestMain gives every test database a copy of a migrated template
// (storetest.Main): migrating from empty is a large part of a test's CPU
// under the race detector.
func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
