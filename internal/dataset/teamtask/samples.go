package teamtask

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/fault"
	"github.com/atelier-dev/atelier/internal/workforce"
)

// MaxBatch bounds the samples of one label update, review or comment
// request.
const MaxBatch = 1000

// TeamSample is an allocation as the API answers it: the dataset's sample
// with the labeler's labels and the team's review and acceptance.
type TeamSample struct {
	*dataset.Sample
	CheckAccept   *bool       `json:"check_accept,omitempty"`
	CheckComment  string      `json:"check_comment,omitempty"`
	CheckScore    string      `json:"check_score,omitempty"`
	ReviewAccept  *bool       `json:"review_accept,omitempty"`
	ReviewComment string      `json:"review_comment,omitempty"`
	ReviewScore   string      `json:"review_score,omitempty"`
	Labelers      []WorkerRef `json:"labelers"`
	// Agreement is Atelier's: the share of the sample's other labelers
	// whose labels match this labeler's (repetition > 1).
	Agreement *float64 `json:"agreement,omitempty"`
}

// stateFilter turns a sample_state into a condition on team_samples.
func stateFilter(state, checkingID string) (string, []any, bool, error) {
	switch state {
	case "":
		return "", nil, false, nil
	case "__ALL__":
		return " AND state <> 0", nil, false, nil
	case "__NONE__":
		return " AND state = 0", nil, false, nil
	case "__UNREVIEWED__":
		return " AND state = 1", nil, false, nil
	case "__REJECTED__":
		return " AND state = 2", nil, false, nil
	case "__UNCHECK__":
		return " AND state = 3", nil, false, nil
	case "__ACCEPTED__":
		return " AND state = 4", nil, false, nil
	case "__REVIEWED__":
		return " AND state IN (3, 4)", nil, false, nil
	case "__AUTO_ANNOTATION__":
		// Atelier has no auto labeling yet: no allocation waits for a
		// member to confirm one.
		return "", nil, true, nil
	}
	sampled := map[string]string{
		"__WORKFORCE_SAMPLED__":          "",
		"__WORKFORCE_SAMPLED_UNCHECK__":  " AND check_accept IS NULL",
		"__WORKFORCE_SAMPLED_CHECKED__":  " AND check_accept IS NOT NULL",
		"__WORKFORCE_SAMPLED_ACCEPTED__": " AND check_accept = 1",
		"__WORKFORCE_SAMPLED_REJECTED__": " AND check_accept = 0",
	}
	if extra, ok := sampled[state]; ok {
		if checkingID == "" {
			return "", nil, true, nil
		}
		return " AND check_id = $%d" + extra, []any{checkingID}, false, nil
	}
	return "", nil, false, invalid("Invalid parameter(sample_state): %q is not a sample state of the reference.", state)
}

