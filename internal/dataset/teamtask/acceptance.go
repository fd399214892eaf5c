package teamtask

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/store"
)

// Acceptance: the task's owner samples the allocations that passed review
// (__UNCHECK__), comments on the sampled ones, then closes the round with
// one of the reference's actions; accepting writes the accepted labels
// into the dataset in the same transaction, rejecting sends allocations
// back to their labelers.

// Acceptance actions of the reference.
const (
	ActionPassAll         = 0
	ActionRejectAll       = 1
	ActionCancel          = 2
	ActionConflicts       = 3
	ActionPassUnrejected  = 4 // pass the accepted and the unprocessed, reject the rejected
	ActionPassOnlyAccepts = 5 // pass the accepted, reject the rejected, leave the rest
)

// scorePoints are the reference's review scores.
var scorePoints = map[string]int64{"A": 4, "B": 3, "C": 2, "D": 1}

// averagePoints is the mean score of n scored verdicts, as points.
func averagePoints(total, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(total) / float64(n)
}

// letter is the score letter of a mean ("E" when nothing was scored, as
// the reference's example shows).
func letter(total, n int64) string {
	if n == 0 || total == 0 {
		return "E"
	}
	switch avg := float64(total) / float64(n); {
	case avg >= 3.5:
		return "A"
	case avg >= 2.5:
		return "B"
	case avg >= 1.5:
		return "C"
	}
	return "D"
}

func (c *checkRow) stats() *CheckStats {
	st := &CheckStats{TaskID: c.ID, Total: c.Total, Sampled: c.Sampled, Checked: c.Checked, Accepted: c.Accepted, Rejected: c.Rejected,
		Unchecked: c.Sampled - c.Checked, SamplingN: c.SamplingNum, SamplingR: c.SamplingRate, TotalScore: c.ScoreSum,
		Score: letter(c.ScoreSum, c.Accepted)}
	if c.Checked > 0 {
		st.PassRate = float64(c.Accepted) / float64(c.Checked)
	}
	return st
}

// sumChecks is the report over every round that was not cancelled.
func sumChecks(cs []*checkRow) *CheckStats {
	var sum checkRow
	for _, c := range cs {
		if c.Status == checkCancelled {
			continue
		}
		sum.Total += c.Total
		sum.Sampled += c.Sampled
		sum.Checked += c.Checked
		sum.Accepted += c.Accepted
		sum.Rejected += c.Rejected
		sum.ScoreSum += c.ScoreSum
		sum.SamplingNum += c.SamplingNum
	}
	st := sum.stats()
	st.TaskID = ""
	if sum.Total > 0 {
		st.SamplingR = float64(sum.Sampled) / float64(sum.Total)
	}
	return st
}

const (
	checkOpen      = 0
	checkFinished  = 1
	checkCancelled = 2
)

