package teamtask

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/atelier-dev/atelier/internal/store"
)

// This file is the room's repository: the SQL of the team labeling tables
// (migration 00011). Every statement names its task, and a task is only
// ever loaded with its project and dataset.

// querier is a transaction or the database.
type querier = store.Conn

type repo struct{ db *store.DB }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

const taskCols = `id, project_id, dataset_id, workspace_id, name, description, status, repetition, auto_sync_dataset,
	data_sync_type, sync_data, sync_auto_labeling, sample_conditions, agency, synced_seq, allocated, checking_id, create_time, update_time`

func scanTask(sc store.Scanner) (*Task, error) {
	var t Task
	var autoSync, syncData, syncAuto int
	var agency string
	if err := sc.Scan(&t.TaskID, &t.projectID, &t.DatasetID, &t.workspaceID, &t.TaskName, &t.Description, &t.Status, &t.Repetition,
		&autoSync, &t.DataSyncType, &syncData, &syncAuto, &t.SampleConditions, &agency, &t.syncedSeq, &t.allocated,
		&t.checkingID, &t.CreateTime, &t.UpdateTime); err != nil {
		return nil, err
	}
	t.AutoSyncDataset, t.SynchronizeData, t.SynchronizeAutoLabelingData = autoSync == 1, syncData == 1, syncAuto == 1
	t.WorkforcesConfig = &WorkforcesConfig{Agency: agency, Workforces: []WorkforceConfig{}}
	return &t, nil
}

func (rp *repo) insertTask(ctx context.Context, tx *sql.Tx, t *Task) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO team_tasks (`+taskCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)`,
		t.TaskID, t.projectID, t.DatasetID, t.workspaceID, t.TaskName, t.Description, t.Status, t.Repetition,
		b2i(t.AutoSyncDataset), t.DataSyncType, b2i(t.SynchronizeData), b2i(t.SynchronizeAutoLabelingData),
		t.SampleConditions, t.WorkforcesConfig.Agency, t.syncedSeq, t.allocated, t.checkingID, t.CreateTime, t.UpdateTime)
	if store.IsConflict(err) {
		return errTaskExists(t.TaskName)
	}
	return err
}

