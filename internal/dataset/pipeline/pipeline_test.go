package pipeline

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

var errBoom = errors.New("boom")

// TestOrdered runs a pipeline over 200 items whose work takes a random
// time, and checks what reached the sink and what Ordered returned.
func TestOrdered(t *testing.T) {
	const n = 200
	cases := []struct {
		name    string
		workers int
		failAt  int // item whose work fails (-1: none)
		sinkAt  int // item whose sink fails (-1: none)
		produce int // item after which produce fails (-1: none)
		cancel  int // item after whose sink the caller cancels (-1: none)
		want    error
	}{
		{name: "order kept, 1 worker", workers: 1, failAt: -1, sinkAt: -1, produce: -1, cancel: -1},
		{name: "order kept, 8 workers", workers: 8, failAt: -1, sinkAt: -1, produce: -1, cancel: -1},
		{name: "zero workers means one", workers: 0, failAt: -1, sinkAt: -1, produce: -1, cancel: -1},
		{name: "work error stops it", workers: 4, failAt: 50, sinkAt: -1, produce: -1, cancel: -1, want: errBoom},
		{name: "sink error stops it", workers: 4, failAt: -1, sinkAt: 70, produce: -1, cancel: -1, want: errBoom},
		{name: "produce error stops it", workers: 4, failAt: -1, sinkAt: -1, produce: 30, cancel: -1, want: errBoom},
		{name: "cancel stops it", workers: 4, failAt: -1, sinkAt: -1, produce: -1, cancel: 40, want: context.Canceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var emitted atomic.Int64
			var got []int
			err := Ordered(ctx, c.workers,
				func(ctx context.Context, emit func(int) error) error {
					for i := range n {
						if err := emit(i); err != nil {
							return err
						}
						emitted.Add(1)
						if i == c.produce {
							return errBoom
						}
					}
					return nil
				},
				func(ctx context.Context, i int) (int, error) {
					select {
					case <-time.After(time.Duration(rand.IntN(300)) * time.Microsecond):
					case <-ctx.Done():
						return 0, ctx.Err()
					}
					if i == c.failAt {
						return 0, errBoom
					}
					return i * 10, nil
				},
				func(ctx context.Context, v int) error {
					if v/10 == c.sinkAt {
						return errBoom
					}
					got = append(got, v/10)
					if v/10 == c.cancel {
						cancel()
					}
					return nil
				})
			if !errors.Is(err, c.want) {
				t.Fatalf("Ordered returned %v; want %v", err, c.want)
			}
			for i, v := range got {
				if v != i {
					t.Fatalf("result %d reached the sink in position %d: the order was lost (%v…)", v, i, got[:i+1])
				}
			}
			if c.want == nil && len(got) != n {
				t.Fatalf("%d of %d results reached the sink", len(got), n)
			}
			if stop := max(c.failAt, c.sinkAt, c.produce, c.cancel); c.want != nil {
				if len(got) > stop+1 {
					t.Errorf("%d results reached the sink after the pipeline stopped at item %d", len(got), stop)
				}
				if e := emitted.Load(); e > int64(stop+c.workers+3) {
					t.Errorf("produce went on to item %d after the pipeline stopped at item %d", e, stop)
				}
			}
			// Every goroutine Ordered started has ended when it returns
			// (the previous subtest's own goroutine may take a moment).
			after := runtime.NumGoroutine()
			for deadline := time.Now().Add(time.Second); after > before && time.Now().Before(deadline); after = runtime.NumGoroutine() {
				time.Sleep(time.Millisecond)
			}
			if after > before {
				t.Errorf("%d goroutines before, %d after: Ordered leaked some", before, after)
			}
		})
	}
}
