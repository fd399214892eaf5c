package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/atelier-dev/atelier/internal/client"
	"github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/training"
)

// clientFlags are how the train and data commands find the server and
// their credentials (config.Client: flags, then ATELIER_* variables, then a
// bootstrap.json).
type clientFlags struct {
	config.Client
}

func (f *clientFlags) bind(cmd *cobra.Command) {
	config.BindClient(cmd.PersistentFlags(), &f.Client)
}

// preRun runs before every command of the group: it warns about secrets
// given on the command line.
func (f *clientFlags) preRun(cmd *cobra.Command) {
	warnCommandLineSecrets(cmd)
}

// saferWays says, per secret flag, how to give the secret without putting it
// in the process list.
var saferWays = map[string]string{
	"--sk":             "ATELIER_SECRET_KEY or --sk-file",
	"--token":          "ATELIER_TOKEN",
	"--obs-secret-key": "ATELIER_OBS_SECRET_KEY",
	"--database":       "ATELIER_DATABASE",
}

// warnCommandLineSecrets warns on stderr about each secret given as a flag:
// every user of the machine can read a process's arguments (ps, /proc).
func warnCommandLineSecrets(cmd *cobra.Command) {
	for _, name := range config.SecretsOnCommandLine(cmd.Flags()) {
		fmt.Fprintf(cmd.ErrOrStderr(), "atelier: warning: %s on the command line is visible to other users of this machine in the process list; use %s instead\n",
			name, saferWays[name])
	}
}

// client connects with the resolved settings.
func (f *clientFlags) client() (*client.Client, error) {
	c, err := f.Resolve()
	if err != nil {
		return nil, err
	}
	return client.New(client.Config{Endpoint: c.Endpoint, ProjectID: c.ProjectID, AccessKey: c.AccessKey, SecretKey: c.SecretKey, Token: c.Token})
}

func newTrain(out io.Writer) *cobra.Command {
	cf := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Run and watch training jobs on a remote Atelier",
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			cf.preRun(cmd)
		},
	}
	cf.bind(cmd)
	cmd.AddCommand(newTrainRun(out, cf), newTrainLogs(out, cf), newTrainList(out, cf), newTrainStop(out, cf), newTrainShow(out, cf))
	return cmd
}

// pollInterval is how often --follow polls the job and its log.
var pollInterval = time.Second

type runOptions struct {
	code, boot, bucket, flavor, name, task string
	nodes                                  int
	params, outputs                        []string
	follow                                 bool
}

