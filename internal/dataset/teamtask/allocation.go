package teamtask

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset"
)

// sampleRef is a dataset sample to allocate.
type sampleRef struct {
	seq int64
	id  string
}

// selectSamples reads the samples a task takes from its dataset after seq
// after, up to maxSeq: those its sample_conditions select, or the
// unlabeled ones.
func (s *Service) selectSamples(ctx context.Context, r *dataset.Row, conditions string, after, maxSeq int64) ([]sampleRef, error) {
	q, err := sampleQuery(conditions)
	if err != nil {
		return nil, err
	}
	sel, err := s.datasets.Select(ctx, r, q, maxSeq)
	if err != nil {
		return nil, err
	}
	var out []sampleRef
	for {
		items, last, done, err := sel.Page(ctx, after, 1000)
		if err != nil {
			return nil, fmt.Errorf("select samples for the task: %w", err)
		}
		for _, it := range items {
			out = append(out, sampleRef{seq: it.Seq, id: it.ID})
		}
		if done {
			return out, nil
		}
		after = last
	}
}

// sampleQuery turns sample_conditions (a JSON array of the reference's
// search conditions, or one) into a dataset query; none selects the
// unlabeled samples.
func sampleQuery(conditions string) (dataset.SampleQuery, error) {
	var q dataset.SampleQuery
	c := strings.TrimSpace(conditions)
	if c == "" {
		unlabeled := dataset.StateUnlabeled
		q.State = &unlabeled
		return q, nil
	}
	dec := func(v any) error {
		d := json.NewDecoder(strings.NewReader(c))
		d.DisallowUnknownFields()
		return d.Decode(v)
	}
	if strings.HasPrefix(c, "{") {
		var one dataset.SearchCondition
		if err := dec(&one); err != nil {
			return q, invalid("Invalid parameter(sample_conditions): %v", err)
		}
		q.Conditions = []dataset.SearchCondition{one}
	} else if err := dec(&q.Conditions); err != nil {
		return q, invalid("Invalid parameter(sample_conditions): want a JSON array of search conditions: %v", err)
	}
	return q, nil
}

// allocate gives samples to the labelers, evenly and at random: the k-th
// sample allocated in the task goes to the labelers at positions
// k·r … k·r+r−1 (mod L) of a permutation drawn from the task's ID, so
// every labeler gets the same number give or take one, the r labelers of
// a sample are distinct, and the split is the same on every replica.
func allocate(taskID string, labelers []string, repetition int, start int64, samples []sampleRef) []alloc {
	perm := append([]string(nil), labelers...)
	sum := sha256.Sum256([]byte("atelier-team-allocation:" + taskID))
	rng := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])))
	rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	L := int64(len(perm))
	out := make([]alloc, 0, len(samples)*repetition)
	for i, sm := range samples {
		k := start + int64(i)
		for j := 0; j < repetition; j++ {
			out = append(out, alloc{Seq: sm.seq, SampleID: sm.id, WorkerID: perm[(k*int64(repetition)+int64(j))%L]})
		}
	}
	return out
}

// insertAllocation writes allocations with their counters.
func (s *Service) insertAllocation(ctx context.Context, tx *sql.Tx, t *Task, rows []alloc) error {
	if err := s.repo.insertAllocs(ctx, tx, t.TaskID, rows, s.millis()); err != nil {
		return err
	}
	c := counts{}
	for _, a := range rows {
		c.add(a.WorkerID, StateUnlabeled, 1, 0)
	}
	return s.repo.applyCounts(ctx, tx, t.TaskID, c)
}

// syncNew allocates the samples added to the dataset since the task last
// looked, when the task synchronizes new data and is under way.
func (s *Service) syncNew(ctx context.Context, t *Task, tws []taskWorker) error {
	if !t.SynchronizeData || t.Status == StatusCreated || t.Status == StatusAccepted {
		return nil
	}
	r, err := s.datasets.LoadRow(ctx, s.db, t.projectID, t.DatasetID, false)
	if err != nil || r.SampleSeq <= t.syncedSeq {
		return err
	}
	labelers, err := s.labelers(ctx, t.projectID, tws)
	if err != nil || len(labelers) < t.Repetition {
		return err
	}
	samples, err := s.selectSamples(ctx, r, t.SampleConditions, t.syncedSeq, r.SampleSeq)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.repo.task(ctx, tx, t.projectID, t.DatasetID, t.TaskID, true)
		if err != nil {
			return err
		}
		if cur.syncedSeq >= r.SampleSeq { // another request did it
			*t = *cur
			return nil
		}
		if cur.syncedSeq > t.syncedSeq { // keep to what is still new
			kept := samples[:0]
			for _, sm := range samples {
				if sm.seq > cur.syncedSeq {
					kept = append(kept, sm)
				}
			}
			samples = kept
		}
		rows := allocate(cur.TaskID, labelers, cur.Repetition, cur.allocated, samples)
		cur.syncedSeq, cur.allocated, cur.UpdateTime = r.SampleSeq, cur.allocated+int64(len(samples)), s.millis()
		if err := s.repo.updateTask(ctx, tx, cur); err != nil {
			return err
		}
		if err := s.insertAllocation(ctx, tx, cur, rows); err != nil {
			return err
		}
		*t = *cur
		return nil
	})
}
