// Package server assembles a running Atelier from its configuration: the
// database, the identity service, the object store, the first-start
// bootstrap and the HTTP API. It owns process lifecycle, not behaviour.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/metrics"
	"github.com/atelier-dev/atelier/internal/reqid"

	"github.com/atelier-dev/atelier/internal/api"
	"github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/console"
	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/autolabel"
	"github.com/atelier-dev/atelier/internal/dataset/autolabel/learn"
	"github.com/atelier-dev/atelier/internal/dataset/exporter"
	"github.com/atelier-dev/atelier/internal/dataset/importer"
	"github.com/atelier-dev/atelier/internal/dataset/processing"
	"github.com/atelier-dev/atelier/internal/dataset/teamtask"
	"github.com/atelier-dev/atelier/internal/dataset/versions"
	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/iam/authn"
	"github.com/atelier-dev/atelier/internal/mail"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/obs/s3store"
	"github.com/atelier-dev/atelier/internal/secrets"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/tasks"
	"github.com/atelier-dev/atelier/internal/training"
	"github.com/atelier-dev/atelier/internal/training/executor"
	"github.com/atelier-dev/atelier/internal/training/executor/kube"
	"github.com/atelier-dev/atelier/internal/training/executor/local"
	"github.com/atelier-dev/atelier/internal/workforce"
)

// BootstrapFile is where the first account's credentials are written.
const BootstrapFile = "bootstrap.json"

// SecretsKeyFile is the default key-encryption key file in the data
// directory (--secrets-key-file names another).
const SecretsKeyFile = "secrets.key"

// App is an assembled Atelier.
type App struct {
	Config config.Config
	DB     *store.DB
	IAM    *iam.Service
	// Objects is the object store: the local folder DATA_DIR/obs, or an
	// S3-compatible service when --obs-endpoint is set.
	Objects obs.Store
	// Training owns algorithms and training jobs; Serve runs its scheduler.
	Training *training.Service
	// Datasets owns datasets, labels, samples and their background tasks.
	Datasets *dataset.Service
	// Imports, Versions and Exports are the rooms of the dataset domain:
	// imports and syncs, versions and publishing, exports.
	Imports  *importer.Service
	Versions *versions.Service
	Exports  *exporter.Service
	// AutoLabel is the room of intelligent tasks (auto-label, pre-label,
	// auto-grouping).
	AutoLabel *autolabel.Service
	// Workforces owns labeling teams, their members and the members'
	// labeling identities.
	Workforces *workforce.Service
	// TeamTasks owns team labeling tasks.
	TeamTasks *teamtask.Service
	// Processing owns data processing tasks.
	Processing *processing.Service
	// Tasks runs durable background tasks (imports, exports, syncs); Serve
	// starts it and stops it before returning.
	Tasks *tasks.Manager
	// Metrics counts requests, decisions, the task queue and training jobs
	// for --metrics-listen; nil without it (nothing is counted).
	Metrics *metrics.Metrics
	// Mail sends notification e-mail through --smtp-addr; nil when no SMTP
	// server is configured.
	Mail *mail.Sender
	API  *api.Server
	Log  *slog.Logger

	// secrets seals access-key secrets and server keys in the database;
	// its key lives in secretsKeyPath.
	secrets        *secrets.Box
	secretsKeyPath string
	// previousSecrets opens what the key being rotated away from sealed.
	previousSecrets *secrets.Box
	// createdSecretsKey: this start made the key file for a rotation, so a
	// rotation that fails (nothing re-sealed) removes it again.
	createdSecretsKey bool
	tuning            Tuning
}

// Tuning adjusts background timings that configuration does not expose;
// the zero value keeps the defaults, which production always uses. Tests
// shorten them so that they do not wait on periods meant for a long-running
// server.
type Tuning struct {
	// TaskPoll is how often the task queue looks for tasks it was not woken
	// for (tasks.Config.FetchPollInterval, default 1 s). On PostgreSQL a
	// task queued within River's fetch cooldown of the previous one sends no
	// wake-up and waits for this poll.
	TaskPoll time.Duration
	// ProcessingBatch is how many samples a data processing run commits
	// per checkpoint (processing.Options.BatchSize, default
	// processing.DefaultBatch): tests that interrupt a run make it small,
	// so that a run has checkpointed long before it ends.
	ProcessingBatch int
	// IAMPoll is how often the identity service polls the IAM revision
	// counter besides listening for its notifications
	// (iam.Options.RevisionPoll, default iam.RefreshInterval): a test that
	// must see a change arrive by notification makes it long.
	IAMPoll time.Duration
	// ReadWait bounds how long a request's reads wait before it is refused
	// as busy (api.Config.ReadWait, default api.DefaultReadWait).
	ReadWait time.Duration
}

