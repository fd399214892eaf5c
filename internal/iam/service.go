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
// counter, polled every RefreshInterval.
type Service struct {
	db      *store.DB
	catalog *Catalog
	now     func() time.Time
	log     *slog.Logger
	secrets *secrets.Box
	// passwords bounds concurrent password hashing (login.go).
	passwords *passwordGate

	mu       sync.Mutex
	rev      int64
	users    map[string]*Snapshot
	keys     map[string]*Credential
	projects map[string]*Project
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
}

// RefreshInterval bounds how long another replica's IAM write can take to
// reach this replica's cache.
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
		users:     map[string]*Snapshot{}, keys: map[string]*Credential{}, projects: map[string]*Project{}, workspaces: map[string]*Workspace{}, bucketOwners: map[string]string{}}
	if s.now == nil {
		s.now = time.Now
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

// Watch polls the revision counter until ctx ends, dropping the cache when
// another replica changed identity data.
func (s *Service) Watch(ctx context.Context) {
	t := time.NewTicker(RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rev, err := readRevision(ctx, s.db)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("poll iam revision", "err", err)
				}
				continue
			}
			s.mu.Lock()
			if rev != s.rev {
				s.rev = rev
				s.dropCache()
			}
			s.mu.Unlock()
		}
	}
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

// dropCache empties the caches; the caller holds s.mu.
func (s *Service) dropCache() {
	s.users = map[string]*Snapshot{}
	s.keys = map[string]*Credential{}
	s.projects = map[string]*Project{}
	s.workspaces = map[string]*Workspace{}
	s.bucketOwners = map[string]string{}
}

// Snapshot returns the cached authorization view of a user: their state
// (for token revocation) and their compiled policies.
func (s *Service) Snapshot(ctx context.Context, userID string) (*Snapshot, error) {
	s.mu.Lock()
	snap, ok := s.users[userID]
	s.mu.Unlock()
	if ok {
		return snap, nil
	}
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
	snap = &Snapshot{User: u, Domain: d, Grants: grants}
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
	s.mu.Lock()
	s.users[userID] = snap
	s.mu.Unlock()
	return snap, nil
}

// AccessKey returns the active credential for ak (cached), or a
// KindUnauthorized error.
func (s *Service) AccessKey(ctx context.Context, ak string) (*Credential, error) {
	s.mu.Lock()
	c, ok := s.keys[ak]
	s.mu.Unlock()
	if !ok {
		var err error
		c, err = s.loadCredential(ctx, ak)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errorf(KindUnauthorized, "unknown access key")
		}
		if err != nil {
			return nil, fmt.Errorf("load access key: %w", err)
		}
		s.mu.Lock()
		s.keys[ak] = c
		s.mu.Unlock()
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
	s.mu.Lock()
	p, ok := s.projects[id]
	s.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := s.ProjectByID(ctx, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.projects[id] = p
	s.mu.Unlock()
	return p, nil
}

// cachedWorkspace returns a workspace from the cache, loading it on a miss.
func (s *Service) cachedWorkspace(ctx context.Context, projectID, id string) (*Workspace, error) {
	key := projectID + "/" + id
	s.mu.Lock()
	w, ok := s.workspaces[key]
	s.mu.Unlock()
	if ok {
		return w, nil
	}
	w, err := getWorkspace(ctx, s.db, projectID, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.workspaces[key] = w
	s.mu.Unlock()
	return w, nil
}