// filter builds the WHERE of a page: the caller's scope, then the query.
func (s *Service) filter(t *Task, a *access, q SampleQuery) (allocFilter, bool, error) {
	var f allocFilter
	next := func(v any) string {
		f.args = append(f.args, v)
		return fmt.Sprintf("$%d", len(f.args)+1) // $1 is the task
	}
	if a.scope != nil {
		if len(a.scope) == 0 {
			return f, true, nil
		}
		ph := make([]string, len(a.scope))
		for i, w := range a.scope {
			ph[i] = next(w)
		}
		f.where += " AND worker_id IN (" + strings.Join(ph, ",") + ")"
		if len(a.scope) == 1 {
			f.member = a.scope[0]
		}
	}
	if q.WorkerID != "" {
		if !a.sees(q.WorkerID) {
			return f, true, nil
		}
		f.where += " AND worker_id = " + next(q.WorkerID)
		f.member = q.WorkerID
	}
	cond, args, none, err := stateFilter(q.State, t.checkingID)
	if err != nil || none {
		return f, none, err
	}
	if len(args) > 0 {
		cond = fmt.Sprintf(cond, len(f.args)+2)
		f.args = append(f.args, args...)
	}
	f.where += cond
	if q.LabelType != nil {
		// a label's type closes its object in the JSON the room writes
		f.where += ` AND labels LIKE ` + next(fmt.Sprintf(`%%"type":%d}%%`, *q.LabelType))
	}
	if q.LabelName != "" {
		// labels is the JSON the room writes: a name appears as "name":"…"
		key, _ := json.Marshal(q.LabelName)
		f.where += ` AND labels LIKE ` + next("%"+likeEscape(`"name":`+string(key))+"%") + ` ESCAPE '\'`
	}
	return f, false, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Samples pages the allocations of a task the caller sees: its own as a
// labeler, its teams' as a reviewer or administrator, all as the owner.
func (s *Service) Samples(ctx context.Context, c Caller, datasetID, id string, q SampleQuery) (int64, []*TeamSample, error) {
	t, tws, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return 0, nil, err
	}
	if err := s.syncNew(ctx, t, tws); err != nil {
		return 0, nil, err
	}
	if q.LabelType != nil && !dataset.ValidLabelType(*q.LabelType) {
		return 0, nil, invalid("Invalid parameter(label_type): %d is not a label type of the reference.", *q.LabelType)
	}
	f, none, err := s.filter(t, a, q)
	if err != nil {
		return 0, nil, err
	}
	if none {
		return 0, []*TeamSample{}, nil
	}
	total, err := s.countPage(ctx, t, a, q, f)
	if err != nil {
		return 0, nil, err
	}
	rows, err := s.repo.pageAllocs(ctx, t.TaskID, f, q.Offset, q.Limit)
	if err != nil {
		return 0, nil, err
	}
	out, err := s.present(ctx, t, tws, rows)
	if err != nil {
		return 0, nil, err
	}
	return total, out, nil
}

// countPage answers a page's total from the counters when only scope and
// a plain state filter it, else by counting the index.
func (s *Service) countPage(ctx context.Context, t *Task, a *access, q SampleQuery, f allocFilter) (int64, error) {
	plain := map[string][]int{"": {0, 1, 2, 3, 4}, "__ALL__": {1, 2, 3, 4}, "__NONE__": {0}, "__UNREVIEWED__": {1},
		"__REJECTED__": {2}, "__UNCHECK__": {3}, "__ACCEPTED__": {4}, "__REVIEWED__": {3, 4}}
	states, ok := plain[q.State]
	if !ok || q.LabelName != "" || q.LabelType != nil {
		return s.repo.countAllocs(ctx, s.db, t.TaskID, f)
	}
	cs, err := s.repo.counts(ctx, s.db, t.TaskID)
	if err != nil {
		return 0, err
	}
	var n int64
	for k, v := range cs {
		if k.State < 0 || !a.sees(k.WorkerID) || (q.WorkerID != "" && k.WorkerID != q.WorkerID) {
			continue
		}
		for _, st := range states {
			if k.State == st {
				n += v[0]
			}
		}
	}
	return n, nil
}

// present joins allocations to their dataset samples.
func (s *Service) present(ctx context.Context, t *Task, tws []taskWorker, rows []*alloc) ([]*TeamSample, error) {
	seqs := make([]int64, 0, len(rows))
	for _, r := range rows {
		seqs = append(seqs, r.Seq)
	}
	samples, err := s.datasets.SamplesBySeq(ctx, t.DatasetID, seqs)
	if err != nil {
		return nil, err
	}
	emails := map[string]taskWorker{}
	for _, w := range tws {
		emails[w.WorkerID] = w
	}
	out := make([]*TeamSample, 0, len(rows))
	for _, r := range rows {
		sm := samples[r.Seq]
		if sm == nil {
			continue // deleted from the dataset since
		}
		cp := *sm
		cp.WorkerID = r.WorkerID
		cp.SampleStatus = stateNames[r.State]
		cp.Labels = []annotation.Label{}
		if r.Labels != "" {
			if err := json.Unmarshal([]byte(r.Labels), &cp.Labels); err != nil {
				return nil, fmt.Errorf("decode labels of sample %s: %w", r.SampleID, err)
			}
		}
		ts := &TeamSample{Sample: &cp, ReviewAccept: r.ReviewAccept, ReviewComment: r.ReviewComment, ReviewScore: r.ReviewScore}
		if r.CheckID != "" && r.CheckID == t.checkingID {
			ts.CheckAccept, ts.CheckComment, ts.CheckScore = r.CheckAccept, r.CheckComment, r.CheckScore
		}
		w := emails[r.WorkerID]
		ts.Labelers = []WorkerRef{{WorkerID: r.WorkerID, WorkforceID: w.WorkforceID, Email: w.Email, Role: workforce.RoleLabeler}}
		if r.Compared > 0 {
			v := float64(r.Agree) / float64(r.Compared)
			ts.Agreement = &v
		}
		out = append(out, ts)
	}
	return out, nil
}

