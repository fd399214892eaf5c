package obstest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/atelier-dev/atelier/internal/obs"
)

// Listing: each store is checked against a model of what a listing must
// return, page by page.

func testListModel(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := newBucket(t, s)
	for _, k := range listKeys {
		put(t, s, b, k, []byte(k))
	}
	keys := slices.Sorted(slices.Values(listKeys))
	for _, prefix := range []string{"", "a", "a/", "a/c/", "photos/", "photos/2024", "photos/2024/", "photos/2024/02/y.jpg", "x/y/", "nomatch", "é", "zz"} {
		for _, delim := range []string{"", "/", "-"} {
			for _, startAfter := range []string{"", "a/b", "a/", "a/c/", "photos/2024/01/", "photos", "x/y/z", "zz"} {
				for _, maxKeys := range []int{0, 1, 2, 3} {
					opts := obs.ListOptions{Prefix: prefix, Delimiter: delim, StartAfter: startAfter, MaxKeys: maxKeys}
					checkListing(t, c, s, b, keys, opts)
				}
			}
		}
	}
}

// checkListing pages through a listing and compares each page with the
// model.
func checkListing(t *testing.T, c context.Context, s obs.Store, bucket string, keys []string, opts obs.ListOptions) {
	t.Helper()
	for pages := 0; ; pages++ {
		if pages > len(keys)+1 {
			t.Errorf("List(%+v): does not terminate", opts)
			return
		}
		want := modelList(keys, opts)
		got, err := s.List(c, bucket, opts)
		if err != nil {
			t.Errorf("List(%+v): %v", opts, err)
			return
		}
		var gotKeys []string
		for _, o := range got.Objects {
			gotKeys = append(gotKeys, o.Key)
			if o.Bucket != bucket || o.Size != int64(len(o.Key)) || o.ETag == "" || o.ModTime.IsZero() {
				t.Errorf("List(%+v): object %+v lacks attributes", opts, o)
			}
		}
		if !slices.Equal(gotKeys, want.keys) || !slices.Equal(got.CommonPrefixes, want.prefixes) ||
			got.Truncated != want.truncated || got.NextStartAfter != want.next {
			t.Errorf("List(%+v)\n got keys %q prefixes %q truncated %v next %q\nwant keys %q prefixes %q truncated %v next %q",
				opts, gotKeys, got.CommonPrefixes, got.Truncated, got.NextStartAfter,
				want.keys, want.prefixes, want.truncated, want.next)
			return
		}
		if !got.Truncated {
			return
		}
		opts.StartAfter = got.NextStartAfter
	}
}

type modelPage struct {
	keys, prefixes []string
	truncated      bool
	next           string
}

// modelList is the specification of List over sorted keys.
func modelList(keys []string, o obs.ListOptions) modelPage {
	limit := o.MaxKeys
	if limit <= 0 || limit > obs.DefaultMaxKeys {
		limit = obs.DefaultMaxKeys
	}
	var p modelPage
	n, last, lastPrefix := 0, "", ""
	for _, k := range keys {
		if !strings.HasPrefix(k, o.Prefix) {
			continue
		}
		entry, isPrefix := k, false
		if o.Delimiter != "" {
			if i := strings.Index(k[len(o.Prefix):], o.Delimiter); i >= 0 {
				entry, isPrefix = k[:len(o.Prefix)+i+len(o.Delimiter)], true
			}
		}
		if entry <= o.StartAfter || isPrefix && entry == lastPrefix {
			continue
		}
		if n == limit {
			p.truncated, p.next = true, last
			break
		}
		if isPrefix {
			p.prefixes = append(p.prefixes, entry)
			lastPrefix = entry
		} else {
			p.keys = append(p.keys, entry)
		}
		n++
		last = entry
	}
	return p
}

func testListPagination(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := newBucket(t, s)
	const n = 2500
	keys := make([]string, 0, n)
	for i := range n {
		if i%500 == 0 {
			keys = append(keys, fmt.Sprintf("top%05d", i))
		} else {
			keys = append(keys, fmt.Sprintf("p/%02d/k%05d", i%7, i))
		}
	}
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for k := range work {
				if _, err := s.Put(c, b, k, strings.NewReader(k), obs.PutOptions{}); err != nil {
					t.Errorf("Put(%q): %v", k, err)
				}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		return
	}
	slices.Sort(keys)

	for _, maxKeys := range []int{0, 5000, 999, 1000, 1001} {
		var listed []string
		opts := obs.ListOptions{MaxKeys: maxKeys}
		pages := 0
		for {
			page, err := s.List(c, b, opts)
			if err != nil {
				t.Fatalf("List(%+v): %v", opts, err)
			}
			pages++
			limit := min(obs.DefaultMaxKeys, maxKeys)
			if maxKeys <= 0 {
				limit = obs.DefaultMaxKeys
			}
			if len(page.Objects) > limit || page.Truncated && len(page.Objects) != limit {
				t.Fatalf("List(%+v): page of %d objects, truncated %v", opts, len(page.Objects), page.Truncated)
			}
			for _, o := range page.Objects {
				listed = append(listed, o.Key)
			}
			if !page.Truncated {
				break
			}
			if page.NextStartAfter != listed[len(listed)-1] {
				t.Fatalf("NextStartAfter = %q, want the last key %q", page.NextStartAfter, listed[len(listed)-1])
			}
			opts.StartAfter = page.NextStartAfter
		}
		if !slices.Equal(listed, keys) {
			t.Errorf("MaxKeys %d: paging listed %d keys, want the %d put, in order", maxKeys, len(listed), len(keys))
		}
		if wantPages := (n + limitOf(maxKeys) - 1) / limitOf(maxKeys); pages != wantPages {
			t.Errorf("MaxKeys %d: %d pages, want %d", maxKeys, pages, wantPages)
		}
	}

	// One directory level, then paging through it.
	checkListing(t, c, s, b, keys, obs.ListOptions{Prefix: "p/", Delimiter: "/"})
	checkListing(t, c, s, b, keys, obs.ListOptions{Prefix: "p/", Delimiter: "/", MaxKeys: 3})
	checkListing(t, c, s, b, keys, obs.ListOptions{Delimiter: "/", MaxKeys: 2})
	checkListing(t, c, s, b, keys, obs.ListOptions{Prefix: "p/03/", StartAfter: "p/03/k01000", MaxKeys: 100})
}

func limitOf(maxKeys int) int {
	if maxKeys <= 0 || maxKeys > obs.DefaultMaxKeys {
		return obs.DefaultMaxKeys
	}
	return maxKeys
}

// testListNoMarkers checks that a key's parent "directories" are prefixes
// only: deleting the last object under one removes it from listings.
func testListNoMarkers(t *testing.T, s obs.Store) {
	c := ctx(t)
	b := newBucket(t, s)
	put(t, s, b, "d/e/f", []byte("1"))
	put(t, s, b, "g", []byte("2"))
	if err := s.Delete(c, b, "d/e/f"); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []obs.ListOptions{{}, {Delimiter: "/"}, {Prefix: "d/"}, {Prefix: "d/", Delimiter: "/"}} {
		page, err := s.List(c, b, opts)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
		}
		want := []string{"g"}
		if opts.Prefix != "" {
			want = nil
		}
		if !slices.Equal(keys, want) || len(page.CommonPrefixes) != 0 {
			t.Errorf("List(%+v) after deleting d/e/f = keys %q prefixes %q, want keys %q", opts, keys, page.CommonPrefixes, want)
		}
	}
}
