package s3store

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/atelier-dev/atelier/internal/obs"
)

// sentinels maps S3 error codes to the obs errors they mean.
var sentinels = map[string]error{
	"NoSuchKey":               obs.ErrNotFound,
	"NoSuchBucket":            obs.ErrBucketNotFound,
	"BucketNotEmpty":          obs.ErrBucketNotEmpty,
	"BucketAlreadyOwnedByYou": obs.ErrBucketExists,
	"InvalidRange":            obs.ErrInvalidRange,
	"InvalidBucketName":       obs.ErrInvalidBucket,
	"KeyTooLongError":         obs.ErrInvalidKey,
	// versitygw's POSIX backend keeps objects as files: "a" and "a/b"
	// cannot both exist there, and it refuses the second with 409 and
	// one of these codes, as the local store does with ErrKeyConflict.
	"ExistingObjectIsDirectory": obs.ErrKeyConflict,
	"ObjectParentIsFile":        obs.ErrKeyConflict,
}

// mapErr wraps an error from minio-go with the obs sentinel its S3 error
// code means, keeping the S3 error (code, message, request id) in the
// chain. Other errors, context errors among them, pass unchanged.
func mapErr(err error) error {
	var er minio.ErrorResponse
	if err == nil || !errors.As(err, &er) {
		return err
	}
	sentinel := sentinels[er.Code]
	if sentinel == nil && er.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		sentinel = obs.ErrInvalidRange
	}
	if sentinel == nil {
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}

// code returns the S3 error code of err, or "".
func code(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code
	}
	return ""
}