// task loads a task of the project's dataset; lock takes it for update.
func (rp *repo) task(ctx context.Context, q querier, projectID, datasetID, id string, lock bool) (*Task, error) {
	query := `SELECT ` + taskCols + ` FROM team_tasks WHERE id = $1 AND project_id = $2 AND dataset_id = $3`
	if lock {
		query += rp.db.ForUpdate()
	}
	t, err := scanTask(q.QueryRowContext(ctx, query, id, projectID, datasetID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errTaskNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("load team labeling task %s: %w", id, err)
	}
	return t, nil
}

// tasksOfDataset pages a dataset's tasks, newest first; ids restricts to
// those tasks (nil: all).
func (rp *repo) tasksOfDataset(ctx context.Context, projectID, datasetID string, ids []string, offset, limit int) (int, []*Task, error) {
	where := ` FROM team_tasks WHERE project_id = $1 AND dataset_id = $2`
	args := []any{projectID, datasetID}
	if ids != nil {
		if len(ids) == 0 {
			return 0, []*Task{}, nil
		}
		where += ` AND id IN (` + rp.params(&args, ids) + `)`
	}
	var total int
	if err := rp.db.QueryRowContext(ctx, `SELECT COUNT(*)`+where, args...).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("count team labeling tasks: %w", err)
	}
	args = append(args, limit, offset)
	out, err := store.QueryAll(ctx, rp.db, scanTask, `SELECT `+taskCols+where+
		fmt.Sprintf(` ORDER BY create_time DESC, id DESC LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return 0, nil, fmt.Errorf("list team labeling tasks: %w", err)
	}
	return total, out, nil
}

// tasksByID loads tasks of the project by ID (the caller's own tasks).
func (rp *repo) tasksByID(ctx context.Context, projectID string, ids []string) ([]*Task, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := []any{projectID}
	return store.QueryAll(ctx, rp.db, scanTask, `SELECT `+taskCols+` FROM team_tasks WHERE project_id = $1 AND id IN (`+rp.params(&args, ids)+`)`, args...)
}

// params appends values to args and returns their $n placeholders.
func (rp *repo) params(args *[]any, values []string) string {
	ph := make([]string, len(values))
	for i, v := range values {
		*args = append(*args, v)
		ph[i] = fmt.Sprintf("$%d", len(*args))
	}
	return strings.Join(ph, ",")
}

func (rp *repo) updateTask(ctx context.Context, tx *sql.Tx, t *Task) error {
	_, err := tx.ExecContext(ctx, `UPDATE team_tasks SET name = $1, description = $2, status = $3, synced_seq = $4,
		allocated = $5, checking_id = $6, agency = $7, update_time = $8 WHERE id = $9`,
		t.TaskName, t.Description, t.Status, t.syncedSeq, t.allocated, t.checkingID, t.WorkforcesConfig.Agency, t.UpdateTime, t.TaskID)
	if store.IsConflict(err) {
		return errTaskExists(t.TaskName)
	}
	return err
}

func (rp *repo) deleteTask(ctx context.Context, tx *sql.Tx, id string) error {
	// The children go first: SQLite enforces the cascade only with
	// foreign keys on, and a statement per table keeps it explicit.
	for _, table := range []string{"team_check_members WHERE check_id IN (SELECT id FROM team_checks WHERE task_id = $1)",
		"team_checks WHERE task_id = $1", "team_sample_events WHERE task_id = $1", "team_counts WHERE task_id = $1",
		"team_label_counts WHERE task_id = $1",
		"team_samples WHERE task_id = $1", "team_task_workers WHERE task_id = $1", "team_tasks WHERE id = $1"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table, id); err != nil {
			return fmt.Errorf("delete team labeling task %s: %w", id, err)
		}
	}
	return nil
}

// taskWorker is a member a task was given.
type taskWorker struct {
	WorkerID, WorkforceID, Email string
	EmailStatus                  int
	LastNotify, CreateTime       int64
}

func scanTaskWorker(sc store.Scanner) (taskWorker, error) {
	var w taskWorker
	err := sc.Scan(&w.WorkerID, &w.WorkforceID, &w.Email, &w.EmailStatus, &w.LastNotify, &w.CreateTime)
	return w, err
}

func (rp *repo) taskWorkers(ctx context.Context, q querier, taskID string) ([]taskWorker, error) {
	out, err := store.QueryAll(ctx, q, scanTaskWorker, `SELECT worker_id, workforce_id, email, email_status, last_notify_time, create_time
		FROM team_task_workers WHERE task_id = $1 ORDER BY create_time, worker_id`, taskID)
	if err != nil {
		return nil, fmt.Errorf("load members of task %s: %w", taskID, err)
	}
	return out, nil
}

// tasksOfWorkers lists the task IDs that gave work to any of the members.
func (rp *repo) tasksOfWorkers(ctx context.Context, workerIDs []string) ([]string, error) {
	return rp.tasksWhereIn(ctx, "worker_id", workerIDs)
}

// tasksOfWorkforces lists the task IDs that gave work to any member of the
// teams.
func (rp *repo) tasksOfWorkforces(ctx context.Context, workforceIDs []string) ([]string, error) {
	return rp.tasksWhereIn(ctx, "workforce_id", workforceIDs)
}

// tasksWhereIn lists the task IDs whose members' column (worker_id or
// workforce_id, never input) is one of ids.
func (rp *repo) tasksWhereIn(ctx context.Context, column string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var args []any
	return store.QueryAll(ctx, rp.db, func(sc store.Scanner) (string, error) {
		var id string
		err := sc.Scan(&id)
		return id, err
	}, `SELECT DISTINCT task_id FROM team_task_workers WHERE `+column+` IN (`+rp.params(&args, ids)+`)`, args...)
}

// workforcesOfTask lists the teams a task of the project gives work to.
func (rp *repo) workforcesOfTask(ctx context.Context, projectID, taskID string) ([]string, error) {
	return store.QueryAll(ctx, rp.db, func(sc store.Scanner) (string, error) {
		var id string
		err := sc.Scan(&id)
		return id, err
	}, `SELECT DISTINCT w.workforce_id FROM team_task_workers w JOIN team_tasks t ON t.id = w.task_id
		WHERE t.project_id = $1 AND t.id = $2 ORDER BY w.workforce_id`, projectID, taskID)
}

func (rp *repo) replaceTaskWorkers(ctx context.Context, tx *sql.Tx, taskID string, ws []taskWorker) error {
	old, err := rp.taskWorkers(ctx, tx, taskID)
	if err != nil {
		return err
	}
	kept := map[string]taskWorker{}
	for _, w := range old {
		kept[w.WorkerID] = w
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM team_task_workers WHERE task_id = $1`, taskID); err != nil {
		return fmt.Errorf("replace members of task %s: %w", taskID, err)
	}
	for _, w := range ws {
		if o, ok := kept[w.WorkerID]; ok { // a member kept keeps its notification record
			w.EmailStatus, w.LastNotify, w.CreateTime = o.EmailStatus, o.LastNotify, o.CreateTime
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO team_task_workers (task_id, worker_id, workforce_id, email, email_status, last_notify_time, create_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, taskID, w.WorkerID, w.WorkforceID, w.Email, w.EmailStatus, w.LastNotify, w.CreateTime); err != nil {
			return fmt.Errorf("add member to task %s: %w", taskID, err)
		}
	}
	return nil
}

func (rp *repo) setNotified(ctx context.Context, taskID, workerID string, status int, at int64) error {
	_, err := rp.db.ExecContext(ctx, `UPDATE team_task_workers SET email_status = $1, last_notify_time = $2 WHERE task_id = $3 AND worker_id = $4`,
		status, at, taskID, workerID)
	return err
}

// --- allocations

// alloc is one allocation row.
type alloc struct {
	Seq                         int64
	WorkerID, SampleID          string
	State                       int
	Labels                      string
	ReviewAccept                *bool
	ReviewComment, ReviewScore  string
	ReviewerID, CheckID         string
	CheckAccept                 *bool
	CheckComment, CheckScore    string
	Agree, Compared, UpdateTime int64
}

const allocCols = `sample_seq, worker_id, sample_id, state, labels, review_accept, review_comment, review_score, reviewer_id,
	check_id, check_accept, check_comment, check_score, agree, compared, update_time`

func scanAlloc(sc store.Scanner) (*alloc, error) {
	var a alloc
	var review, check sql.NullInt64
	if err := sc.Scan(&a.Seq, &a.WorkerID, &a.SampleID, &a.State, &a.Labels, &review, &a.ReviewComment, &a.ReviewScore, &a.ReviewerID,
		&a.CheckID, &check, &a.CheckComment, &a.CheckScore, &a.Agree, &a.Compared, &a.UpdateTime); err != nil {
		return nil, err
	}
	if review.Valid {
		v := review.Int64 == 1
		a.ReviewAccept = &v
	}
	if check.Valid {
		v := check.Int64 == 1
		a.CheckAccept = &v
	}
	return &a, nil
}

func nullBool(b *bool) any {
	if b == nil {
		return nil
	}
	return b2i(*b)
}

// insertAllocs inserts new unlabeled allocations, 400 to a statement.
// Placeholders come from Param, every argument in order: SQLite looks each
// $n up in a list when parsing and binding, which made a statement of
// 1,200 of them cost more to prepare than to run (a third of creating a
// 100,000-sample task).
func (rp *repo) insertAllocs(ctx context.Context, tx *sql.Tx, taskID string, rows []alloc, now int64) error {
	const per = 400
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		var b strings.Builder
		b.WriteString(`INSERT INTO team_samples (task_id, sample_seq, worker_id, sample_id, state, update_time) VALUES `)
		args := make([]any, 0, len(chunk)*5)
		for i, a := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			n := len(args)
			fmt.Fprintf(&b, "(%s,%s,%s,%s,0,%s)", rp.db.Param(n+1), rp.db.Param(n+2), rp.db.Param(n+3), rp.db.Param(n+4), rp.db.Param(n+5))
			args = append(args, taskID, a.Seq, a.WorkerID, a.SampleID, now)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("allocate samples of task %s: %w", taskID, err)
		}
	}
	return nil
}

