package training

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/training/executor"
)

// Run is the scheduler: until ctx ends it holds (or waits for) the
// scheduler lease and, while it holds it, makes a pass over the jobs that
// are not final on every wake-up and every Tick. Only the lease holder
// starts, watches and finishes tasks, so several replicas sharing one
// PostgreSQL database never run a job twice: the lease is renewed while a
// pass runs (a pass that downloads a big input takes longer than the TTL),
// the pass stops when a renewal finds the lease taken, and every write a
// pass makes is refused without the lease (see repo.holdLease), so a replica that
// stalled past its lease changes nothing after another one took over.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		held, err := s.acquireLease(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("training scheduler lease", "err", err)
		}
		if held {
			if err := s.leasedPass(ctx); err != nil && ctx.Err() == nil {
				if errors.Is(err, errLeaseLost) {
					s.log.Warn("training scheduler lease lost to another replica; pass stopped")
				} else {
					s.log.Error("training scheduler pass", "err", err)
				}
			}
		}
		// Tasks give no signal when they end: while some run, they are
		// polled every Poll so that their jobs finish promptly.
		next := s.opts.Tick
		if held && s.busy.Load() {
			next = s.opts.Poll
		}
		t.Reset(next)
		select {
		case <-ctx.Done():
			if held {
				s.releaseLease()
			}
			return
		case <-t.C:
		case <-s.wake:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
	}
}

// leasedPass makes a pass while renewing the lease every third of its TTL;
// the pass is cancelled when a renewal finds another replica holding it.
func (s *Service) leasedPass(ctx context.Context) error {
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(max(s.opts.LeaseTTL/3, time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-tick.C:
			}
			held, err := s.acquireLease(pctx)
			if err == nil && !held {
				cancel(errLeaseLost)
				return
			}
			// A failed renewal is not a loss: the writes are fenced, and
			// the next renewal may succeed.
		}
	}()
	err := s.Pass(pctx)
	cancel(nil)
	<-done
	if cause := context.Cause(pctx); errors.Is(cause, errLeaseLost) {
		return errLeaseLost
	}
	return err
}

// acquireLease takes or renews the scheduler lease (repo.acquireLease).
func (s *Service) acquireLease(ctx context.Context) (bool, error) {
	return s.repo.acquireLease(ctx, s.opts.LeaseTTL)
}

// scheduled is transition for the scheduler's own writes: fenced by the
// lease (API requests change jobs with transition, lease or not).
func (s *Service) scheduled(ctx context.Context, id string, fn func(j *jobRow) ([]event, error)) (*jobRow, error) {
	return s.repo.changeJob(ctx, id, true, fn)
}

// releaseLease lets another replica take over at once on a clean shutdown.
func (s *Service) releaseLease() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.repo.releaseLease(ctx)
}