// StartAcceptance samples a round: sampling_num allocations, or
// sampling_rate of those waiting for acceptance, drawn at random from the
// round's ID (the same round samples the same allocations on any replica).
func (s *Service) StartAcceptance(ctx context.Context, c Caller, datasetID, id string, num *int, rate *float64) (string, error) {
	if (num == nil) == (rate == nil) {
		return "", invalid("Invalid parameter: give sampling_num or sampling_rate, one of them.")
	}
	if num != nil && *num < 1 {
		return "", invalid("Invalid parameter(sampling_num): at least 1.")
	}
	if rate != nil && (*rate <= 0 || *rate > 1 || math.IsNaN(*rate)) {
		return "", invalid("Invalid parameter(sampling_rate): within (0,1].")
	}
	t, _, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return "", err
	}
	if !a.owner {
		return "", forbidden("only the task's owner accepts its results.")
	}
	check := &checkRow{ID: store.NewID(), TaskID: t.TaskID, Status: checkOpen, Action: -1, CreateTime: s.millis(), UpdateTime: s.millis()}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.repo.task(ctx, tx, c.ProjectID, datasetID, id, true)
		if err != nil {
			return err
		}
		if cur.Status == StatusAccepting {
			return conflict(CodeChecking, "Workforce task is checking: finish the acceptance %s first.", cur.checkingID)
		}
		if cur.Status != StatusRunning {
			return conflict(CodeStartFailed, "The team labeling task is %s: start it before accepting.", statusWord(cur.Status))
		}
		waiting, err := s.repo.allocKeys(ctx, tx, cur.TaskID, allocFilter{where: " AND state = 3"})
		if err != nil {
			return err
		}
		if len(waiting) == 0 {
			return conflict(CodeNothingToCheck, "There are no unchecked samples: nothing passed review and waits for acceptance.")
		}
		k := 0
		if num != nil {
			k = min(*num, len(waiting))
			check.SamplingNum = *num
			check.SamplingRate = float64(k) / float64(len(waiting))
		} else {
			k = max(1, int(math.Ceil(*rate*float64(len(waiting)))))
			check.SamplingRate, check.SamplingNum = *rate, k
		}
		sum := sha256.Sum256([]byte("atelier-acceptance-sampling:" + check.ID))
		rng := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])))
		rng.Shuffle(len(waiting), func(i, j int) { waiting[i], waiting[j] = waiting[j], waiting[i] })
		picked := waiting[:k]
		sort.Slice(picked, func(i, j int) bool { return picked[i].Seq < picked[j].Seq })
		check.Total, check.Sampled = int64(len(waiting)), int64(k)
		if err := s.repo.insertCheck(ctx, tx, check); err != nil {
			return err
		}
		if err := s.repo.markSampled(ctx, tx, cur.TaskID, check.ID, picked); err != nil {
			return err
		}
		per := map[string]int64{}
		for _, p := range picked {
			per[p.WorkerID]++
		}
		for w, n := range per {
			if err := s.repo.addMemberCheck(ctx, tx, check.ID, w, memberCheck{Sampled: n}); err != nil {
				return err
			}
		}
		cur.Status, cur.checkingID, cur.UpdateTime = StatusAccepting, check.ID, s.millis()
		return s.repo.updateTask(ctx, tx, cur)
	})
	if err != nil {
		return "", wrap("start acceptance", err)
	}
	return check.ID, nil
}

// Comment records the owner's verdicts on sampled allocations of the open
// round; a second verdict on one replaces the first.
func (s *Service) Comment(ctx context.Context, c Caller, datasetID, id string, comments []Comment) error {
	if len(comments) == 0 || len(comments) > MaxBatch {
		return invalid("Invalid parameter(comments): give 1 to %d comments.", MaxBatch)
	}
	ids := make([]string, len(comments))
	for i, cm := range comments {
		if err := checkComment(i, cm); err != nil {
			return err
		}
		ids[i] = cm.SampleID
	}
	t, _, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return err
	}
	if !a.owner {
		return forbidden("only the task's owner accepts its results.")
	}
	return wrap("comment on acceptance", s.db.InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.repo.task(ctx, tx, c.ProjectID, datasetID, id, true)
		if err != nil {
			return err
		}
		if cur.Status != StatusAccepting || cur.checkingID == "" {
			return conflict(CodeNotChecked, "The team labeling task has no acceptance under way.")
		}
		check, err := s.repo.check(ctx, tx, t.TaskID, cur.checkingID)
		if err != nil {
			return err
		}
		all, err := s.repo.allocsOfIDs(ctx, tx, t.TaskID, ids)
		if err != nil {
			return err
		}
		per := map[string]memberCheck{}
		for i, cm := range comments {
			var target *alloc
			for _, al := range all {
				if al.SampleID == cm.SampleID && al.CheckID == check.ID && (cm.WorkerID == "" || cm.WorkerID == al.WorkerID) {
					target = al
					break
				}
			}
			if target == nil {
				return invalid("Invalid parameter(comments[%d]): sample %s was not sampled by this acceptance.", i, cm.SampleID)
			}
			m := per[target.WorkerID]
			if prev := target.CheckAccept; prev != nil { // undo the earlier verdict
				check.Checked--
				m.Checked--
				if *prev {
					check.Accepted--
					m.Accepted--
					check.ScoreSum -= scorePoints[target.CheckScore]
					m.ScoreSum -= scorePoints[target.CheckScore]
				} else {
					check.Rejected--
					m.Rejected--
				}
			}
			accept := *cm.Accept
			check.Checked++
			m.Checked++
			if accept {
				check.Accepted++
				m.Accepted++
				check.ScoreSum += scorePoints[cm.Score]
				m.ScoreSum += scorePoints[cm.Score]
			} else {
				check.Rejected++
				m.Rejected++
			}
			per[target.WorkerID] = m
			target.CheckAccept, target.CheckComment, target.CheckScore = &accept, cm.Comment, cm.Score
			if !accept {
				target.CheckScore = ""
			}
			target.UpdateTime = s.millis()
			if err := s.repo.saveAlloc(ctx, tx, t.TaskID, target); err != nil {
				return err
			}
		}
		for w, m := range per {
			if err := s.repo.addMemberCheck(ctx, tx, check.ID, w, m); err != nil {
				return err
			}
		}
		check.UpdateTime = s.millis()
		return s.repo.saveCheck(ctx, tx, check)
	}))
}

