package iam

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/atelier-dev/atelier/internal/store"
)

// UserInput creates a user.
type UserInput struct {
	Name        string
	Password    string // empty: the user cannot log in with a password until one is set
	Email       string
	Description string
	Enabled     *bool // default true
	Profile     Profile
}

// Profile holds the optional attributes of Huawei IAM's extended user API.
type Profile struct {
	Phone      *string
	AreaCode   *string
	AccessMode *string
	PwdStatus  *bool
	XUserType  *string
	XUserID    *string
}

// UserUpdate changes a user; nil fields stay as they are.
type UserUpdate struct {
	Name        *string
	Password    *string
	Email       *string
	Description *string
	Enabled     *bool
	Profile     Profile
}

func applyProfile(u *User, p Profile) error {
	if p.AccessMode != nil {
		switch *p.AccessMode {
		case "default", "programmatic", "console":
			u.AccessMode = *p.AccessMode
		default:
			return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "access_mode must be default, programmatic or console"}
		}
	}
	if p.AreaCode != nil {
		if *p.AreaCode != "" && !digits(*p.AreaCode, 1, 4) {
			return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "areacode must be 1 to 4 digits"}
		}
		u.AreaCode = *p.AreaCode
	}
	if p.Phone != nil {
		if *p.Phone != "" && !digits(*p.Phone, 4, 32) {
			return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "phone must be 4 to 32 digits"}
		}
		u.Phone = *p.Phone
	}
	if u.Phone != "" && u.AreaCode == "" {
		return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "phone needs areacode"}
	}
	if p.PwdStatus != nil {
		u.PwdStatus = *p.PwdStatus
	}
	for _, f := range []struct {
		name string
		in   *string
		out  *string
	}{{"xuser_type", p.XUserType, &u.XUserType}, {"xuser_id", p.XUserID, &u.XUserID}} {
		if f.in == nil {
			continue
		}
		if len(*f.in) > 64 {
			return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: f.name + " must be at most 64 characters"}
		}
		*f.out = *f.in
	}
	if (u.XUserType == "") != (u.XUserID == "") {
		return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "xuser_type and xuser_id must be set together"}
	}
	return nil
}

func digits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func validateUserName(name string) error {
	n := utf8.RuneCountInString(name)
	if n < 1 || n > 64 {
		return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "user name must be 1 to 64 characters"}
	}
	for i, r := range name {
		ok := r == '-' || r == '_' || r == '.' || r == ' ' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 0x7f
		if !ok {
			return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: fmt.Sprintf("user name: character %q is not allowed (letters, digits, spaces, '-', '_', '.')", r)}
		}
		if i == 0 && r >= '0' && r <= '9' {
			return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "user name must not start with a digit"}
		}
	}
	return nil
}

func validateDescription(field, s string, max int) error {
	if utf8.RuneCountInString(s) > max {
		return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: fmt.Sprintf("%s must be at most %d characters", field, max)}
	}
	if strings.ContainsAny(s, "@#%&<>\\$^*") {
		return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: fmt.Sprintf("%s must not contain any of @#%%&<>\\$^*", field)}
	}
	return nil
}

func validateEmail(s string) error {
	if s == "" {
		return nil
	}
	at := strings.IndexByte(s, '@')
	if len(s) > 255 || at < 1 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n") {
		return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "email is not a valid address"}
	}
	return nil
}

