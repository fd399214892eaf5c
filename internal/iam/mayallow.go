package iam

import (
	"context"

	"github.com/atelier-dev/atelier/internal/iam/policy"
)

// MayAllow reports whether a user's policies could allow the request on
// some resource of its project (see policy.Set.MayAllow): the request path
// asks it before looking the target resource up, so that a caller who
// could not perform the action on anything of that kind is refused without
// learning whether the resource exists.
func (s *Service) MayAllow(ctx context.Context, userID string, req *policy.Request) (bool, error) {
	snap, err := s.Snapshot(ctx, userID)
	if err != nil {
		return false, err
	}
	return snap.Set.MayAllow(req), nil
}

// MayAllowTeam is MayAllow on a team labeling route (see DecideTeam).
func (s *Service) MayAllowTeam(ctx context.Context, userID string, req *policy.Request) (bool, error) {
	snap, err := s.Snapshot(ctx, userID)
	if err != nil {
		return false, err
	}
	return snap.TeamSet.MayAllow(req), nil
}