// Report answers the acceptance report: the round asked for, every round
// together, and each member's figures with its agreement.
func (s *Service) Report(ctx context.Context, c Caller, datasetID, id, checkID string) (*Report, error) {
	t, tws, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return nil, err
	}
	if !a.owner && len(a.admins) == 0 {
		return nil, forbidden("only the task's owner and team administrators read its acceptance report.")
	}
	rep := &Report{MemberStats: []*MemberReport{}}
	if checkID != "" {
		ch, err := s.repo.check(ctx, s.db, t.TaskID, checkID)
		if err != nil {
			return nil, err
		}
		rep.CheckingStats = ch.stats()
	}
	checks, err := s.repo.checks(ctx, s.db, t.TaskID)
	if err != nil {
		return nil, err
	}
	rep.TotalStats = sumChecks(checks)
	members, err := s.repo.memberChecks(ctx, t.TaskID, "")
	if err != nil {
		return nil, err
	}
	cs, err := s.repo.counts(ctx, s.db, t.TaskID)
	if err != nil {
		return nil, err
	}
	var agreeAll, comparedAll int64
	for _, w := range tws {
		if !a.sees(w.WorkerID) {
			continue
		}
		m := members[w.WorkerID]
		ag := cs[countKey{w.WorkerID, agreeState}]
		mr := &MemberReport{WorkerID: w.WorkerID, Email: w.Email, Sampled: m.Sampled, Checked: m.Checked, Accepted: m.Accepted,
			Rejected: m.Rejected, Score: letter(m.ScoreSum, m.Accepted), Compared: ag[1]}
		if m.Checked > 0 {
			mr.PassRate = float64(m.Accepted) / float64(m.Checked)
		}
		if ag[1] > 0 {
			v := float64(ag[0]) / float64(ag[1])
			mr.Agreement = &v
		}
		agreeAll += ag[0]
		comparedAll += ag[1]
		if m.Sampled > 0 || ag[1] > 0 || statsOf(cs, []string{w.WorkerID}).Total > 0 {
			rep.MemberStats = append(rep.MemberStats, mr)
		}
	}
	if comparedAll > 0 {
		v := float64(agreeAll) / float64(comparedAll)
		rep.Agreement = &v
	}
	return rep, nil
}

