package iam

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/obs"
)

// Object-storage decisions. The object API and every background task that
// reads or writes objects for a user (imports, syncs, exports, version
// publishing) decide here, with the same rules: a bucket belongs to an
// account and no grant reaches another account's bucket; then the user's
// policies decide the action on the resource
// obs:<region>:<domain_id>:object:<bucket>/<key> (bucket actions on
// ...:bucket:<bucket>), without project or enterprise project, since OBS is
// a global service.

// Actor is who an object decision is made for: the user and what the
// policy condition keys read, fixed when the request that caused the work
// was made; a background task carries it in its parameters. It is the
// object store's Requester, which domain packages see.
type Actor = obs.Requester

// ActorOf is the actor of an authenticated caller acting in an enterprise
// project ("" when none).
func ActorOf(p *Principal, enterpriseProjectID string) Actor {
	return Actor{UserID: p.UserID, UserName: p.UserName, DomainID: p.DomainID, DomainName: p.DomainName,
		ProjectID: p.ProjectID, ProjectName: p.ProjectName, EnterpriseProjectID: enterpriseProjectID, SourceIP: p.SourceIP}
}

// ObjectDenial is a refused object-storage action; its message names the
// action and the resource.
type ObjectDenial struct {
	Action   string
	Resource string
	msg      string
}

func (d *ObjectDenial) Error() string { return d.msg }

// Denied marks the error as a refusal, for callers that must tell it from a
// failure to decide without importing this package.
func (d *ObjectDenial) Denied() bool { return true }

// ObjectAccess is one user's object-storage permissions as they stand when
// it is made: the user's compiled policies and the condition keys, read
// once. Deciding with it takes no lock and allocates only the resource
// name, so a task can decide each object it touches; a task makes a new one
// for every batch of objects, so that a revoked grant or a new Deny applies
// from the next batch on. It is safe for concurrent use.
type ObjectAccess struct {
	s      *Service
	prefix string // "obs:<region>:<domain_id>:"
	domain string
	set    *policy.Set
	// gone says why the user can no longer be authorized (deleted,
	// disabled, moved): every action is then denied.
	gone string
	keys policy.Keys

	// owners caches the owner of each bucket asked about: read without a
	// lock (a task asks once per object), replaced whole under mu.
	mu     sync.Mutex
	owners atomic.Pointer[map[string]string]
}

// ObjectAccess reads the actor's current policies for object decisions in
// region at time now (the zero time is the service's clock). A user who no
// longer exists, is disabled or belongs to another account than the actor
// says is denied every action; only a failure to read the store is an
// error.
func (s *Service) ObjectAccess(ctx context.Context, region string, a Actor, now time.Time) (*ObjectAccess, error) {
	return s.objectAccess(ctx, region, a, now, false)
}

// TeamObjectAccess is ObjectAccess on a team labeling route, where the
// labeling system policies count too (see DecideTeam).
func (s *Service) TeamObjectAccess(ctx context.Context, region string, a Actor, now time.Time) (*ObjectAccess, error) {
	return s.objectAccess(ctx, region, a, now, true)
}

func (s *Service) objectAccess(ctx context.Context, region string, a Actor, now time.Time, team bool) (*ObjectAccess, error) {
	if now.IsZero() {
		now = s.now()
	}
	acc := &ObjectAccess{s: s, prefix: "obs:" + region + ":" + a.DomainID + ":", domain: a.DomainID,
		keys: policy.Keys{UserName: a.UserName, UserID: a.UserID, DomainName: a.DomainName, DomainID: a.DomainID,
			ProjectName: a.ProjectName, ProjectID: a.ProjectID, EnterpriseProjectID: a.EnterpriseProjectID,
			SourceIP: a.SourceIP, CurrentTime: now.UTC()}}
	snap, err := s.Snapshot(ctx, a.UserID)
	switch {
	case a.UserID == "":
		acc.gone = "no user is known for this work"
	case KindOf(err) == KindNotFound:
		acc.gone = "the user " + a.UserID + " no longer exists"
	case err != nil:
		return nil, err
	case !snap.User.Enabled:
		acc.gone = "the user " + snap.User.Name + " is disabled"
	case snap.User.DomainID != a.DomainID:
		acc.gone = "the user " + a.UserID + " does not belong to account " + a.DomainID
	case team:
		acc.set = snap.TeamSet
	default:
		acc.set = snap.Set
	}
	return acc, nil
}

