// Package datasettest holds what the tests and benchmarks of the dataset
// core and its rooms share: an object authorizer that stands in for IAM
// (the server's tests run the real decision) and the benchmarks' samples.
// It imports the core, so only external tests (package dataset_test) of
// the core may use it.
package datasettest

import (
	"context"
	"strings"

	"github.com/atelier-dev/atelier/internal/obs"
)

// PrefixAuth lets the requester read objects under the Readable
// "bucket/" or "bucket/dir/" prefixes, write anywhere, and do nothing under
// a Denied prefix.
type PrefixAuth struct {
	Readable []string
	Denied   []string
}

// Authorizer is the authorizer a dataset service or room is given.
func (a *PrefixAuth) Authorizer() obs.Authorizer {
	return func(ctx context.Context, who obs.Requester) (obs.Access, error) {
		return &prefixAccess{readable: a.Readable, denied: a.Denied}, nil
	}
}

// prefixAccess is one batch's view of a PrefixAuth.
type prefixAccess struct{ readable, denied []string }

type denial struct{ msg string }

func (d *denial) Error() string { return d.msg }
func (d *denial) Denied() bool  { return true }

func (a *prefixAccess) Authorize(ctx context.Context, action, bucket, key string) error {
	full := bucket + "/" + key
	deny := func() error {
		return &denial{"You are not authorized to perform the (" + action + ") operation on " + full + "."}
	}
	for _, p := range a.denied {
		if strings.HasPrefix(full, p) {
			return deny()
		}
	}
	if action != obs.ActionGetObject {
		return nil
	}
	for _, p := range a.readable {
		if strings.HasPrefix(full, p) {
			return nil
		}
	}
	return deny()
}
