package iam_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// A user without a password (a labeling member Atelier created) sets its
// first password with a setup link's token, once, before it expires; a
// user with a password gets no link.
func TestPasswordSetup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
		svc := newServiceWith(t, db, iam.Options{Now: clk.Now})
		a := newAccount(t, svc, "acme")
		var linked, second string
		err := svc.Write(ctx, func(tx *sql.Tx) error {
			var err error
			if linked, _, err = svc.LinkLabeler(ctx, tx, a.DomainID, "ann@example.com"); err != nil {
				return err
			}
			second, _, err = svc.LinkLabeler(ctx, tx, a.DomainID, "bob@example.com")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if tok, err := svc.IssuePasswordSetup(ctx, a.DomainID, a.UserID); err != nil || tok != "" {
			t.Errorf("a link for the administrator, who has a password: %q, %v", tok, err)
		}
		tok, err := svc.IssuePasswordSetup(ctx, a.DomainID, linked)
		if err != nil || len(tok) < 40 {
			t.Fatalf("issue a link: %q, %v", tok, err)
		}
		if _, err := svc.IssuePasswordSetup(ctx, "another-domain", linked); iam.KindOf(err) != iam.KindNotFound {
			t.Errorf("a link for another account's user: %v", err)
		}
		refusals := []struct {
			name, token, password string
		}{
			{"unknown-token", "not-a-token", "Ann-chose-this-1"},
			{"empty-token", "", "Ann-chose-this-1"},
			{"weak-password", tok, "short"},
		}
		for _, tc := range refusals {
			if err := svc.RedeemPasswordSetup(ctx, tc.token, tc.password); iam.KindOf(err) != iam.KindInvalid {
				t.Errorf("%s: %v, want an invalid-input refusal", tc.name, err)
			}
		}
		if err := svc.RedeemPasswordSetup(ctx, tok, "Ann-chose-this-1"); err != nil {
			t.Fatalf("redeem: %v", err)
		}
		if _, _, err := svc.Authenticate(ctx, "acme", "ann_example.com", "Ann-chose-this-1"); err != nil {
			t.Errorf("ann signs in with the password she set: %v", err)
		}
		if err := svc.RedeemPasswordSetup(ctx, tok, "Someone-else-2"); iam.KindOf(err) != iam.KindInvalid {
			t.Errorf("the link used again: %v", err)
		}
		// An unused link stops working after PasswordSetupTTL.
		late, err := svc.IssuePasswordSetup(ctx, a.DomainID, second)
		if err != nil || late == "" {
			t.Fatalf("issue bob's link: %q, %v", late, err)
		}
		clk.Advance(iam.PasswordSetupTTL + time.Second)
		if err := svc.RedeemPasswordSetup(ctx, late, "Bob-chose-this-1"); iam.KindOf(err) != iam.KindInvalid {
			t.Errorf("an expired link: %v", err)
		}
		if _, _, err := svc.Authenticate(ctx, "acme", "bob_example.com", "Bob-chose-this-1"); err == nil {
			t.Error("bob signs in with the password of an expired link")
		}
	})
}
