package teamtask

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// Agreement of labelers who labeled the same sample (repetition > 1):
// two labelings agree when they carry the same labels: for classification
// (and every label without a box), the same set of label names; for
// object detection boxes, a one-to-one matching of boxes of the same name
// overlapping by IoU ≥ BoxIoU; other shapes and spans must be equal. Each
// allocation keeps how many of the sample's other labeled allocations it
// agrees with (agree) out of how many there are (compared); the member
// counters (state agreeState) sum them, so the report reads agreement per
// member without a scan.

// BoxIoU is the overlap two boxes need to be the same object.
const BoxIoU = 0.5

// agree recomputes the agreement of the samples whose labels changed, in
// the transaction that changed them, and adds the members' deltas to c.
func (s *Service) agree(ctx context.Context, tx *sql.Tx, t *Task, datasetType int, touched map[int64]bool, c counts) error {
	seqs := make([]int64, 0, len(touched))
	for seq := range touched {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	all, err := s.repo.allocsOfSamples(ctx, tx, t.TaskID, seqs)
	if err != nil {
		return err
	}
	bySeq := map[int64][]*alloc{}
	for _, a := range all {
		bySeq[a.Seq] = append(bySeq[a.Seq], a)
	}
	for _, seq := range seqs {
		copies := bySeq[seq]
		parsed := make([][]annotation.Label, len(copies))
		for i, a := range copies {
			if a.Labels != "" {
				if err := json.Unmarshal([]byte(a.Labels), &parsed[i]); err != nil {
					return fmt.Errorf("decode labels of sample %s: %w", a.SampleID, err)
				}
			}
		}
		for i, a := range copies {
			var agreeN, compared int64
			if len(parsed[i]) > 0 {
				for j := range copies {
					if j == i || len(parsed[j]) == 0 {
						continue
					}
					compared++
					if Agree(parsed[i], parsed[j]) {
						agreeN++
					}
				}
			}
			if agreeN == a.Agree && compared == a.Compared {
				continue
			}
			c.add(a.WorkerID, agreeState, agreeN-a.Agree, compared-a.Compared)
			a.Agree, a.Compared = agreeN, compared
			if err := s.repo.saveAlloc(ctx, tx, t.TaskID, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// Agree reports whether two labelings of one sample agree.
func Agree(x, y []annotation.Label) bool {
	var bx, by []box
	var rx, ry []string
	for _, l := range x {
		if b, ok := boxOf(l); ok {
			bx = append(bx, b)
		} else {
			rx = append(rx, canonical(l))
		}
	}
	for _, l := range y {
		if b, ok := boxOf(l); ok {
			by = append(by, b)
		} else {
			ry = append(ry, canonical(l))
		}
	}
	return sameSet(rx, ry) && boxesMatch(bx, by)
}

// canonical is a label without what does not make it another label (its
// ID, confidence, who made it); a class label is its name and type.
func canonical(l annotation.Label) string {
	key := struct {
		Name     string         `json:"n"`
		Type     int            `json:"t"`
		Property map[string]any `json:"p,omitempty"`
	}{Name: l.Name, Type: l.Type}
	for k, v := range l.Property {
		switch k {
		case annotation.PropShape, annotation.PropFeature, "@modelarts:start_index", "@modelarts:end_index",
			"@modelarts:from", "@modelarts:to", "@modelarts:start_time", "@modelarts:end_time", "@modelarts:content":
			if key.Property == nil {
				key.Property = map[string]any{}
			}
			key.Property[k] = v
		}
	}
	b, _ := json.Marshal(key) // maps marshal with sorted keys
	return string(b)
}

// sameSet compares two labelings' labels as sets (a class named twice is
// one class).
func sameSet(x, y []string) bool {
	ux, uy := map[string]bool{}, map[string]bool{}
	for _, v := range x {
		ux[v] = true
	}
	for _, v := range y {
		uy[v] = true
	}
	if len(ux) != len(uy) {
		return false
	}
	for v := range ux {
		if !uy[v] {
			return false
		}
	}
	return true
}

type box struct {
	name           string
	x1, y1, x2, y2 float64
}

// boxOf reads an object detection rectangle.
func boxOf(l annotation.Label) (box, bool) {
	if shape, _ := l.Property[annotation.PropShape].(string); shape != "" && shape != "bndbox" {
		return box{}, false
	}
	pts, ok := l.Property[annotation.PropFeature].([]any)
	if !ok || len(pts) != 2 {
		return box{}, false
	}
	var xy [4]float64
	for i, p := range pts {
		pair, ok := p.([]any)
		if !ok || len(pair) != 2 {
			return box{}, false
		}
		for j, v := range pair {
			f, ok := v.(float64)
			if !ok {
				return box{}, false
			}
			xy[i*2+j] = f
		}
	}
	return box{name: l.Name, x1: xy[0], y1: xy[1], x2: xy[2], y2: xy[3]}, true
}

// IoU is the intersection over union of two boxes.
func (b box) IoU(o box) float64 {
	iw := min(b.x2, o.x2) - max(b.x1, o.x1)
	ih := min(b.y2, o.y2) - max(b.y1, o.y1)
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	union := (b.x2-b.x1)*(b.y2-b.y1) + (o.x2-o.x1)*(o.y2-o.y1) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// boxesMatch pairs boxes of the same name greedily by the best IoU; the
// labelings agree when every box finds a partner with IoU ≥ BoxIoU.
func boxesMatch(x, y []box) bool {
	if len(x) != len(y) {
		return false
	}
	used := make([]bool, len(y))
	type pair struct {
		i, j int
		iou  float64
	}
	var pairs []pair
	for i, a := range x {
		for j, b := range y {
			if a.name == b.name {
				if v := a.IoU(b); v >= BoxIoU {
					pairs = append(pairs, pair{i, j, v})
				}
			}
		}
	}
	sort.Slice(pairs, func(p, q int) bool { return pairs[p].iou > pairs[q].iou })
	matched := make([]bool, len(x))
	n := 0
	for _, p := range pairs {
		if !matched[p.i] && !used[p.j] {
			matched[p.i], used[p.j] = true, true
			n++
		}
	}
	return n == len(x)
}
