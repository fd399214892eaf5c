package processing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/processing/imageops"
	"github.com/atelier-dev/atelier/internal/obs"
)

// The whole-set phases: de-duplication, selection and cleansing decide
// over every sample at once; validation looks for size outliers.

// decision is what the whole-set phase decided of one waiting sample.
type decision struct {
	keep      bool
	duplicate bool
	desc      [][]string
}

// workRows reads every row that kept its work, in seq order.
func (r *run) workRows(ctx context.Context) ([]*resultRow, error) {
	var all []*resultRow
	after := int64(-1)
	for {
		rows, err := r.s.repo.rowsAfter(ctx, r.v.ID, after, 2000, true)
		if err != nil {
			return nil, err
		}
		all = append(all, rows...)
		if len(rows) < 2000 {
			return all, nil
		}
		after = rows[len(rows)-1].Seq
	}
}

// decisions computes the decision on every waiting sample. It depends on
// the kept work only, so a resumed run decides the same.
func (r *run) decisions(ctx context.Context, rows []*resultRow) (map[int64]decision, error) {
	out := make(map[int64]decision, len(rows))
	op := r.ops[0]
	switch op.Operator().Name {
	case "SimDeduplication":
		d, err := imageops.NewDeduplicator(op)
		if err != nil {
			return nil, err
		}
		fps := make([]imageops.Fingerprint, len(rows))
		source := map[string]string{}
		for i, row := range rows {
			fp := row.Item.FP
			key := strconv.FormatInt(row.Seq, 10)
			fps[i] = imageops.Fingerprint{Key: key, PHash: fp.PHash, Luma: fp.Luma, Width: fp.Width, Height: fp.Height, Bytes: fp.Bytes}
			copy(fps[i].SHA256[:], fp.SHA256)
			source[key] = row.OriginSource
			out[row.Seq] = decision{keep: true}
		}
		for _, g := range d.Groups(fps) {
			keep, _ := strconv.ParseInt(g.Keep, 10, 64)
			out[keep] = decision{keep: true, desc: [][]string{{"kept", fmt.Sprintf("%d duplicate(s) of it removed", len(g.Duplicates))}}}
			for _, dup := range g.Duplicates {
				seq, _ := strconv.ParseInt(dup.Key, 10, 64)
				what := fmt.Sprintf("near duplicate of %s (perceptual hash distance %d)", source[g.Keep], dup.Distance)
				if dup.Exact {
					what = "exact duplicate of " + source[g.Keep]
				}
				out[seq] = decision{duplicate: true, desc: [][]string{{"duplicate", what}}}
			}
		}
	case "RRD":
		sel, err := imageops.NewSelector(op)
		if err != nil {
			return nil, err
		}
		feats := make([][]float32, len(rows))
		for i, row := range rows {
			feats[i] = decodeFeature(row.Item.Feature)
		}
		kept, err := sel.Select(feats)
		if err != nil {
			return nil, invalid("RRD: %v", err)
		}
		for _, row := range rows {
			out[row.Seq] = decision{desc: [][]string{{"redundant", fmt.Sprintf("not among the %d of %d samples kept", len(kept), len(rows))}}}
		}
		for _, i := range kept {
			out[rows[i].Seq] = decision{keep: true}
		}
	case "PCC":
		return r.clean(ctx, rows)
	default:
		return nil, fmt.Errorf("operator %s decides nothing over the set", op.Operator().Name)
	}
	return out, nil
}

// clean decides PCC: the samples like the positive examples (and unlike
// the negative ones) are kept.
func (r *run) clean(ctx context.Context, rows []*resultRow) (map[int64]decision, error) {
	op := r.ops[0]
	c, err := imageops.NewCleaner(op)
	if err != nil {
		return nil, err
	}
	pos, err := r.exampleFeatures(ctx, "prototype_sample_path")
	if err != nil {
		return nil, err
	}
	if len(pos) == 0 {
		return nil, invalid("PCC: prototype_sample_path %v holds no image to compare with.", op.Value("prototype_sample_path"))
	}
	neg, err := r.exampleFeatures(ctx, "criticism_sample_path")
	if err != nil {
		return nil, err
	}
	feats := make([][]float32, len(rows))
	for i, row := range rows {
		feats[i] = decodeFeature(row.Item.Feature)
	}
	verdicts, err := c.Clean(feats, pos, neg)
	if err != nil {
		return nil, invalid("PCC: %v", err)
	}
	out := make(map[int64]decision, len(rows))
	for i, v := range verdicts {
		d := decision{keep: v.Keep}
		if !v.Keep {
			d.desc = [][]string{{"cleaned", fmt.Sprintf("similarity %.3f to the positive samples, %.3f to the negative ones", v.Positive, v.Negative)}}
		}
		out[rows[i].Seq] = d
	}
	return out, nil
}

