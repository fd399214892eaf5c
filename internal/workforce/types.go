package workforce

// Workforce is a labeling team as the API answers it.
type Workforce struct {
	ID          string `json:"workforce_id"`
	Name        string `json:"workforce_name"`
	Description string `json:"description"`
	WorkerCount int    `json:"worker_count"`
	WorkspaceID string `json:"workspace_id"`
	CreateTime  int64  `json:"create_time"`
	UpdateTime  int64  `json:"update_time"`
}

// Worker is a member of a labeling team as the API answers it. UserID, the
// IAM user the member logs in as, is Atelier's and not on the wire.
type Worker struct {
	ID          string `json:"worker_id"`
	WorkforceID string `json:"workforce_id"`
	Email       string `json:"email"`
	Role        int    `json:"role"`
	Status      int    `json:"status"`
	Description string `json:"description"`
	CreateTime  int64  `json:"create_time"`
	UpdateTime  int64  `json:"update_time"`
	UserID      string `json:"-"`
}

// Member roles of the reference.
const (
	RoleLabeler      = 0
	RoleReviewer     = 1
	RoleTeamAdmin    = 2
	RoleDatasetOwner = 3 // accepted by updates only, as the reference lists it there
)

// Member statuses of the reference. Atelier records StatusNotInvited until
// the notification e-mail (issue 11, item 5) sends the invitation.
const (
	StatusNotInvited = 0
	StatusInvited    = 1
	StatusLoggedIn   = 2
)

// Limits of the reference's user guide.
const (
	MaxWorkforcesPerAccount = 10
	MaxWorkersPerWorkforce  = 100
)

// Scope is where a request acts: the caller's account and project, the
// workspace of the team, and the calling user (who may not delete
// themselves from a team).
type Scope struct {
	DomainID    string
	ProjectID   string
	WorkspaceID string
	UserID      string
}

// CreateRequest is the body of creating a team.
type CreateRequest struct {
	Name        string `json:"workforce_name"`
	Description string `json:"description"`
}

// UpdateRequest is the body of updating a team; absent fields stay.
type UpdateRequest struct {
	Name        *string `json:"workforce_name"`
	Description *string `json:"description"`
}

// WorkerRequest is the body of adding a member. Role is required.
type WorkerRequest struct {
	Email       string `json:"emails"`
	Role        *int   `json:"role"`
	Description string `json:"description"`
}

// WorkerUpdate is the body of updating a member; absent fields stay.
type WorkerUpdate struct {
	Role        *int    `json:"role"`
	Description *string `json:"description"`
}

// Query lists teams: Offset records skipped (the API turns its page index
// into records), Limit per page, Search a part of the name, SortBy
// create_time or workforce_name, Desc for descending; IDs, when not nil,
// keeps only those teams (the teams of one team labeling task).
type Query struct {
	Offset, Limit int
	Search        string
	SortBy        string
	Desc          bool
	IDs           []string
}

// WorkerQuery lists members: of one team (WorkforceID) or of every team of
// the project, then only those of Role when set. SortBy is create_time or
// email.
type WorkerQuery struct {
	WorkforceID   string
	Role          *int
	Offset, Limit int
	SortBy        string
	Desc          bool
}

// BatchResult is one member's outcome in a batch deletion.
type BatchResult struct {
	Success   bool   `json:"success"`
	ErrorCode string `json:"error_code,omitempty"`
	ErrorMsg  string `json:"error_msg,omitempty"`
}
