package iam

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/atelier-dev/atelier/internal/obs"
)

// Buckets belong to accounts, as in Huawei OBS: another account's OBS
// grants never reach them. A bucket created through Atelier belongs to the
// account that created it; a bucket made outside Atelier (a folder dropped
// into DATA_DIR/obs, a bucket created on the S3 service directly) belongs to
// the first account, the installation's operator.

// SystemBucketPrefix marks buckets Atelier keeps for itself (e.g. the logs
// of training jobs without a log path): no account owns them, so no grant
// reaches them and no account can claim the name; Atelier hands their
// objects out only through presigned URLs.
const SystemBucketPrefix = "atelier-system-"

// BucketOwner returns the ID of the account that owns a bucket, or "" for a
// system bucket, which no account owns.
func (s *Service) BucketOwner(ctx context.Context, bucket string) (string, error) {
	if strings.HasPrefix(bucket, SystemBucketPrefix) {
		return "", nil
	}
	return cached(s, func() map[string]string { return s.bucketOwners }, bucket, func() (string, error) {
		owner, err := bucketOwner(ctx, s.db, bucket)
		if noRows(err) {
			owner, err = firstDomainID(ctx, s.db)
		}
		if err != nil {
			return "", fmt.Errorf("look up the owner of bucket %s: %w", bucket, err)
		}
		return owner, nil
	})
}

// ClaimBucket records that an account owns a bucket it is creating. It is
// refused (KindForbidden) when the bucket already belongs to another
// account, explicitly or as a bucket made outside Atelier that the first
// account owns; exists tells whether the bucket is already in the store.
func (s *Service) ClaimBucket(ctx context.Context, domainID, bucket string, exists bool) error {
	if strings.HasPrefix(bucket, SystemBucketPrefix) {
		return &Error{Kind: KindForbidden, Code: "ModelArts.0108", Msg: fmt.Sprintf("bucket names starting with %q are reserved for Atelier", SystemBucketPrefix)}
	}
	return wrap("claim bucket", s.write(ctx, func(tx *sql.Tx) error {
		owner, err := bucketOwner(ctx, tx, bucket)
		switch {
		case err == nil && owner == domainID:
			return nil
		case err == nil:
			return &Error{Kind: KindForbidden, Code: "ModelArts.0108", Msg: fmt.Sprintf("bucket %q belongs to another account", bucket)}
		case !noRows(err):
			return err
		}
		if exists {
			first, err := firstDomainID(ctx, tx)
			if err != nil {
				return err
			}
			if first != domainID {
				return &Error{Kind: KindForbidden, Code: "ModelArts.0108", Msg: fmt.Sprintf("bucket %q belongs to another account", bucket)}
			}
		}
		return insertBucketOwner(ctx, tx, bucket, domainID, s.clock())
	}))
}

// BucketStore is the part of an object store that creating a bucket needs.
type BucketStore interface {
	HeadBucket(ctx context.Context, bucket string) error
	CreateBucket(ctx context.Context, bucket string) error
}

// CreateBucket creates a bucket for an account as one unit: bucket names
// are one namespace for every account, so the name is claimed for the
// account first (refused when another account owns it), then created in
// the store; when the store cannot create it, the claim is given back, so
// that a failure leaves no name owned by an account without its bucket.
// The store's errors are returned wrapped (obs.ErrBucketExists and the
// like stay visible to errors.Is).
func (s *Service) CreateBucket(ctx context.Context, domainID, bucket string, store BucketStore) error {
	exists := store.HeadBucket(ctx, bucket) == nil
	if err := s.ClaimBucket(ctx, domainID, bucket, exists); err != nil {
		return err
	}
	err := store.CreateBucket(ctx, bucket)
	if err == nil {
		return nil
	}
	if !exists && !errors.Is(err, obs.ErrBucketExists) {
		if rerr := s.ReleaseBucket(context.WithoutCancel(ctx), domainID, bucket); rerr != nil {
			s.log.Error("give back the claim of a bucket that could not be created", "bucket", bucket, "err", rerr)
		}
	}
	return fmt.Errorf("create bucket %s: %w", bucket, err)
}

// ReleaseBucket forgets a claim whose bucket could not be created.
func (s *Service) ReleaseBucket(ctx context.Context, domainID, bucket string) error {
	return wrap("release bucket", s.write(ctx, func(tx *sql.Tx) error {
		return deleteBucketOwner(ctx, tx, bucket, domainID)
	}))
}