// allocsOfSamples loads every allocation of the samples (all labelers').
func (rp *repo) allocsOfSamples(ctx context.Context, q querier, taskID string, seqs []int64) ([]*alloc, error) {
	var out []*alloc
	for start := 0; start < len(seqs); start += 500 {
		chunk := seqs[start:min(start+500, len(seqs))]
		args := []any{taskID}
		ph := make([]string, len(chunk))
		for i, s := range chunk {
			args = append(args, s)
			ph[i] = fmt.Sprintf("$%d", len(args))
		}
		rows, err := store.QueryAll(ctx, q, scanAlloc, `SELECT `+allocCols+` FROM team_samples WHERE task_id = $1 AND sample_seq IN (`+
			strings.Join(ph, ",")+`) ORDER BY sample_seq, worker_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("load allocations of task %s: %w", taskID, err)
		}
		out = append(out, rows...)
	}
	return out, nil
}

// allocsOfIDs loads the allocations of samples named by ID. The IDs go
// to seqs through the covering index team_samples_id in a subquery: with
// sample_id IN (…) on the table itself, SQLite walked the whole task in
// primary key order to spare a sort (47 ms of a 50-sample label update
// over 100,000 allocations).
func (rp *repo) allocsOfIDs(ctx context.Context, q querier, taskID string, ids []string) ([]*alloc, error) {
	var out []*alloc
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := []any{taskID}
		rows, err := store.QueryAll(ctx, q, scanAlloc, `SELECT `+allocCols+` FROM team_samples WHERE task_id = $1 AND sample_seq IN (
			SELECT sample_seq FROM team_samples WHERE task_id = $1 AND sample_id IN (`+rp.params(&args, chunk)+`)) ORDER BY sample_seq, worker_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("load allocations of task %s: %w", taskID, err)
		}
		out = append(out, rows...)
	}
	return out, nil
}