func newTrainRun(out io.Writer, cf *clientFlags) *cobra.Command {
	o := runOptions{}
	cmd := &cobra.Command{
		Use:   "run --code DIR --boot FILE",
		Short: "Upload a local code folder and run it as a training job",
		Long: `Upload a local code folder to the server's object store (bucket --bucket,
under <job name>/code/; .git, __pycache__ and similar are skipped), then
create a training job that runs --boot (a path inside the folder) with the
engine for its extension (.py: Python, .sh: Bash). Hyperparameters reach the
program as --key=value arguments, outputs as --name=<local dir> whose
content is uploaded to the output's OBS path when the job ends.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			return runJob(cmd, out, c, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.code, "code", "", "local folder with the training code (required)")
	fs.StringVar(&o.boot, "boot", "", "boot file, relative to --code (required)")
	fs.StringVar(&o.bucket, "bucket", "atelier-train", "bucket to upload the code to (created if needed)")
	fs.StringVar(&o.flavor, "flavor", "local.cpu.1u2g", "flavor (GET /v2/{project_id}/training-job-flavors lists them)")
	fs.IntVar(&o.nodes, "nodes", 1, "number of nodes (tasks worker-0 … worker-N-1)")
	fs.StringArrayVar(&o.params, "param", nil, "hyperparameter key=value, passed as --key=value (repeatable)")
	fs.StringArrayVar(&o.outputs, "output", nil, "output name[=obs://bucket/path/], passed as --name=<dir>; default path obs://<bucket>/<job name>/<name>/ (repeatable)")
	fs.StringVar(&o.name, "name", "", "job name (default: the folder's name and the time)")
	fs.BoolVar(&o.follow, "follow", false, "print the log as the job runs and wait for its end; exit non-zero unless it completes")
	fs.StringVar(&o.task, "task", "worker-0", "task whose log --follow prints")
	_ = cmd.MarkFlagRequired("code")
	_ = cmd.MarkFlagRequired("boot")
	return cmd
}

var notNameChar = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func runJob(cmd *cobra.Command, out io.Writer, c *client.Client, o runOptions) error {
	ctx := cmd.Context()
	fi, err := os.Stat(o.code)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("--code %s is not a folder", o.code)
	}
	boot := filepath.ToSlash(filepath.Clean(o.boot))
	if filepath.IsAbs(o.boot) || boot == "." || boot == ".." || strings.HasPrefix(boot, "../") {
		return fmt.Errorf("--boot %s must be a path inside --code", o.boot)
	}
	if fi, err := os.Stat(filepath.Join(o.code, filepath.FromSlash(boot))); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("--boot %s is not a file in %s", o.boot, o.code)
	}
	name := o.name
	if name == "" {
		abs, _ := filepath.Abs(o.code)
		base := strings.Trim(notNameChar.ReplaceAllString(filepath.Base(abs), "-"), "-")
		if len(base) > 40 {
			base = base[:40]
		}
		if base == "" {
			base = "job"
		}
		name = base + "-" + time.Now().UTC().Format("20060102-150405")
	}
	params, err := parseParams(o.params)
	if err != nil {
		return err
	}
	outputs, err := parseOutputs(o.outputs, o.bucket, name)
	if err != nil {
		return err
	}
	engines, err := c.Engines(ctx)
	if err != nil {
		return fmt.Errorf("list engines: %w", err)
	}
	engine, err := client.EngineFor(engines, boot)
	if err != nil {
		return err
	}
	files, err := client.ScanDir(o.code)
	if err != nil {
		return fmt.Errorf("read %s: %w", o.code, err)
	}
	if err := c.EnsureBucket(ctx, o.bucket); err != nil {
		return fmt.Errorf("create bucket %s: %w", o.bucket, err)
	}
	prefix := name + "/code/"
	codeDir := "obs://" + o.bucket + "/" + prefix
	fmt.Fprintf(out, "Uploading %s to %s\n", o.code, codeDir)
	if _, err := c.UploadFiles(ctx, files, o.bucket, prefix, progressPrinter(out)); err != nil {
		return err
	}
	body := map[string]any{
		"kind":     "job",
		"metadata": map[string]any{"name": name, "description": "uploaded by atelier train run"},
		"algorithm": map[string]any{"code_dir": codeDir, "boot_file": codeDir + boot,
			"engine": map[string]string{"engine_id": engine.ID}, "parameters": params, "outputs": outputs},
		"spec": map[string]any{"resource": map[string]any{"flavor_id": o.flavor, "node_count": o.nodes}},
	}
	job, err := c.CreateJob(ctx, body)
	if err != nil {
		return fmt.Errorf("create training job: %w", err)
	}
	fmt.Fprintf(out, "Created training job %s (%s), engine %s %s, flavor %s\n", job.Metadata.ID, name, engine.Name, engine.Version, o.flavor)
	for _, op := range outputs {
		fmt.Fprintf(out, "Output %s: %s\n", op["name"], op["remote"].(map[string]any)["obs"].(map[string]string)["obs_url"])
	}
	if !o.follow {
		fmt.Fprintf(out, "Follow its log with: atelier train logs %s --follow\n", job.Metadata.ID)
		return nil
	}
	return follow(cmd, out, c, job.Metadata.ID, o.task)
}

func parseParams(kvs []string) ([]map[string]string, error) {
	params := []map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: want key=value", kv)
		}
		params = append(params, map[string]string{"name": k, "value": v})
	}
	return params, nil
}

func parseOutputs(specs []string, bucket, job string) ([]map[string]any, error) {
	outputs := []map[string]any{}
	for _, s := range specs {
		n, u, _ := strings.Cut(s, "=")
		if n == "" {
			return nil, fmt.Errorf("--output %q: want name or name=obs://bucket/path/", s)
		}
		if u == "" {
			u = "obs://" + path.Join(bucket, job, n) + "/"
		}
		if !strings.HasPrefix(u, "obs://") {
			return nil, fmt.Errorf("--output %q: the path must start with obs://", s)
		}
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		outputs = append(outputs, map[string]any{"name": n, "remote": map[string]any{"obs": map[string]string{"obs_url": u}}})
	}
	return outputs, nil
}

// progressPrinter shows an upload: one line updated in place on a
// terminal, one line per file otherwise.
func progressPrinter(out io.Writer) func(client.UploadProgress) {
	tty := isTerminal(out)
	width := 0 // of the line shown, which a shorter one must blank out
	inPlace := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		fmt.Fprintf(out, "\r%-*s", width, s)
		width = max(width, len(s))
	}
	return func(p client.UploadProgress) {
		line := fmt.Sprintf("%d/%d files, %s/%s, %s/s", p.Files, p.TotalFiles, size(p.Bytes), size(p.TotalBytes), size(int64(p.Rate())))
		switch {
		case p.Done && tty:
			inPlace("Uploaded %s in %s", line, p.Elapsed.Round(time.Millisecond))
			fmt.Fprintln(out)
		case p.Done:
			fmt.Fprintf(out, "Uploaded %s in %s\n", line, p.Elapsed.Round(time.Millisecond))
		case tty:
			inPlace("Uploading %s  %s", line, p.File)
		case !p.Partial:
			fmt.Fprintf(out, "  %s  (%s)\n", p.File, line)
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// follow prints a task's log until the job ends, then its final phase; a
// job that did not complete is an error (non-zero exit).
func follow(cmd *cobra.Command, out io.Writer, c *client.Client, id, task string) error {
	fmt.Fprintf(out, "--- log of %s ---\n", task)
	job, err := c.FollowLog(cmd.Context(), id, task, out, pollInterval)
	if err != nil {
		return err
	}
	st := job.Status
	fmt.Fprintf(out, "--- training job %s %s", id, st.Phase)
	if st.Duration > 0 {
		fmt.Fprintf(out, " after %s", (time.Duration(st.Duration) * time.Millisecond).Round(100*time.Millisecond))
	}
	fmt.Fprintln(out, " ---")
	if st.Phase != "Completed" {
		for _, ts := range st.TaskStatuses {
			switch {
			case ts.Message != "":
				fmt.Fprintf(out, "%s: %s\n", ts.Task, ts.Message)
			case ts.ExitCode != 0:
				fmt.Fprintf(out, "%s: exit code %d\n", ts.Task, ts.ExitCode)
			}
		}
		return fmt.Errorf("training job %s ended %s (%s); `atelier train show %s` has its details", id, st.Phase, st.SecondaryPhase, id)
	}
	return nil
}

func newTrainLogs(out io.Writer, cf *clientFlags) *cobra.Command {
	var task string
	var follows bool
	cmd := &cobra.Command{
		Use:   "logs JOB_ID",
		Short: "Print a training job's log (the last MB), or follow it until the job ends",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			if follows {
				return follow(cmd, out, c, args[0], task)
			}
			p, err := c.PreviewLog(cmd.Context(), args[0], task)
			if err != nil {
				return err
			}
			if p.FullSize > p.CurrentSize {
				fmt.Fprintf(out, "[… first %d bytes of log skipped …]\n", p.FullSize-p.CurrentSize)
			}
			_, err = io.WriteString(out, p.Content)
			return err
		},
	}
	cmd.Flags().StringVar(&task, "task", "worker-0", "task of the job")
	cmd.Flags().BoolVar(&follows, "follow", false, "print the log as it grows until the job ends")
	return cmd
}

func newTrainList(out io.Writer, cf *clientFlags) *cobra.Command {
	var phase string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List training jobs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			phase, err := checkPhase(phase)
			if err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			list, err := c.SearchJobs(cmd.Context(), phase, limit)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPHASE\tCREATED\tDURATION")
			for _, j := range list.Items {
				created := time.UnixMilli(j.Metadata.CreateTime).UTC().Format(time.DateTime)
				d := (time.Duration(j.Status.Duration) * time.Millisecond).Round(100 * time.Millisecond)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.Metadata.ID, j.Metadata.Name, j.Status.Phase, created, d)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if list.Total > len(list.Items) {
				fmt.Fprintf(out, "(%d of %d jobs)\n", len(list.Items), list.Total)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&phase, "phase", "", "only jobs in this phase ("+strings.Join(phases, ", ")+")")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many jobs (1 to 50)")
	return cmd
}

// phases are the training-job phases of the reference, in lifecycle order.
var phases = []string{training.PhaseCreating, training.PhasePending, training.PhaseRunning, training.PhaseCompleted,
	training.PhaseFailed, training.PhaseTerminating, training.PhaseTerminated, training.PhaseAbnormal}

// checkPhase returns the phase as the API spells it, in any case, or an
// error listing the valid ones: the API answers an unknown phase with an
// empty list, which reads as "no jobs".
func checkPhase(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	for _, ph := range phases {
		if strings.EqualFold(p, ph) {
			return ph, nil
		}
	}
	return "", fmt.Errorf("--phase %q is not a training-job phase; want one of %s", p, strings.Join(phases, ", "))
}

func newTrainStop(out io.Writer, cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "stop JOB_ID",
		Short: "Terminate a training job",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			job, err := c.TerminateJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Training job %s: %s\n", args[0], job.Status.Phase)
			return nil
		},
	}
}

func newTrainShow(out io.Writer, cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show JOB_ID",
		Short: "Print a training job as the API returns it (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			job, err := c.GetJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, job.Raw, "", "  "); err != nil {
				return errors.New("the server's answer is not JSON")
			}
			buf.WriteByte('\n')
			_, err = buf.WriteTo(out)
			return err
		},
	}
}
