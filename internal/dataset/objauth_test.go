package dataset

import (
	"context"
	"strings"
)

// prefixAuth stands in for IAM in this package's tests (the server's tests
// run the real decision): the requester may read objects under the
// readable "bucket/" or "bucket/dir/" prefixes, write anywhere, and do
// nothing under a denied prefix.
type prefixAuth struct {
	readable []string
	denied   []string
}

func (a *prefixAuth) authorizer() ObjectAuthorizer {
	return func(ctx context.Context, who Requester) (ObjectAccess, error) {
		return &prefixAccess{readable: a.readable, denied: a.denied}, nil
	}
}

// prefixAccess is one batch's view of a prefixAuth.
type prefixAccess struct{ readable, denied []string }

type testDenial struct{ msg string }

func (d *testDenial) Error() string { return d.msg }
func (d *testDenial) Denied() bool  { return true }

func (a *prefixAccess) Authorize(ctx context.Context, action, bucket, key string) error {
	full := bucket + "/" + key
	deny := func() error {
		return &testDenial{"You are not authorized to perform the (" + action + ") operation on " + full + "."}
	}
	for _, p := range a.denied {
		if strings.HasPrefix(full, p) {
			return deny()
		}
	}
	if action != actionGet {
		return nil
	}
	for _, p := range a.readable {
		if strings.HasPrefix(full, p) {
			return nil
		}
	}
	return deny()
}
