package server_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/server"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
)

// TestBusyServerRefusesWithRetryAfter: when a request's reads wait longer
// than the read wait (every read slot taken, as under overload), it is
// answered at once with 429, Retry-After and ModelArts.6101 (the
// reference's status for a server past its capacity) instead of waiting
// on; once the database frees up, the same request succeeds.
func TestBusyServerRefusesWithRetryAfter(t *testing.T) {
	t.Parallel()
	const wait = 100 * time.Millisecond
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite, Tuning: &server.Tuning{ReadWait: wait}})
	token := env.AdminToken(t)
	path := "/v2/" + env.Account.ProjectID + "/datasets"
	if resp, body := env.Do(t, http.MethodGet, path, nil, map[string]string{"X-Auth-Token": token}); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s before the database is busy: %d %s", path, resp.StatusCode, body)
	}

	// Take every read slot, as a burst of slow reads would.
	ctx := context.Background()
	var held []*sql.Rows
	defer func() {
		for _, r := range held {
			r.Close()
		}
	}()
	for {
		rows, err := env.App.DB.QueryContext(store.WithReadWait(ctx, 10*time.Millisecond), `SELECT 1`)
		if errors.Is(err, store.ErrBusy) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, rows)
		if len(held) > 100 {
			t.Fatal("took 100 read slots without being refused: the read gate is not bounded")
		}
	}
	start := time.Now()
	resp, body := env.Do(t, http.MethodGet, path, nil, map[string]string{"X-Auth-Token": token})
	took := time.Since(start)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("GET %s with the database busy: %d (Retry-After %q) %s; want 429 with Retry-After",
			path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if e := servertest.DecodeError(t, body); e.ErrorCode != "ModelArts.6101" {
		t.Errorf("busy answer's error_code %q, want ModelArts.6101", e.ErrorCode)
	}
	if took > wait+time.Second {
		t.Errorf("the busy answer took %v, want about the read wait %v", took, wait)
	}
	for _, r := range held {
		r.Close()
	}
	held = nil
	if resp, body := env.Do(t, http.MethodGet, path, nil, map[string]string{"X-Auth-Token": token}); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s after the database freed up: %d %s", path, resp.StatusCode, body)
	}
}
