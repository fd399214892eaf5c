package workforce

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
)

// Identities is what the service needs of the identity service (iam): one
// transaction shared with its own rows, and in it, finding or creating a
// member's IAM user, setting the Atelier-managed grants of its roles, and
// deleting a user that holds nothing. *iam.Service implements it.
type Identities interface {
	// Write runs fn in one transaction and makes the identity changes made
	// in it visible (caches, other replicas) after it commits.
	Write(ctx context.Context, fn func(tx *sql.Tx) error) error
	// LinkLabeler returns the account's user whose email (or name) is email,
	// creating one without a usable password when there is none.
	LinkLabeler(ctx context.Context, tx *sql.Tx, domainID, email string) (userID string, created bool, err error)
	// SetLabelingRoles makes the user's managed labeling grants in the
	// project exactly those of roles ("labeler", "reviewer", "team-admin").
	SetLabelingRoles(ctx context.Context, tx *sql.Tx, domainID, projectID, userID string, roles []string) error
	// DeleteBareUser deletes the user if it holds nothing: no group, no
	// access key, not the account's owner.
	DeleteBareUser(ctx context.Context, tx *sql.Tx, domainID, userID string) (bool, error)
	// IssuePasswordSetup returns a one-time link token that sets the
	// user's first password, or "" when the user has a password.
	IssuePasswordSetup(ctx context.Context, domainID, userID string) (string, error)
}

// Service manages labeling teams and their members.
type Service struct {
	db  *store.DB
	ids Identities
	now func() time.Time
}