func (rp *repo) saveAlloc(ctx context.Context, tx *sql.Tx, taskID string, a *alloc) error {
	_, err := tx.ExecContext(ctx, `UPDATE team_samples SET state = $1, labels = $2, review_accept = $3, review_comment = $4,
		review_score = $5, reviewer_id = $6, check_id = $7, check_accept = $8, check_comment = $9, check_score = $10,
		agree = $11, compared = $12, update_time = $13 WHERE task_id = $14 AND sample_seq = $15 AND worker_id = $16`,
		a.State, a.Labels, nullBool(a.ReviewAccept), a.ReviewComment, a.ReviewScore, a.ReviewerID, a.CheckID, nullBool(a.CheckAccept),
		a.CheckComment, a.CheckScore, a.Agree, a.Compared, a.UpdateTime, taskID, a.Seq, a.WorkerID)
	if err != nil {
		return fmt.Errorf("save allocation of sample %s: %w", a.SampleID, err)
	}
	return nil
}

func (rp *repo) moveAlloc(ctx context.Context, tx *sql.Tx, taskID string, seq int64, from, to string) error {
	_, err := tx.ExecContext(ctx, `UPDATE team_samples SET worker_id = $1 WHERE task_id = $2 AND sample_seq = $3 AND worker_id = $4`, to, taskID, seq, from)
	return err
}

