package iam

import (
	"context"
	"database/sql"
	"fmt"
	"unicode/utf8"

	"github.com/atelier-dev/atelier/internal/store"
)

// AdminGroup is the group whose members administer the account.
const AdminGroup = "admin"

func validateGroupName(name string) error {
	n := utf8.RuneCountInString(name)
	if n < 1 || n > 64 {
		return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "group name must be 1 to 64 characters"}
	}
	return validateDescription("group name", name, 64)
}

// CreateGroup adds a group to a domain.
func (s *Service) CreateGroup(ctx context.Context, domainID, name, description string) (*Group, error) {
	if err := validateGroupName(name); err != nil {
		return nil, err
	}
	if err := validateDescription("description", description, 255); err != nil {
		return nil, err
	}
	g := &Group{ID: store.NewID(), DomainID: domainID, Name: name, Description: description, CreatedAt: s.clock()}
	err := s.write(ctx, func(tx *sql.Tx) error { return insertGroup(ctx, tx, g) })
	if store.IsConflict(err) {
		return nil, &Error{Kind: KindConflict, Code: "IAM.0024", Msg: fmt.Sprintf("group name %q already exists", name)}
	}
	return g, wrap("create group", err)
}

// GetGroup returns a group of the domain.
func (s *Service) GetGroup(ctx context.Context, domainID, id string) (*Group, error) {
	g, err := groupOf(ctx, s.db, domainID, id)
	return g, wrap("get group", err)
}

// ListGroups lists a domain's groups, optionally the one named name.
func (s *Service) ListGroups(ctx context.Context, domainID, name string) ([]*Group, error) {
	gs, err := listGroups(ctx, s.db, domainID, name)
	return gs, wrap("list groups", err)
}

// UpdateGroup renames a group or changes its description.
func (s *Service) UpdateGroup(ctx context.Context, domainID, id string, name, description *string) (*Group, error) {
	var out *Group
	err := s.write(ctx, func(tx *sql.Tx) error {
		g, err := groupOf(ctx, tx, domainID, id)
		if err != nil {
			return err
		}
		if name != nil {
			if err := validateGroupName(*name); err != nil {
				return err
			}
			if g.Name == AdminGroup && *name != AdminGroup {
				return errorf(KindForbidden, "the admin group cannot be renamed")
			}
			g.Name = *name
		}
		if description != nil {
			if err := validateDescription("description", *description, 255); err != nil {
				return err
			}
			g.Description = *description
		}
		out = g
		return updateGroupRow(ctx, tx, g)
	})
	if store.IsConflict(err) {
		return nil, &Error{Kind: KindConflict, Code: "IAM.0024", Msg: "group name already exists"}
	}
	return out, wrap("update group", err)
}

// DeleteGroup removes a group, its memberships and its grants.
func (s *Service) DeleteGroup(ctx context.Context, domainID, id string) error {
	return wrap("delete group", s.write(ctx, func(tx *sql.Tx) error {
		g, err := groupOf(ctx, tx, domainID, id)
		if err != nil {
			return err
		}
		if g.Name == AdminGroup {
			return errorf(KindForbidden, "the admin group cannot be deleted")
		}
		return deleteGroup(ctx, tx, id)
	}))
}

// membership loads a group and a user of the same domain.
func (s *Service) membership(ctx context.Context, q querier, domainID, groupID, userID string) (*Group, *User, error) {
	g, err := groupOf(ctx, q, domainID, groupID)
	if err != nil {
		return nil, nil, err
	}
	u, err := userOf(ctx, q, domainID, userID)
	return g, u, err
}

// AddUserToGroup makes a user a member of a group (idempotent).
func (s *Service) AddUserToGroup(ctx context.Context, domainID, groupID, userID string) error {
	return wrap("add user to group", s.write(ctx, func(tx *sql.Tx) error {
		if _, _, err := s.membership(ctx, tx, domainID, groupID, userID); err != nil {
			return err
		}
		return addMember(ctx, tx, groupID, userID)
	}))
}

// RemoveUserFromGroup ends a membership.
func (s *Service) RemoveUserFromGroup(ctx context.Context, domainID, groupID, userID string) error {
	return wrap("remove user from group", s.write(ctx, func(tx *sql.Tx) error {
		g, u, err := s.membership(ctx, tx, domainID, groupID, userID)
		if err != nil {
			return err
		}
		if g.Name == AdminGroup && u.IsDomainOwner {
			return errorf(KindForbidden, "the account administrator cannot leave the admin group")
		}
		removed, err := removeMember(ctx, tx, groupID, userID)
		if err != nil {
			return err
		}
		if !removed {
			return errorf(KindNotFound, "user %q is not in group %q", userID, groupID)
		}
		return nil
	}))
}

// IsUserInGroup reports membership.
func (s *Service) IsUserInGroup(ctx context.Context, domainID, groupID, userID string) (bool, error) {
	if _, _, err := s.membership(ctx, s.db, domainID, groupID, userID); err != nil {
		return false, wrap("check membership", err)
	}
	ok, err := isMember(ctx, s.db, groupID, userID)
	return ok, wrap("check membership", err)
}

// GroupUsers lists a group's members.
func (s *Service) GroupUsers(ctx context.Context, domainID, groupID string) ([]*User, error) {
	if _, err := s.GetGroup(ctx, domainID, groupID); err != nil {
		return nil, err
	}
	us, err := groupUsers(ctx, s.db, groupID)
	return us, wrap("list group users", err)
}

// UserGroups lists the groups a user belongs to.
func (s *Service) UserGroups(ctx context.Context, domainID, userID string) ([]*Group, error) {
	if _, err := s.GetUser(ctx, domainID, userID); err != nil {
		return nil, err
	}
	gs, err := userGroups(ctx, s.db, userID)
	return gs, wrap("list user groups", err)
}
