//go:build !race

package server_test

// raceDetector reports whether this test binary runs under the race
// detector, whose shadow memory multiplies a process's RSS.
const raceDetector = false
