package iam_test

import (
	"context"
	"errors"
	"testing"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/secrets"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// TestCredentialsSealed: secrets are stored sealed for their own row, the
// authentication path gets them opened, display paths get none, and a
// service with another key refuses the database.
func TestCredentialsSealed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		box, _, err := secrets.Generate()
		if err != nil {
			t.Fatal(err)
		}
		svc, err := iam.NewService(ctx, db, iam.NewCatalog(testActions), iam.Options{Secrets: box})
		if err != nil {
			t.Fatal(err)
		}
		acct, err := svc.CreateAccount(ctx, iam.AccountInput{DomainName: "acme", Region: "r-1"})
		if err != nil {
			t.Fatal(err)
		}
		created, err := svc.CreateCredential(ctx, acct.DomainID, acct.UserID, "second")
		if err != nil {
			t.Fatal(err)
		}
		for ak, sk := range map[string]string{acct.AccessKey: acct.SecretKey, created.AccessKey: created.Secret} {
			var stored string
			if err := db.QueryRowContext(ctx, `SELECT secret FROM credentials WHERE access_key = $1`, ak).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if got, err := box.Open("credentials/"+ak, stored); err != nil || string(got) != sk {
				t.Errorf("stored secret of %s = %q: opens to %q, %v; want the secret sealed for its row", ak, stored, got, err)
			}
			c, err := svc.AccessKey(ctx, ak)
			if err != nil || c.Secret != sk {
				t.Errorf("AccessKey(%s).Secret = %q, %v; want the opened secret", ak, c.Secret, err)
			}
			if c, err := svc.GetCredential(ctx, acct.DomainID, ak); err != nil || c.Secret != "" {
				t.Errorf("GetCredential(%s).Secret = %q, %v; want none", ak, c.Secret, err)
			}
		}
		list, err := svc.ListCredentials(ctx, acct.DomainID, "")
		if err != nil || len(list) != 2 {
			t.Fatalf("ListCredentials = %d, %v", len(list), err)
		}
		for _, c := range list {
			if c.Secret != "" {
				t.Errorf("ListCredentials returns a secret for %s", c.AccessKey)
			}
		}

		// Swapping two sealed values between rows is detected.
		var v1, v2 string
		db.QueryRowContext(ctx, `SELECT secret FROM credentials WHERE access_key = $1`, acct.AccessKey).Scan(&v1)
		db.QueryRowContext(ctx, `SELECT secret FROM credentials WHERE access_key = $1`, created.AccessKey).Scan(&v2)
		if _, err := db.ExecContext(ctx, `UPDATE credentials SET secret = $1 WHERE access_key = $2`, v2, acct.AccessKey); err != nil {
			t.Fatal(err)
		}
		if _, err := iam.NewService(ctx, db, iam.NewCatalog(testActions), iam.Options{Secrets: box}); !errors.Is(err, iam.ErrSecretsKey) {
			t.Errorf("start with a sealed secret moved to another row: %v; want ErrSecretsKey", err)
		}
		if _, err := db.ExecContext(ctx, `UPDATE credentials SET secret = $1 WHERE access_key = $2`, v1, acct.AccessKey); err != nil {
			t.Fatal(err)
		}

		other, _, _ := secrets.Generate()
		if _, err := iam.NewService(ctx, db, iam.NewCatalog(testActions), iam.Options{Secrets: other}); !errors.Is(err, iam.ErrSecretsKey) {
			t.Errorf("start with another key: %v; want ErrSecretsKey", err)
		}
	})
}

// BenchmarkAccessKeyCached is the request path's access-key lookup: the
// secret was opened when the credential entered the cache, not here.
func BenchmarkAccessKeyCached(b *testing.B) {
	ctx := context.Background()
	db := storetest.Open(b, store.SQLite)
	svc, err := iam.NewService(ctx, db, iam.NewCatalog(testActions), iam.Options{})
	if err != nil {
		b.Fatal(err)
	}
	acct, err := svc.CreateAccount(ctx, iam.AccountInput{DomainName: "acme", Region: "r-1"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.AccessKey(ctx, acct.AccessKey); err != nil {
			b.Fatal(err)
		}
	}
}
