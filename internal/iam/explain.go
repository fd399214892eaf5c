package iam

import (
	"context"
	"encoding/json"

	"github.com/atelier-dev/atelier/internal/iam/policy"
)

// Explanation is the answer to "why may (or may not) this user do this?".
type Explanation struct {
	User     *User
	Decision policy.Decision
	// Policy and Statement are the deciding policy and statement (JSON);
	// nil for an implicit deny.
	Policy    *Policy
	Statement json.RawMessage
	// Scope is the scope of the grant through which the deciding policy applied.
	Scope policy.Scope
	// Considered counts the grants of the user whose scope covered the request.
	Considered int
}

// Explain evaluates req for a user of the domain and reports which policy,
// statement and grant decided it.
func (s *Service) Explain(ctx context.Context, domainID, userID string, req *policy.Request) (*Explanation, error) {
	return s.explain(ctx, domainID, userID, req, false)
}

// ExplainTeam is Explain as a team labeling route decides (see DecideTeam).
func (s *Service) ExplainTeam(ctx context.Context, domainID, userID string, req *policy.Request) (*Explanation, error) {
	return s.explain(ctx, domainID, userID, req, true)
}

func (s *Service) explain(ctx context.Context, domainID, userID string, req *policy.Request, team bool) (*Explanation, error) {
	if _, err := s.GetUser(ctx, domainID, userID); err != nil {
		return nil, err
	}
	snap, err := s.Snapshot(ctx, userID)
	if err != nil {
		return nil, err
	}
	set := snap.Set
	if team {
		set = snap.TeamSet
	}
	ex := &Explanation{User: snap.User, Decision: set.Decide(req)}
	for _, g := range snap.Grants {
		if g.Scope.Covers(req) {
			ex.Considered++
		}
	}
	if !ex.Decision.Matched {
		return ex, nil
	}
	for _, g := range snap.Grants {
		if g.PolicyID != ex.Decision.PolicyID || !g.Scope.Covers(req) {
			continue
		}
		ex.Scope = g.Scope
		p, err := s.GetPolicy(ctx, domainID, g.PolicyID)
		if err != nil {
			return nil, err
		}
		ex.Policy = p
		var doc struct {
			Statement []json.RawMessage
		}
		raw, err := json.Marshal(p.Document)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &doc); err == nil && ex.Decision.Statement < len(doc.Statement) {
			ex.Statement = doc.Statement[ex.Decision.Statement]
		}
		break
	}
	return ex, nil
}
