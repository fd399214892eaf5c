package dataset

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// Label delete policies (delete_policy of the batch delete).
const (
	DeleteLabelOnly          = 0 // remove the label from the dataset and its samples
	DeleteLabelAndSamples    = 1 // also delete samples that carry only deleted labels
	DeleteLabelSamplesSource = 2 // and their source files
)

// labelSeqs returns the seqs of the named labels that exist.
func labelSeqs(ix *labelIndex, names []string) []int64 {
	var out []int64
	for _, n := range names {
		if ref, ok := ix.byName[n]; ok {
			out = append(out, ref.seq)
		}
	}
	return out
}

// OnlyLabelSources lists the source files of the samples whose every label
// is among names: what a label delete with delete_policy 2 (or the
// single-label delete with delete_source) removes, for the caller to
// authorize before it commits.
func (s *Service) OnlyLabelSources(ctx context.Context, projectID, id string, names []string) ([]string, error) {
	r, err := s.LoadRow(ctx, s.db, projectID, id, false)
	if err != nil {
		return nil, err
	}
	ix, err := s.repo.loadLabelIndex(ctx, s.db, r)
	if err != nil {
		return nil, err
	}
	found, err := s.repo.onlyLabelled(ctx, s.db, r.ID, labelSeqs(ix, names))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, src := range found {
		if _, ok := ObjectOf(src); ok {
			out = append(out, src)
		}
	}
	return out, nil
}

// applyLabelChanges brings the samples in line with a label set just
// saved: renamed labels are renamed in the samples that carry them;
// removed labels are removed from them, and with a delete policy the
// samples left with nothing but removed labels are deleted instead. It
// returns the sources of the deleted samples.
func (s *Service) applyLabelChanges(ctx context.Context, tx *sql.Tx, r *Row, set *labelSet, policy int) ([]string, error) {
	renamed := map[string]string{}
	var touched []int64
	for _, e := range set.order {
		if e.orig != "" && e.orig != e.l.Name {
			renamed[e.orig] = e.l.Name
			touched = append(touched, e.seq)
		}
	}
	removed := map[string]bool{}
	var removedSeqs []int64
	for _, e := range set.removed {
		removed[e.orig] = true
		removedSeqs = append(removedSeqs, e.seq)
	}
	if len(touched) == 0 && len(removedSeqs) == 0 {
		return nil, nil
	}
	now := s.now().UnixMilli()
	var sources []string
	if policy != DeleteLabelOnly && len(removedSeqs) > 0 {
		doomed, err := s.repo.onlyLabelled(ctx, tx, r.ID, removedSeqs)
		if err != nil {
			return nil, err
		}
		seqs := make([]int64, 0, len(doomed))
		for seq, src := range doomed {
			seqs = append(seqs, seq)
			sources = append(sources, src)
		}
		if err := s.deleteSampleSeqs(ctx, tx, r, seqs, now); err != nil {
			return nil, err
		}
	}
	// The samples still carrying a renamed or removed label, relabelled.
	bySample, err := s.repo.samplesWithLabels(ctx, tx, r.ID, append(touched, removedSeqs...))
	if err != nil {
		return nil, err
	}
	if len(bySample) == 0 {
		return sources, nil
	}
	ix, err := s.repo.loadLabelIndex(ctx, tx, r)
	if err != nil {
		return nil, err
	}
	seqs := make([]int64, 0, len(bySample))
	for seq := range bySample {
		seqs = append(seqs, seq)
	}
	docs, err := s.repo.loadDocs(ctx, tx, r.ID, seqs)
	if err != nil {
		return nil, err
	}
	delta := newCounterDelta()
	var pending []pendingRow
	for seq, e := range bySample {
		d := docs[seq]
		var labels []annotation.Label
		for _, l := range d.doc.Labels {
			if removed[l.Name] {
				continue
			}
			if to, ok := renamed[l.Name]; ok {
				l.Name = to
			}
			labels = append(labels, l)
		}
		counts := map[int64]int{}
		for _, l := range labels {
			if ref, ok := ix.byName[l.Name]; ok {
				counts[ref.seq]++
			}
		}
		state := e.state
		if len(labels) == 0 {
			state = StateUnlabeled
		}
		data, err := json.Marshal(sampleDoc{Labels: labels, Metadata: d.doc.Metadata})
		if err != nil {
			return nil, fmt.Errorf("encode sample: %w", err)
		}
		pending = append(pending, pendingRow{in: &SampleInput{Usage: d.usage}, id: fmt.Sprint(seq), seq: seq, state: state,
			hard: e.hard, labels: counts, doc: string(data), update: true, keepProps: true})
		delta.add(sampleChange{existed: true, oldState: e.state, oldHard: e.hard, oldLabels: e.labels,
			newState: state, newHard: e.hard, newLabels: counts})
	}
	if err := s.repo.writeRows(ctx, tx, r.ID, pending, now); err != nil {
		return nil, err
	}
	return sources, s.repo.applyCounters(ctx, tx, r.ID, delta, r.SampleSeq, now)
}
