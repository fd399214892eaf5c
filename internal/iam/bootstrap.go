package iam

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"

	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/store"
)

// Account is everything a new account starts with, as written to
// DATA_DIR/bootstrap.json on first start (the JSON keys are fixed).
type Account struct {
	DomainName  string `json:"domain_name"`
	DomainID    string `json:"domain_id"`
	UserName    string `json:"user_name"`
	UserID      string `json:"user_id"`
	Password    string `json:"password"`
	AccessKey   string `json:"access_key"`
	SecretKey   string `json:"secret_key"`
	Region      string `json:"region"`
	ProjectName string `json:"project_name"`
	ProjectID   string `json:"project_id"`
	Endpoint    string `json:"endpoint"`
}

// AccountInput names a new account.
type AccountInput struct {
	DomainName string
	AdminName  string // default "admin"
	Password   string // generated when empty
	Region     string
	Endpoint   string
}

var domainName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{2,63}$`)

// CreateAccount creates, in one transaction, a domain with its administrator
// (member of the admin group, which holds Tenant Administrator and Security
// Administrator on the whole account), one project in the region, the
// default enterprise project "0", the project's default workspace "0" bound
// to it, and one AK/SK pair for the administrator.
func (s *Service) CreateAccount(ctx context.Context, in AccountInput) (*Account, error) {
	if !domainName.MatchString(in.DomainName) {
		return nil, errorf(KindInvalid, "domain name must be 3 to 64 letters, digits, '-' or '_', starting with a letter")
	}
	if in.AdminName == "" {
		in.AdminName = "admin"
	}
	if err := validateUserName(in.AdminName); err != nil {
		return nil, err
	}
	if in.Password == "" {
		pw, err := generatePassword()
		if err != nil {
			return nil, err
		}
		in.Password = pw
	}
	if err := validatePassword(in.Password, in.AdminName); err != nil {
		return nil, err
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	ak, sk, err := newKeyPair()
	if err != nil {
		return nil, err
	}
	t := s.clock()
	d := &Domain{ID: store.NewID(), Name: in.DomainName, CreatedAt: t}
	u := &User{ID: store.NewID(), DomainID: d.ID, Name: in.AdminName, Enabled: true, IsDomainOwner: true, AccessMode: "default",
		Description: "Account administrator", PwdChangedAt: t, CreatedAt: t, UpdatedAt: t, passwordHash: hash}
	g := &Group{ID: store.NewID(), DomainID: d.ID, Name: AdminGroup, Description: "Account administrators", CreatedAt: t}
	p := &Project{ID: store.NewID(), DomainID: d.ID, Name: in.Region, Region: in.Region, Enabled: true, CreatedAt: t}
	ep := &EnterpriseProject{ID: DefaultEnterpriseProjectID, DomainID: d.ID, Name: "default", Description: "Default enterprise project", Status: 1, CreatedAt: t, UpdatedAt: t}
	c := &Credential{AccessKey: ak, Secret: sk, UserID: u.ID, DomainID: d.ID, Status: "active", Description: "bootstrap", CreatedAt: t}
	err = s.write(ctx, func(tx *sql.Tx) error {
		steps := []func() error{
			func() error { return insertDomain(ctx, tx, d) },
			func() error { return insertUser(ctx, tx, u) },
			func() error { return insertGroup(ctx, tx, g) },
			func() error { return insertMember(ctx, tx, g.ID, u.ID) },
			func() error { return insertEP(ctx, tx, ep) },
			func() error { return insertProject(ctx, tx, p) },
			func() error { return insertDefaultWorkspace(ctx, tx, p, t) },
			func() error { return s.insertSealed(ctx, tx, c) },
		}
		for _, name := range []string{PolicyTenantAdministrator, PolicySecurityAdministrator} {
			grant := &Grant{ID: store.NewID(), DomainID: d.ID, GroupID: g.ID, PolicyID: SystemPolicyID(name),
				Scope: policy.Scope{Kind: policy.ScopeAccount, ID: d.ID}, CreatedAt: t}
			steps = append(steps, func() error { return insertGrant(ctx, tx, grant) })
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	if store.IsConflict(err) {
		return nil, errorf(KindConflict, "account %q already exists", in.DomainName)
	}
	if err != nil {
		return nil, fmt.Errorf("create account %s: %w", in.DomainName, err)
	}
	return &Account{DomainName: d.Name, DomainID: d.ID, UserName: u.Name, UserID: u.ID, Password: in.Password,
		AccessKey: ak, SecretKey: sk, Region: in.Region, ProjectName: p.Name, ProjectID: p.ID, Endpoint: in.Endpoint}, nil
}

// NeedsBootstrap reports whether the database holds no account yet.
func (s *Service) NeedsBootstrap(ctx context.Context) (bool, error) {
	n, err := countDomains(ctx, s.db)
	if err != nil {
		return false, fmt.Errorf("count accounts: %w", err)
	}
	return n == 0, nil
}
