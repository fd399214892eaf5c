package iam

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The gate lets at most its size of hashes run at once; the excess waits
// up to the bound, then gets the throttled error (429 in the API).
func TestPasswordGate(t *testing.T) {
	t.Run("bounds-concurrency", func(t *testing.T) {
		g := newPasswordGate(2, 5*time.Second)
		var inFlight, peak atomic.Int32
		var wg sync.WaitGroup
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				release, err := g.acquire(context.Background())
				if err != nil {
					t.Errorf("acquire with a 5 s bound: %v", err)
					return
				}
				n := inFlight.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(2 * time.Millisecond)
				inFlight.Add(-1)
				release()
			}()
		}
		wg.Wait()
		if p := peak.Load(); p != 2 {
			t.Fatalf("peak concurrent holders = %d, want exactly the gate size 2", p)
		}
	})
	t.Run("waits-then-throttles", func(t *testing.T) {
		g := newPasswordGate(1, 80*time.Millisecond)
		release, err := g.acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = g.acquire(context.Background())
		waited := time.Since(start)
		if KindOf(err) != KindThrottled {
			t.Fatalf("acquire on a full gate = %v, want the throttled error", err)
		}
		if waited < 80*time.Millisecond {
			t.Fatalf("refused after %v, want a wait of the 80ms bound first", waited)
		}
		// A slot freed within the bound is taken by the waiter.
		go func() {
			time.Sleep(10 * time.Millisecond)
			release()
		}()
		release2, err := g.acquire(context.Background())
		if err != nil {
			t.Fatalf("acquire while a slot frees within the bound: %v", err)
		}
		release2()
	})
	t.Run("cancelled-wait", func(t *testing.T) {
		g := newPasswordGate(1, time.Minute)
		release, _ := g.acquire(context.Background())
		defer release()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := g.acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("acquire with an ending context = %v, want its error", err)
		}
	})
	t.Run("defaults-to-cores", func(t *testing.T) {
		g := newPasswordGate(0, 0)
		if cap(g.slots) < 1 || g.wait != time.Second {
			t.Fatalf("default gate: %d slots, wait %v; want GOMAXPROCS slots and 1s", cap(g.slots), g.wait)
		}
	})
}

// The dummy hash verified for unknown users must cost what a real hash
// costs: it must decode, with the same parameters as the hashes stored.
func TestDummyHashHasRealCost(t *testing.T) {
	stored, err := hashPassword("Some-pass1")
	if err != nil {
		t.Fatal(err)
	}
	want, ok := decodeHash(stored)
	if !ok {
		t.Fatalf("a fresh hash does not decode: %s", stored)
	}
	got, ok := decodeHash(dummyHash)
	if !ok {
		t.Fatalf("the dummy hash does not decode, so verifying it would cost nothing: %s", dummyHash)
	}
	if got.memory != want.memory || got.time != want.time || got.threads != want.threads || len(got.key) != len(want.key) || len(got.salt) != len(want.salt) {
		t.Fatalf("dummy hash parameters %+v differ from a real hash's %+v", got, want)
	}
	if checkPassword(dummyHash, "") || checkPassword(dummyHash, "Some-pass1") {
		t.Fatal("the dummy hash accepted a password")
	}
}
