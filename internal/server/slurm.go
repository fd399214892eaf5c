package server

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/training/executor"
	"github.com/atelier-dev/atelier/internal/training/executor/slurm"
)

// slurmExecutor builds the Slurm executor (--executor slurm). When the
// cluster does not answer or the configuration cannot keep jobs from the
// server's files, jobs are refused (nil executor, and the reason users are
// told) and the log says why, as with the local executor's sandbox.
func slurmExecutor(cfg config.Config, log *slog.Logger) (executor.Executor, string) {
	// The job account walks through the jobs directory to its jobs' own
	// directories (it may not list it).
	if err := os.Chmod(cfg.JobsDir, 0o711); err != nil {
		log.Error("training jobs are refused: the jobs directory cannot be opened to the Slurm job user", "err", err, "jobs_dir", cfg.JobsDir)
		return nil, "training jobs are refused: this Atelier server's Slurm executor is not available (its log says why)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex, err := slurm.New(ctx, slurm.Options{
		WorkRoot:    cfg.JobsDir,
		Partition:   cfg.Slurm.Partition,
		Account:     cfg.Slurm.Account,
		JobUser:     cfg.Slurm.JobUser,
		BinDir:      cfg.Slurm.BinDir,
		Unsandboxed: cfg.UnsafeNoJobSandbox,
		Protected:   protectedPaths(cfg),
		Logger:      log,
	})
	if err != nil {
		log.Error("training jobs are refused: the Slurm executor cannot start", "err", err)
		return nil, "training jobs are refused: this Atelier server's Slurm executor is not available (its log says why)"
	}
	if cfg.UnsafeNoJobSandbox {
		log.Warn("UNSAFE: training jobs run on Slurm WITHOUT a sandbox (--unsafe-no-job-sandbox): a job can read other jobs' directories and forge its exit status",
			"job_user", cfg.Slurm.JobUser)
	}
	log.Info("training jobs run on Slurm", "partition", cfg.Slurm.Partition, "job_user", cfg.Slurm.JobUser,
		"capacity_cpu", ex.Capacity().CPU, "capacity_memory_mib", ex.Capacity().MemoryMiB, "capacity_gpus", ex.Capacity().GPUs)
	return ex, ""
}