// Close ends the open round with an action, or lists its conflicts
// (ActionConflicts: the sampled samples whose labelers disagree or whose
// copies got different verdicts), which changes nothing.
func (s *Service) Close(ctx context.Context, c Caller, datasetID, id string, action int, overwrite bool) (int, []*TeamSample, error) {
	if action < ActionPassAll || action > ActionPassOnlyAccepts {
		return 0, nil, invalid("Invalid parameter(action): want 0 to 5.")
	}
	t, tws, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return 0, nil, err
	}
	if !a.owner {
		return 0, nil, forbidden("only the task's owner accepts its results.")
	}
	if t.Status != StatusAccepting || t.checkingID == "" {
		return 0, nil, conflict(CodeNotChecked, "The team labeling task has no acceptance under way.")
	}
	if action == ActionConflicts {
		return s.conflicts(ctx, t, tws)
	}
	var written int
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.repo.task(ctx, tx, c.ProjectID, datasetID, id, true)
		if err != nil {
			return err
		}
		if cur.Status != StatusAccepting || cur.checkingID != t.checkingID {
			return conflict(CodeNotChecked, "The acceptance changed meanwhile: read the task again.")
		}
		check, err := s.repo.check(ctx, tx, cur.TaskID, cur.checkingID)
		if err != nil {
			return err
		}
		now := s.millis()
		if action == ActionCancel {
			check.Status, check.Action, check.UpdateTime = checkCancelled, action, now
		} else {
			if written, err = s.finish(ctx, tx, cur, check, action, overwrite, tws, a, now); err != nil {
				return err
			}
			check.Status, check.Action, check.UpdateTime = checkFinished, action, now
		}
		if err := s.repo.saveCheck(ctx, tx, check); err != nil {
			return err
		}
		cur.checkingID, cur.UpdateTime = "", now
		switch left, err := s.repo.countAllocs(ctx, tx, cur.TaskID, allocFilter{where: " AND state <> 4"}); {
		case err != nil:
			return err
		case action == ActionRejectAll:
			cur.Status = StatusRejected
		case left == 0 && action != ActionCancel:
			cur.Status = StatusAccepted
		default:
			cur.Status = StatusRunning
		}
		return s.repo.updateTask(ctx, tx, cur)
	})
	if err != nil {
		return 0, nil, wrap("close acceptance", err)
	}
	return written, nil, nil
}

// finish moves the allocations waiting for acceptance as the action says
// and writes the accepted labels into the dataset; it returns how many
// samples of the dataset it wrote.
func (s *Service) finish(ctx context.Context, tx *sql.Tx, t *Task, check *checkRow, action int, overwrite bool, tws []taskWorker, a *access, now int64) (int, error) {
	waiting, err := s.repo.allocsWhere(ctx, tx, t.TaskID, allocFilter{where: " AND state = 3"})
	if err != nil {
		return 0, err
	}
	var accepted []*alloc
	c := counts{}
	var events []eventRow
	move := map[int][]*alloc{}
	for _, al := range waiting {
		sampled := al.CheckID == check.ID && al.CheckAccept != nil
		next := -1
		switch action {
		case ActionPassAll:
			next = StateAccepted
		case ActionRejectAll:
			next = StateRejected
		case ActionPassUnrejected:
			next = StateAccepted
			if sampled && !*al.CheckAccept {
				next = StateRejected
			}
		case ActionPassOnlyAccepts:
			if sampled {
				next = StateRejected
				if *al.CheckAccept {
					next = StateAccepted
				}
			}
		}
		if next < 0 {
			continue
		}
		move[next] = append(move[next], al)
		c.add(al.WorkerID, StateUncheck, -1, 0)
		c.add(al.WorkerID, next, 1, 0)
		ev := eventRow{Seq: al.Seq, WorkerID: al.WorkerID, ActorID: a.caller.UserID, ActorName: a.caller.UserName, Action: "accept",
			From: StateUncheck, To: next, At: now}
		if next == StateRejected {
			ev.Action = "reject"
		}
		if sampled {
			ev.Comment, ev.Score = al.CheckComment, al.CheckScore
		}
		events = append(events, ev)
		if next == StateAccepted {
			accepted = append(accepted, al)
		}
	}
	for state, list := range move {
		if err := s.repo.setStates(ctx, tx, t.TaskID, list, state, now); err != nil {
			return 0, err
		}
	}
	if err := s.repo.applyCounts(ctx, tx, t.TaskID, c); err != nil {
		return 0, err
	}
	if err := s.repo.insertEvents(ctx, tx, t.TaskID, events); err != nil {
		return 0, err
	}
	return s.writeAccepted(ctx, tx, t, accepted, overwrite, tws)
}

