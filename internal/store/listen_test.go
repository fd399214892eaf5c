package store_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// TestListenRevisions: a revision bump is announced to a listener when its
// transaction commits (not when it rolls back), and a listener whose
// connection is cut reconnects, says so with an empty payload (what was sent
// meanwhile is lost), and hears the next bump. On SQLite Listen returns at
// once.
func TestListenRevisions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		heard := make(chan string, 16)
		done := make(chan struct{})
		go func() {
			defer close(done)
			db.Listen(ctx, store.RevisionsChannel, slog.New(slog.DiscardHandler), func(name string) { heard <- name })
		}()
		if db.Engine == store.SQLite {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Listen on SQLite did not return at once")
			}
			return
		}
		expect := func(want string, why string) {
			t.Helper()
			select {
			case got := <-heard:
				if got != want {
					t.Fatalf("%s: heard %q, want %q", why, got, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: heard nothing, want %q", why, want)
			}
		}
		bump := func(commit bool) {
			t.Helper()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE revisions SET value = value + 1 WHERE name = 'iam'`); err != nil {
				t.Fatal(err)
			}
			if commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		expect("", "after connecting")
		bump(false)
		bump(true)
		// A notification of our own after them: notifications arrive in
		// commit order, so had the rolled-back bump been announced, a
		// second "iam" would come before it.
		if _, err := db.ExecContext(ctx, `SELECT pg_notify($1, 'sentinel')`, store.RevisionsChannel); err != nil {
			t.Fatal(err)
		}
		expect("iam", "a committed bump after a rolled-back one")
		expect("sentinel", "the notification sent after the bumps")
		// Cut the listener's connection, as a restarted database or a
		// network fault would.
		if _, err := db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND query = $1`, `LISTEN "`+store.RevisionsChannel+`"`); err != nil {
			t.Fatal(err)
		}
		expect("", "after reconnecting")
		bump(true)
		expect("iam", "a bump after the reconnection")
		cancel()
		<-done
	})
}
