package iam

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/secrets"
	"github.com/atelier-dev/atelier/internal/store"
)

// Service is the identity service. Reads on the request path (user state,
// compiled policies, access keys) come from an in-memory cache that every
// IAM write invalidates; other replicas notice writes through the revision
// counter, by its notifications on PostgreSQL and by polling it (Watch).
type Service struct {
	db      *store.DB
	catalog *Catalog
	now     func() time.Time
	log     *slog.Logger
	secrets *secrets.Box
	// passwords bounds concurrent password hashing (login.go).
	passwords *passwordGate
	// poll is how often Watch reads the revision counter.
	poll time.Duration

	mu  sync.Mutex
	rev int64
	// gen counts the cache's drops. A fill (cached) records it before loading and
	// stores only if it is unchanged: a value read before a write
	// committed must not land in the cache after that write dropped it,
	// where it would outlive the change until the next drop.
	gen      uint64
	users    map[string]*Snapshot
	keys     map[string]*Credential
	projects map[string]*Project
	// domainProjects caches each account's projects in ListProjects'
	// order; entries are shared, never modified.
	domainProjects map[string][]*Project
	// workspaces caches by "project_id/workspace_id"; entries are shared,
	// never modified: writes replace the whole cache.
	workspaces map[string]*Workspace
	// bucketOwners caches the owning account of each bucket asked about.
	bucketOwners map[string]string
}

// Options configures a Service.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
	// Secrets seals access-key secrets and server secrets at rest. Nil
	// seals with a key that lives as long as the process (tests only: a
	// database sealed that way refuses every later start).
	Secrets *secrets.Box
	// PreviousSecrets, when rotating the key-encryption key, opens what
	// the old key sealed; NewService re-seals it with Secrets.
	PreviousSecrets *secrets.Box
	// PasswordConcurrency bounds how many password hashes (argon2id, 19 MiB
	// each) are computed at once; GOMAXPROCS when zero.
	PasswordConcurrency int
	// PasswordWait is how long a password check waits for a free slot
	// before it is refused as throttled; one second when zero.
	PasswordWait time.Duration
	// RevisionPoll is how often Watch polls the revision counter besides
	// listening for its notifications; RefreshInterval when zero.
	RevisionPoll time.Duration
}

// RefreshInterval is how often a replica polls the IAM revision counter by
// default: the bound on how long another replica's IAM write can take to
// reach this replica's cache when notifications do not arrive (SQLite has
// one process; on PostgreSQL they arrive at once unless the listener's
// connection is down).
const RefreshInterval = 2 * time.Second

// Snapshot is what authorization needs about a user, compiled once.
type Snapshot struct {
	User   *User
	Domain *Domain
	// Set is the user's policies everywhere but on team labeling routes:
	// the labeling system policies are left out of it, so what they grant
	// a team member works only where the team labeling room scopes it.
	Set *policy.Set
	// TeamSet is every policy of the user, the labeling ones included: it
	// decides team labeling routes (the same set as Set for a user who
	// holds no labeling grant).
	TeamSet *policy.Set
	// Grants are the policies the sets were compiled from, for explanations.
	Grants []policy.Grant
}

// NewService opens the identity service over a migrated database and brings
// the system policies up to date.
func NewService(ctx context.Context, db *store.DB, catalog *Catalog, opts Options) (*Service, error) {
	s := &Service{db: db, catalog: catalog, now: opts.Now, log: opts.Logger, secrets: opts.Secrets,
		passwords: newPasswordGate(opts.PasswordConcurrency, opts.PasswordWait),
		users:     map[string]*Snapshot{}, keys: map[string]*Credential{}, projects: map[string]*Project{}, domainProjects: map[string][]*Project{},
		workspaces: map[string]*Workspace{}, bucketOwners: map[string]string{}}
	if s.now == nil {
		s.now = time.Now
	}
	s.poll = opts.RevisionPoll
	if s.poll <= 0 {
		s.poll = RefreshInterval
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.secrets == nil {
		box, _, err := secrets.Generate()
		if err != nil {
			return nil, err
		}
		s.secrets = box
	}
	if err := s.syncSystemPolicies(ctx); err != nil {
		return nil, err
	}
	if err := s.sealAtRest(ctx, opts.PreviousSecrets); err != nil {
		return nil, err
	}
	rev, err := readRevision(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("read iam revision: %w", err)
	}
	s.rev = rev
	return s, nil
}

// Catalog returns the registered actions.
func (s *Service) Catalog() *Catalog { return s.catalog }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Watch keeps this replica's cache in step with IAM writes made through
// other replicas, until ctx ends. On PostgreSQL it listens for the revision
// counter's notifications (store.RevisionsChannel), which arrive as the
// writing transaction commits: a revoked grant stops working here within
// the notification's delivery, tens of milliseconds. On both engines it
// also polls the counter (Options.RevisionPoll, RefreshInterval by
// default), which bounds the delay while the listener is down.
func (s *Service) Watch(ctx context.Context) {
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		s.db.Listen(ctx, store.RevisionsChannel, s.log, func(name string) {
			// An empty name follows a (re)connection: anything may have
			// changed while nobody listened.
			if name == "" || name == iamRevision {
				s.refresh(ctx)
			}
		})
	}()
	defer func() { <-listened }()
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.refresh(ctx)
		}
	}
}

// refresh drops the cache if the revision counter moved since this replica
// last looked.
func (s *Service) refresh(ctx context.Context) {
	rev, err := readRevision(ctx, s.db)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("read the iam revision", "err", err)
		}
		return
	}
	s.mu.Lock()
	if rev != s.rev {
		s.rev = rev
		s.dropCache()
	}
	s.mu.Unlock()
}