// Pass makes one scheduling pass: Creating jobs are checked and queued,
// Running and Terminating jobs are polled (and finished when their tasks
// have ended), and queued jobs are admitted in priority order while
// capacity remains. Exported for tests; Run calls it.
func (s *Service) Pass(ctx context.Context) error {
	if err := s.repo.checkLease(ctx); err != nil {
		return err
	}
	jobs, err := s.repo.activeJobs(ctx)
	if err != nil {
		return fmt.Errorf("load active jobs: %w", err)
	}
	deleted, err := s.repo.deletedJobs(ctx)
	if err != nil {
		return fmt.Errorf("load deleted jobs: %w", err)
	}
	s.busy.Store(len(jobs) > 0)
	jobs = append(jobs, deleted...)
	var errs []error
	var used executor.Resources
	var pending []*jobRow
	for _, j := range jobs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var err error
		switch {
		case Final(j.Phase):
			err = s.purge(ctx, j)
		case j.Phase == PhaseCreating:
			if j, err = s.queue(ctx, j); err == nil && j != nil && j.Phase == PhasePending {
				pending = append(pending, j)
			}
		case j.Phase == PhasePending:
			pending = append(pending, j)
		case j.Phase == PhaseRunning || j.Phase == PhaseTerminating:
			if j, err = s.watch(ctx, j); err == nil && j != nil && !Final(j.Phase) {
				used = add(used, j.Doc.Run.Flavor, j.Doc.Spec.Resource.NodeCount)
			}
		}
		if errors.Is(err, errLeaseLost) {
			return err // another replica owns the jobs now
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if s.exec != nil {
		capacity := s.exec.Capacity()
		for _, j := range pending {
			if ctx.Err() != nil || !within(add(used, j.Doc.Run.Flavor, j.Doc.Spec.Resource.NodeCount), capacity) {
				// Strict priority and FIFO: a job that does not fit holds
				// back the ones behind it, so big jobs are not starved.
				break
			}
			started, err := s.admit(ctx, j)
			if errors.Is(err, errLeaseLost) {
				return err
			}
			if err != nil {
				errs = append(errs, err)
			}
			if started {
				used = add(used, j.Doc.Run.Flavor, j.Doc.Spec.Resource.NodeCount)
			}
		}
	}
	return errors.Join(errs...)
}

func add(r executor.Resources, f executor.Flavor, n int) executor.Resources {
	n = max(1, n)
	r.CPU += f.CPU * float64(n)
	r.MemoryMiB += f.MemoryMiB * int64(n)
	r.GPUs += f.GPUs * n
	return r
}

func within(r, c executor.Resources) bool {
	return r.CPU <= c.CPU+1e-9 && r.MemoryMiB <= c.MemoryMiB && r.GPUs <= c.GPUs
}

// queue moves a Creating job to Pending/Queuing, or fails it when this
// executor cannot run it.
func (s *Service) queue(ctx context.Context, j *jobRow) (*jobRow, error) {
	return s.scheduled(ctx, j.ID, func(j *jobRow) ([]event, error) {
		if j.Phase != PhaseCreating {
			return nil, errSkip
		}
		now := s.now().UnixMilli()
		if j.Doc.Run.Image != "" && (s.exec == nil || s.exec.Name() == "local") {
			j.Phase, j.Secondary, j.EndTime = PhaseFailed, SecondaryCreateFailed, now
			return []event{{now, "Error", "Job", fmt.Sprintf("Training job failed: it names the container image %q, and running an image needs the Kubernetes executor; the local executor runs code directories with an engine (see GET /v2/{project_id}/training-job-engines).", j.Doc.Run.Image)}}, nil
		}
		j.Phase, j.Secondary = PhasePending, SecondaryQueuing
		return []event{{now, "Info", "Job", "Training job is queuing."}}, nil
	})
}

// jobDir is a job's working directory.
func (s *Service) jobDir(id string) string {
	if s.jobsDir != "" {
		return filepath.Join(s.jobsDir, id)
	}
	return filepath.Join(s.dataDir, "jobs", id)
}

// admit materialises a queued job's code and inputs and starts its tasks.
// started reports whether its tasks run (and so use capacity).
func (s *Service) admit(ctx context.Context, j *jobRow) (started bool, err error) {
	spec, err := s.materialise(ctx, j)
	if err == nil {
		// Materialising may take long: the lease is checked again before
		// tasks start (and the write that records them is fenced).
		if err := s.repo.checkLease(ctx); err != nil {
			return false, err
		}
		var handles []executor.Handle
		if handles, err = s.exec.Start(ctx, spec); err == nil {
			return s.started(ctx, j, spec, handles)
		}
	}
	if ctx.Err() != nil {
		// Shutting down: the job stays queued and is admitted again.
		return false, ctx.Err()
	}
	return false, s.failStart(ctx, j.ID, err)
}

// started records the tasks of an admitted job and makes it Running.
func (s *Service) started(ctx context.Context, j *jobRow, spec executor.JobSpec, handles []executor.Handle) (bool, error) {
	now := s.now()
	tasks := make([]taskRun, len(handles))
	for i, h := range handles {
		tasks[i] = taskRun{ID: spec.Tasks[i].ID, Handle: h}
	}
	var stop bool
	_, err := s.scheduled(ctx, j.ID, func(j *jobRow) ([]event, error) {
		j.Run.Tasks = tasks
		ms := now.UnixMilli()
		if stop = j.Phase != PhasePending; stop {
			// Terminated or deleted while it was being admitted: the
			// tasks are recorded so that they are stopped and waited for.
			j.Run.TerminateSent = true
			if Final(j.Phase) {
				j.Phase, j.Secondary = PhaseTerminating, PhaseTerminating
			}
			return nil, nil
		}
		j.Phase, j.Secondary, j.StartTime = PhaseRunning, PhaseRunning, ms
		j.Run.Records = append(j.Run.Records, RunningRecord{StartAt: now.Unix(), StartType: "init_or_rescheduled"})
		evs := []event{{ms, "Info", "Job", "Training job is running."}}
		for _, t := range tasks {
			evs = append(evs, event{ms, "Info", "Task", fmt.Sprintf("[%s] training started.", t.ID)})
		}
		return evs, nil
	})
	if err != nil {
		for _, h := range handles {
			_ = s.exec.Terminate(context.WithoutCancel(ctx), h, s.opts.Grace)
		}
		return false, err
	}
	if stop {
		for _, h := range handles {
			_ = s.exec.Terminate(ctx, h, s.opts.Grace)
		}
	}
	return true, nil
}

// failStart ends a job whose tasks could not start: Failed, with the reason.
func (s *Service) failStart(ctx context.Context, id string, cause error) error {
	msg := cause.Error()
	if errors.Is(cause, executor.ErrUnsupported) {
		msg = "the executor cannot run this job: " + msg
	}
	_, err := s.scheduled(ctx, id, func(j *jobRow) ([]event, error) {
		if j.Phase != PhasePending {
			return nil, errSkip
		}
		now := s.now().UnixMilli()
		j.Phase, j.Secondary, j.EndTime = PhaseFailed, SecondaryCreateFailed, now
		return []event{{now, "Error", "Job", "Training job failed to start: " + msg}}, nil
	})
	if err != nil {
		return fmt.Errorf("record the failed start of job %s: %w", id, err)
	}
	return nil
}

// materialise prepares a job's working directory: the code, downloaded from
// object storage into jobs/<id>/user-job-dir/<code dir name>/ (one copy
// shared by every task: tasks are processes of one host), each input under
// inputs/<name>/, an empty outputs/<name>/ per output and logs/. It returns
// the executor's job spec with argv built as ModelArts builds it: the engine
// runs the boot file with --<input>=<local path>, --<output>=<local path>
// and --<hyperparameter>=<value>, each one argument, never shell text.
func (s *Service) materialise(ctx context.Context, j *jobRow) (executor.JobSpec, error) {
	dir := s.jobDir(j.ID)
	if err := os.RemoveAll(dir); err != nil {
		return executor.JobSpec{}, fmt.Errorf("clear working directory: %w", err)
	}
	d := j.Doc
	jobDir := filepath.Join(dir, "user-job-dir")
	logDir := filepath.Join(dir, "logs")
	// Exit statuses live apart from everything a task is told about, so
	// that a task cannot forge its own.
	statusDir := filepath.Join(dir, "status")
	for _, p := range []string{jobDir, logDir, statusDir, filepath.Join(dir, "inputs"), filepath.Join(dir, "outputs")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return executor.JobSpec{}, fmt.Errorf("create working directory: %w", err)
		}
	}
	acc, err := s.objectAccess(ctx, j)
	if err != nil {
		return executor.JobSpec{}, err
	}
	var argv []string
	// The task works in the code directory, else in MA_JOB_DIR: never in
	// the job directory itself, which holds its exit statuses and logs.
	cwd := jobDir
	// What the sandbox shows the tasks of the job, at the same paths:
	// MA_JOB_DIR with the code, the inputs, each output, and the logs
	// read-only (they are the server's record of the job).
	mounts := []executor.Mount{{Path: jobDir, Writable: true}, {Path: filepath.Join(dir, "inputs"), Writable: true},
		{Path: logDir}}
	if d.Run.CodeDir != "" {
		code, err := obs.ParsePath(d.Run.CodeDir)
		if err != nil {
			return executor.JobSpec{}, err
		}
		boot, err := obs.ParsePath(d.Run.BootFile)
		if err != nil {
			return executor.JobSpec{}, err
		}
		local := filepath.Join(jobDir, path.Base(strings.TrimSuffix(code.Key, "/")))
		if _, err := s.download(ctx, acc, code, local); err != nil {
			return executor.JobSpec{}, fmt.Errorf("download the code directory %s: %w", code, err)
		}
		cwd = local
		if d.Algorithm.Command == "" {
			argv = append(argv, d.Run.Launch...)
			argv = append(argv, filepath.Join(local, filepath.FromSlash(strings.TrimPrefix(boot.Key, code.Key))))
		}
	}
	if d.Run.Image != "" && d.Algorithm.Command != "" {
		// A custom image's command is shell text, run by the image's shell
		// as ModelArts runs it (in the code directory when there is one);
		// the job's arguments follow it as "$@", never parsed.
		argv = []string{"/bin/sh", "-c", d.Algorithm.Command + ` "$@"`, "sh"}
	}
	for _, in := range d.Algorithm.Inputs {
		loc, err := obs.ParsePath(in.Remote.OBS.OBSURL)
		if err != nil {
			return executor.JobSpec{}, err
		}
		local := filepath.Join(dir, "inputs", in.Name)
		p, err := s.download(ctx, acc, loc, local)
		if err != nil {
			return executor.JobSpec{}, fmt.Errorf("download input %s from %s: %w", in.Name, loc, err)
		}
		argv = append(argv, "--"+in.Name+"="+p)
	}
	for _, out := range d.Algorithm.Outputs {
		local := filepath.Join(dir, "outputs", out.Name)
		if err := os.MkdirAll(local, 0o755); err != nil {
			return executor.JobSpec{}, err
		}
		argv = append(argv, "--"+out.Name+"="+local+string(filepath.Separator))
		mounts = append(mounts, executor.Mount{Path: local, Writable: true})
	}
	for _, p := range d.Algorithm.Parameters {
		argv = append(argv, "--"+p.Name+"="+p.Value)
	}
	env := map[string]string{}
	for k, v := range d.Run.Env {
		env[k] = v
	}
	env["MA_JOB_DIR"] = jobDir
	env["MA_LOG_DIR"] = logDir
	env["MA_NUM_GPUS"] = strconv.Itoa(d.Run.Flavor.GPUs)
	env["MA_TASK_NAME"] = "worker"
	env["MA_VJ_NAME"] = "modelarts-job-" + j.ID
	spec := executor.JobSpec{JobID: j.ID, Flavor: d.Run.Flavor, Image: d.Run.Image, Mounts: mounts}
	for i, t := range j.tasks() {
		tenv := map[string]string{"MA_CURRENT_INSTANCE_NAME": "modelarts-job-" + j.ID + "-" + t}
		for k, v := range env {
			tenv[k] = v
		}
		spec.Tasks = append(spec.Tasks, executor.Task{ID: t, Index: i, Dir: cwd, Command: argv, Env: tenv,
			LogPath: filepath.Join(logDir, t+".log"), ExitCodePath: filepath.Join(statusDir, t+".exit")})
	}
	if len(argv) == 0 {
		return spec, errors.New("the job has nothing to run")
	}
	return spec, nil
}

