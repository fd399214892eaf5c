package iam

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/store"
)

// Labeling identities: a labeling team's member (package workforce) logs in
// as an IAM user of the account, found by e-mail or created for it, and gets
// what its role needs through an Atelier-managed group per project and role
// ("atelier-labeler-<project_id>", "atelier-reviewer-…",
// "atelier-team-admin-…"), each granted its labeling system policy on that
// project. These methods run in the caller's transaction (Write), so that a
// member's row and its identity change together.

// labelingRoles maps a managed role to its system policy.
var labelingRoles = map[string]string{
	"labeler":    PolicyLabeler,
	"reviewer":   PolicyReviewer,
	"team-admin": PolicyTeamAdmin,
}

// LabelingGroupName is the name of the managed group of a role in a project.
func LabelingGroupName(role, projectID string) string {
	return "atelier-" + role + "-" + projectID
}

// Write runs fn in one transaction that also bumps the identity revision,
// then drops the caches: what fn changed through the methods below is seen
// by the next request, on every replica. The revision is bumped first, so
// that its row lock serializes these transactions on PostgreSQL (SQLite
// has one writer anyway): two first members of a project must not both
// create its managed group, nor two additions to a team both pass its
// checks (one address once, one team administrator, 100 members).
func (s *Service) Write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := bumpRevision(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
	if err != nil {
		return err
	}
	s.invalidate()
	return nil
}

// LinkLabeler returns the account's user for a member's e-mail address: the
// user whose email attribute (or else name) is that address, or a new user
// with that email, a name derived from the address and no password, who
// cannot log in until an administrator sets one.
func (s *Service) LinkLabeler(ctx context.Context, tx *sql.Tx, domainID, email string) (string, bool, error) {
	if err := validateEmail(email); err != nil {
		return "", false, err
	}
	u, err := userByEmail(ctx, tx, domainID, email)
	if err != nil {
		return "", false, fmt.Errorf("find user by email: %w", err)
	}
	if u != nil {
		return u.ID, false, nil
	}
	name, err := s.freeUserName(ctx, tx, domainID, labelerName(email))
	if err != nil {
		return "", false, err
	}
	t := s.clock()
	u = &User{ID: store.NewID(), DomainID: domainID, Name: name, Email: email, Enabled: true, AccessMode: "default",
		Description: "Labeling team member, created by Atelier.", CreatedAt: t, UpdatedAt: t}
	if err := insertUser(ctx, tx, u); err != nil {
		return "", false, fmt.Errorf("create user for %s: %w", email, err)
	}
	return u.ID, true, nil
}

// labelerName derives a user name from an e-mail address: the characters
// a user name cannot hold become '_' ("ann@example.com" → "ann_example.com"),
// a leading digit gets a "u" before it, and the name is cut at 60 runes to
// leave room for a suffix.
func labelerName(email string) string {
	var b strings.Builder
	for _, r := range email {
		ok := r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 0x7f
		if !ok {
			r = '_'
		}
		b.WriteRune(r)
	}
	name := b.String()
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		name = "u" + name
	}
	for utf8.RuneCountInString(name) > 60 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

// freeUserName is base, or base with the first free "-N" suffix.
func (s *Service) freeUserName(ctx context.Context, tx *sql.Tx, domainID, base string) (string, error) {
	name := base
	for i := 2; i < 1000; i++ {
		taken, err := userNameTaken(ctx, tx, domainID, name)
		if err != nil {
			return "", fmt.Errorf("check user name: %w", err)
		}
		if !taken {
			return name, nil
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return "", &Error{Kind: KindConflict, Code: "IAM.0023", Msg: fmt.Sprintf("no free user name for %q", base)}
}

// SetLabelingRoles makes the user a member of exactly the managed groups of
// roles in the project, creating a group and its grant on first use (and
// again if an administrator removed them).
func (s *Service) SetLabelingRoles(ctx context.Context, tx *sql.Tx, domainID, projectID, userID string, roles []string) error {
	want := map[string]bool{}
	for _, r := range roles {
		if _, ok := labelingRoles[r]; !ok {
			return fmt.Errorf("set labeling roles: unknown role %q", r)
		}
		want[r] = true
	}
	for _, role := range []string{"labeler", "reviewer", "team-admin"} {
		name := LabelingGroupName(role, projectID)
		g, err := groupByName(ctx, tx, domainID, name)
		if err != nil {
			return fmt.Errorf("find group %s: %w", name, err)
		}
		if !want[role] {
			if g != nil {
				if _, err := removeMember(ctx, tx, g.ID, userID); err != nil {
					return fmt.Errorf("leave group %s: %w", name, err)
				}
			}
			continue
		}
		if g == nil {
			g = &Group{ID: store.NewID(), DomainID: domainID, Name: name, CreatedAt: s.clock(),
				Description: "Managed by Atelier: the labeling team members of this project with this role."}
			if err := insertGroup(ctx, tx, g); err != nil {
				return fmt.Errorf("create group %s: %w", name, err)
			}
		}
		// The role's policy on the project, and the files of the samples
		// on the account (OBS is global); both count on team routes only.
		for _, gr := range []struct {
			policy string
			scope  policy.Scope
		}{
			{labelingRoles[role], policy.Scope{Kind: policy.ScopeProject, ID: projectID}},
			{PolicyTeamObjects, policy.Scope{Kind: policy.ScopeAccount, ID: domainID}},
		} {
			policyID := SystemPolicyID(gr.policy)
			granted, err := grantExists(ctx, tx, g.ID, policyID, gr.scope)
			if err != nil {
				return fmt.Errorf("check grant of %s: %w", name, err)
			}
			if !granted {
				if err := insertGrant(ctx, tx, &Grant{ID: store.NewID(), DomainID: domainID, GroupID: g.ID, PolicyID: policyID, Scope: gr.scope, CreatedAt: s.clock()}); err != nil {
					return fmt.Errorf("grant %s: %w", name, err)
				}
			}
		}
		if err := addMember(ctx, tx, g.ID, userID); err != nil {
			return fmt.Errorf("join group %s: %w", name, err)
		}
	}
	return nil
}

// DeleteBareUser deletes a user of the account that holds nothing: no
// group, no access key, no workspace listing, not the account's owner.
func (s *Service) DeleteBareUser(ctx context.Context, tx *sql.Tx, domainID, userID string) (bool, error) {
	u, err := userOf(ctx, tx, domainID, userID)
	if KindOf(err) == KindNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if u.IsDomainOwner {
		return false, nil
	}
	n, err := userHoldings(ctx, tx, userID)
	if err != nil || n > 0 {
		return false, err
	}
	if err := deleteUser(ctx, tx, userID); err != nil {
		return false, fmt.Errorf("delete user %s: %w", userID, err)
	}
	return true, nil
}
