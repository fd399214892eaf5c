// Package pipeline owns the one concurrency shape the dataset rooms share:
// items read in order, worked on in parallel, and their results handed to
// a single writer in the order they were read (an import parses manifest
// chunks on several cores and commits them in manifest order, so that its
// checkpoint is always "everything before this line").
package pipeline

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// Ordered runs produce, which calls emit for each item in turn; work, on up
// to workers goroutines, on each item; and sink, on one goroutine, on each
// result in the order the items were emitted.
//
// The first error of produce, work or sink, or the end of ctx, stops all
// three and is returned: emit then returns an error, which produce must
// return promptly, and work and sink are given a cancelled context. Ordered
// returns only when every goroutine it started has ended.
//
// At most workers+1 items are between emit and sink, which bounds the
// memory a fast producer can take ahead of a slow sink.
func Ordered[In, Out any](ctx context.Context, workers int,
	produce func(ctx context.Context, emit func(In) error) error,
	work func(ctx context.Context, in In) (Out, error),
	sink func(ctx context.Context, out Out) error,
) error {
	workers = max(1, workers)
	type result struct {
		out Out
		err error
	}
	type job struct {
		in  In
		res chan result
	}
	g, ctx := errgroup.WithContext(ctx)
	jobs := make(chan job)
	// order holds each item's result slot in emit order; its capacity is
	// how far the workers may run ahead of the sink.
	order := make(chan chan result, workers+1)
	g.Go(func() error {
		defer close(order)
		defer close(jobs)
		return produce(ctx, func(in In) error {
			res := make(chan result, 1)
			select {
			case order <- res:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case jobs <- job{in, res}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})
	for range workers {
		g.Go(func() error {
			for j := range jobs {
				if err := ctx.Err(); err != nil {
					j.res <- result{err: err}
					continue
				}
				out, err := work(ctx, j.in)
				j.res <- result{out, err} // never blocks: one slot per job
			}
			return nil
		})
	}
	g.Go(func() error {
		for res := range order {
			var r result
			select {
			case r = <-res:
			case <-ctx.Done():
				return ctx.Err()
			}
			if r.err != nil {
				return r.err
			}
			// A result and the end of ctx may both be ready: the end wins.
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := sink(ctx, r.out); err != nil {
				return err
			}
		}
		return nil
	})
	return g.Wait()
}

// Same is the work of a pipeline whose items need none: produce and sink
// still overlap, one item apart.
func Same[T any](_ context.Context, v T) (T, error) { return v, nil }