// watch polls a Running or Terminating job's tasks and moves it on when
// they have ended. It returns the job as it now is.
func (s *Service) watch(ctx context.Context, j *jobRow) (*jobRow, error) {
	if s.exec == nil {
		return j, nil
	}
	// Terminate tasks first when asked to (or when one task failed or was
	// lost: a job is all its tasks or none).
	states := make([]executor.State, len(j.Run.Tasks))
	var failed, lost bool
	for i, t := range j.Run.Tasks {
		if t.Exited || t.Lost {
			states[i] = executor.State{Exited: t.Exited, ExitCode: t.ExitCode, Lost: t.Lost}
		} else {
			st, err := s.exec.State(ctx, t.Handle)
			if err != nil {
				// A handle the executor cannot read will never tell
				// anything: the task is lost rather than Running forever.
				s.log.Warn("task state", "job", j.ID, "task", t.ID, "err", err)
				st = executor.State{Lost: true}
			}
			states[i] = st
			if st.Running {
				s.sample(ctx, j, t)
			}
		}
		failed = failed || states[i].Exited && states[i].ExitCode != 0
		lost = lost || states[i].Lost
	}
	var autoStop bool
	if j.Phase == PhaseRunning && j.Doc.Spec.AutoStop != nil && j.StartTime > 0 {
		if d, err := autoStopDuration(j.Doc.Spec.AutoStop); err == nil && s.now().Sub(time.UnixMilli(j.StartTime)) >= d {
			autoStop = true
		}
	}
	stopping := j.Phase == PhaseTerminating || failed || lost || autoStop
	if stopping && (!j.Run.TerminateSent || s.resignalDue(j.ID)) {
		s.markSignalled(j.ID)
		for i, t := range j.Run.Tasks {
			// A Lost task may still have processes (its wrapper died):
			// Terminate stops them, and ignores handles it cannot trust.
			if states[i].Running || states[i].Lost {
				if err := s.exec.Terminate(ctx, t.Handle, s.opts.Grace); err != nil {
					s.log.Warn("terminate task", "job", j.ID, "task", t.ID, "err", err)
				}
			}
		}
	}
	allEnded, changed := true, autoStop || (j.Phase == PhaseTerminating || failed || lost) && !j.Run.TerminateSent
	for i, st := range states {
		if !st.Exited && !st.Lost {
			allEnded = false
		}
		if (st.Exited || st.Lost) && !j.Run.Tasks[i].Exited && !j.Run.Tasks[i].Lost {
			changed = true
		}
	}
	if !changed {
		// Nothing to record: no write while tasks simply keep running.
		if allEnded {
			return s.finish(ctx, j)
		}
		return j, nil
	}
	nj, err := s.scheduled(ctx, j.ID, func(cur *jobRow) ([]event, error) {
		if cur.Phase != PhaseRunning && cur.Phase != PhaseTerminating {
			return nil, errSkip
		}
		now := s.now()
		ms := now.UnixMilli()
		var evs []event
		if (cur.Phase == PhaseTerminating || failed || lost || autoStop) && !cur.Run.TerminateSent {
			cur.Run.TerminateSent = true
		}
		if autoStop && cur.Phase == PhaseRunning {
			cur.Phase, cur.Secondary = PhaseTerminating, PhaseTerminating
			evs = append(evs, event{ms, "Info", "Job", "Training job reached its auto stop time and is terminating."})
		}
		for i := range cur.Run.Tasks {
			t := &cur.Run.Tasks[i]
			if t.Exited || t.Lost || i >= len(states) {
				continue
			}
			st := states[i]
			switch {
			case st.Exited:
				t.Exited, t.ExitCode, t.EndedAt = true, st.ExitCode, ms
				if !st.EndedAt.IsZero() {
					t.EndedAt = st.EndedAt.UnixMilli()
				}
				if st.Signal != "" {
					t.Message = "terminated by " + st.Signal
				} else if st.ExitCode != 0 {
					t.Message = fmt.Sprintf("exited with code %d", st.ExitCode)
				}
				evs = append(evs, event{ms, "Info", "Task", fmt.Sprintf("[%s] Training finished. Exit code %d.", t.ID, st.ExitCode)})
			case st.Lost:
				t.Lost, t.ExitCode, t.EndedAt = true, -1, ms
				t.Message = "the task's process was lost (neither running nor with a recorded exit status)"
				evs = append(evs, event{ms, "Error", "Task", fmt.Sprintf("[%s] The task was lost: its process is gone and no exit status was recorded (was the host restarted?).", t.ID)})
			}
		}
		return evs, nil
	})
	if err != nil || !allEnded || nj.Phase != PhaseRunning && nj.Phase != PhaseTerminating {
		return nj, err
	}
	return s.finish(ctx, nj)
}