// exampleFeatures computes the features of the images of a PCC example
// directory; one the requester may not read fails the run.
func (r *run) exampleFeatures(ctx context.Context, param string) ([][]float32, error) {
	s, _ := r.ops[0].Value(param).(string)
	if s == "" {
		return nil, nil
	}
	dir, err := dataset.ParseDir(param, s)
	if err != nil {
		return nil, err
	}
	acc, err := r.access(ctx)
	if err != nil {
		return nil, err
	}
	var out [][]float32
	after := ""
	for {
		page, err := r.s.objects.List(ctx, dir.Bucket, obs.ListOptions{Prefix: dir.Key, StartAfter: after})
		if errors.Is(err, obs.ErrBucketNotFound) {
			return nil, invalid("%s: OBS bucket does not exist: %s.", param, dir.Bucket)
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", dir, err)
		}
		for _, o := range page.Objects {
			if strings.HasSuffix(o.Key, "/") {
				continue
			}
			obj := obs.Path{Bucket: dir.Bucket, Key: o.Key}
			data, err := r.read(ctx, acc, obj)
			var sp *sampleProblem
			if errors.As(err, &sp) {
				return nil, invalid("%s: %s", param, sp.reason)
			}
			if err != nil {
				return nil, err
			}
			f, err := r.featuresOf(data)
			if err != nil {
				continue // not an image: the directory may hold other files
			}
			out = append(out, f)
		}
		if !page.Truncated {
			return out, nil
		}
		after = page.NextStartAfter
	}
}

// decide carries out the whole-set decision: each waiting sample after
// the checkpoint is copied to the output or removed, batch by batch.
func (r *run) decide(ctx context.Context) error {
	rows, err := r.workRows(ctx)
	if err != nil {
		return err
	}
	ds, err := r.decisions(ctx, rows)
	if err != nil {
		return err
	}
	var batch []*resultRow
	var c counts
	flush := func(last bool) error {
		next := r.cur
		if len(batch) > 0 {
			next.After = batch[len(batch)-1].Seq
		}
		if last {
			next.Phase, next.After = phaseManifest, 0
		}
		bc := c
		if err := r.commit(ctx, next, func(tx *sql.Tx) error {
			if err := r.s.repo.updateResults(ctx, tx, r.v.ID, batch); err != nil {
				return err
			}
			return r.s.repo.addCounts(ctx, tx, r.v.ID, bc, r.s.now().UnixMilli())
		}); err != nil {
			return err
		}
		r.v.Counts.add(bc)
		batch, c = nil, counts{}
		return nil
	}
	var acc dataset.ObjectAccess
	for i, row := range rows {
		if row.Property != propPending || row.Seq <= r.cur.After {
			continue
		}
		if i%r.s.batch == 0 || acc == nil {
			if acc, err = r.access(ctx); err != nil {
				return err
			}
		}
		d := ds[row.Seq]
		row.Description = d.desc
		if d.keep {
			it := row.Item
			target := r.target(it.Rel)
			line, err := r.keep(ctx, acc, row, target)
			var sp *sampleProblem
			switch {
			case errors.As(err, &sp):
				row.Property, row.Failed = PropDeleted, true
				row.Description = append(row.Description, []string{"failed", sp.reason})
				c.Deleted++
				c.Failed++
				r.p.Fail(row.OriginSource, sp.reason)
			case err != nil:
				return err
			default:
				row.Property, row.NewSource, row.Line = PropReserved, target.String(), line
				c.Unmodified++
			}
		} else {
			row.Property = PropDeleted
			c.Deleted++
			if d.duplicate {
				c.Duplicate++
			}
		}
		batch = append(batch, row)
		if len(batch) >= r.s.batch {
			if err := flush(false); err != nil {
				return err
			}
		}
	}
	return flush(true)
}

// keep copies a kept sample to the output.
func (r *run) keep(ctx context.Context, acc dataset.ObjectAccess, row *resultRow, target obs.Path) (string, error) {
	src, err := obs.ParsePath(row.Item.Source)
	if err != nil {
		return "", problemf("the sample's source %q is not an object path", row.Item.Source)
	}
	data, err := r.read(ctx, acc, src)
	if err != nil {
		return "", err
	}
	it := row.Item
	return r.output(ctx, acc, target, row.SampleID, data, it.Labels, it.Metadata, it.Usage)
}

// outliers adds validation's findings over the whole set (sizes far from
// the others) to the samples' results; they are for a human to review and
// change no output.
func (r *run) outliers(ctx context.Context) error {
	rows, err := r.workRows(ctx)
	if err != nil {
		return err
	}
	bySeq := make(map[string]*resultRow, len(rows))
	ins := make([]imageops.Inspection, 0, len(rows))
	for _, row := range rows {
		in := row.Item.Inspect
		if in == nil || in.Width == 0 {
			continue
		}
		key := strconv.FormatInt(row.Seq, 10)
		bySeq[key] = row
		ins = append(ins, imageops.Inspection{Key: key, Format: in.Format, Width: in.Width, Height: in.Height, Bytes: in.Bytes})
	}
	var changed []*resultRow
	seen := map[*resultRow]bool{}
	for _, f := range r.validator.Outliers(ins) {
		row := bySeq[f.Key]
		row.Description = append(row.Description, []string{string(f.Code), string(f.Action), f.Message})
		if !seen[row] {
			seen[row] = true
			changed = append(changed, row)
		}
	}
	next := r.cur
	next.Phase = phaseManifest
	return r.commit(ctx, next, func(tx *sql.Tx) error { return r.s.repo.updateResults(ctx, tx, r.v.ID, changed) })
}