// Sample returns one sample of a task as the caller sees it: its own
// allocation for a labeler; for the others, the allocation of worker
// (the first one visible when worker is "").
func (s *Service) Sample(ctx context.Context, c Caller, datasetID, id, sampleID, worker string) (*TeamSample, error) {
	t, tws, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return nil, err
	}
	rows, err := s.repo.allocsOfIDs(ctx, s.db, t.TaskID, []string{sampleID})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if a.sees(r.WorkerID) && (worker == "" || worker == r.WorkerID) {
			out, err := s.present(ctx, t, tws, []*alloc{r})
			if err != nil {
				return nil, err
			}
			if len(out) == 1 {
				return out[0], nil
			}
		}
	}
	return nil, errSampleNotFound(sampleID)
}

// ItemResult is one item's outcome in a batch.
type ItemResult struct {
	Success   bool   `json:"success"`
	ErrorCode string `json:"error_code,omitempty"`
	ErrorMsg  string `json:"error_msg,omitempty"`
}

func itemError(err error) ItemResult {
	if fe, ok := fault.As(err); ok {
		return ItemResult{ErrorCode: fe.Code, ErrorMsg: fe.Msg}
	}
	return ItemResult{ErrorCode: "ModelArts.4200", ErrorMsg: err.Error()}
}