// CreateUser adds a user to a domain.
func (s *Service) CreateUser(ctx context.Context, domainID string, in UserInput) (*User, error) {
	if err := validateUserName(in.Name); err != nil {
		return nil, err
	}
	if err := validateEmail(in.Email); err != nil {
		return nil, err
	}
	if err := validateDescription("description", in.Description, 255); err != nil {
		return nil, err
	}
	t := s.clock()
	u := &User{ID: store.NewID(), DomainID: domainID, Name: in.Name, Email: in.Email, Description: in.Description,
		Enabled: in.Enabled == nil || *in.Enabled, AccessMode: "default", CreatedAt: t, UpdatedAt: t}
	if err := applyProfile(u, in.Profile); err != nil {
		return nil, err
	}
	if in.Password != "" {
		if err := validatePassword(in.Password, in.Name); err != nil {
			return nil, err
		}
		h, err := s.hash(ctx, in.Password)
		if err != nil {
			return nil, err
		}
		u.passwordHash, u.PwdChangedAt = h, t
	}
	err := s.write(ctx, func(tx *sql.Tx) error { return insertUser(ctx, tx, u) })
	if err != nil {
		if store.IsConflict(err) {
			return nil, &Error{Kind: KindConflict, Code: "IAM.0023", Msg: fmt.Sprintf("user name %q already exists", in.Name)}
		}
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// GetUser returns a user of the domain.
func (s *Service) GetUser(ctx context.Context, domainID, id string) (*User, error) {
	u, err := userOf(ctx, s.db, domainID, id)
	if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// ListUsers lists a domain's users, optionally only the one with name.
func (s *Service) ListUsers(ctx context.Context, domainID, name string) ([]*User, error) {
	us, err := listUsers(ctx, s.db, domainID, name)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// UpdateUser changes a user. Changing the password or disabling the user
// revokes every token issued before.
func (s *Service) UpdateUser(ctx context.Context, domainID, id string, up UserUpdate) (*User, error) {
	// Hash a new password before the transaction: waiting for a hashing
	// slot must not hold the database's write lock.
	var newHash string
	if up.Password != nil {
		if err := validatePassword(*up.Password, ""); err != nil {
			return nil, err
		}
		var err error
		if newHash, err = s.hash(ctx, *up.Password); err != nil {
			return nil, err
		}
	}
	var out *User
	err := s.write(ctx, func(tx *sql.Tx) error {
		u, err := userOf(ctx, tx, domainID, id)
		if err != nil {
			return err
		}
		if up.Name != nil {
			if err := validateUserName(*up.Name); err != nil {
				return err
			}
			u.Name = *up.Name
		}
		if up.Email != nil {
			if err := validateEmail(*up.Email); err != nil {
				return err
			}
			u.Email = *up.Email
		}
		if up.Description != nil {
			if err := validateDescription("description", *up.Description, 255); err != nil {
				return err
			}
			u.Description = *up.Description
		}
		if up.Enabled != nil && *up.Enabled != u.Enabled {
			if !*up.Enabled && u.IsDomainOwner {
				return errorf(KindForbidden, "the account administrator cannot be disabled")
			}
			u.Enabled = *up.Enabled
			u.CredentialEpoch++
		}
		if up.Password != nil {
			if err := s.setPassword(u, *up.Password, newHash); err != nil {
				return err
			}
		}
		if err := applyProfile(u, up.Profile); err != nil {
			return err
		}
		u.UpdatedAt = s.clock()
		if err := updateUserRow(ctx, tx, u); err != nil {
			return err
		}
		out = u
		return nil
	})
	if err != nil {
		if store.IsConflict(err) {
			return nil, &Error{Kind: KindConflict, Code: "IAM.0023", Msg: "user name already exists"}
		}
		return nil, wrap("update user", err)
	}
	return out, nil
}

// setPassword sets u's password to password, whose hash the caller
// computed outside the transaction.
func (s *Service) setPassword(u *User, password, hash string) error {
	if err := validatePassword(password, u.Name); err != nil {
		return err
	}
	u.passwordHash = hash
	u.PwdChangedAt = s.clock()
	u.CredentialEpoch++
	return nil
}

// ChangePassword is a user changing their own password, proving the old one.
// Both hashes are computed before the transaction (waiting for a hashing
// slot must not hold the write lock), which then applies the change only if
// the password is still the one that was verified.
func (s *Service) ChangePassword(ctx context.Context, userID, original, password string) error {
	u, err := getUser(ctx, s.db, userID)
	if noRows(err) {
		return notFound("user", userID)
	}
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if err := validatePassword(password, u.Name); err != nil {
		return err
	}
	ok, err := s.verify(ctx, u.passwordHash, original)
	if err != nil {
		return err
	}
	if !ok {
		return &Error{Kind: KindUnauthorized, Code: "IAM.0008", Msg: "the original password is incorrect"}
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	verified := u.passwordHash
	err = s.write(ctx, func(tx *sql.Tx) error {
		u, err := getUser(ctx, tx, userID)
		if noRows(err) {
			return notFound("user", userID)
		}
		if err != nil {
			return err
		}
		if u.passwordHash != verified {
			return &Error{Kind: KindConflict, Code: "IAM.0005", Msg: "the password was changed by another request meanwhile; try again"}
		}
		if err := s.setPassword(u, password, hash); err != nil {
			return err
		}
		u.UpdatedAt = s.clock()
		return updateUserRow(ctx, tx, u)
	})
	return wrap("change password", err)
}

// DeleteUser removes a user with their group memberships and access keys.
func (s *Service) DeleteUser(ctx context.Context, domainID, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		u, err := userOf(ctx, tx, domainID, id)
		if err != nil {
			return err
		}
		if u.IsDomainOwner {
			return errorf(KindForbidden, "the account administrator cannot be deleted")
		}
		return deleteUser(ctx, tx, id)
	})
	return wrap("delete user", err)
}

// Authenticate checks a password login as Login does (same lockout, same
// audit line), for callers that have no request to describe.
func (s *Service) Authenticate(ctx context.Context, domainName, userName, password string) (*User, *Domain, error) {
	res, err := s.Login(ctx, LoginRequest{DomainName: domainName, UserName: userName, Password: password})
	if err != nil {
		return nil, nil, err
	}
	return res.User, res.Domain, nil
}

// DomainByID returns a domain.
func (s *Service) DomainByID(ctx context.Context, id string) (*Domain, error) {
	d, err := getDomain(ctx, s.db, id)
	if noRows(err) {
		return nil, notFound("domain", id)
	}
	return d, wrap("get domain", err)
}

// DomainByName returns a domain.
func (s *Service) DomainByName(ctx context.Context, name string) (*Domain, error) {
	d, err := getDomainByName(ctx, s.db, name)
	if noRows(err) {
		return nil, notFound("domain", name)
	}
	return d, wrap("get domain", err)
}

// wrap adds context to infrastructure errors and passes domain errors through.
func wrap(what string, err error) error {
	if err == nil || KindOf(err) != 0 {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
