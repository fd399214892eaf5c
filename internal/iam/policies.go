package iam

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/store"
)

// CatalogCustom marks custom policies, as Huawei IAM's API reports them.
const CatalogCustom = "CUSTOMED"

// syncSystemPolicies brings the stored system policies up to the code's.
// It writes (and so invalidates every replica's cache) only when one
// changed, not on every start.
func (s *Service) syncSystemPolicies(ctx context.Context) error {
	stored, err := systemPolicyRows(ctx, s.db)
	if err != nil {
		return fmt.Errorf("read system policies: %w", err)
	}
	type pending struct {
		p   *Policy
		raw []byte
	}
	var changed []pending
	for _, sp := range systemPolicies {
		doc, err := policy.Parse([]byte(sp.Document), s.catalog)
		if err != nil {
			return fmt.Errorf("system policy %q does not parse: %w", sp.Name, err)
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("encode system policy %q: %w", sp.Name, err)
		}
		id := SystemPolicyID(sp.Name)
		if st, ok := stored[id]; ok && st == (storedPolicy{sp.Type, sp.Description, sp.Catalog, string(raw)}) {
			continue
		}
		t := s.clock()
		changed = append(changed, pending{&Policy{ID: id, Name: sp.Name, DisplayName: sp.Name, Type: sp.Type,
			Description: sp.Description, Catalog: sp.Catalog, CreatedAt: t, UpdatedAt: t}, raw})
	}
	if len(changed) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, c := range changed {
			if err := upsertPolicy(ctx, tx, c.p, c.raw); err != nil {
				return fmt.Errorf("store system policy %q: %w", c.p.Name, err)
			}
		}
		return nil
	})
}

// policyError turns a policy validation failure into a domain error that
// keeps IAM's code and the location in the message.
func policyError(err error) error {
	var pe *policy.Error
	if errors.As(err, &pe) {
		return &Error{Kind: KindInvalid, Code: pe.Code, Msg: pe.Message}
	}
	return err
}

// PolicyInput creates or replaces a custom policy.
type PolicyInput struct {
	DisplayName string
	Type        string // AX or XA
	Description string
	Document    []byte // the policy JSON
}

// checkPolicyInput validates a custom policy and returns its parsed
// document and the canonical JSON that is stored.
func (s *Service) checkPolicyInput(in PolicyInput) (*policy.Document, []byte, error) {
	if n := utf8.RuneCountInString(in.DisplayName); n < 1 || n > 128 {
		return nil, nil, &Error{Kind: KindInvalid, Code: "IAM.1003", Msg: "display_name must be 1 to 128 characters"}
	}
	if in.Type != "AX" && in.Type != "XA" {
		return nil, nil, &Error{Kind: KindInvalid, Code: "IAM.1009", Msg: "type must be AX (account-level) or XA (project-level)"}
	}
	if utf8.RuneCountInString(in.Description) > 1000 {
		return nil, nil, &Error{Kind: KindInvalid, Code: "IAM.1003", Msg: "description must be at most 1,000 characters"}
	}
	doc, err := policy.Parse(in.Document, s.catalog)
	if err != nil {
		return nil, nil, policyError(err)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("encode policy: %w", err)
	}
	return doc, raw, nil
}

// CreateCustomPolicy validates and stores a custom policy of the domain; an
// invalid policy is refused with IAM's error code and never stored.
func (s *Service) CreateCustomPolicy(ctx context.Context, domainID string, in PolicyInput) (*Policy, error) {
	doc, raw, err := s.checkPolicyInput(in)
	if err != nil {
		return nil, err
	}
	t := s.clock()
	p := &Policy{ID: store.NewID(), DomainID: domainID, DisplayName: in.DisplayName, Type: in.Type, Description: in.Description,
		Catalog: CatalogCustom, Document: doc, CreatedAt: t, UpdatedAt: t}
	err = s.write(ctx, func(tx *sql.Tx) error {
		seq, err := nextPolicySeq(ctx, tx, domainID)
		if err != nil {
			return err
		}
		p.Name = fmt.Sprintf("custom_%s_%d", domainID, seq)
		return upsertPolicy(ctx, tx, p, raw)
	})
	if store.IsConflict(err) {
		return nil, &Error{Kind: KindConflict, Code: "IAM.1005", Msg: fmt.Sprintf("a policy named %q already exists", in.DisplayName)}
	}
	return p, wrap("create custom policy", err)
}

// UpdateCustomPolicy replaces a custom policy; users holding it get the new
// rules on their next request.
func (s *Service) UpdateCustomPolicy(ctx context.Context, domainID, id string, in PolicyInput) (*Policy, error) {
	doc, raw, err := s.checkPolicyInput(in)
	if err != nil {
		return nil, err
	}
	var out *Policy
	err = s.write(ctx, func(tx *sql.Tx) error {
		p, err := customPolicyOf(ctx, tx, s.catalog, domainID, id)
		if err != nil {
			return err
		}
		p.DisplayName, p.Type, p.Description, p.Document, p.UpdatedAt = in.DisplayName, in.Type, in.Description, doc, s.clock()
		out = p
		return upsertPolicy(ctx, tx, p, raw)
	})
	if store.IsConflict(err) {
		return nil, &Error{Kind: KindConflict, Code: "IAM.1005", Msg: fmt.Sprintf("a policy named %q already exists", in.DisplayName)}
	}
	return out, wrap("update custom policy", err)
}

