package iam

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"
)

// Password setup links: a user Atelier created without a password (a
// labeling team's member, see LinkLabeler) gets, in its notification
// e-mail, a link that sets its first password once. The link's token is
// 256 random bits; only its SHA-256 is stored, and it expires.

// PasswordSetupTTL is how long a link works.
const PasswordSetupTTL = 7 * 24 * time.Hour

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// IssuePasswordSetup returns a new link token for a user of the account
// who has no password yet, or "" when the user has one (it signs in as it
// is).
func (s *Service) IssuePasswordSetup(ctx context.Context, domainID, userID string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	issued := false
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		u, err := userOf(ctx, tx, domainID, userID)
		if err != nil {
			return err
		}
		if u.passwordHash != "" || !u.Enabled {
			return nil
		}
		now := s.clock()
		if err := deleteExpiredPasswordSetups(ctx, tx, now.UnixMilli()); err != nil {
			return fmt.Errorf("drop expired password setups: %w", err)
		}
		if err := insertPasswordSetup(ctx, tx, tokenHash(token), userID, now.Add(PasswordSetupTTL).UnixMilli(), now.UnixMilli()); err != nil {
			return fmt.Errorf("store password setup: %w", err)
		}
		issued = true
		return nil
	})
	if err != nil || !issued {
		return "", wrap("issue a password setup link", err)
	}
	return token, nil
}

// RedeemPasswordSetup sets a user's first password with a link's token.
// The token must be known, unexpired and its user still without a
// password; every link of the user ends with it.
func (s *Service) RedeemPasswordSetup(ctx context.Context, token, password string) error {
	invalid := errorf(KindInvalid, "the password setup link is not valid: it was used, it expired, or it was never issued")
	if token == "" {
		return invalid
	}
	if err := validatePassword(password, ""); err != nil {
		return err
	}
	// Hash before the transaction: waiting for a hashing slot must not
	// hold the write lock.
	hash, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	return wrap("set a password with a setup link", s.write(ctx, func(tx *sql.Tx) error {
		userID, expires, err := passwordSetupOf(ctx, tx, tokenHash(token))
		if noRows(err) {
			return invalid
		}
		if err != nil {
			return err
		}
		if expires <= s.clock().UnixMilli() {
			return invalid
		}
		u, err := getUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		if u.passwordHash != "" || !u.Enabled {
			return invalid
		}
		if err := s.setPassword(u, password, hash); err != nil {
			return err
		}
		u.UpdatedAt = s.clock()
		if err := updateUserRow(ctx, tx, u); err != nil {
			return err
		}
		return deletePasswordSetups(ctx, tx, userID)
	}))
}
