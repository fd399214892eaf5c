package slurm

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/atelier-dev/atelier/internal/training/executor"
)

// node is one compute node as sinfo describes it.
type node struct {
	name      string
	cpus      int
	memoryMiB int64
	gpus      int
	gpuType   string
}

// nodes lists the partition's nodes (the default partition's when none is
// configured).
func (e *Executor) nodes(ctx context.Context) ([]node, error) {
	args := []string{"-h", "-N", "-o", "%N|%c|%m|%G|%P"}
	if e.opts.Partition != "" {
		args = append(args, "-p", e.opts.Partition)
	}
	out, err := e.run(ctx, "sinfo", args...)
	if err != nil {
		return nil, err
	}
	return parseNodes(out, e.opts.Partition == "")
}

// parseNodes reads sinfo's "%N|%c|%m|%G|%P" lines; defaultOnly keeps the
// default partition's (sinfo marks it with a '*').
func parseNodes(out string, defaultOnly bool) ([]node, error) {
	var ns []node
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 5 {
			return nil, fmt.Errorf("unexpected sinfo line %q", line)
		}
		if defaultOnly && !strings.HasSuffix(f[4], "*") || seen[f[0]] {
			continue
		}
		seen[f[0]] = true
		n := node{name: f[0]}
		var err error
		if n.cpus, err = strconv.Atoi(f[1]); err != nil {
			return nil, fmt.Errorf("sinfo: CPUs of %s: %q", f[0], f[1])
		}
		// A node whose memory is not configured shows "1"; such a node
		// lends no memory to a flavor.
		if n.memoryMiB, err = strconv.ParseInt(strings.TrimSuffix(f[2], "+"), 10, 64); err != nil {
			return nil, fmt.Errorf("sinfo: memory of %s: %q", f[0], f[2])
		}
		n.gpus, n.gpuType = parseGres(f[3])
		ns = append(ns, n)
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("no node in the partition")
	}
	return ns, nil
}

// parseGres reads the GPUs of a gres list such as
// "gpu:a100:4(S:0-1),shard:8": the count and type of the gpu entries.
func parseGres(s string) (int, string) {
	n, typ := 0, ""
	for _, g := range strings.Split(s, ",") {
		g, _, _ = strings.Cut(g, "(")
		parts := strings.Split(g, ":")
		if parts[0] != "gpu" || len(parts) < 2 {
			continue
		}
		c, err := strconv.Atoi(parts[len(parts)-1])
		if err != nil {
			continue
		}
		n += c
		if len(parts) == 3 && typ == "" {
			typ = parts[1]
		}
	}
	return n, typ
}

// shapes sums the nodes into the capacity and offers flavors that fit the
// smallest node: 1, 2, 4 … cores with 2 GiB each, the whole (smallest)
// node, and with GPUs 1, 2, 4 … GPUs with their share of it.
func shapes(ns []node) (executor.Resources, []executor.Flavor, string) {
	var c executor.Resources
	small := ns[0]
	gpuType := ""
	for _, n := range ns {
		c.CPU += float64(n.cpus)
		c.MemoryMiB += n.memoryMiB
		c.GPUs += n.gpus
		small.cpus = min(small.cpus, n.cpus)
		small.memoryMiB = min(small.memoryMiB, n.memoryMiB)
		small.gpus = min(small.gpus, n.gpus)
		if gpuType == "" {
			gpuType = n.gpuType
		}
	}
	var fs []executor.Flavor
	for k := 1; k <= small.cpus && int64(k)*2048 <= small.memoryMiB; k *= 2 {
		fs = append(fs, executor.Flavor{ID: fmt.Sprintf("slurm.cpu.%du%dg", k, 2*k),
			Name: fmt.Sprintf("CPU: %d core(s), %d GiB per node", k, 2*k), CPU: float64(k), MemoryMiB: int64(k) * 2048})
	}
	if small.cpus > 0 && small.memoryMiB > 1 {
		fs = append(fs, executor.Flavor{ID: "slurm.cpu.node", Name: fmt.Sprintf("Whole node without GPUs: %d cores, %d GiB", small.cpus, small.memoryMiB>>10),
			CPU: float64(small.cpus), MemoryMiB: small.memoryMiB})
	}
	name := gpuType
	if name == "" {
		name = "GPU"
	}
	for k := 1; k <= small.gpus; k *= 2 {
		cpu := max(small.cpus*k/small.gpus, 1)
		fs = append(fs, executor.Flavor{ID: fmt.Sprintf("slurm.gpu.%d", k), Name: fmt.Sprintf("%d × %s, %d cores, %d GiB per node", k, name, cpu, small.memoryMiB*int64(k)/int64(small.gpus)>>10),
			CPU: float64(cpu), MemoryMiB: small.memoryMiB * int64(k) / int64(small.gpus), GPUs: k, GPUType: gpuType})
	}
	return c, fs, gpuType
}

// owner is a file's uid and gid.
func owner(fi os.FileInfo) (int, int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}