// finish ends a job whose tasks have all ended: outputs are uploaded and
// logs exported, then the job becomes Completed (all tasks exited 0),
// Failed, Terminated or Abnormal (a task was lost).
func (s *Service) finish(ctx context.Context, j *jobRow) (*jobRow, error) {
	s.mu.Lock()
	delete(s.signalled, j.ID)
	s.mu.Unlock()
	s.forgetSamples(j.ID)
	var evs []event
	ms := func() int64 { return s.now().UnixMilli() }
	lost := false
	for _, t := range j.Run.Tasks {
		lost = lost || t.Lost
	}
	acc, err := s.objectAccess(ctx, j)
	if err != nil {
		return j, err
	}
	if !lost {
		for _, out := range j.Doc.Algorithm.Outputs {
			evs = append(evs, event{ms(), "Info", "Task", fmt.Sprintf("[worker-0] Training output(parameter name: %s) Uploading.", out.Name)})
			start := s.now()
			n, skipped, denied, err := s.uploadDir(ctx, acc, j.ID, "outputs/"+out.Name, out.Remote.OBS.OBSURL)
			if len(skipped) > 0 {
				evs = append(evs, event{ms(), "Warning", "Task", fmt.Sprintf("[worker-0] Training output(parameter name: %s): %d entries not uploaded, because only regular files are: %s.", out.Name, len(skipped), shortList(skipped))})
			}
			if len(denied) > 0 {
				evs = append(evs, event{ms(), "Warning", "Task", fmt.Sprintf("[worker-0] Training output(parameter name: %s): %d files not uploaded, because the job's creator may not write them: %s.", out.Name, len(denied), shortList(denied))})
			}
			if err != nil {
				evs = append(evs, event{ms(), "Error", "Task", fmt.Sprintf("[worker-0] Upload training output(parameter name: %s) failed: %v", out.Name, err)})
				continue
			}
			evs = append(evs, event{ms(), "Info", "Task", fmt.Sprintf("[worker-0][time used: %.3fs] Upload training output(parameter name: %s) finished: %d files.",
				s.now().Sub(start).Seconds(), out.Name, n)})
		}
	}
	for _, t := range j.Run.Tasks {
		if _, err := s.exportLog(ctx, acc, j, t.ID); err != nil && !errors.Is(err, os.ErrNotExist) {
			evs = append(evs, event{ms(), "Warning", "Task", fmt.Sprintf("[%s] Exporting the log failed: %v", t.ID, err)})
		}
	}
	if ctx.Err() != nil {
		// Shutting down mid-upload: the next start finishes the job again.
		return j, ctx.Err()
	}
	return s.scheduled(ctx, j.ID, func(cur *jobRow) ([]event, error) {
		if cur.Phase != PhaseRunning && cur.Phase != PhaseTerminating {
			return nil, errSkip
		}
		now := s.now()
		cur.EndTime = now.UnixMilli()
		// The culprit is the first task to fail: the others may have
		// been terminated because of it.
		var culprit, reason string
		var first int64
		for _, t := range cur.Run.Tasks {
			if (t.Lost || t.ExitCode != 0) && (culprit == "" || t.EndedAt < first) {
				culprit, reason, first = t.ID, t.Message, t.EndedAt
			}
		}
		switch {
		case lost:
			cur.Phase, cur.Secondary = PhaseAbnormal, SecondaryLost
			evs = append(evs, event{cur.EndTime, "Error", "Job", fmt.Sprintf("Training job is abnormal: task %s was lost.", culprit)})
		case cur.Phase == PhaseTerminating:
			cur.Phase, cur.Secondary = PhaseTerminated, PhaseTerminated
			reason = "terminated"
			evs = append(evs, event{cur.EndTime, "Info", "Job", "Training job is terminated."})
		case culprit != "":
			cur.Phase, cur.Secondary = PhaseFailed, PhaseFailed
			evs = append(evs, event{cur.EndTime, "Error", "Job", fmt.Sprintf("Training job failed: task %s %s.", culprit, reason)})
		default:
			cur.Phase, cur.Secondary = PhaseCompleted, PhaseCompleted
			reason = "completed"
			evs = append(evs, event{cur.EndTime, "Info", "Job", "Training job is completed."})
		}
		if n := len(cur.Run.Records); n > 0 && cur.Run.Records[n-1].EndAt == 0 {
			r := &cur.Run.Records[n-1]
			r.EndAt, r.EndReason, r.EndRelatedTask = now.Unix(), reason, culprit
		}
		return evs, nil
	})
}

