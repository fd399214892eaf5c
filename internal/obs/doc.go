// Package obs owns object storage: the Store interface that datasets and
// training jobs read and write through, the parsing and validation of object
// locations ("obs://bucket/key"), the embedded store that keeps objects in a
// local directory, and the presigned GET URLs that Atelier serves for it.
//
// It knows nothing of datasets, manifests, IAM or API routing; the only HTTP
// it speaks is the presigned-URL handler. Implementations other than Local
// (package s3store, for Huawei OBS, MinIO and AWS S3) must pass the
// contract suite in package obstest.
//
// # Keys
//
// Keys are literal byte strings: no percent-decoding, no path cleaning. A
// key is what ValidateKey accepts; an object key additionally must not end
// in "/" (see ValidateKey). Directory markers (zero-byte objects named
// "dir/", created by some consoles) are therefore not objects here: an
// implementation hides them from List's Objects and refuses them in Put,
// Get, Head and Delete. Prefixes ("images/") are strings, not directories.
//
// # Errors
//
// Methods return the sentinel errors below wrapped with what was being done
// (test with errors.Is). Messages name buckets and keys, which the caller
// supplied, but the sentinels never carry filesystem paths; other errors
// (I/O, permissions) may, and must be reported to clients as internal
// errors without their text.
package obs