// UpdateLabels saves a labeler's labels on its own allocations, all of
// them or none: an item that is not the caller's, not in a state a labeler
// may change, or whose labels break the dataset's rules fails the whole
// request. Labeled allocations go to review (or, in a task without
// reviewers, to acceptance); a rejected one goes back the same way.
func (s *Service) UpdateLabels(ctx context.Context, c Caller, datasetID, id string, items []SampleLabels) error {
	if len(items) == 0 || len(items) > MaxBatch {
		return invalid("Invalid parameter(samples): give 1 to %d samples.", MaxBatch)
	}
	t, tws, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return err
	}
	if len(a.labels) == 0 {
		return forbidden("only the task's labelers can label its samples.")
	}
	if t.Status != StatusRunning && t.Status != StatusRejected {
		return conflict(CodeStartFailed, "The team labeling task is %s: its samples cannot be labeled now.", statusWord(t.Status))
	}
	roles, err := s.roles(ctx, c.ProjectID, tws)
	if err != nil {
		return err
	}
	reviewed := map[string]bool{} // the teams with a reviewer
	for _, w := range tws {
		if roles[w.WorkerID] == workforce.RoleReviewer {
			reviewed[w.WorkforceID] = true
		}
	}
	teamOf := map[string]string{}
	for _, w := range tws {
		teamOf[w.WorkerID] = w.WorkforceID
	}
	ids := make([]string, len(items))
	for i, it := range items {
		if it.SampleID == "" {
			return invalid("Invalid parameter(samples[%d].sample_id): required.", i)
		}
		ids[i] = it.SampleID
	}
	r, err := s.datasets.LoadRow(ctx, s.db, c.ProjectID, t.DatasetID, false)
	if err != nil {
		return err
	}
	checker, err := s.datasets.NewLabelChecker(ctx, r)
	if err != nil {
		return err
	}
	now := s.millis()
	return wrap("save labels", s.db.InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.repo.task(ctx, tx, c.ProjectID, datasetID, id, true)
		if err != nil {
			return err
		}
		if cur.Status != StatusRunning && cur.Status != StatusRejected {
			return conflict(CodeStartFailed, "The team labeling task is %s: its samples cannot be labeled now.", statusWord(cur.Status))
		}
		all, err := s.repo.allocsOfIDs(ctx, tx, t.TaskID, ids)
		if err != nil {
			return err
		}
		bySample := map[string][]*alloc{}
		for _, al := range all {
			bySample[al.SampleID] = append(bySample[al.SampleID], al)
		}
		var seqs []int64
		for _, al := range all {
			seqs = append(seqs, al.Seq)
		}
		samples, err := s.datasets.SamplesBySeq(ctx, t.DatasetID, seqs)
		if err != nil {
			return err
		}
		c := counts{}
		lc := map[string]labelCount{}
		var events []eventRow
		seen := map[string]int{}
		touched := map[int64]bool{}
		for i, it := range items {
			if j, dup := seen[it.SampleID]; dup {
				return invalid("Invalid parameter(samples[%d]): repeats samples[%d].", i, j)
			}
			seen[it.SampleID] = i
			var mine *alloc
			for _, al := range bySample[it.SampleID] {
				if a.labels[al.WorkerID] && (it.WorkerID == "" || it.WorkerID == al.WorkerID) {
					mine = al
					break
				}
			}
			if mine == nil {
				return errSampleNotFound(it.SampleID)
			}
			if mine.State == StateUncheck || mine.State == StateAccepted {
				return conflict("ModelArts.4606", "The sample has been reviewed: samples[%d] (%s) can no longer be changed by its labeler.", i, it.SampleID)
			}
			sm := samples[mine.Seq]
			if sm == nil {
				return errSampleNotFound(it.SampleID)
			}
			labels := it.Labels
			if labels == nil {
				labels = []annotation.Label{}
			}
			if err := checker.Check(fmt.Sprintf("samples[%d]", i), sm, labels); err != nil {
				return err
			}
			doc, err := json.Marshal(labels)
			if err != nil {
				return fmt.Errorf("encode labels: %w", err)
			}
			next := StateUnlabeled
			if len(labels) > 0 {
				next = StateUncheck
				if reviewed[teamOf[mine.WorkerID]] {
					next = StateUnreviewed
				}
			}
			if err := labelDelta(lc, mine.Labels, labels); err != nil {
				return err
			}
			c.add(mine.WorkerID, mine.State, -1, 0)
			c.add(mine.WorkerID, next, 1, 0)
			action := "label"
			if mine.State == StateRejected {
				action = "fix"
			}
			events = append(events, eventRow{Seq: mine.Seq, WorkerID: mine.WorkerID, ActorID: a.caller.UserID, ActorName: a.caller.UserName,
				Action: action, From: mine.State, To: next, At: now})
			mine.State, mine.Labels, mine.UpdateTime = next, string(doc), now
			if len(labels) == 0 {
				mine.Labels = ""
			}
			if err := s.repo.saveAlloc(ctx, tx, t.TaskID, mine); err != nil {
				return err
			}
			touched[mine.Seq] = true
		}
		if t.Repetition > 1 {
			if err := s.agree(ctx, tx, t, r.Type, touched, c); err != nil {
				return err
			}
		}
		if err := s.repo.applyCounts(ctx, tx, t.TaskID, c); err != nil {
			return err
		}
		if err := s.repo.addLabelCounts(ctx, tx, t.TaskID, lc); err != nil {
			return err
		}
		return s.repo.insertEvents(ctx, tx, t.TaskID, events)
	}))
}

// labelDelta adds to d what replacing an allocation's labels (stored JSON,
// "" for none) by next changes in the task's label counters.
func labelDelta(d map[string]labelCount, stored string, next []annotation.Label) error {
	var prev []annotation.Label
	if stored != "" {
		if err := json.Unmarshal([]byte(stored), &prev); err != nil {
			return fmt.Errorf("decode stored labels: %w", err)
		}
	}
	for sign, list := range map[int64][]annotation.Label{-1: prev, 1: next} {
		seen := map[string]bool{}
		for _, l := range list {
			v := d[l.Name]
			v.N += sign
			if !seen[l.Name] {
				seen[l.Name] = true
				v.Samples += sign
			}
			d[l.Name] = v
		}
	}
	return nil
}