// allocFilter is the WHERE of a page of allocations.
type allocFilter struct {
	where string
	args  []any
	// member is set when the filter keeps one member's allocations only
	member string
}

func (rp *repo) pageAllocs(ctx context.Context, taskID string, f allocFilter, offset, limit int) ([]*alloc, error) {
	if f.member != "" {
		return rp.memberPage(ctx, taskID, f, offset, limit)
	}
	args := append([]any{taskID}, f.args...)
	args = append(args, limit, offset)
	out, err := store.QueryAll(ctx, rp.db, scanAlloc, `SELECT `+allocCols+` FROM team_samples WHERE task_id = $1`+f.where+
		fmt.Sprintf(` ORDER BY sample_seq, worker_id LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("page samples of task %s: %w", taskID, err)
	}
	return out, nil
}

// memberPage is pageAllocs for one member's allocations. Asked for whole
// rows in seq order, SQLite walks the task's primary key in that order
// and filters the member out of every allocation of the task (13 ms a
// page over 100,000); so the page's keys come first from the member index
// alone (+sample_seq keeps the planner from ordering by the primary key;
// the member's allocations are sorted instead, a few thousand at most),
// then its rows by primary key.
func (rp *repo) memberPage(ctx context.Context, taskID string, f allocFilter, offset, limit int) ([]*alloc, error) {
	args := append([]any{taskID}, f.args...)
	args = append(args, limit, offset)
	seqs, err := store.QueryAll(ctx, rp.db, func(sc store.Scanner) (int64, error) {
		var seq int64
		err := sc.Scan(&seq)
		return seq, err
	}, `SELECT sample_seq FROM team_samples WHERE task_id = $1`+f.where+
		fmt.Sprintf(` ORDER BY +sample_seq LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("page samples of task %s: %w", taskID, err)
	}
	if len(seqs) == 0 {
		return []*alloc{}, nil
	}
	args = []any{taskID, f.member}
	ph := make([]string, len(seqs))
	for i, seq := range seqs {
		args = append(args, seq)
		ph[i] = fmt.Sprintf("$%d", len(args))
	}
	out, err := store.QueryAll(ctx, rp.db, scanAlloc, `SELECT `+allocCols+` FROM team_samples WHERE task_id = $1 AND worker_id = $2
		AND sample_seq IN (`+strings.Join(ph, ",")+`) ORDER BY sample_seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("page samples of task %s: %w", taskID, err)
	}
	return out, nil
}

// countAllocs counts a task's allocations matching the filter; q is the
// transaction when the count must see the transaction's own changes.
func (rp *repo) countAllocs(ctx context.Context, q querier, taskID string, f allocFilter) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM team_samples WHERE task_id = $1`+f.where, append([]any{taskID}, f.args...)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count samples of task %s: %w", taskID, err)
	}
	return n, nil
}

// allocSeqs lists the (seq, worker) keys of a task's allocations matching
// the filter, in seq order: what an acceptance round samples from and
// what a closing action moves.
func (rp *repo) allocKeys(ctx context.Context, q querier, taskID string, f allocFilter) ([]*alloc, error) {
	return store.QueryAll(ctx, q, func(sc store.Scanner) (*alloc, error) {
		var a alloc
		err := sc.Scan(&a.Seq, &a.WorkerID, &a.SampleID, &a.State)
		return &a, err
	}, `SELECT sample_seq, worker_id, sample_id, state FROM team_samples WHERE task_id = $1`+f.where+` ORDER BY sample_seq, worker_id`,
		append([]any{taskID}, f.args...)...)
}

// allocsWhere loads the full allocations matching a filter, in seq order.
func (rp *repo) allocsWhere(ctx context.Context, q querier, taskID string, f allocFilter) ([]*alloc, error) {
	out, err := store.QueryAll(ctx, q, scanAlloc, `SELECT `+allocCols+` FROM team_samples WHERE task_id = $1`+f.where+
		` ORDER BY sample_seq, worker_id`, append([]any{taskID}, f.args...)...)
	if err != nil {
		return nil, fmt.Errorf("load allocations of task %s: %w", taskID, err)
	}
	return out, nil
}

// setStates moves allocations to a state, 400 to a statement.
func (rp *repo) setStates(ctx context.Context, tx *sql.Tx, taskID string, list []*alloc, state int, now int64) error {
	for start := 0; start < len(list); start += 400 {
		chunk := list[start:min(start+400, len(list))]
		args := []any{state, now, taskID}
		conds := make([]string, len(chunk))
		for i, a := range chunk {
			args = append(args, a.Seq, a.WorkerID)
			conds[i] = fmt.Sprintf("(sample_seq = $%d AND worker_id = $%d)", len(args)-1, len(args))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE team_samples SET state = $1, update_time = $2 WHERE task_id = $3 AND (`+
			strings.Join(conds, " OR ")+`)`, args...); err != nil {
			return fmt.Errorf("move allocations of task %s: %w", taskID, err)
		}
	}
	return nil
}

// --- counters

// countKey is one counter: a member's allocations in a state, or (state
// agreeState) its agreement tally.
type countKey struct {
	WorkerID string
	State    int
}

const agreeState = -1

type counts map[countKey][2]int64

func (c counts) add(worker string, state int, n, n2 int64) {
	k := countKey{worker, state}
	v := c[k]
	v[0] += n
	v[1] += n2
	c[k] = v
}

func (rp *repo) applyCounts(ctx context.Context, tx *sql.Tx, taskID string, c counts) error {
	for k, v := range c {
		if v[0] == 0 && v[1] == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO team_counts (task_id, worker_id, state, n, n2) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (task_id, worker_id, state) DO UPDATE SET n = team_counts.n + excluded.n, n2 = team_counts.n2 + excluded.n2`,
			taskID, k.WorkerID, k.State, v[0], v[1]); err != nil {
			return fmt.Errorf("count allocations of task %s: %w", taskID, err)
		}
	}
	return nil
}

func (rp *repo) counts(ctx context.Context, q querier, taskID string) (counts, error) {
	out := counts{}
	_, err := store.QueryAll(ctx, q, func(sc store.Scanner) (struct{}, error) {
		var k countKey
		var n, n2 int64
		if err := sc.Scan(&k.WorkerID, &k.State, &n, &n2); err != nil {
			return struct{}{}, err
		}
		out[k] = [2]int64{n, n2}
		return struct{}{}, nil
	}, `SELECT worker_id, state, n, n2 FROM team_counts WHERE task_id = $1`, taskID)
	if err != nil {
		return nil, fmt.Errorf("read counters of task %s: %w", taskID, err)
	}
	return out, nil
}

// labelCount is a label's occurrences and the allocations carrying it.
type labelCount struct{ N, Samples int64 }

func (rp *repo) addLabelCounts(ctx context.Context, tx *sql.Tx, taskID string, d map[string]labelCount) error {
	for name, v := range d {
		if v.N == 0 && v.Samples == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO team_label_counts (task_id, name, n, samples) VALUES ($1, $2, $3, $4)
			ON CONFLICT (task_id, name) DO UPDATE SET n = team_label_counts.n + excluded.n, samples = team_label_counts.samples + excluded.samples`,
			taskID, name, v.N, v.Samples); err != nil {
			return fmt.Errorf("count labels of task %s: %w", taskID, err)
		}
	}
	return nil
}

func (rp *repo) labelCounts(ctx context.Context, taskID string) (map[string]labelCount, error) {
	out := map[string]labelCount{}
	_, err := store.QueryAll(ctx, rp.db, func(sc store.Scanner) (struct{}, error) {
		var name string
		var v labelCount
		if err := sc.Scan(&name, &v.N, &v.Samples); err != nil {
			return struct{}{}, err
		}
		out[name] = v
		return struct{}{}, nil
	}, `SELECT name, n, samples FROM team_label_counts WHERE task_id = $1`, taskID)
	if err != nil {
		return nil, fmt.Errorf("read label counters of task %s: %w", taskID, err)
	}
	return out, nil
}

// --- history

func (rp *repo) insertEvents(ctx context.Context, tx *sql.Tx, taskID string, evs []eventRow) error {
	const per = 200
	for start := 0; start < len(evs); start += per {
		chunk := evs[start:min(start+per, len(evs))]
		var b strings.Builder
		b.WriteString(`INSERT INTO team_sample_events (id, task_id, sample_seq, worker_id, actor_id, actor_name, action,
			from_state, to_state, comment, score, at) VALUES `)
		args := []any{taskID}
		for i, e := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d,$1,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11)
			args = append(args, store.NewID(), e.Seq, e.WorkerID, e.ActorID, e.ActorName, e.Action, e.From, e.To, e.Comment, e.Score, e.At)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("record history of task %s: %w", taskID, err)
		}
	}
	return nil
}

type eventRow struct {
	Seq                                  int64
	WorkerID, ActorID, ActorName, Action string
	From, To                             int
	Comment, Score                       string
	At                                   int64
}

func (rp *repo) events(ctx context.Context, taskID string, seq int64, workers []string) ([]*Event, error) {
	args := []any{taskID, seq}
	where := ""
	if workers != nil {
		if len(workers) == 0 {
			return []*Event{}, nil
		}
		where = ` AND worker_id IN (` + rp.params(&args, workers) + `)`
	}
	return store.QueryAll(ctx, rp.db, func(sc store.Scanner) (*Event, error) {
		var e Event
		var from, to int
		if err := sc.Scan(&e.At, &e.Action, &e.ActorID, &e.ActorName, &e.WorkerID, &from, &to, &e.Comment, &e.Score); err != nil {
			return nil, err
		}
		e.From, e.To = stateNames[from], stateNames[to]
		return &e, nil
	}, `SELECT at, action, actor_id, actor_name, worker_id, from_state, to_state, comment, score FROM team_sample_events
		WHERE task_id = $1 AND sample_seq = $2`+where+` ORDER BY at, id`, args...)
}

// --- acceptance rounds

type checkRow struct {
	ID, TaskID                                            string
	Status, Action, SamplingNum                           int
	SamplingRate                                          float64
	Total, Sampled, Checked, Accepted, Rejected, ScoreSum int64
	CreateTime, UpdateTime                                int64
}

const checkCols = `id, task_id, status, action, sampling_num, sampling_rate, total, sampled, checked, accepted, rejected, score_total, create_time, update_time`

func scanCheck(sc store.Scanner) (*checkRow, error) {
	var c checkRow
	err := sc.Scan(&c.ID, &c.TaskID, &c.Status, &c.Action, &c.SamplingNum, &c.SamplingRate, &c.Total, &c.Sampled, &c.Checked,
		&c.Accepted, &c.Rejected, &c.ScoreSum, &c.CreateTime, &c.UpdateTime)
	return &c, err
}

func (rp *repo) insertCheck(ctx context.Context, tx *sql.Tx, c *checkRow) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO team_checks (`+checkCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`,
		c.ID, c.TaskID, c.Status, c.Action, c.SamplingNum, c.SamplingRate, c.Total, c.Sampled, c.Checked, c.Accepted, c.Rejected, c.ScoreSum,
		c.CreateTime, c.UpdateTime)
	return err
}

func (rp *repo) check(ctx context.Context, q querier, taskID, id string) (*checkRow, error) {
	c, err := scanCheck(q.QueryRowContext(ctx, `SELECT `+checkCols+` FROM team_checks WHERE task_id = $1 AND id = $2`, taskID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errCheckNotFound(id)
	}
	return c, err
}

func (rp *repo) checks(ctx context.Context, q querier, taskID string) ([]*checkRow, error) {
	return store.QueryAll(ctx, q, scanCheck, `SELECT `+checkCols+` FROM team_checks WHERE task_id = $1 ORDER BY create_time`, taskID)
}

func (rp *repo) saveCheck(ctx context.Context, tx *sql.Tx, c *checkRow) error {
	_, err := tx.ExecContext(ctx, `UPDATE team_checks SET status = $1, action = $2, checked = $3, accepted = $4, rejected = $5,
		score_total = $6, update_time = $7 WHERE id = $8`, c.Status, c.Action, c.Checked, c.Accepted, c.Rejected, c.ScoreSum, c.UpdateTime, c.ID)
	return err
}

// markSampled marks allocations as sampled by a round, 400 to a statement.
func (rp *repo) markSampled(ctx context.Context, tx *sql.Tx, taskID, checkID string, picked []*alloc) error {
	for start := 0; start < len(picked); start += 400 {
		chunk := picked[start:min(start+400, len(picked))]
		args := []any{checkID, taskID}
		conds := make([]string, len(chunk))
		for i, a := range chunk {
			args = append(args, a.Seq, a.WorkerID)
			conds[i] = fmt.Sprintf("(sample_seq = $%d AND worker_id = $%d)", len(args)-1, len(args))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE team_samples SET check_id = $1, check_accept = NULL, check_comment = '', check_score = ''
			WHERE task_id = $2 AND (`+strings.Join(conds, " OR ")+`)`, args...); err != nil {
			return fmt.Errorf("sample allocations of task %s: %w", taskID, err)
		}
	}
	return nil
}