// During a job's first minute its tasks are sampled every second rather
// than every SampleEvery: a short job would otherwise leave one sample or
// none, and its usage chart nothing to draw. Sixty rows per task is the cost.
const (
	earlySampleEvery = time.Second
	earlySampling    = time.Minute
)

// sample records a running task's usage every sampling interval. The
// interval is kept as a cadence (the next sample is due one interval after
// the previous one was due, not after the poll that took it), so that a
// poll landing late does not push every later sample back and leave
// one-second buckets of the metrics empty.
func (s *Service) sample(ctx context.Context, j *jobRow, t taskRun) {
	key := j.ID + "/" + t.ID
	now := s.now()
	every := s.opts.SampleEvery
	if j.StartTime > 0 && now.Sub(time.UnixMilli(j.StartTime)) < earlySampling {
		every = min(every, earlySampleEvery)
	}
	s.mu.Lock()
	last, seen := s.lastSamp[key]
	due := !seen || now.Sub(last) >= every
	if due {
		next := last.Add(every)
		if !seen || now.Sub(next) >= every {
			next = now // too far behind (or the first): start the cadence again
		}
		s.lastSamp[key] = next
	}
	s.mu.Unlock()
	if !due {
		return
	}
	u, err := s.exec.Usage(ctx, t.Handle)
	if err != nil || u.MemoryMiB <= 0 {
		// The task has just ended (a live process always holds memory):
		// nothing was measured, and a zero would read as an idle task.
		return
	}
	at := u.At
	if at.IsZero() {
		at = now
	}
	if err := s.repo.recordUsage(ctx, j.ID, t.ID, usageSample{At: at.UnixMilli(), CPUPercent: u.CPUPercent, MemoryMiB: u.MemoryMiB}); err != nil {
		s.log.Warn("record usage sample", "job", j.ID, "task", t.ID, "err", err)
	}
}

