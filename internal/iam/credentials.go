package iam

import (
	"context"
	"database/sql"
	"fmt"
)

const (
	akAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	skAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// CreateCredential issues a permanent AK/SK pair to a user of the domain.
// The secret is returned once, here; later reads show only the AK.
func (s *Service) CreateCredential(ctx context.Context, domainID, userID, description string) (*Credential, error) {
	if err := validateDescription("description", description, 255); err != nil {
		return nil, err
	}
	ak, sk, err := newKeyPair()
	if err != nil {
		return nil, err
	}
	c := &Credential{AccessKey: ak, Secret: sk, UserID: userID, DomainID: domainID, Status: "active", Description: description, CreatedAt: s.clock()}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := userOf(ctx, tx, domainID, userID); err != nil {
			return err
		}
		// Count under the transaction's write lock so two concurrent
		// requests cannot both pass the limit.
		n, err := countCredentialsLocked(ctx, s.db, tx, userID)
		if err != nil {
			return err
		}
		if n >= MaxCredentialsPerUser {
			return &Error{Kind: KindLimit, Code: "IAM.0080", Msg: fmt.Sprintf("the user already has the maximum of %d access keys", MaxCredentialsPerUser)}
		}
		return s.insertSealed(ctx, tx, c)
	})
	if err != nil {
		return nil, wrap("create access key", err)
	}
	return c, nil
}

// newKeyPair generates an access key (20 upper-case letters and digits, as
// Huawei's) and its 40-character secret.
func newKeyPair() (ak, sk string, err error) {
	if ak, err = randomString(akAlphabet, 20); err != nil {
		return "", "", err
	}
	if sk, err = randomString(skAlphabet, 40); err != nil {
		return "", "", err
	}
	return ak, sk, nil
}

// GetCredential returns one of the domain's access keys.
func (s *Service) GetCredential(ctx context.Context, domainID, ak string) (*Credential, error) {
	c, err := credentialOf(ctx, s.db, domainID, ak)
	if err != nil {
		return nil, wrap("get access key", err)
	}
	return withoutSecret(c), nil
}

// withoutSecret drops the stored (sealed) secret from a credential read for
// display: only authentication needs the secret, and it opens its own.
func withoutSecret(c *Credential) *Credential {
	c.Secret = ""
	return c
}

// ListCredentials lists the domain's access keys, or one user's.
func (s *Service) ListCredentials(ctx context.Context, domainID, userID string) ([]*Credential, error) {
	cs, err := listCredentials(ctx, s.db, domainID, userID)
	for _, c := range cs {
		withoutSecret(c)
	}
	return cs, wrap("list access keys", err)
}

// UpdateCredential activates or deactivates a key or changes its description.
func (s *Service) UpdateCredential(ctx context.Context, domainID, ak string, status, description *string) (*Credential, error) {
	var out *Credential
	err := s.write(ctx, func(tx *sql.Tx) error {
		c, err := credentialOf(ctx, tx, domainID, ak)
		if err != nil {
			return err
		}
		if status != nil {
			if *status != "active" && *status != "inactive" {
				return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "status must be active or inactive"}
			}
			c.Status = *status
		}
		if description != nil {
			if err := validateDescription("description", *description, 255); err != nil {
				return err
			}
			c.Description = *description
		}
		out = withoutSecret(c)
		return updateCredentialRow(ctx, tx, c)
	})
	return out, wrap("update access key", err)
}

// DeleteCredential removes an access key; requests signed with it stop verifying.
func (s *Service) DeleteCredential(ctx context.Context, domainID, ak string) error {
	return wrap("delete access key", s.write(ctx, func(tx *sql.Tx) error {
		if _, err := credentialOf(ctx, tx, domainID, ak); err != nil {
			return err
		}
		return deleteCredential(ctx, tx, ak)
	}))
}

// StoreSecret returns a named server secret, generating it on first use.
// It is stored sealed; the first replica to store it wins.
func (s *Service) StoreSecret(ctx context.Context, name string, gen func() (string, error)) (string, error) {
	aad := serverSecretAAD(name)
	stored, err := secret(ctx, s.db, name, func() (string, error) {
		v, err := gen()
		if err != nil {
			return "", err
		}
		return s.secrets.Seal(aad, []byte(v)), nil
	})
	if err != nil {
		return "", wrap("load server secret "+name, err)
	}
	v, err := s.secrets.Open(aad, stored)
	if err != nil {
		return "", fmt.Errorf("open server secret %s: %w", name, err)
	}
	return string(v), nil
}
