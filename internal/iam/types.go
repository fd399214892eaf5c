package iam

import (
	"time"

	"github.com/atelier-dev/atelier/internal/iam/policy"
)

// Domain is an account: the top of the identity tree.
type Domain struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// User belongs to one domain. The password hash never leaves this package.
type User struct {
	ID            string
	DomainID      string
	Name          string
	Email         string
	Description   string
	Enabled       bool
	IsDomainOwner bool
	Phone         string
	AreaCode      string
	// AccessMode is "default" (API and console), "programmatic" or
	// "console"; console-only users cannot use access keys.
	AccessMode string
	// PwdStatus true asks the user to change the password at next login;
	// Atelier has no console, so it is recorded and reported only.
	PwdStatus bool
	// XUserType and XUserID link the user to an external identity system.
	XUserType string
	XUserID   string
	// CredentialEpoch changes whenever earlier tokens must stop working
	// (password change, disabling); tokens carry the epoch they were issued at.
	CredentialEpoch int64
	PwdChangedAt    time.Time
	LastLoginAt     time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time

	passwordHash string
}

// Group is a set of users that grants attach to.
type Group struct {
	ID          string
	DomainID    string
	Name        string
	Description string
	CreatedAt   time.Time
}

// Project is an IAM project: one region's container of project-level resources.
type Project struct {
	ID          string
	DomainID    string
	Name        string
	Region      string
	Description string
	Enabled     bool
	CreatedAt   time.Time
}

// EnterpriseProject groups resources across projects for authorization.
// Every domain has the default enterprise project "0".
type EnterpriseProject struct {
	ID          string
	DomainID    string
	Name        string
	Description string
	// Status is 1 (enabled) or 2 (disabled), as Huawei's EPS API reports it.
	Status    int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DefaultEnterpriseProjectID is the enterprise project every domain has.
const DefaultEnterpriseProjectID = "0"

// DefaultWorkspaceID is the workspace every project has.
const DefaultWorkspaceID = "0"

// Workspace access types.
const (
	WorkspacePublic   = "PUBLIC"
	WorkspacePrivate  = "PRIVATE"
	WorkspaceInternal = "INTERNAL"
)

// Workspace is a ModelArts workspace: a partition of a project's resources,
// bound to exactly one enterprise project.
type Workspace struct {
	ID                  string
	ProjectID           string
	DomainID            string
	Name                string
	Description         string
	EnterpriseProjectID string
	AuthType            string
	OwnerUserID         string
	OwnerName           string
	Status              string
	// Users lists the user IDs allowed into an INTERNAL workspace.
	Users     []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Credential is a permanent AK/SK pair of a user.
type Credential struct {
	AccessKey   string
	Secret      string
	UserID      string
	DomainID    string
	Status      string // "active" or "inactive"
	Description string
	CreatedAt   time.Time
	LastUseAt   time.Time
}

// MaxCredentialsPerUser is Huawei IAM's limit of permanent access keys.
const MaxCredentialsPerUser = 2

// Policy is a system policy or a custom policy of a domain (a "role" in
// Keystone's vocabulary).
type Policy struct {
	ID          string
	DomainID    string // "" for system policies
	Name        string // system: the display name; custom: custom_<domain_id>_<n>
	DisplayName string
	// Type is AX (account-level), XA (project-level) or AA (both).
	Type        string
	Description string
	// Catalog is the owning service for system policies, "CUSTOMED" for custom ones.
	Catalog   string
	Document  *policy.Document
	CreatedAt time.Time
	UpdatedAt time.Time
}

// System reports whether the policy is built in.
func (p *Policy) System() bool { return p.DomainID == "" }

// Grant binds a policy to a group at a scope.
type Grant struct {
	ID        string
	DomainID  string
	GroupID   string
	PolicyID  string
	Scope     policy.Scope
	CreatedAt time.Time
}
