package importer

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/obs"
)

// ---- Sync removals ----

// removeMissing deletes the samples under the sync's sources whose objects
// are gone: it lists the sources (the listing after the add phase, or again
// after a restart) and walks the dataset's samples in seq order from the
// checkpoint, a page per transaction.
func (im *importer) removeMissing(ctx context.Context, sources []obs.Path) error {
	var present [][16]byte
	prefixes := make([]string, len(sources))
	for i, src := range sources {
		prefixes[i] = "obs://" + src.Bucket + "/" + src.Key
		after := ""
		for {
			page, err := im.s.objects.List(ctx, src.Bucket, obs.ListOptions{Prefix: src.Key, StartAfter: after})
			if errors.Is(err, obs.ErrBucketNotFound) {
				return importFailed("OBS bucket does not exist: %s.", src.Bucket)
			}
			if err != nil {
				return fmt.Errorf("list %s: %w", src, err)
			}
			for _, o := range page.Objects {
				id, _ := hex.DecodeString(dataset.SampleID("obs://" + src.Bucket + "/" + o.Key))
				present = append(present, [16]byte(id))
			}
			if !page.Truncated {
				break
			}
			after = page.NextStartAfter
		}
	}
	slices.SortFunc(present, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	under := func(src string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(src, p) {
				return true
			}
		}
		return false
	}
	seq := int64(0)
	if im.cur.Removing {
		seq = im.cur.Seq
	}
	for {
		page, err := im.s.ds.SamplePage(ctx, im.ds.ID, seq, im.batchSize)
		if err != nil {
			return err
		}
		var gone []int64
		n := len(page)
		for _, smp := range page {
			seq = smp.Seq
			if !under(smp.Source) {
				continue
			}
			raw, err := hex.DecodeString(smp.ID)
			if err != nil || len(raw) != 16 {
				continue
			}
			if _, found := slices.BinarySearchFunc(present, [16]byte(raw), func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) }); !found {
				gone = append(gone, smp.Seq)
			}
		}
		if n == 0 {
			return nil
		}
		st := im.cur.Stats
		st.Deleted += int64(len(gone))
		cur := importCursor{Removing: true, Seq: seq, Source: len(sources), Stats: st}
		if err := ctx.Err(); err != nil {
			return err
		}
		err = im.inTx(ctx, func(tx *sql.Tx) error {
			if len(gone) > 0 {
				r, err := im.s.ds.LoadRow(ctx, tx, im.projectID, im.ds.ID, true)
				if err != nil {
					return err
				}
				if err := im.s.ds.DeleteSamplesTx(ctx, tx, r, gone); err != nil {
					return err
				}
			}
			data, err := json.Marshal(cur)
			if err != nil {
				return fmt.Errorf("encode checkpoint: %w", err)
			}
			return im.p.CheckpointTx(ctx, tx, string(data))
		})
		if err != nil {
			return err
		}
		im.cur = cur
		im.publish()
	}
}