// write runs fn in a transaction that also bumps the IAM revision, then
// drops this replica's cache: every identity change goes through here.
func (s *Service) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return bumpRevision(ctx, tx)
	})
	if err != nil {
		return err
	}
	s.invalidate()
	return nil
}

func (s *Service) invalidate() {
	s.mu.Lock()
	s.dropCache()
	s.mu.Unlock()
}

// dropCache empties the caches and starts a new generation of them; the
// caller holds s.mu.
func (s *Service) dropCache() {
	s.gen++
	s.users = map[string]*Snapshot{}
	s.keys = map[string]*Credential{}
	s.projects = map[string]*Project{}
	s.domainProjects = map[string][]*Project{}
	s.workspaces = map[string]*Workspace{}
	s.bucketOwners = map[string]string{}
}

// cached returns key's value from the cache that in picks (called under
// s.mu: dropCache replaces the maps), loading it on a miss. The loaded value
// is stored only if the cache was not dropped while it loaded: a value read
// before a write committed must not outlive that write's invalidation (see
// Service.gen).
func cached[K comparable, V any](s *Service, in func() map[K]V, key K, load func() (V, error)) (V, error) {
	s.mu.Lock()
	v, ok := in()[key]
	gen := s.gen
	s.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	s.mu.Lock()
	if s.gen == gen {
		in()[key] = v
	}
	s.mu.Unlock()
	return v, nil
}

// Snapshot returns the cached authorization view of a user: their state
// (for token revocation) and their compiled policies.
func (s *Service) Snapshot(ctx context.Context, userID string) (*Snapshot, error) {
	return cached(s, func() map[string]*Snapshot { return s.users }, userID, func() (*Snapshot, error) {
		return s.loadSnapshot(ctx, userID)
	})
}

// loadSnapshot reads a user, their account and grants, and compiles their
// policies.
func (s *Service) loadSnapshot(ctx context.Context, userID string) (*Snapshot, error) {
	u, err := getUser(ctx, s.db, userID)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("user", userID)
		}
		return nil, fmt.Errorf("load user %s: %w", userID, err)
	}
	d, err := getDomain(ctx, s.db, u.DomainID)
	if err != nil {
		return nil, fmt.Errorf("load domain of user %s: %w", userID, err)
	}
	rows, err := grantsOfUser(ctx, s.db, userID)
	if err != nil {
		return nil, fmt.Errorf("load grants of user %s: %w", userID, err)
	}
	grants := make([]policy.Grant, 0, len(rows))
	docs := map[string]*policy.Document{}
	for _, r := range rows {
		doc, ok := docs[r.PolicyID]
		if !ok {
			doc, err = policy.Parse([]byte(r.Document), s.catalog)
			if err != nil {
				return nil, fmt.Errorf("stored policy %s (%s) no longer parses: %w", r.PolicyID, r.PolicyName, err)
			}
			docs[r.PolicyID] = doc
		}
		grants = append(grants, policy.Grant{PolicyID: r.PolicyID, PolicyName: r.PolicyName, Document: doc, Scope: r.Scope})
	}
	snap := &Snapshot{User: u, Domain: d, Grants: grants}
	outside := make([]policy.Grant, 0, len(grants))
	for _, g := range grants {
		if !labelingPolicyIDs[g.PolicyID] {
			outside = append(outside, g)
		}
	}
	snap.Set = policy.Compile(outside)
	snap.TeamSet = snap.Set
	if len(outside) < len(grants) {
		snap.TeamSet = policy.Compile(grants)
	}
	return snap, nil
}

// AccessKey returns the active credential for ak (cached), or a
// KindUnauthorized error.
func (s *Service) AccessKey(ctx context.Context, ak string) (*Credential, error) {
	c, err := cached(s, func() map[string]*Credential { return s.keys }, ak, func() (*Credential, error) {
		c, err := s.loadCredential(ctx, ak)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errorf(KindUnauthorized, "unknown access key")
		}
		if err != nil {
			return nil, fmt.Errorf("load access key: %w", err)
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	if c.Status != "active" {
		return nil, errorf(KindUnauthorized, "access key is inactive")
	}
	return c, nil
}

// Decide answers one authorization question for a user.
func (s *Service) Decide(ctx context.Context, userID string, req *policy.Request) (policy.Decision, error) {
	snap, err := s.Snapshot(ctx, userID)
	if err != nil {
		return policy.Decision{}, err
	}
	return snap.Set.Decide(req), nil
}

// DecideTeam answers an authorization question on a team labeling route,
// where the labeling system policies count too (the room then scopes what
// a member sees to its part of the task).
func (s *Service) DecideTeam(ctx context.Context, userID string, req *policy.Request) (policy.Decision, error) {
	snap, err := s.Snapshot(ctx, userID)
	if err != nil {
		return policy.Decision{}, err
	}
	return snap.TeamSet.Decide(req), nil
}

func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// CachedProject returns a project from the cache (loading it on a miss);
// the request path uses it to scope every ModelArts call.
func (s *Service) CachedProject(ctx context.Context, id string) (*Project, error) {
	return cached(s, func() map[string]*Project { return s.projects }, id, func() (*Project, error) {
		return s.ProjectByID(ctx, id)
	})
}

// cachedWorkspace returns a workspace from the cache, loading it on a miss.
func (s *Service) cachedWorkspace(ctx context.Context, projectID, id string) (*Workspace, error) {
	return cached(s, func() map[string]*Workspace { return s.workspaces }, projectID+"/"+id, func() (*Workspace, error) {
		return getWorkspace(ctx, s.db, projectID, id)
	})
}
