package dataset

import (
	"context"
	"sync"
)

// cache.go keeps what the dataset routes read on every request and that
// cannot go stale unnoticed: a dataset's workspace (fixed at creation) and
// its label list (checked against the label revision of the dataset row
// the request reads anyway). Both are per process: a replica's copy is
// right whatever another replica writes, because a dataset never changes
// workspace and every label write moves the revision in the row.

// maxCached bounds each cache: past it, an arbitrary entry makes room.
// A dataset's labels are at most a few kilobytes in the common case, and
// MaxLabels of them at worst.
const maxCached = 4096

// boundedMap is a map with at most maxCached entries, safe for concurrent
// use.
type boundedMap[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

func (b *boundedMap[K, V]) get(k K) (V, bool) {
	b.mu.Lock()
	v, ok := b.m[k]
	b.mu.Unlock()
	return v, ok
}

func (b *boundedMap[K, V]) put(k K, v V) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = make(map[K]V)
	}
	if _, ok := b.m[k]; !ok && len(b.m) >= maxCached {
		for old := range b.m {
			delete(b.m, old)
			break
		}
	}
	b.m[k] = v
}

func (b *boundedMap[K, V]) delete(k K) {
	b.mu.Lock()
	delete(b.m, k)
	b.mu.Unlock()
}

// datasetKey names a dataset within its project: a lookup through another
// project's path never finds it.
type datasetKey struct{ projectID, datasetID string }

// cachedIndex is a dataset's label index (names to seqs and types) as of a
// label revision, for reads: it is shared and never resolves new labels.
type cachedIndex struct {
	rev int64
	ix  *labelIndex
}

// readIndexAt returns the label index of the dataset row r for a read (the
// sample lists' label filters), from the cache when it holds it at r's
// revision. Callers look names up and do not resolve new ones: a write
// loads its own index in its transaction.
func (s *Service) readIndexAt(ctx context.Context, r *Row) (*labelIndex, error) {
	if c, ok := s.indexCache.get(r.ID); ok && c.rev == r.LabelsRev {
		return c.ix, nil
	}
	ix, err := s.repo.loadLabelIndex(ctx, s.db, r)
	if err != nil {
		return nil, err
	}
	s.indexCache.put(r.ID, cachedIndex{rev: r.LabelsRev, ix: ix})
	return ix, nil
}

// cachedLabels is a dataset's label list as of a label revision.
type cachedLabels struct {
	rev    int64
	labels []Label
}

// labelsAt returns the labels of the dataset row r, from the cache when it
// holds them at r's revision. The list is shared with other requests:
// callers read it and do not change its labels' properties or attributes
// (the slice itself is theirs).
//
// A reader that loaded r just before a label write committed may read the
// new labels under r's older revision and store them so; only requests
// that read the row before that commit can ask for that revision, so what
// they get is at worst the newer list.
func (s *Service) labelsAt(ctx context.Context, r *Row) ([]Label, error) {
	if c, ok := s.labelCache.get(r.ID); ok && c.rev == r.LabelsRev {
		return append([]Label(nil), c.labels...), nil
	}
	labels, err := s.labels(ctx, s.db, r.ID)
	if err != nil {
		return nil, err
	}
	s.labelCache.put(r.ID, cachedLabels{rev: r.LabelsRev, labels: labels})
	return append([]Label(nil), labels...), nil
}
