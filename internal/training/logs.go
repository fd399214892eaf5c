package training

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
	"unicode/utf8"
)

// MaxPreview bounds a log preview (the reference allows up to 5 MB).
const MaxPreview = 1 << 20

// LogPreview is the tail of a task's log.
type LogPreview struct {
	Content     string
	CurrentSize int64
	FullSize    int64
}

func (s *Service) checkTask(j *jobRow, task string) error {
	if !slices.Contains(j.tasks(), task) {
		return badRequest("task_id %q is not a task of training job %s (its tasks are in status.tasks)", task, j.ID)
	}
	return nil
}

// PreviewLog returns the last MaxPreview bytes of a task's log, read with a
// seek from the end (never the whole file), while the job runs and after.
// A task that has not started yet has an empty log.
func (s *Service) PreviewLog(ctx context.Context, projectID, id, task string) (*LogPreview, error) {
	j, err := s.loadJob(ctx, projectID, id)
	if err != nil {
		return nil, err
	}
	if err := s.checkTask(j, task); err != nil {
		return nil, err
	}
	return tailFile(s.jobDir(j.ID), "logs/"+task+".log", MaxPreview)
}

// tailFile reads at most limit bytes from the end of the job file rel
// under root (never through a symbolic link: see jobfiles.go), starting at
// a UTF-8 character boundary. A missing file is an empty log.
func tailFile(root, rel string, limit int64) (*LogPreview, error) {
	f, err := openJobPath(root, rel, false)
	if errors.Is(err, os.ErrNotExist) {
		return &LogPreview{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat log: %w", err)
	}
	size := fi.Size()
	n := min(size, limit)
	if _, err := f.Seek(-n, io.SeekEnd); err != nil {
		return nil, fmt.Errorf("seek log: %w", err)
	}
	buf := make([]byte, n)
	m, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read log: %w", err)
	}
	buf = buf[:m]
	if n < size {
		// Start at a character boundary.
		for i := 0; i < len(buf) && i < utf8.UTFMax; i++ {
			if utf8.RuneStart(buf[i]) {
				buf = buf[i:]
				break
			}
		}
	}
	return &LogPreview{Content: string(buf), CurrentSize: int64(len(buf)), FullSize: size}, nil
}

// LogURLExpiry is how long a log URL works (the reference says 5 minutes).
const LogURLExpiry = 5 * time.Minute

// LogURL exports a task's log as it is now to the job's log path (its
// log_export_path, or the installation's log bucket) and returns a
// presigned download link to it.
func (s *Service) LogURL(ctx context.Context, projectID, id, task string) (string, error) {
	j, err := s.loadJob(ctx, projectID, id)
	if err != nil {
		return "", err
	}
	if err := s.checkTask(j, task); err != nil {
		return "", err
	}
	acc, err := s.objectAccess(ctx, j)
	if err != nil {
		return "", err
	}
	dst, err := s.exportLog(ctx, acc, j, task)
	if errors.Is(err, os.ErrNotExist) {
		if Final(j.Phase) {
			// Never started, or its working directory is gone: a log
			// exported at the end may still be there.
			if _, herr := s.objects.Head(ctx, dst.Bucket, dst.Key); herr != nil {
				return "", invalid("ModelArts.2819", "the log file has been cleared: task %s of training job %s has no log.", task, j.ID)
			}
		} else {
			return "", invalid(CodeNotReadyLog, "not ready for fetch log: task %s of training job %s has not started yet; please try again later.", task, j.ID)
		}
	} else if err != nil {
		return "", fmt.Errorf("export the log of %s/%s: %w", j.ID, task, err)
	}
	return s.objects.PresignGet(ctx, dst.Bucket, dst.Key, LogURLExpiry)
}

// Metric is one running metric of a task: averages over consecutive
// periods (a minute unless the caller asks otherwise).
type Metric struct {
	Metric string    `json:"metric"`
	Value  []float64 `json:"value"`
}

// maxMetricsStep is the longest period TaskMetrics averages over.
const maxMetricsStep = 24 * time.Hour

// TaskMetrics returns a task's CPU and memory usage as averages over
// consecutive periods of step (a minute, as the reference has it, when
// step is 0) from the job's start: cpuUsage in percent of the flavor's
// CPUs, memUsage in percent of its memory. A period without a sample is
// -1. GPU and NPU metrics are -1 (not measured locally), as the reference
// answers for resources a job does not have.
func (s *Service) TaskMetrics(ctx context.Context, projectID, id, task string, step time.Duration) ([]Metric, error) {
	if step == 0 {
		step = time.Minute
	}
	if step < time.Second || step > maxMetricsStep {
		return nil, invalid(CodeInvalidParam, "Invalid parameter(step): want 1 to %d seconds.", int(maxMetricsStep/time.Second))
	}
	j, err := s.loadJob(ctx, projectID, id)
	if err != nil {
		return nil, err
	}
	if err := s.checkTask(j, task); err != nil {
		return nil, err
	}
	samples, err := s.repo.usage(ctx, j.ID, task)
	if err != nil {
		return nil, err
	}
	type bucket struct {
		cpu, mem float64
		n        int
	}
	var buckets []bucket
	// Periods count from the job's start, so that the console can place
	// them on a time axis; a job without a start (never admitted) has no
	// samples, but a stored one counts from its first.
	origin := j.StartTime
	if len(samples) > 0 && (origin <= 0 || samples[0].At < origin) {
		origin = samples[0].At
	}
	for _, u := range samples {
		i := int((u.At - origin) / step.Milliseconds())
		for len(buckets) <= i {
			buckets = append(buckets, bucket{})
		}
		buckets[i].cpu += u.CPUPercent
		buckets[i].mem += u.MemoryMiB
		buckets[i].n++
	}
	f := j.Doc.Run.Flavor
	cpuU, memU, none := []float64{}, []float64{}, []float64{}
	for _, b := range buckets {
		none = append(none, -1)
		if b.n == 0 {
			cpuU, memU = append(cpuU, -1), append(memU, -1)
			continue
		}
		c, m := b.cpu/float64(b.n), b.mem/float64(b.n)
		if f.CPU > 0 {
			c /= f.CPU
		}
		if f.MemoryMiB > 0 {
			m = m * 100 / float64(f.MemoryMiB)
		}
		cpuU, memU = append(cpuU, round3(c)), append(memU, round3(m))
	}
	return []Metric{{"cpuUsage", cpuU}, {"memUsage", memU}, {"gpuUtil", none}, {"gpuMemUsage", none},
		{"npuUtil", none}, {"npuMemUsage", none}}, nil
}

func round3(v float64) float64 {
	return float64(int64(v*1000+0.5)) / 1000
}
