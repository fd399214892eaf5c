// Package policy owns the Huawei-IAM-compatible fine-grained policy language:
// its grammar, its validation (with IAM's limits and error codes), its
// compilation into a per-user decision structure, and the evaluation of one
// request against that structure.
//
// The package is pure: it performs no I/O, takes no context, keeps no clock of
// its own and imports nothing else of Atelier. Callers load policies and
// grants, call Parse to validate a policy document, Compile to turn one user's
// grants into a Set, cache that Set, and call Set.Decide for every question.
// Policies are validated when they are parsed, never at decision time, and
// Decide does not allocate.
package policy
