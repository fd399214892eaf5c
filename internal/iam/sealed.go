package iam

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/atelier-dev/atelier/internal/secrets"
	"github.com/atelier-dev/atelier/internal/store"
)

// Access-key secrets and server secrets are stored sealed (see package
// secrets) with the row's identity as additional data, so a database dump
// without the key-encryption key yields nothing usable and a sealed value
// moved to another row does not open there. They are opened once, when a
// credential is loaded into the cache or a server secret is read at start.

func credentialAAD(ak string) string     { return "credentials/" + ak }
func serverSecretAAD(name string) string { return "server_secrets/" + name }

// ErrSecretsKey reports a database whose sealed secrets do not open with the
// key-encryption key the server was given: starting would lose them.
var ErrSecretsKey = errors.New("the database's secrets were sealed with another key-encryption key")

// insertSealed stores a new credential with its secret sealed; c keeps the
// plaintext, which the caller returns once.
func (s *Service) insertSealed(ctx context.Context, q querier, c *Credential) error {
	sealed := *c
	sealed.Secret = s.secrets.Seal(credentialAAD(c.AccessKey), []byte(c.Secret))
	return insertCredential(ctx, q, &sealed)
}

// loadCredential reads a credential with its secret opened, for the cache
// that request authentication reads.
func (s *Service) loadCredential(ctx context.Context, ak string) (*Credential, error) {
	c, err := getCredential(ctx, s.db, ak)
	if err != nil {
		return nil, err
	}
	sk, err := s.secrets.Open(credentialAAD(ak), c.Secret)
	if err != nil {
		return nil, fmt.Errorf("open the secret of access key %s: %w", ak, err)
	}
	c.Secret = string(sk)
	return c, nil
}

// HasSealedSecrets reports whether any secret in db is sealed, that is
// whether some key-encryption key must already exist for this database. A
// server that finds its key file missing checks this before making a new one.
func HasSealedSecrets(ctx context.Context, db *store.DB) (bool, error) {
	rows, err := storedSecrets(ctx, db)
	if err != nil {
		return false, fmt.Errorf("look for sealed secrets: %w", err)
	}
	for _, r := range rows {
		if secrets.Sealed(r.value) {
			return true, nil
		}
	}
	return false, nil
}

func (r storedSecret) aad() string {
	if r.table == "credentials" {
		return credentialAAD(r.key)
	}
	return serverSecretAAD(r.key)
}

// sealAtRest runs at start: it checks that every sealed secret opens with
// this server's key-encryption key (refusing to start otherwise, since
// running on would issue secrets no other replica can read and leave the
// old ones unusable) and seals, in one transaction, the secrets that an
// older version stored in clear. With previous (a rotation), what only the
// previous key opens is re-sealed with the current one in the same
// transaction. Running it again changes nothing.
func (s *Service) sealAtRest(ctx context.Context, previous *secrets.Box) error {
	sealed := 0
	err := s.db.InScrubbingTx(ctx, func(tx *sql.Tx) error {
		rows, err := storedSecrets(ctx, tx)
		if err != nil {
			return err
		}
		for _, r := range rows {
			plain := []byte(r.value)
			if secrets.Sealed(r.value) {
				_, err := s.secrets.Open(r.aad(), r.value)
				if err == nil {
					continue
				}
				if previous == nil {
					return fmt.Errorf("%w (key id %s): the secret of %s %s %v", ErrSecretsKey, s.secrets.ID(), r.table, r.key, err)
				}
				if plain, err = previous.Open(r.aad(), r.value); err != nil {
					return fmt.Errorf("%w (neither key id %s nor the previous key id %s): the secret of %s %s %v",
						ErrSecretsKey, s.secrets.ID(), previous.ID(), r.table, r.key, err)
				}
			}
			v := s.secrets.Seal(r.aad(), plain)
			if err := replaceSecret(ctx, tx, r, v); err != nil {
				return fmt.Errorf("seal the secret of %s %s: %w", r.table, r.key, err)
			}
			sealed++
		}
		if sealed == 0 {
			return nil
		}
		return bumpRevision(ctx, tx)
	})
	if err != nil {
		return err
	}
	if sealed > 0 {
		s.log.Info("sealed secrets stored in clear or with the previous key-encryption key", "count", sealed, "kek_id", s.secrets.ID())
		s.scrubWAL(ctx)
	}
	return nil
}

// scrubWAL lets the pages that held secrets in clear leave SQLite's
// write-ahead log too. Failing only leaves them there until the next
// checkpoint: a warning.
func (s *Service) scrubWAL(ctx context.Context) {
	if err := s.db.ScrubWAL(ctx); err != nil {
		s.log.Warn("scrub the write-ahead log after sealing secrets", "err", err)
	}
}