// Authorize decides an action on an object (key "" for a bucket action):
// the bucket's owner, then the policies. A refusal is an *ObjectDenial.
func (a *ObjectAccess) Authorize(ctx context.Context, action, bucket, key string) error {
	if err := a.Owner(ctx, action, bucket); err != nil {
		return err
	}
	return a.Decide(action, bucket, key)
}

// Owner checks that the actor's account owns the bucket: no grant reaches
// another account's bucket. Creating a bucket is the exception (the
// caller claims it), and so is an empty bucket name (ListAllMyBuckets).
func (a *ObjectAccess) Owner(ctx context.Context, action, bucket string) error {
	if bucket == "" || strings.EqualFold(action, "obs:bucket:CreateBucket") {
		return nil
	}
	if a.gone != "" {
		return a.goneDenial(action, a.prefix+"bucket:"+bucket)
	}
	var owner string
	ok := false
	if m := a.owners.Load(); m != nil {
		owner, ok = (*m)[bucket]
	}
	if !ok {
		var err error
		if owner, err = a.s.BucketOwner(ctx, bucket); err != nil {
			return err
		}
		a.mu.Lock()
		next := map[string]string{bucket: owner}
		if m := a.owners.Load(); m != nil {
			for b, o := range *m {
				next[b] = o
			}
		}
		a.owners.Store(&next)
		a.mu.Unlock()
	}
	if owner != a.domain {
		return &ObjectDenial{Action: action, Resource: a.prefix + "bucket:" + bucket,
			msg: fmt.Sprintf("You are not authorized to perform the (%s) operation on bucket %s: it belongs to another account.", action, bucket)}
	}
	return nil
}

// Decide applies the policies alone to an action: object actions on
// bucket/key, bucket actions on the bucket, ListAllMyBuckets on every
// bucket of the account.
func (a *ObjectAccess) Decide(action, bucket, key string) error {
	// The resource name is built in a buffer on the stack: a task decides
	// every object it touches, and an allocation would be most of the
	// cost. res aliases the buffer, so only a copy of it may outlive this
	// call (the denials below clone it).
	var buf [256]byte
	b := append(buf[:0], a.prefix...)
	switch {
	case strings.EqualFold(action, "obs:bucket:ListAllMyBuckets"):
		b = append(b, "bucket:*"...)
	case strings.HasPrefix(action, "obs:bucket:"):
		b = append(append(b, "bucket:"...), bucket...)
	default:
		b = append(append(append(append(b, "object:"...), bucket...), '/'), key...)
	}
	res := unsafe.String(unsafe.SliceData(b), len(b))
	if a.gone != "" {
		return a.goneDenial(action, strings.Clone(res))
	}
	// Project and enterprise project stay empty: OBS is a global service.
	req := policy.Request{Action: action, Resource: res, Keys: &a.keys}
	d := a.set.Decide(&req)
	if d.Allowed {
		return nil
	}
	return a.policyDenial(action, strings.Clone(res), d)
}

// policyDenial is the refusal of a decision.
func (a *ObjectAccess) policyDenial(action, res string, d policy.Decision) *ObjectDenial {
	reason := ""
	if d.Matched {
		reason = " Denied explicitly by policy \"" + d.PolicyName + "\"."
	}
	return &ObjectDenial{Action: action, Resource: res,
		msg: fmt.Sprintf("You are not authorized to perform the (%s) operation on %s.%s", action, res, reason)}
}

// goneDenial refuses an action to a user who can no longer be authorized.
func (a *ObjectAccess) goneDenial(action, res string) *ObjectDenial {
	return &ObjectDenial{Action: action, Resource: res,
		msg: fmt.Sprintf("You are not authorized to perform the (%s) operation on %s: %s.", action, res, a.gone)}
}
