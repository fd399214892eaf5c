//go:build race

package learn

// raceEnabled skips the measurements that only repeat, far more slowly,
// what the race detector already sees in the other tests.
const raceEnabled = true