// GetPolicy returns a system policy or one of the domain's custom policies.
func (s *Service) GetPolicy(ctx context.Context, domainID, id string) (*Policy, error) {
	p, err := visiblePolicy(ctx, s.db, s.catalog, domainID, id, "policy")
	return p, wrap("get policy", err)
}

// ListPolicies lists system policies (custom=false) or the domain's custom
// policies (custom=true), optionally only those with a display name.
func (s *Service) ListPolicies(ctx context.Context, domainID string, custom bool, displayName string) ([]*Policy, error) {
	ps, err := listPolicies(ctx, s.db, s.catalog, domainID, custom, displayName)
	return ps, wrap("list policies", err)
}

// DeleteCustomPolicy removes a custom policy that no grant uses.
func (s *Service) DeleteCustomPolicy(ctx context.Context, domainID, id string) error {
	return wrap("delete custom policy", s.write(ctx, func(tx *sql.Tx) error {
		p, err := visiblePolicy(ctx, tx, s.catalog, domainID, id, "policy")
		if err != nil {
			return err
		}
		if p.System() {
			return errorf(KindForbidden, "system policies cannot be deleted")
		}
		n, err := policyGrantCount(ctx, tx, id)
		if err != nil {
			return err
		}
		if n > 0 {
			return &Error{Kind: KindConflict, Code: "IAM.1102", Msg: fmt.Sprintf("policy %q is granted %d time(s); revoke it first", id, n)}
		}
		return deletePolicy(ctx, tx, id)
	}))
}

// --- grants

// checkGrant loads and checks the parts of a grant: the group and the scope
// target belong to the domain, the policy is visible to it, and the policy's
// type fits the scope (a project or enterprise-project grant needs a
// project-level policy, XA or AA).
func (s *Service) checkGrant(ctx context.Context, q querier, domainID, groupID, policyID string, scope policy.Scope) (*Policy, error) {
	if _, err := groupOf(ctx, q, domainID, groupID); err != nil {
		return nil, err
	}
	p, err := visiblePolicy(ctx, q, s.catalog, domainID, policyID, "role")
	if err != nil {
		return nil, err
	}
	switch scope.Kind {
	case policy.ScopeAccount:
		if scope.ID != domainID {
			return nil, notFound("domain", scope.ID)
		}
	case policy.ScopeProject:
		if _, err := projectOf(ctx, q, domainID, scope.ID); err != nil {
			return nil, err
		}
	case policy.ScopeEnterpriseProject:
		if _, err := epOf(ctx, q, domainID, scope.ID); err != nil {
			return nil, err
		}
	}
	if scope.Kind != policy.ScopeAccount && p.Type == "AX" {
		return nil, &Error{Kind: KindInvalid, Code: "IAM.1010", Msg: fmt.Sprintf("policy %q is account-level (AX) and can only be granted on the whole account", p.DisplayName)}
	}
	return p, nil
}

// Grant attaches a policy to a group at a scope (idempotent).
func (s *Service) Grant(ctx context.Context, domainID, groupID, policyID string, scope policy.Scope) error {
	return wrap("grant policy", s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.checkGrant(ctx, tx, domainID, groupID, policyID, scope); err != nil {
			return err
		}
		err := insertGrant(ctx, tx, &Grant{ID: store.NewID(), DomainID: domainID, GroupID: groupID, PolicyID: policyID, Scope: scope, CreatedAt: s.clock()})
		if store.IsConflict(err) {
			return nil
		}
		return err
	}))
}

// Revoke detaches a policy from a group at a scope.
func (s *Service) Revoke(ctx context.Context, domainID, groupID, policyID string, scope policy.Scope) error {
	return wrap("revoke policy", s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.checkGrant(ctx, tx, domainID, groupID, policyID, scope); err != nil {
			return err
		}
		ok, err := deleteGrant(ctx, tx, groupID, policyID, scope)
		if err != nil {
			return err
		}
		if !ok {
			return errorf(KindNotFound, "role %q is not granted to group %q on that scope", policyID, groupID)
		}
		return nil
	}))
}

// HasGrant reports whether a policy is granted to a group at a scope.
func (s *Service) HasGrant(ctx context.Context, domainID, groupID, policyID string, scope policy.Scope) (bool, error) {
	if _, err := s.checkGrant(ctx, s.db, domainID, groupID, policyID, scope); err != nil {
		return false, wrap("check grant", err)
	}
	ok, err := grantExists(ctx, s.db, groupID, policyID, scope)
	return ok, wrap("check grant", err)
}

// GrantedPolicies lists the policies granted to a group at a scope.
func (s *Service) GrantedPolicies(ctx context.Context, domainID, groupID string, scope policy.Scope) ([]*Policy, error) {
	if _, err := s.GetGroup(ctx, domainID, groupID); err != nil {
		return nil, err
	}
	ps, err := grantedPolicies(ctx, s.db, s.catalog, groupID, scope)
	return ps, wrap("list granted policies", err)
}
