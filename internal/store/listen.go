package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// RevisionsChannel is the PostgreSQL channel on which every bump of a row of
// the revisions table is announced, with the row's name as the payload (a
// trigger, migration 00015), when the bumping transaction commits.
const RevisionsChannel = "atelier_revisions"

// Listen calls changed with the payload of each notification on channel
// until ctx ends: how replicas sharing a PostgreSQL database learn at once
// that another one changed what they cache. It also calls changed with an
// empty payload after every (re)connection, since notifications sent while
// it was not listening are lost; a lost connection is re-established with
// backoff (100 ms doubling to 30 s). Callers keep polling as well, slowly:
// Listen narrows the window, the poll bounds it when the listener is down.
// On SQLite, which serves a single process, it returns at once.
func (db *DB) Listen(ctx context.Context, channel string, log *slog.Logger, changed func(payload string)) {
	if db.Engine != Postgres {
		return
	}
	const first, most = 100 * time.Millisecond, 30 * time.Second
	wait := first
	for {
		listening, err := db.listen(ctx, channel, changed)
		if ctx.Err() != nil {
			return
		}
		if listening {
			wait = first
		}
		log.Warn("listening for changes stopped; reconnecting (polling covers the gap)", "channel", channel, "retry_in", wait.String(), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, most)
	}
}

// listen holds one connection that LISTENs on channel; it reports whether it
// got as far as listening, and why it stopped.
func (db *DB) listen(ctx context.Context, channel string, changed func(string)) (listening bool, err error) {
	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return false, fmt.Errorf("listen on %s: %w", channel, err)
	}
	changed("")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		changed(n.Payload)
	}
}
