package local

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	// Fields 3 … 22 after the name: state ppid pgrp session tty tpgid flags
	// minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
	// num_threads itrealvalue starttime, then more.
	const tail = " S 10 42 42 0 -1 4194560 100 0 0 0 7 3 20 5 20 0 1 0 123456 1000 200 18446744073709551615"
	for _, tc := range []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{"plain", "4242 (python3)" + tail, procStat{PID: 4242, State: 'S', PPID: 10, PGID: 42, CPUTicks: 35, StartTicks: 123456}, false},
		{"name-with-spaces-and-parens", "7 (a) b (c) d)" + tail, procStat{PID: 7, State: 'S', PPID: 10, PGID: 42, CPUTicks: 35, StartTicks: 123456}, false},
		{"zombie", "8 (sh) Z 1 8 8 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 99 0 0 0", procStat{PID: 8, State: 'Z', PPID: 1, PGID: 8, CPUTicks: 2, StartTicks: 99}, false},
		{"negative-child-times-ignored", "9 (x) R 1 9 9 0 -1 0 0 0 0 0 1 1 -5 -5 20 0 1 0 99 0", procStat{PID: 9, State: 'R', PPID: 1, PGID: 9, CPUTicks: 2, StartTicks: 99}, false},
		{"no-name", "9 x R 1 9", procStat{}, true},
		{"truncated", "9 (x) R 1 9 9", procStat{}, true},
		{"bad-start", "9 (x) R 1 9 9 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 -99 0", procStat{}, true},
		{"empty", "", procStat{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseStat([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("4242 (python3) S 10 42 42 0 -1 4194560 100 0 0 0 7 3 20 5 20 0 1 0 123456 1000"))
	f.Add([]byte("7 (a) b (c) d) R 1 2 3"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStat(b)
		if err == nil && s.State == 0 {
			t.Errorf("parsed %q without a state", b)
		}
	})
}

func TestParseMemTotal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{"typical", "MemTotal:       24683620 kB\nMemFree:         1000 kB\n", 24105, false},
		{"not-first", "Foo: 1 kB\nMemTotal: 2048 kB\n", 2, false},
		{"missing", "MemFree: 1 kB\n", 0, true},
		{"garbage", "MemTotal: lots kB\n", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseMemTotal([]byte(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseNvidiaSMIList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		want []string
	}{
		{"none", "", nil},
		{"two", "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5a1b)\nGPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-77aa)\n",
			[]string{"NVIDIA A100-SXM4-40GB", "NVIDIA A100-SXM4-40GB"}},
		{"mig-lines-skipped", "GPU 0: Tesla T4 (UUID: GPU-1)\n  MIG 1g.5gb Device 0: (UUID: MIG-2)\n", []string{"Tesla T4"}},
		{"error-text", "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := parseNvidiaSMIList([]byte(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDefaultFlavors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cap  executor.Resources
		want []string
	}{
		{"two-cores", executor.Resources{CPU: 2, MemoryMiB: 24104}, []string{"local.cpu.1u2g", "local.cpu.2u4g", "local.cpu.all"}},
		{"little-memory", executor.Resources{CPU: 8, MemoryMiB: 5000}, []string{"local.cpu.1u2g", "local.cpu.2u4g", "local.cpu.all"}},
		{"half-a-core", executor.Resources{CPU: 0.5, MemoryMiB: 1024}, []string{"local.cpu.all"}},
		{"four-gpus", executor.Resources{CPU: 16, MemoryMiB: 128 << 10, GPUs: 4}, []string{
			"local.cpu.1u2g", "local.cpu.2u4g", "local.cpu.4u8g", "local.cpu.8u16g", "local.cpu.16u32g", "local.cpu.all",
			"local.gpu.1", "local.gpu.2", "local.gpu.all"}},
		{"one-gpu", executor.Resources{CPU: 4, MemoryMiB: 16 << 10, GPUs: 1}, []string{
			"local.cpu.1u2g", "local.cpu.2u4g", "local.cpu.4u8g", "local.cpu.all", "local.gpu.all"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := defaultFlavors(tc.cap, "Tesla T4", 100)
			var ids []string
			for _, f := range fs {
				ids = append(ids, f.ID)
				if f.CPU > tc.cap.CPU || f.MemoryMiB > tc.cap.MemoryMiB || f.GPUs > tc.cap.GPUs || f.Name == "" {
					t.Errorf("flavor %+v does not fit %+v", f, tc.cap)
				}
				if (f.GPUs > 0) != (f.GPUType != "") || (f.GPUs > 0) != strings.HasPrefix(f.ID, "local.gpu.") {
					t.Errorf("flavor %+v: GPU fields disagree", f)
				}
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("IDs %v, want %v", ids, tc.want)
			}
			if err := executor.ValidateFlavors(fs); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestDecodeHandle(t *testing.T) {
	t.Parallel()
	good := handleData{Version: 1, Job: "j", Task: "worker-0", BootID: "b", PID: 100, PIDStart: 5, PGID: 101, PGIDStart: 6,
		ExitFile: "/x/worker-0.exit", LogFile: "/x/worker-0.log", StartedAt: time.Unix(1700000000, 0).UTC()}
	mod := func(f func(*handleData)) executor.Handle { d := good; f(&d); return d.encode() }
	for _, tc := range []struct {
		name    string
		in      executor.Handle
		wantErr bool
	}{
		{"round-trip", good.encode(), false},
		{"not-json", "pid=5", true},
		{"empty", "", true},
		{"other-version", mod(func(d *handleData) { d.Version = 2 }), true},
		{"pgid-one-would-signal-everything", mod(func(d *handleData) { d.PGID = 1 }), true},
		{"pgid-zero", mod(func(d *handleData) { d.PGID = 0 }), true},
		{"negative-pgid", mod(func(d *handleData) { d.PGID = -5 }), true},
		{"pid-zero", mod(func(d *handleData) { d.PID = 0 }), true},
		{"no-boot-id", mod(func(d *handleData) { d.BootID = "" }), true},
		{"relative-exit-file", mod(func(d *handleData) { d.ExitFile = "worker-0.exit" }), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeHandle(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && got != good {
				t.Errorf("got %+v, want %+v", got, good)
			}
		})
	}
}

func FuzzDecodeHandle(f *testing.F) {
	f.Add(`{"v":1,"boot_id":"b","pid":100,"pgid":101,"exit_file":"/x"}`)
	f.Add(`{"v":1,"boot_id":"b","pid":100,"pgid":-1,"exit_file":"/x"}`)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := decodeHandle(executor.Handle(s))
		if err == nil && (d.PGID <= 1 || d.PID <= 1) {
			t.Errorf("accepted %q with pid %d, pgid %d", s, d.PID, d.PGID)
		}
	})
}

func TestSignalName(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]string{0: "", 1: "", 128: "", 129: "SIGHUP", 137: "SIGKILL", 143: "SIGTERM", 139: "SIGSEGV", 255: ""} {
		if got := executor.SignalName(code); got != want {
			t.Errorf("SignalName(%d) = %q, want %q", code, got, want)
		}
	}
}
