// Package store owns the metadata database: opening SQLite or PostgreSQL,
// running the embedded migrations (same numbers and names for both engines,
// engine-specific SQL), transactions, server-side ID generation, the
// classification of engine errors (unique and foreign-key violations) and
// records (a hot read's columns as one value on SQLite, record.go).
//
// Domain packages keep their own SQL in one file per concern and run it
// through DB; this package knows SQL engines, not business rules. Queries use
// $N placeholders, which both drivers accept.
package store
