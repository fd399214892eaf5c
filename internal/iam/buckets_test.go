package iam_test

import (
	"context"
	"errors"
	"testing"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// bucketStore is an object store's bucket half whose creation can fail.
type bucketStore struct {
	created map[string]bool
	fail    error
}

func (b *bucketStore) HeadBucket(_ context.Context, bucket string) error {
	if b.created[bucket] {
		return nil
	}
	return errors.New("no such bucket")
}

func (b *bucketStore) CreateBucket(_ context.Context, bucket string) error {
	if b.fail != nil {
		return b.fail
	}
	b.created[bucket] = true
	return nil
}

// TestCreateBucketGivesTheClaimBack: a bucket the store cannot create is
// not left claimed by the account that tried, so another account may
// create it; a bucket created stays the creator's.
func TestCreateBucketGivesTheClaimBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		a, b := newAccount(t, svc, "alpha"), newAccount(t, svc, "beta")
		boom := errors.New("disk full")
		st := &bucketStore{created: map[string]bool{}, fail: boom}
		if err := svc.CreateBucket(ctx, b.DomainID, "shared-name", st); !errors.Is(err, boom) {
			t.Fatalf("CreateBucket with a failing store = %v, want the store's error", err)
		}
		st.fail = nil
		if err := svc.CreateBucket(ctx, a.DomainID, "shared-name", st); err != nil {
			t.Fatalf("another account creating the name a failed creation tried: %v", err)
		}
		if owner, err := svc.BucketOwner(ctx, "shared-name"); err != nil || owner != a.DomainID {
			t.Errorf("owner of shared-name = %q, %v; want %s", owner, err, a.DomainID)
		}
		if err := svc.CreateBucket(ctx, b.DomainID, "shared-name", st); iam.KindOf(err) != iam.KindForbidden {
			t.Errorf("another account creating a bucket that exists: %v, want forbidden", err)
		}
	})
}