// Options configures a Service.
type Options struct {
	DB         *store.DB
	Identities Identities
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// New builds the service.
func New(opts Options) (*Service, error) {
	if opts.DB == nil || opts.Identities == nil {
		return nil, errors.New("workforce: a database and an identity service are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{db: opts.DB, ids: opts.Identities, now: opts.Now}, nil
}

func (s *Service) millis() int64 { return s.now().UnixMilli() }

// roleGrant is the managed grant of a member role; the dataset owner (3)
// has its own grants and gets none.
func roleGrant(role int) string {
	switch role {
	case RoleLabeler:
		return "labeler"
	case RoleReviewer:
		return "reviewer"
	case RoleTeamAdmin:
		return "team-admin"
	}
	return ""
}

// Create adds a team to the caller's project and returns its ID.
func (s *Service) Create(ctx context.Context, sc Scope, req *CreateRequest) (string, error) {
	if err := checkName("workforce_name", req.Name); err != nil {
		return "", err
	}
	if err := checkDescription(req.Description); err != nil {
		return "", err
	}
	t := s.millis()
	w := &Workforce{ID: store.NewID(), Name: req.Name, Description: req.Description, WorkspaceID: sc.WorkspaceID, CreateTime: t, UpdateTime: t}
	if w.WorkspaceID == "" {
		w.WorkspaceID = "0"
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		n, err := countWorkforces(ctx, tx, sc.DomainID)
		if err != nil {
			return err
		}
		if n >= MaxWorkforcesPerAccount {
			return errLimit("An account can have a maximum of %d labeling teams.", MaxWorkforcesPerAccount)
		}
		if dup, err := workforceNamed(ctx, tx, sc.ProjectID, req.Name, ""); err != nil || dup {
			if dup {
				return errWorkforceExists(req.Name)
			}
			return err
		}
		return insertWorkforce(ctx, tx, sc, w)
	})
	if err != nil {
		return "", wrap("create workforce", err)
	}
	return w.ID, nil
}

// Workspace is the workspace of a team of the project, for authorizing
// requests on it.
func (s *Service) Workspace(ctx context.Context, projectID, id string) (string, error) {
	w, err := workforce(ctx, s.db, projectID, id)
	if err != nil {
		return "", wrap("find workforce", err)
	}
	return w.WorkspaceID, nil
}

// Get returns a team of the project.
func (s *Service) Get(ctx context.Context, projectID, id string) (*Workforce, error) {
	w, err := workforce(ctx, s.db, projectID, id)
	return w, wrap("get workforce", err)
}

// List answers a page of the project's teams in the scope's workspace.
func (s *Service) List(ctx context.Context, sc Scope, q Query) (int, []*Workforce, error) {
	total, items, err := listWorkforces(ctx, s.db, sc.ProjectID, sc.WorkspaceID, q)
	return total, items, wrap("list workforces", err)
}

// Update renames a team or changes its description.
func (s *Service) Update(ctx context.Context, projectID, id string, req *UpdateRequest) error {
	if req.Name != nil {
		if err := checkName("workforce_name", *req.Name); err != nil {
			return err
		}
	}
	if req.Description != nil {
		if err := checkDescription(*req.Description); err != nil {
			return err
		}
	}
	return wrap("update workforce", s.db.InTx(ctx, func(tx *sql.Tx) error {
		w, err := workforce(ctx, tx, projectID, id)
		if err != nil {
			return err
		}
		if req.Name != nil && *req.Name != w.Name {
			if dup, err := workforceNamed(ctx, tx, projectID, *req.Name, id); err != nil || dup {
				if dup {
					return errWorkforceExists(*req.Name)
				}
				return err
			}
			w.Name = *req.Name
		}
		if req.Description != nil {
			w.Description = *req.Description
		}
		w.UpdateTime = s.millis()
		return updateWorkforce(ctx, tx, projectID, w)
	}))
}

// Delete removes a team with its members, each losing the access the team
// gave it (and its user, if Atelier created it and it holds nothing else).
func (s *Service) Delete(ctx context.Context, sc Scope, id string) error {
	return wrap("delete workforce", s.ids.Write(ctx, func(tx *sql.Tx) error {
		if _, err := workforce(ctx, tx, sc.ProjectID, id); err != nil {
			return err
		}
		members, err := teamWorkers(ctx, tx, sc.ProjectID, id)
		if err != nil {
			return err
		}
		if err := deleteWorkforce(ctx, tx, sc.ProjectID, id); err != nil {
			return err
		}
		users := map[string]bool{}
		for _, m := range members {
			users[m.UserID] = true
		}
		for _, u := range sortedKeys(users) {
			if err := s.release(ctx, tx, sc, u); err != nil {
				return err
			}
		}
		return nil
	}))
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// syncRoles gives the user exactly the managed grants of the roles it
// still holds in the project's teams.
func (s *Service) syncRoles(ctx context.Context, tx *sql.Tx, sc Scope, userID string) error {
	roles, err := rolesOfUser(ctx, tx, sc.ProjectID, userID)
	if err != nil {
		return err
	}
	var grants []string
	for _, r := range roles {
		if g := roleGrant(r); g != "" {
			grants = append(grants, g)
		}
	}
	return s.ids.SetLabelingRoles(ctx, tx, sc.DomainID, sc.ProjectID, userID, grants)
}

// release runs after a user lost a membership: its grants follow the
// roles it still holds, and a user Atelier created goes with its last
// membership unless it holds something else.
func (s *Service) release(ctx context.Context, tx *sql.Tx, sc Scope, userID string) error {
	if err := s.syncRoles(ctx, tx, sc, userID); err != nil {
		return err
	}
	n, err := membershipsOfUser(ctx, tx, userID)
	if err != nil || n > 0 {
		return err
	}
	created, err := wasCreated(ctx, tx, sc.DomainID, userID)
	if err != nil || !created {
		return err
	}
	deleted, err := s.ids.DeleteBareUser(ctx, tx, sc.DomainID, userID)
	if err != nil || !deleted {
		return err
	}
	return unmarkCreated(ctx, tx, userID)
}

// AddWorker adds a member to a team and returns its ID. The member's IAM
// user is linked by e-mail, or created, and given its role's grant.
func (s *Service) AddWorker(ctx context.Context, sc Scope, workforceID string, req *WorkerRequest) (string, error) {
	req.Email = strings.TrimSpace(req.Email)
	if err := checkEmail(req.Email); err != nil {
		return "", err
	}
	if err := checkRole(req.Role, false); err != nil {
		return "", err
	}
	if err := checkDescription(req.Description); err != nil {
		return "", err
	}
	t := s.millis()
	w := &Worker{ID: store.NewID(), WorkforceID: workforceID, Email: req.Email, Role: *req.Role, Status: StatusNotInvited,
		Description: req.Description, CreateTime: t, UpdateTime: t}
	err := s.ids.Write(ctx, func(tx *sql.Tx) error {
		if _, err := workforce(ctx, tx, sc.ProjectID, workforceID); err != nil {
			return err
		}
		n, err := countWorkers(ctx, tx, workforceID)
		if err != nil {
			return err
		}
		if n >= MaxWorkersPerWorkforce {
			return errLimit("A labeling team can have a maximum of %d members.", MaxWorkersPerWorkforce)
		}
		if dup, err := workerWithEmail(ctx, tx, workforceID, strings.ToLower(w.Email)); err != nil || dup {
			if dup {
				return errWorkerExists(w.Email)
			}
			return err
		}
		if w.Role == RoleTeamAdmin {
			if has, err := hasTeamAdmin(ctx, tx, workforceID, ""); err != nil || has {
				if has {
					return errOneManager()
				}
				return err
			}
		}
		userID, created, err := s.ids.LinkLabeler(ctx, tx, sc.DomainID, w.Email)
		if err != nil {
			return err
		}
		if created {
			if err := markCreated(ctx, tx, sc.DomainID, userID, t); err != nil {
				return err
			}
		}
		w.UserID = userID
		if err := insertWorker(ctx, tx, sc.ProjectID, w); err != nil {
			return err
		}
		return s.syncRoles(ctx, tx, sc, userID)
	})
	if err != nil {
		return "", wrap("add worker", err)
	}
	return w.ID, nil
}

// GetWorker returns a member of a team of the project.
func (s *Service) GetWorker(ctx context.Context, projectID, workforceID, id string) (*Worker, error) {
	if _, err := workforce(ctx, s.db, projectID, workforceID); err != nil {
		return nil, wrap("get worker", err)
	}
	w, err := worker(ctx, s.db, projectID, workforceID, id)
	return w, wrap("get worker", err)
}

// ListWorkers answers a page of members: of one team (q.WorkforceID,
// which must exist) or of every team of the project in the scope's workspace.
func (s *Service) ListWorkers(ctx context.Context, sc Scope, q WorkerQuery) (int, []*Worker, error) {
	if q.WorkforceID != "" {
		if _, err := workforce(ctx, s.db, sc.ProjectID, q.WorkforceID); err != nil {
			return 0, nil, wrap("list workers", err)
		}
	}
	total, items, err := listWorkers(ctx, s.db, sc.ProjectID, sc.WorkspaceID, q)
	return total, items, wrap("list workers", err)
}

// UpdateWorker changes a member's role or description; its grants follow
// its role.
func (s *Service) UpdateWorker(ctx context.Context, sc Scope, workforceID, id string, req *WorkerUpdate) error {
	if req.Role != nil {
		if err := checkRole(req.Role, true); err != nil {
			return err
		}
	}
	if req.Description != nil {
		if err := checkDescription(*req.Description); err != nil {
			return err
		}
	}
	return wrap("update worker", s.ids.Write(ctx, func(tx *sql.Tx) error {
		if _, err := workforce(ctx, tx, sc.ProjectID, workforceID); err != nil {
			return err
		}
		w, err := worker(ctx, tx, sc.ProjectID, workforceID, id)
		if err != nil {
			return err
		}
		if req.Role != nil && *req.Role == RoleTeamAdmin && w.Role != RoleTeamAdmin {
			if has, err := hasTeamAdmin(ctx, tx, workforceID, id); err != nil || has {
				if has {
					return errOneManager()
				}
				return err
			}
		}
		if req.Role != nil {
			w.Role = *req.Role
		}
		if req.Description != nil {
			w.Description = *req.Description
		}
		w.UpdateTime = s.millis()
		if err := updateWorker(ctx, tx, sc.ProjectID, w); err != nil {
			return err
		}
		return s.syncRoles(ctx, tx, sc, w.UserID)
	}))
}

// DeleteWorker removes a member from a team; the caller cannot remove
// themselves.
func (s *Service) DeleteWorker(ctx context.Context, sc Scope, workforceID, id string) error {
	return wrap("delete worker", s.ids.Write(ctx, func(tx *sql.Tx) error {
		if _, err := workforce(ctx, tx, sc.ProjectID, workforceID); err != nil {
			return err
		}
		return s.removeWorker(ctx, tx, sc, workforceID, id)
	}))
}

func (s *Service) removeWorker(ctx context.Context, tx *sql.Tx, sc Scope, workforceID, id string) error {
	w, err := worker(ctx, tx, sc.ProjectID, workforceID, id)
	if err != nil {
		return err
	}
	if sc.UserID != "" && w.UserID == sc.UserID {
		return errDeleteSelf()
	}
	if err := deleteWorker(ctx, tx, sc.ProjectID, id); err != nil {
		return err
	}
	return s.release(ctx, tx, sc, w.UserID)
}

// DeleteWorkers removes several members of a team in one transaction and
// answers each one's outcome, in the order given: a member that does not
// exist (or is the caller) fails alone.
func (s *Service) DeleteWorkers(ctx context.Context, sc Scope, workforceID string, ids []string) ([]BatchResult, error) {
	if len(ids) == 0 {
		return nil, invalid("Invalid parameter(workers): at least one member ID is required.")
	}
	if len(ids) > MaxWorkersPerWorkforce {
		return nil, invalid("Invalid parameter(workers): at most %d member IDs.", MaxWorkersPerWorkforce)
	}
	var out []BatchResult
	err := s.ids.Write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		if _, err := workforce(ctx, tx, sc.ProjectID, workforceID); err != nil {
			return err
		}
		for _, id := range ids {
			err := s.removeWorker(ctx, tx, sc, workforceID, id)
			if fe, ok := domainError(err); ok {
				out = append(out, BatchResult{ErrorCode: fe.Code, ErrorMsg: fe.Msg})
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, BatchResult{Success: true})
		}
		return nil
	})
	if err != nil {
		return nil, wrap("delete workers", err)
	}
	return out, nil
}

// Members lists every member of a team of the project (team labeling tasks
// allocate samples to them).
func (s *Service) Members(ctx context.Context, projectID, workforceID string) ([]*Worker, error) {
	if _, err := workforce(ctx, s.db, projectID, workforceID); err != nil {
		return nil, err
	}
	return teamWorkers(ctx, s.db, projectID, workforceID)
}

// MembershipsOf lists the member rows a user holds in the project's teams:
// who the caller is in each team, for the team labeling tasks' scoping.
func (s *Service) MembershipsOf(ctx context.Context, projectID, userID string) ([]*Worker, error) {
	return workersOfUser(ctx, s.db, projectID, userID)
}

// MarkInvited records that a member was sent the notification e-mail
// (status 0 becomes 1; a member who logged in stays 2).
func (s *Service) MarkInvited(ctx context.Context, projectID, workerID string) error {
	return markInvited(ctx, s.db, projectID, workerID, s.millis())
}

// MarkLoggedIn records that members used their team labeling tasks
// (status 2 of the reference).
func (s *Service) MarkLoggedIn(ctx context.Context, projectID string, workerIDs []string) error {
	for _, id := range workerIDs {
		if err := markLoggedIn(ctx, s.db, projectID, id, s.millis()); err != nil {
			return err
		}
	}
	return nil
}

// PasswordSetup returns a one-time token that lets a member whose IAM user
// Atelier created set its first password (the notification e-mail's
// link), or "" for a member who can sign in already or whose user was
// linked rather than created.
func (s *Service) PasswordSetup(ctx context.Context, domainID, projectID, workforceID, workerID string) (string, error) {
	w, err := worker(ctx, s.db, projectID, workforceID, workerID)
	if err != nil {
		return "", err
	}
	created, err := wasCreated(ctx, s.db, domainID, w.UserID)
	if err != nil || !created {
		return "", wrap("find the member's user", err)
	}
	return s.ids.IssuePasswordSetup(ctx, domainID, w.UserID)
}
