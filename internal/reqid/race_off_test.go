//go:build !race

package reqid_test

// raceEnabled: the race detector instruments allocations differently.
const raceEnabled = false