func (s *Service) forgetSamples(jobID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.lastSamp {
		if strings.HasPrefix(k, jobID+"/") {
			delete(s.lastSamp, k)
		}
	}
}

// purge removes a deleted job whose tasks have ended: its records and its
// working directory. Outputs and exported logs in object storage stay.
func (s *Service) purge(ctx context.Context, j *jobRow) error {
	if !j.Deleted {
		return nil
	}
	if err := os.RemoveAll(s.jobDir(j.ID)); err != nil {
		return fmt.Errorf("remove the working directory of job %s: %w", j.ID, err)
	}
	s.forgetSamples(j.ID)
	return s.repo.purgeJob(ctx, j.ID)
}

// resignalDue reports whether a job whose tasks were told to terminate
// should be told again: this process never sent it (it was sent before a
// restart), or it sent it longer ago than the grace period and its SIGKILL
// should have landed.
func (s *Service) resignalDue(jobID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.signalled[jobID]
	return !ok || s.now().Sub(at) > 2*s.opts.Grace+time.Second
}

func (s *Service) markSignalled(jobID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.signalled == nil {
		s.signalled = map[string]time.Time{}
	}
	s.signalled[jobID] = s.now()
}

// errLeaseLost stops a scheduler pass whose replica no longer holds the
// scheduler lease: another replica owns the jobs now.
var errLeaseLost = errors.New("the training scheduler lease is held by another replica")
