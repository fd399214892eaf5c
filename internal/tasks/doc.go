// Package tasks owns durable background tasks: the one mechanism for every
// long job (dataset import, export and sync now; team labeling, auto-labeling
// and data processing later). It records each task where the API can show it,
// runs it on one replica at a time, lets another replica take it over when
// that one dies, and resumes it from its last checkpoint. It knows nothing of
// what a task does (handlers registered per kind do) and nothing of HTTP; it
// reads no environment.
//
// # Two layers: River queues, the task record decides
//
// Jobs are queued and delivered by River (github.com/riverqueue/river), on
// the same database as the store and through the store's own database/sql
// handle: riversqlite on SQLite (modernc.org/sqlite, no cgo) and
// riverdatabasesql on PostgreSQL, which listens for River's notifications
// on a small pgx pool of its own (store.DB.QueueDriver picks and migrates
// the driver, so that no engine branch lives here). Both clients take a
// *sql.Tx, the store's transaction type. River gives durable queueing,
// fetching with row locks across replicas, retries, snoozes and remote
// cancellation. Every task is one River job of kind "atelier_task" whose
// arguments only name the task.
//
// The domain-visible record is ours, in the tasks and task_failures tables
// (store migration 00004): kind, project, resource, status, counters,
// error, params, result, cursor, times, and the per-item failure list (the
// first Config.MaxFailures kept, all counted). It is the source of truth;
// River's job is a wake-up that brings the task to some replica.
//
// River alone does not keep a long task on one replica: its rescuer re-runs
// any job that has been running longer than RescueStuckJobsAfter, alive or
// not, and it has no heartbeat. So a run first takes a lease on the task row
// (a fresh token and an expiry, compare-and-set) and renews it every
// Config.FlushInterval together with the progress writes; every write is
// fenced by the token. Lease expiries are computed and compared in SQL by
// the database's clock (store.DB.NowMillis), never by the replica's own:
// replicas' clocks differ, and one running minutes ahead would otherwise
// take live leases, or write expiries that keep a dead holder's lease for
// minutes. A job that finds a live lease held by someone else
// snoozes until it lapses. A replica that cannot renew within LeaseTTL, or
// whose token was replaced, cancels its handler and writes nothing more.
// Each Manager also sweeps (Config.SweepInterval) for active tasks whose lease
// has lapsed and whose River job is gone, final or stuck running on a dead
// client, and queues a new job for them (compare-and-set on the task's job
// id, so one replica wins); a job that is no longer its task's job ends at
// once. Takeover after a crash therefore takes about LeaseTTL plus
// SweepInterval, independent of River's rescue interval.
//
// # Progress and resume
//
// A handler reports through Progress. Counts and failures are held in memory
// and written in batches with the lease renewal. Checkpoint(cursor) records
// the cursor together with the counters as of that call; a resumed run resets
// the counters to the checkpoint's and deletes failures reported after it,
// then gets the cursor as Task.Cursor, so work redone after a crash is never
// counted twice. CheckpointTx writes the checkpoint inside the handler's own
// transaction, so imported rows and the checkpoint covering them commit
// together (and not at all if the lease was lost meanwhile). It leaves the
// checkpoint in memory where it was: the next write of the Manager's own
// reads the stored checkpoint back and adopts it when it is newer, so a
// transaction that rolls back (a cancelled batch, say) moves nothing, and a
// handler may let cancellation interrupt its transactions.
//
// # Enqueue, cancel, stop
//
// Enqueue inserts the task row and its River job in one transaction, the
// caller's when given, with River's own InsertTx on that *sql.Tx on both
// engines (the sweeper re-queues the same way). River then owns what a job
// row needs (state, scheduling, its insert notification) across its
// upgrades; before riverdatabasesql had a release matching riversqlite,
// PostgreSQL jobs were written into river_job by hand.
//
// Cancel marks the task CANCELLED and asks River to cancel the job; the
// running handler's context is cancelled by River's signal or by the next
// heartbeat, and the task stays CANCELLED. A handler error ends the task
// FAILED with the message (River sees success: retrying is the handler's
// choice, not the queue's). Stop cancels running handlers, writes their
// progress and gives their leases back without counting a failed run, and
// River queues the jobs again.
//
// # River's schema
//
// New runs River's own migrator (rivermigrate) for the engine; it applies
// only what is missing, so every start may call it. On PostgreSQL it runs
// under a session advisory lock, so replicas starting together do not race;
// on SQLite (one replica) a failed attempt is retried once. River's
// migrations stay River's (versioned in its river_migration table) rather
// than copied into our goose sequence, so upgrading River upgrades its
// schema without hand-copied SQL.
package tasks