// Review records reviewers' verdicts: a passed allocation waits for
// acceptance, a rejected one goes back to its labeler with the comment.
// A reviewer (or team administrator) reviews its teams' allocations that
// are waiting for review; nobody else reviews.
func (s *Service) Review(ctx context.Context, c Caller, datasetID, id string, comments []Comment) error {
	if len(comments) == 0 || len(comments) > MaxBatch {
		return invalid("Invalid parameter(comments): give 1 to %d comments.", MaxBatch)
	}
	t, tws, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return err
	}
	if len(a.reviews) == 0 && len(a.admins) == 0 {
		return forbidden("only the task's reviewers and team administrators can review.")
	}
	teamOf := map[string]string{}
	for _, w := range tws {
		teamOf[w.WorkerID] = w.WorkforceID
	}
	ids := make([]string, len(comments))
	for i, cm := range comments {
		if err := checkComment(i, cm); err != nil {
			return err
		}
		ids[i] = cm.SampleID
	}
	now := s.millis()
	return wrap("review samples", s.db.InTx(ctx, func(tx *sql.Tx) error {
		all, err := s.repo.allocsOfIDs(ctx, tx, t.TaskID, ids)
		if err != nil {
			return err
		}
		c := counts{}
		var events []eventRow
		for i, cm := range comments {
			var target *alloc
			for _, al := range all {
				team := teamOf[al.WorkerID]
				if al.SampleID == cm.SampleID && (cm.WorkerID == "" || cm.WorkerID == al.WorkerID) &&
					!a.labels[al.WorkerID] && (a.reviews[team] || a.admins[team]) {
					target = al
					break
				}
			}
			if target == nil {
				return errSampleNotFound(cm.SampleID)
			}
			if target.State != StateUnreviewed {
				return conflict("ModelArts.4606", "comments[%d]: sample %s is %s, not waiting for review.", i, cm.SampleID, stateNames[target.State])
			}
			next, action := StateUncheck, "review_pass"
			if !*cm.Accept {
				next, action = StateRejected, "review_reject"
			}
			c.add(target.WorkerID, target.State, -1, 0)
			c.add(target.WorkerID, next, 1, 0)
			events = append(events, eventRow{Seq: target.Seq, WorkerID: target.WorkerID, ActorID: a.caller.UserID, ActorName: a.caller.UserName,
				Action: action, From: target.State, To: next, Comment: cm.Comment, Score: cm.Score, At: now})
			accept := *cm.Accept
			target.State, target.ReviewAccept, target.ReviewComment, target.ReviewScore = next, &accept, cm.Comment, cm.Score
			target.ReviewerID, target.UpdateTime = a.caller.UserID, now
			if err := s.repo.saveAlloc(ctx, tx, t.TaskID, target); err != nil {
				return err
			}
		}
		if err := s.repo.applyCounts(ctx, tx, t.TaskID, c); err != nil {
			return err
		}
		return s.repo.insertEvents(ctx, tx, t.TaskID, events)
	}))
}

// checkComment checks one verdict of a review or acceptance.
func checkComment(i int, cm Comment) error {
	if cm.SampleID == "" {
		return invalid("Invalid parameter(comments[%d].sample_id): required.", i)
	}
	if cm.Accept == nil {
		return invalid("Invalid parameter(comments[%d].accept): required.", i)
	}
	if err := checkText(fmt.Sprintf("comments[%d].comment", i), cm.Comment, 256); err != nil {
		return err
	}
	if _, ok := scorePoints[cm.Score]; !ok && cm.Score != "" {
		return invalid("Invalid parameter(comments[%d].score): want A, B, C or D.", i)
	}
	return nil
}

// History lists every state change of a sample's allocations the caller
// sees, oldest first (Atelier's API).
func (s *Service) History(ctx context.Context, c Caller, datasetID, id, sampleID string) ([]*Event, error) {
	t, _, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return nil, err
	}
	rows, err := s.repo.allocsOfIDs(ctx, s.db, t.TaskID, []string{sampleID})
	if err != nil {
		return nil, err
	}
	var visible []string
	var seq int64 = -1
	for _, r := range rows {
		if a.sees(r.WorkerID) {
			visible, seq = append(visible, r.WorkerID), r.Seq
		}
	}
	if seq < 0 {
		return nil, errSampleNotFound(sampleID)
	}
	if a.scope == nil {
		visible = nil
	}
	return s.repo.events(ctx, t.TaskID, seq, visible)
}
