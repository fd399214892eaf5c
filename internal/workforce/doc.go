// Package workforce owns labeling teams (workforces) and their members
// (workers): their rows, the rules of the reference (names, roles, one team
// administrator per team, at most 10 teams per account and 100 members per
// team) and the labeling identity each member gets in the account: the IAM
// user it logs in as, and the Atelier-managed grant of its role, changed in
// the same transaction as the member's row through Identities.
//
// Team labeling tasks, review and acceptance (issue 11, items 2–6) will
// attach here: they reference workforces and workers by ID and read a
// member's role from this package. It knows nothing of HTTP.
package workforce
