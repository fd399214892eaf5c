package dataset

import (
	"context"
	"errors"
	"fmt"

	"github.com/atelier-dev/atelier/internal/obs"
)

// Object authorization in background tasks. The API authorizes what a
// request names when a task is created, but a task touches objects the
// request did not name (the lines of a manifest, the files of a listing,
// the samples an export copies) and runs later, when the user's rights may
// have changed. So every object a task reads or writes is authorized when
// it is touched, for the user who asked for the task, with their policies
// as they are then: a denied object is a failed line or file naming the
// action and the resource, and the task goes on.

// Requester, ObjectAuthorizer and ObjectAccess are the object store's
// vocabulary for work done on a user's behalf (see obs.Authorizer).
type (
	Requester        = obs.Requester
	ObjectAuthorizer = obs.Authorizer
	ObjectAccess     = obs.Access
)

// objectAccess reads the requester's permissions now. Tasks call it once
// per batch (a manifest chunk of up to ImportBatch lines, a listing page of
// up to 1,000 objects, an export page of up to 2,000 samples) and decide
// each object of the batch with it, without a lock or a database read per
// object. That bounds how late a changed grant applies: from the next
// batch on, a second or so of work; IAM drops its cached policies on every
// write on this replica, and another replica's write reaches it within
// iam.RefreshInterval.
func (s *Service) ObjectAccess(ctx context.Context, who *Requester) (ObjectAccess, error) {
	var r Requester
	if who != nil {
		r = *who
	}
	if s.authorize == nil {
		return nil, errors.New("read object permissions: the dataset service has no object authorizer")
	}
	acc, err := s.authorize(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("read the object permissions of user %s: %w", r.UserID, err)
	}
	return acc, nil
}

// denied asks acc about an action: the reason of a refusal (naming the
// action and the resource), or an error when no decision could be made.
func Denied(ctx context.Context, acc ObjectAccess, action string, p obs.Path) (string, error) {
	err := acc.Authorize(ctx, action, p.Bucket, p.Key)
	if err == nil {
		return "", nil
	}
	if obs.Denied(err) {
		return err.Error(), nil
	}
	return "", err
}

// checkObjectKey applies the object store's rules for object keys, the
// rules the object API applies (obs.CheckObjectKey): a stored source that
// breaks them (e.g. a key under the local store's reserved .atelier/) could
// never be read.
func (s *Service) CheckObjectKey(p obs.Path) string {
	if err := obs.CheckObjectKey(s.objects, p.Bucket, p.Key); err != nil {
		return fmt.Sprintf("%s is not a valid object path: %v", p, keyReason(err))
	}
	return ""
}

// keyReason is a key error without the sentinel's text.
func keyReason(err error) string {
	msg := err.Error()
	for _, sentinel := range []error{obs.ErrInvalidKey, obs.ErrInvalidBucket} {
		if errors.Is(err, sentinel) {
			if n := len(msg) - len(sentinel.Error()) - 2; n > 0 && msg[n:] == ": "+sentinel.Error() {
				return msg[:n]
			}
		}
	}
	return msg
}
