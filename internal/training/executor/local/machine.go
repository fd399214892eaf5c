package local

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// detectCapacity is this machine: every CPU the server may run on, all of
// its memory, and gpus GPUs.
func detectCapacity(gpus int) (executor.Resources, error) {
	mem, err := memTotalMiB()
	if err != nil {
		return executor.Resources{}, err
	}
	return executor.Resources{CPU: float64(runtime.NumCPU()), MemoryMiB: mem, GPUs: gpus}, nil
}

func memTotalMiB() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("read memory size: %w", err)
	}
	return parseMemTotal(b)
}

// parseMemTotal reads the "MemTotal:  24683620 kB" line of /proc/meminfo.
func parseMemTotal(meminfo []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || kb < 0 {
				return 0, fmt.Errorf("parse MemTotal %q", f[1])
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no MemTotal in /proc/meminfo")
}

// detectGPUs returns the model of each GPU `nvidia-smi -L` lists, none when
// nvidia-smi is absent or fails (a driver without a GPU, say).
func detectGPUs(path string) []string {
	bin, err := lookPath("nvidia-smi", path, "/")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-L").Output()
	if err != nil {
		return nil
	}
	return parseNvidiaSMIList(out)
}

// parseNvidiaSMIList reads lines such as
// "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5a1b…)" into model names.
func parseNvidiaSMIList(out []byte) []string {
	var models []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "GPU ")
		if !ok {
			continue // MIG devices and blank lines
		}
		_, model, ok := strings.Cut(rest, ": ")
		if !ok {
			continue
		}
		if i := strings.LastIndex(model, " (UUID:"); i >= 0 {
			model = model[:i]
		}
		models = append(models, strings.TrimSpace(model))
	}
	return models
}

// diskGiB is the size of the file system holding root, 0 when unknown.
func diskGiB(root string) int64 {
	if root == "" {
		return 0
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err != nil {
		return 0
	}
	return int64(st.Blocks) * int64(st.Bsize) >> 30
}

// defaultFlavors fits the capacity: CPU shapes of n cores and 2n GiB for n
// = 1, 2, 4 … while they fit, the whole machine without GPUs, and when there
// are GPUs, shapes of k GPUs with the matching share of cores and memory
// plus the whole machine with every GPU. IDs do not depend on the machine's
// size, except that shapes which do not fit are left out.
func defaultFlavors(c executor.Resources, gpuType string, disk int64) []executor.Flavor {
	var fs []executor.Flavor
	for n := 1; float64(n) <= c.CPU && int64(n)*2048 <= c.MemoryMiB; n *= 2 {
		fs = append(fs, executor.Flavor{
			ID:        fmt.Sprintf("local.cpu.%du%dg", n, 2*n),
			Name:      fmt.Sprintf("CPU: %d %s, %d GiB", n, plural(n, "core"), 2*n),
			CPU:       float64(n),
			MemoryMiB: int64(n) * 2048,
			DiskGiB:   disk,
		})
	}
	fs = append(fs, executor.Flavor{
		ID:        "local.cpu.all",
		Name:      fmt.Sprintf("Whole machine without GPUs: %g %s, %d GiB", c.CPU, plural(int(c.CPU), "core"), c.MemoryMiB>>10),
		CPU:       c.CPU,
		MemoryMiB: c.MemoryMiB,
		DiskGiB:   disk,
	})
	if c.GPUs <= 0 {
		return fs
	}
	if gpuType == "" {
		gpuType = "GPU"
	}
	for k := 1; k < c.GPUs; k *= 2 {
		cpu := float64(int(c.CPU) * k / c.GPUs)
		if cpu < 1 {
			cpu = 1
		}
		mem := c.MemoryMiB * int64(k) / int64(c.GPUs)
		fs = append(fs, executor.Flavor{
			ID:        fmt.Sprintf("local.gpu.%d", k),
			Name:      fmt.Sprintf("%d × %s, %g %s, %d GiB", k, gpuType, cpu, plural(int(cpu), "core"), mem>>10),
			CPU:       cpu,
			MemoryMiB: mem,
			GPUs:      k,
			GPUType:   gpuType,
			DiskGiB:   disk,
		})
	}
	fs = append(fs, executor.Flavor{
		ID:        "local.gpu.all",
		Name:      fmt.Sprintf("Whole machine: %d × %s, %g %s, %d GiB", c.GPUs, gpuType, c.CPU, plural(int(c.CPU), "core"), c.MemoryMiB>>10),
		CPU:       c.CPU,
		MemoryMiB: c.MemoryMiB,
		GPUs:      c.GPUs,
		GPUType:   gpuType,
		DiskGiB:   disk,
	})
	return fs
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