type memberCheck struct {
	Sampled, Checked, Accepted, Rejected, ScoreSum int64
}

func (rp *repo) addMemberCheck(ctx context.Context, tx *sql.Tx, checkID, workerID string, d memberCheck) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO team_check_members (check_id, worker_id, sampled, checked, accepted, rejected, score_total)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (check_id, worker_id) DO UPDATE SET sampled = team_check_members.sampled + excluded.sampled,
		checked = team_check_members.checked + excluded.checked, accepted = team_check_members.accepted + excluded.accepted,
		rejected = team_check_members.rejected + excluded.rejected, score_total = team_check_members.score_total + excluded.score_total`,
		checkID, workerID, d.Sampled, d.Checked, d.Accepted, d.Rejected, d.ScoreSum)
	return err
}

// memberChecks sums the members' figures over the rounds that were not
// cancelled, as sumChecks sums the task's (one round, whatever its end,
// when checkID is set).
func (rp *repo) memberChecks(ctx context.Context, taskID, checkID string) (map[string]memberCheck, error) {
	out := map[string]memberCheck{}
	where, args := `c.task_id = $1`, []any{taskID}
	if checkID != "" {
		where, args = where+` AND c.id = $2`, append(args, checkID)
	} else {
		where += fmt.Sprintf(` AND c.status <> %d`, checkCancelled)
	}
	_, err := store.QueryAll(ctx, rp.db, func(sc store.Scanner) (struct{}, error) {
		var w string
		var m memberCheck
		if err := sc.Scan(&w, &m.Sampled, &m.Checked, &m.Accepted, &m.Rejected, &m.ScoreSum); err != nil {
			return struct{}{}, err
		}
		out[w] = m
		return struct{}{}, nil
	}, `SELECT m.worker_id, SUM(m.sampled), SUM(m.checked), SUM(m.accepted), SUM(m.rejected), SUM(m.score_total)
		FROM team_check_members m JOIN team_checks c ON c.id = m.check_id WHERE `+where+` GROUP BY m.worker_id`, args...)
	return out, err
}