// Open assembles the application: opens and migrates the database, loads
// the identity service, bootstraps the first account on an empty database
// and builds the HTTP API. It does not listen.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	return OpenTuned(ctx, cfg, log, Tuning{})
}

// OpenTuned is Open with timings adjusted by tuning (tests).
func OpenTuned(ctx context.Context, cfg config.Config, log *slog.Logger, tuning Tuning) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Every line logged with a request's context (or a task's, which
	// carries the id of the request that queued it) names that request.
	log = slog.New(reqid.Handler(log.Handler()))
	sender, err := openMail(cfg, log)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	// The data directory holds the database, the objects, the key files and
	// the jobs: private to the server's user whatever the umask, including
	// a directory an older version (or the operator) left open.
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("make data dir private: %w", err)
	}
	db, err := store.Open(ctx, cfg.Database, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	app := &App{Config: cfg, DB: db, Log: log, Mail: sender, tuning: tuning}
	if err := app.openSecretsKey(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := app.open(ctx); err != nil {
		if app.createdSecretsKey && errors.Is(err, iam.ErrSecretsKey) {
			os.Remove(app.secretsKeyPath)
		}
		db.Close()
		return nil, err
	}
	return app, nil
}

// openMail builds the notification mail sender, or nil without
// --smtp-addr. It does not connect: an unreachable server must not stop
// the start, and each message's delivery is retried on its own.
func openMail(cfg config.Config, log *slog.Logger) (*mail.Sender, error) {
	mc, err := cfg.Mail()
	if err != nil || !mc.Enabled() {
		return nil, err
	}
	sender, err := mail.NewSender(mc)
	if err != nil {
		return nil, fmt.Errorf("set up notification e-mail: %w", err)
	}
	log.Info("notification e-mail enabled", "smtp", mc.Addr, "from", mc.From, "auth", mc.User != "")
	return sender, nil
}

func (a *App) open(ctx context.Context) error {
	var actions []string
	for _, rt := range api.Table() {
		actions = append(actions, rt.Action)
	}
	svc, err := iam.NewService(ctx, a.DB, iam.NewCatalog(actions), iam.Options{Logger: a.Log, Secrets: a.secrets, PreviousSecrets: a.previousSecrets,
		RevisionPoll: a.tuning.IAMPoll})
	if errors.Is(err, iam.ErrSecretsKey) {
		return fmt.Errorf("refusing to start with key-encryption key file %s: %w; start with the key file that sealed this database "+
			"(--secrets-key-file, shared by every replica), never a new one", a.secretsKeyPath, err)
	}
	if err != nil {
		return err
	}
	a.IAM = svc
	if err := a.claimDataDir(ctx); err != nil {
		return err
	}
	tokenKey, err := a.secretBytes(ctx, "token-signing-key")
	if err != nil {
		return err
	}
	codec, err := authn.NewCodec(tokenKey)
	if err != nil {
		return err
	}
	presignKey, err := a.secretBytes(ctx, "presign-key")
	if err != nil {
		return err
	}
	signer := obs.NewURLSigner(a.Config.Endpoint, presignKey, time.Now)
	if err := a.openObjects(ctx, signer); err != nil {
		return err
	}
	if err := a.bootstrap(ctx); err != nil {
		return err
	}
	if err := a.openTraining(); err != nil {
		return err
	}
	if a.Tasks, err = tasks.New(ctx, a.DB, tasks.Config{Logger: a.Log, FetchPollInterval: a.tuning.TaskPoll, LeaseTTL: a.Config.LeaseTTL}); err != nil {
		return err
	}
	if a.Datasets, err = dataset.New(dataset.Options{DB: a.DB, Objects: a.Objects, Logger: a.Log,
		Authorize: ObjectAuthorizer(svc, a.Config.Region)}); err != nil {
		return err
	}
	if a.Imports, err = importer.New(importer.Options{Datasets: a.Datasets, DB: a.DB, Objects: a.Objects, Logger: a.Log, Tasks: a.Tasks}); err != nil {
		return err
	}
	if a.Versions, err = versions.New(versions.Options{Datasets: a.Datasets, DB: a.DB, Objects: a.Objects, Logger: a.Log, Tasks: a.Tasks}); err != nil {
		return err
	}
	if a.Exports, err = exporter.New(exporter.Options{Datasets: a.Datasets, Versions: a.Versions, DB: a.DB, Objects: a.Objects,
		Logger: a.Log, Tasks: a.Tasks}); err != nil {
		return err
	}
	if a.AutoLabel, err = autolabel.New(autolabel.Options{Datasets: a.Datasets, DB: a.DB, Objects: a.Objects, Logger: a.Log,
		Tasks: a.Tasks, ModelServers: a.Config.Models}); err != nil {
		return err
	}
	if a.Workforces, err = workforce.New(workforce.Options{DB: a.DB, Identities: svc}); err != nil {
		return err
	}
	if a.TeamTasks, err = teamtask.New(teamtask.Options{DB: a.DB, Datasets: a.Datasets, Workforces: a.Workforces, Tasks: a.Tasks,
		Mail: teamMailer(a.Mail), Endpoint: a.Config.Endpoint, Logger: a.Log}); err != nil {
		return err
	}
	// Selection by features (RRD) and cleansing (PCC) describe images
	// with the auto-labeling learner's descriptor.
	if a.Processing, err = processing.New(processing.Options{Datasets: a.Datasets, Versions: a.Versions, DB: a.DB, Objects: a.Objects,
		Logger: a.Log, Tasks: a.Tasks, BatchSize: a.tuning.ProcessingBatch, Features: learn.ImageDescriptor}); err != nil {
		return err
	}
	presign := signer
	if a.Config.OBSEndpoint != "" {
		presign = nil // the S3 service signs its own download URLs
	}
	var imageOrigins []string
	if a.Config.OBSEndpoint != "" {
		imageOrigins = append(imageOrigins, a.Config.OBSEndpoint) // presigned sample URLs point there
	}
	consoleHandler, err := console.Handler(console.Options{ImageOrigins: imageOrigins})
	if err != nil {
		return fmt.Errorf("console assets: %w", err)
	}
	if a.Config.MetricsListen != "" {
		if a.Metrics, err = newMetrics(a.Tasks, a.Training); err != nil {
			return err
		}
	}
	a.API, err = api.New(api.Config{Metrics: a.Metrics, Console: consoleHandler, IAM: svc, Tokens: codec, Objects: a.Objects, Presign: presign,
		Region: a.Config.Region, Endpoint: a.Config.Endpoint, Logger: a.Log, Training: a.Training, Datasets: a.Datasets,
		Imports: a.Imports, Versions: a.Versions, Exports: a.Exports, AutoLabel: a.AutoLabel, Workforces: a.Workforces, TeamTasks: a.TeamTasks, Processing: a.Processing,
		ReadWait: a.tuning.ReadWait})
	return err
}

// ObjectAuthorizer lets background work (dataset tasks, training jobs'
// downloads and uploads) decide each object it touches with iam's object
// decision, the one the object API makes.
func ObjectAuthorizer(svc *iam.Service, region string) obs.Authorizer {
	return func(ctx context.Context, who obs.Requester) (obs.Access, error) {
		acc, err := svc.ObjectAccess(ctx, region, who, time.Time{})
		if err != nil {
			return nil, err
		}
		return acc, nil
	}
}

// openTraining builds the training service over the configured executor.
// A machine (or cluster) the executor cannot run on still serves the API;
// jobs are refused.
func (a *App) openTraining() error {
	jobs := a.Config.JobsDir
	if err := os.MkdirAll(jobs, 0o700); err != nil {
		return fmt.Errorf("create jobs directory: %w", err)
	}
	var exec executor.Executor
	var unavailable string
	switch a.Config.Executor {
	case "slurm":
		exec, unavailable = slurmExecutor(a.Config, a.Log)
	case "kubernetes":
		exec, unavailable = kubeExecutor(a.Config, a.Log)
	default:
		exec, unavailable = jobExecutor(a.Config, a.Log, local.Options{WorkRoot: jobs, Logger: a.Log})
	}
	var err error
	a.Training, err = training.New(training.Options{DB: a.DB, Objects: a.Objects, Executor: exec, ExecutorUnavailable: unavailable,
		DataDir: a.Config.DataDir, JobsDir: jobs, LeaseTTL: a.Config.LeaseTTL, Logger: a.Log, Authorize: ObjectAuthorizer(a.IAM, a.Config.Region)})
	return err
}

// jobExecutor builds the local executor with its sandbox, which hides the
// data directory (and a SQLite database or key-encryption key kept
// elsewhere) from jobs. When
// the sandbox does not work, jobs are refused (nil executor, and the
// reason users are told) unless the operator opted out, which is logged
// as loudly as it is unsafe.
func jobExecutor(cfg config.Config, log *slog.Logger, opts local.Options) (executor.Executor, string) {
	opts.Protected = append(opts.Protected, protectedPaths(cfg)...)
	opts.Unsandboxed = opts.Unsandboxed || cfg.UnsafeNoJobSandbox
	le, err := local.New(opts)
	if err != nil {
		if opts.Unsandboxed {
			log.Warn("training jobs cannot run on this machine", "err", err)
			return nil, "this Atelier server cannot run training jobs on its machine"
		}
		log.Error("training jobs are refused: the job sandbox does not work on this machine, and without it a job could read the server's database and secrets",
			"err", err, "fix", "install bubblewrap (apt-get install bubblewrap) and restart; --unsafe-no-job-sandbox runs jobs unsandboxed")
		return nil, "training jobs are refused: this Atelier server's job sandbox is not available (its log says why)"
	}
	if opts.Unsandboxed {
		log.Warn("UNSAFE: training jobs run WITHOUT a sandbox (--unsafe-no-job-sandbox): every job runs as the server's user and can read the data directory, the database, access-key secrets and the server's keys; use it only when every job's author is trusted like the operator",
			"data_dir", cfg.DataDir)
	}
	return le, ""
}

// protectedPaths are the files no job may see: the data directory, a
// SQLite database kept elsewhere, and the key-encryption keys kept outside
// the data directory (replicas share one), which unlock the database's
// secrets.
func protectedPaths(cfg config.Config) []string {
	ps := []string{cfg.DataDir}
	if cfg.Database != "" && !strings.Contains(cfg.Database, "://") {
		ps = append(ps, cfg.Database, cfg.Database+"-wal", cfg.Database+"-shm")
	}
	for _, kek := range []string{cfg.SecretsKeyFile, cfg.PreviousSecretsKeyFile} {
		if kek != "" {
			ps = append(ps, kek)
		}
	}
	return ps
}

// kubeExecutor builds the Kubernetes executor. Tasks' pods see only their
// own directories of the jobs claim; the data directory, a database file
// and key files are refused as mounts all the same, in case the claim holds
// them. A cluster it cannot reach refuses jobs, with the reason logged.
func kubeExecutor(cfg config.Config, log *slog.Logger) (executor.Executor, string) {
	refused := func(err error) (executor.Executor, string) {
		log.Error("training jobs are refused: the Kubernetes executor cannot reach its cluster", "err", err)
		return nil, "training jobs are refused: this Atelier server cannot reach its Kubernetes cluster (its log says why)"
	}
	client, err := kube.NewClient(cfg.KubernetesKubeconfig)
	if err != nil {
		return refused(err)
	}
	protected := protectedPaths(cfg)
	capacity := executor.Resources{CPU: cfg.KubernetesCPU, MemoryMiB: cfg.KubernetesMemoryMiB, GPUs: cfg.KubernetesGPUs}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ke, err := kube.New(ctx, kube.Options{Client: client, Namespace: cfg.KubernetesNamespace, JobsDir: cfg.JobsDir,
		JobsClaim: cfg.KubernetesJobsClaim, DefaultImage: cfg.KubernetesDefaultImage, ServiceAccount: cfg.KubernetesServiceAccount,
		Capacity: capacity, Flavors: kube.DefaultFlavors(capacity), Protected: protected, Logger: log})
	if err != nil {
		return refused(err)
	}
	return ke, ""
}

// openObjects opens the object store the configuration names.
func (a *App) openObjects(ctx context.Context, signer *obs.URLSigner) error {
	if a.Config.OBSEndpoint == "" {
		local, err := obs.NewLocal(filepath.Join(a.Config.DataDir, "obs"), signer)
		if err != nil {
			return fmt.Errorf("open object store: %w", err)
		}
		a.Objects = local
		return nil
	}
	s3, err := s3store.New(ctx, s3store.Config{Endpoint: a.Config.OBSEndpoint, AccessKey: a.Config.OBSAccessKey,
		SecretKey: a.Config.OBSSecretKey, Region: a.Config.OBSRegion, PathStyle: a.Config.OBSPathStyle})
	if err != nil {
		return fmt.Errorf("open S3 object store %s: %w", a.Config.OBSEndpoint, err)
	}
	a.Objects = s3
	return nil
}

// secretBytes returns a 32-byte server secret shared by all replicas.
func (a *App) secretBytes(ctx context.Context, name string) ([]byte, error) {
	v, err := a.IAM.StoreSecret(ctx, name, func() (string, error) {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		return hex.EncodeToString(b[:]), nil
	})
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(v)
}

// bootstrap creates the first account on an empty database and writes its
// credentials to DATA_DIR/bootstrap.json (mode 0600). Later starts find the
// account and do nothing.
func (a *App) bootstrap(ctx context.Context) error {
	need, err := a.IAM.NeedsBootstrap(ctx)
	if err != nil || !need {
		return err
	}
	acct, err := a.IAM.CreateAccount(ctx, iam.AccountInput{DomainName: "atelier", Region: a.Config.Region, Endpoint: a.Config.Endpoint})
	if err != nil {
		return fmt.Errorf("bootstrap first account: %w", err)
	}
	path := filepath.Join(a.Config.DataDir, BootstrapFile)
	if err := writeFileAtomic(path, acct, 0o600); err != nil {
		return fmt.Errorf("write %s (the account exists; its admin password is lost unless this file is written): %w", path, err)
	}
	a.Log.Info("bootstrapped the first account; its credentials are in the bootstrap file",
		"file", path, "domain", acct.DomainName, "user", acct.UserName, "project_id", acct.ProjectID)
	return nil
}

func writeFileAtomic(path string, v any, mode os.FileMode) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	// A leftover tmp file keeps its old mode through O_TRUNC, and a new one
	// gets mode less the umask: set it.
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Serve listens and serves until ctx ends, then shuts down gracefully.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go a.IAM.Watch(ctx)
	scheduled := make(chan struct{})
	go func() {
		defer close(scheduled)
		a.Training.Run(ctx)
	}()
	// The scheduler writes to the database: it must stop before Close.
	defer func() {
		cancel()
		<-scheduled
	}()
	if a.Config.DebugListen != "" {
		waitDebug, err := a.serveDebug(ctx, a.Config.DebugListen)
		if err != nil {
			return err
		}
		defer func() {
			cancel()
			waitDebug()
		}()
	}
	if a.Metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.Metrics.Handler())
		waitMetrics, err := a.serveAside(ctx, "metrics are served", "metrics_listen", a.Config.MetricsListen, mux)
		if err != nil {
			return err
		}
		defer func() {
			cancel()
			waitMetrics()
		}()
	}
	if err := a.Tasks.Start(ctx); err != nil {
		return err
	}
	// Running tasks write their progress and give their leases back, so a
	// restart (or another replica) resumes them: before the database closes.
	defer func() {
		stopCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer stop()
		if err := a.Tasks.Stop(stopCtx); err != nil {
			a.Log.Warn("stop background tasks", "err", err)
		}
	}()
	srv := &http.Server{Handler: a.API, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.API.SetReady(true)
	a.Log.Info("atelier is serving", "listen", ln.Addr().String(), "endpoint", a.Config.Endpoint, "data_dir", a.Config.DataDir, "database", string(a.DB.Engine))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.API.SetReady(false)
	shutdownCtx, stop := context.WithTimeout(context.Background(), 15*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down http server: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close releases the database and the object store.
func (a *App) Close() error {
	var errs []error
	if c, ok := a.Objects.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	errs = append(errs, a.DB.Close())
	return errors.Join(errs...)
}

// teamMailer lets the team labeling room send through the SMTP sender:
// each message is retried on temporary failures (4 attempts, backoff from
// 2 s to 1 min) inside the room's durable notification task.
func teamMailer(s *mail.Sender) teamtask.Mailer {
	if s == nil {
		return nil
	}
	return smtpMailer{s}
}

type smtpMailer struct{ s *mail.Sender }

func (m smtpMailer) Deliver(ctx context.Context, to, subject, text string) error {
	return m.s.SendWithRetry(ctx, mail.Message{To: to, Subject: subject, Text: text}, 4, mail.ExponentialBackoff(2*time.Second, time.Minute))
}

func (smtpMailer) Permanent(err error) bool { return mail.Permanent(err) }