// writeAccepted writes the accepted labels into the dataset: per sample,
// the labeling most of its accepted allocations agree on (the latest on a
// tie). Without overwrite, a sample the dataset has labels for keeps them.
func (s *Service) writeAccepted(ctx context.Context, tx *sql.Tx, t *Task, accepted []*alloc, overwrite bool, tws []taskWorker) (int, error) {
	if len(accepted) == 0 {
		return 0, nil
	}
	email := map[string]string{}
	for _, w := range tws {
		email[w.WorkerID] = w.Email
	}
	bySeq := map[int64][]*alloc{}
	var seqs []int64
	for _, al := range accepted {
		if bySeq[al.Seq] == nil {
			seqs = append(seqs, al.Seq)
		}
		bySeq[al.Seq] = append(bySeq[al.Seq], al)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	current, err := s.datasets.SamplesBySeq(ctx, t.DatasetID, seqs)
	if err != nil {
		return 0, err
	}
	var items []dataset.LabelUpdate
	for _, seq := range seqs {
		sm := current[seq]
		if sm == nil {
			continue // deleted from the dataset since
		}
		if !overwrite && sm.SampleStatus != dataset.StateName(dataset.StateUnlabeled) {
			continue
		}
		best, labels, err := majority(bySeq[seq])
		if err != nil {
			return 0, err
		}
		items = append(items, dataset.LabelUpdate{SampleID: sm.SampleID, Labels: labels, Labeler: email[best.WorkerID]})
	}
	for start := 0; start < len(items); start += dataset.MaxLabelUpdates {
		chunk := items[start:min(start+dataset.MaxLabelUpdates, len(items))]
		errs, err := s.datasets.UpdateSampleLabelsTx(ctx, tx, t.projectID, t.DatasetID, chunk)
		if err != nil {
			return 0, err
		}
		for i, e := range errs {
			if e != nil {
				return 0, fmt.Errorf("write accepted labels of sample %s: %w", chunk[i].SampleID, e)
			}
		}
	}
	return len(items), nil
}

// majority picks the labeling most allocations of one sample agree on.
func majority(copies []*alloc) (*alloc, []annotation.Label, error) {
	parsed := make([][]annotation.Label, len(copies))
	for i, a := range copies {
		if a.Labels != "" {
			if err := json.Unmarshal([]byte(a.Labels), &parsed[i]); err != nil {
				return nil, nil, fmt.Errorf("decode labels of sample %s: %w", a.SampleID, err)
			}
		}
	}
	best, votes := 0, -1
	for i := range copies {
		n := 0
		for j := range copies {
			if Agree(parsed[i], parsed[j]) {
				n++
			}
		}
		if n > votes || (n == votes && copies[i].UpdateTime > copies[best].UpdateTime) {
			best, votes = i, n
		}
	}
	if parsed[best] == nil {
		parsed[best] = []annotation.Label{}
	}
	return copies[best], parsed[best], nil
}

// conflicts lists the open round's sampled samples whose labelers
// disagree or whose copies got different verdicts.
func (s *Service) conflicts(ctx context.Context, t *Task, tws []taskWorker) (int, []*TeamSample, error) {
	sampled, err := s.repo.allocsWhere(ctx, s.db, t.TaskID, allocFilter{where: " AND check_id = $2", args: []any{t.checkingID}})
	if err != nil {
		return 0, nil, err
	}
	var seqs []int64
	seen := map[int64]bool{}
	for _, al := range sampled {
		if !seen[al.Seq] {
			seen[al.Seq] = true
			seqs = append(seqs, al.Seq)
		}
	}
	all, err := s.repo.allocsOfSamples(ctx, s.db, t.TaskID, seqs)
	if err != nil {
		return 0, nil, err
	}
	bySeq := map[int64][]*alloc{}
	for _, al := range all {
		bySeq[al.Seq] = append(bySeq[al.Seq], al)
	}
	var rows []*alloc
	for _, seq := range seqs {
		copies := bySeq[seq]
		conflict := false
		verdicts := map[string]bool{}
		for _, al := range copies {
			if al.Compared > al.Agree {
				conflict = true
			}
			if al.CheckID == t.checkingID && al.CheckAccept != nil {
				verdicts[fmt.Sprint(*al.CheckAccept)] = true
			}
		}
		if conflict || len(verdicts) > 1 {
			rows = append(rows, copies...)
		}
	}
	out, err := s.present(ctx, t, tws, rows)
	if err != nil {
		return 0, nil, err
	}
	n := map[string]bool{}
	for _, o := range out {
		n[o.SampleID] = true
	}
	return len(n), out, nil
}
