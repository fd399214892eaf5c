package training

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
	"github.com/atelier-dev/atelier/internal/training/executor"
)

// TestTaskUsageIsSampledAndAveraged drives the scheduler on a fake clock
// with a 300 ms poll (which does not divide a second): a running task is
// sampled every second during the job's first minute, on a cadence the
// poll does not shift (each second has its sample), and every SampleEvery
// (10 s) after it, never with nothing measured; the metrics average the
// samples over the periods asked for, counted from the job's start.
func TestTaskUsageIsSampledAndAveraged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fx := newFixture(t, db, 2)
		var mu sync.Mutex
		clock := time.UnixMilli(1_800_000_000_000)
		now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
		fx.svc.now = now
		start := now()
		// CPU is the seconds since the start; memory is constant.
		fx.exec.usage = func() executor.Usage {
			at := now()
			return executor.Usage{At: at, CPUPercent: at.Sub(start).Seconds(), MemoryMiB: 512}
		}
		id := fx.create(t, "sampled", 1, 1)
		fx.pass(t) // admits the job: its start time is start
		if got, _ := fx.phase(t, id); got != PhaseRunning {
			t.Fatalf("job is %s; want Running", got)
		}
		for i := 0; i < 300; i++ {
			mu.Lock()
			clock = clock.Add(300 * time.Millisecond)
			mu.Unlock()
			fx.pass(t)
		}
		samples, err := fx.svc.repo.usage(context.Background(), id, "worker-0")
		if err != nil {
			t.Fatal(err)
		}
		var at []int64 // ms after the start
		for _, s := range samples {
			at = append(at, s.At-start.UnixMilli())
		}
		if len(at) != 63 {
			t.Fatalf("%d samples at %v ms; want 60 in the first minute, then one every 10 s", len(at), at)
		}
		for i, ms := range at[:60] {
			if ms/1000 != int64(i) {
				t.Fatalf("samples at %v ms; want one in each second of the first minute", at)
			}
		}
		// The last early slot was 59.3 s (the first poll after the start,
		// then whole seconds); the next ones are due 10 s apart.
		for i := 60; i < len(at); i++ {
			if d := at[i] - (300 + 59000 + int64(i-59)*10000); d < 0 || d >= 300 {
				t.Fatalf("samples at %v ms; want them every 10 s from 59.3 s (within a poll) after the first minute", at)
			}
		}

		byMinute, err := fx.svc.TaskMetrics(context.Background(), "p", id, "worker-0", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(byMinute) != 6 || byMinute[0].Metric != "cpuUsage" || byMinute[1].Metric != "memUsage" {
			t.Fatalf("metrics %+v; want cpuUsage, memUsage, then the GPU and NPU ones", byMinute)
		}
		// On a one-core flavor, CPU is the mean of the samples' seconds;
		// memory is 512 MiB of 2048.
		mean := func(ms []int64) float64 {
			var sum float64
			for _, m := range ms {
				sum += float64(m) / 1000
			}
			return round3(sum / float64(len(ms)))
		}
		if got := byMinute[0].Value; len(got) != 2 || got[0] != mean(at[:60]) || got[1] != mean(at[60:]) {
			t.Errorf("cpuUsage by minute %v; want [%v %v]", got, mean(at[:60]), mean(at[60:]))
		}
		if got := byMinute[1].Value; len(got) != 2 || got[0] != 25 || got[1] != 25 {
			t.Errorf("memUsage by minute %v; want [25 25]", got)
		}
		if got := byMinute[2].Value; len(got) != 2 || got[0] != -1 {
			t.Errorf("gpuUtil %v; want -1 for each minute", got)
		}

		bySecond, err := fx.svc.TaskMetrics(context.Background(), "p", id, "worker-0", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		cpu := bySecond[0].Value
		if len(cpu) != int(at[62]/1000)+1 {
			t.Fatalf("cpuUsage by second has %d values; want one a second up to the last sample: %v", len(cpu), cpu)
		}
		for i, v := range cpu {
			sampled := i < 60 || i == int(at[60]/1000) || i == int(at[61]/1000) || i == int(at[62]/1000)
			if sampled != (v != -1) {
				t.Fatalf("cpuUsage by second %v; want a value each second of the first minute, then every tenth, else -1", cpu)
			}
		}
		if cpu[7] != mean(at[7:8]) {
			t.Errorf("cpuUsage of second 7 = %v; want the sample's %v", cpu[7], mean(at[7:8]))
		}

		// A task that ends between its state and its usage is measured as
		// nothing: that is not recorded as an idle task.
		fx.exec.usage = func() executor.Usage { return executor.Usage{At: now()} }
		for i := 0; i < 40; i++ {
			mu.Lock()
			clock = clock.Add(300 * time.Millisecond)
			mu.Unlock()
			fx.pass(t)
		}
		if after, err := fx.svc.repo.usage(context.Background(), id, "worker-0"); err != nil || len(after) != len(samples) {
			t.Errorf("%d samples after empty measurements (%v); want still %d", len(after), err, len(samples))
		}

		for _, bad := range []time.Duration{time.Millisecond, 25 * time.Hour} {
			if _, err := fx.svc.TaskMetrics(context.Background(), "p", id, "worker-0", bad); err == nil {
				t.Errorf("TaskMetrics with step %v answered; want an invalid parameter", bad)
			}
		}
	})
}
