package cache

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPurgeExactDropsEveryVariant(t *testing.T) {
	hs := newHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		w.Header().Set("Vary", "Accept-Language")
		_, _ = w.Write([]byte("lang " + r.Header.Get("Accept-Language")))
	})
	hs.get("/a", "Accept-Language", "en")
	hs.get("/a", "Accept-Language", "fr")
	hs.get("/b")
	hs.clk.advance(time.Millisecond)
	hs.c.Purge("example.com", []PurgeRule{{Kind: PurgeExact, Key: "example.com/a"}})
	resp, _ := hs.get("/a", "Accept-Language", "en")
	hs.want(resp, miss, 4)
	resp, _ = hs.get("/a", "Accept-Language", "fr")
	hs.want(resp, miss, 5)
	resp, _ = hs.get("/b")
	hs.want(resp, hitMem, 5)
	// What was fetched after the purge is served again.
	resp, _ = hs.get("/a", "Accept-Language", "en")
	hs.want(resp, hitMem, 5)
}

func TestPurgeRulesMatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rule    PurgeRule
		purged  []string
		cached  []string
		anyOver string // another domain's same path stays
	}{
		{"directory", PurgeRule{Kind: PurgeDirectory, Key: "example.com/dir/"},
			[]string{"/dir/x", "/dir/sub/y?v=1"}, []string{"/dir", "/other/dir/x"}, "/dir/x"},
		{"ignoreParams", PurgeRule{Kind: PurgeIgnoreParams, Key: "example.com/p.js"},
			[]string{"/p.js", "/p.js?v=1", "/p.js?v=2&x"}, []string{"/p.jsx", "/q.js?v=1"}, "/p.js"},
		{"regex", PurgeRule{Kind: PurgeRegex, Regex: regexp.MustCompile(`^/img/[0-9]+\.jpg$`)},
			[]string{"/img/12.jpg", "/img/3.jpg?w=100"}, []string{"/img/a.jpg", "/x/img/1.jpg", "/img/1.jpgx"}, "/img/1.jpg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, Config{}, fixed("x", "Cache-Control", "max-age=100"))
			other := func(path string) string {
				rec := httptest.NewRecorder()
				hs.c.Serve(rec, httptest.NewRequest(http.MethodGet, path, nil), KeyFor("other.example", mustURL(path), nil), nil, hs.proxy)
				return rec.Header().Get("X-Cache")
			}
			for _, p := range append(append([]string{}, tc.purged...), tc.cached...) {
				hs.get(p)
			}
			other(tc.anyOver)
			hs.clk.advance(time.Millisecond)
			hs.c.Purge("example.com", []PurgeRule{tc.rule})
			for _, p := range tc.purged {
				if resp, _ := hs.get(p); resp.Header.Get("X-Cache") != miss {
					t.Errorf("%s after the purge: %s, want a miss", p, resp.Header.Get("X-Cache"))
				}
			}
			for _, p := range tc.cached {
				if resp, _ := hs.get(p); resp.Header.Get("X-Cache") != hitMem {
					t.Errorf("%s after the purge: %s, want a hit", p, resp.Header.Get("X-Cache"))
				}
			}
			if got := other(tc.anyOver); got != hitMem {
				t.Errorf("another domain's %s after the purge: %s, want a hit", tc.anyOver, got)
			}
		})
	}
}

func TestPurgeCoversFetchUnderWay(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	hs := newHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		select {
		case started <- struct{}{}:
			<-release
		default:
		}
		w.Header().Set("Cache-Control", "max-age=100")
		_, _ = w.Write([]byte("x"))
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		rec := httptest.NewRecorder()
		hs.serve(rec, httptest.NewRequest(http.MethodGet, "/slow", nil))
	}()
	<-started
	hs.clk.advance(time.Millisecond)
	hs.c.Purge("example.com", []PurgeRule{{Kind: PurgeExact, Key: "example.com/slow"}})
	close(release)
	<-done
	resp, _ := hs.get("/slow")
	hs.want(resp, miss, 2)
}

func TestPurgeBeforeEmptiesBothTiers(t *testing.T) {
	dir := t.TempDir()
	hs := newHarness(t, Config{Dir: dir}, fixed("x", "Cache-Control", "max-age=100"))
	hs.get("/a")
	hs.get("/b")
	hs.reopen(Config{Dir: dir}) // the writes are on disk
	if n := len(diskFiles(t, dir)); n != 2 {
		t.Fatalf("%d files on disk, want 2", n)
	}
	hs.clk.advance(time.Millisecond)
	hs.c.PurgeBefore(hs.clk.now())
	hs.c.sweep()
	if n := len(diskFiles(t, dir)); n != 0 {
		t.Errorf("%d files on disk after PurgeBefore, want 0", n)
	}
	resp, _ := hs.get("/a")
	hs.want(resp, miss, 3)
}

func TestSweepForgetsRulesOlderThanEveryEntry(t *testing.T) {
	hs := newHarness(t, Config{}, fixed("x", "Cache-Control", "max-age=100000"))
	hs.get("/a")
	hs.get("/b")
	hs.clk.advance(time.Millisecond)
	hs.c.Purge("example.com", []PurgeRule{{Kind: PurgeExact, Key: "example.com/a"}, {Kind: PurgeDirectory, Key: "example.com/d/"}})
	hs.c.sweep()
	if n := hs.c.PurgeRules(); n != 2 {
		t.Fatalf("%d rules after a sweep with /b older than them, want 2", n)
	}
	// /b is the oldest entry; once it is refetched past the slack, no
	// entry predates the rules.
	hs.clk.advance(fetchSlack + time.Second)
	hs.c.Purge("example.com", []PurgeRule{{Kind: PurgeExact, Key: "example.com/b"}})
	hs.clk.advance(time.Millisecond)
	hs.get("/b")
	hs.clk.advance(fetchSlack + time.Second)
	hs.c.sweep()
	if n := hs.c.PurgeRules(); n != 0 {
		t.Errorf("%d rules left, want 0", n)
	}
	resp, _ := hs.get("/b")
	hs.want(resp, hitMem, 3)
}

func mustURL(path string) *url.URL {
	u, err := url.Parse(path)
	if err != nil {
		panic(err)
	}
	return u
}

// Purges of one domain made at once keep their rules in time order: a
// purge whose clock was read first is appended first, or a lookup, which
// walks the rules from the newest and stops at the first older than the
// entry, would miss the later one.
func TestConcurrentPurgesKeepRulesInTimeOrder(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	base := time.Now()
	t1, fetched, t2 := base.Add(time.Second), base.Add(2*time.Second), base.Add(3*time.Second)
	var calls atomic.Int32
	inFirst, releaseFirst := make(chan struct{}), make(chan struct{})
	c.now = func() time.Time {
		if calls.Add(1) == 1 {
			close(inFirst)
			<-releaseFirst
			return t1
		}
		return t2
	}
	var wg sync.WaitGroup
	wg.Go(func() { c.Purge("example.com", []PurgeRule{{Kind: PurgeDirectory, Key: "example.com/a/"}}) })
	<-inFirst
	wg.Go(func() { c.Purge("example.com", []PurgeRule{{Kind: PurgeDirectory, Key: "example.com/b/"}}) })
	time.Sleep(20 * time.Millisecond) // the second purge, unordered, would finish now
	close(releaseFirst)
	wg.Wait()
	if !c.purges.covers("example.com/b/x", fetched) {
		t.Error("an entry fetched between the two purges is not covered by the later one")
	}
	if c.purges.covers("example.com/a/x", fetched) {
		t.Error("an entry fetched after the first purge is covered by it")
	}
}

// A fetch that takes longer than a sweep lets a rule outlive the entries
// it saw is not stored: the rule that covers it may be gone when it lands.
func TestSlowFetchNotStored(t *testing.T) {
	var hs *harness
	hs = newHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			hs.clk.advance(fetchSlack + time.Second)
		}
		w.Header().Set("Cache-Control", "max-age=100000")
		_, _ = w.Write([]byte("x"))
	})
	hs.get("/slow")
	resp, _ := hs.get("/slow")
	hs.want(resp, miss, 2)
	hs.get("/quick")
	resp, _ = hs.get("/quick")
	hs.want(resp, hitMem, 3)
}

// A purged object is gone, not stale: it is never served for a failing
// origin, whatever serving_stale_content or stale-if-error allow.
func TestPurgedObjectIsNotServedStale(t *testing.T) {
	hs := newHarness(t, Config{}, fixed("old", "Cache-Control", "max-age=1, stale-if-error=3600"))
	hs.rules = &Rules{Stale: &StaleRule{Window: time.Hour}}
	hs.get("/a")
	hs.clk.advance(time.Millisecond)
	hs.c.Purge("example.com", []PurgeRule{{Kind: PurgeExact, Key: "example.com/a"}})
	hs.o.set(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	hs.clk.advance(10 * time.Second)
	if resp, body := hs.get("/a"); resp.StatusCode != http.StatusServiceUnavailable || body == "old" {
		t.Fatalf("after the purge, with the origin failing: %d %q, want the origin's 503", resp.StatusCode, body)
	}
}

// A tenant's pattern may be costly to match (Go's regexp is linear, but
// with a factor of the program's size): past regexBudget a lookup counts
// the entry as purged instead of matching, so a hit never pays for it.
func TestCostlyRegexPurgeIsBounded(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := c.now()
	time.Sleep(time.Millisecond)
	re := regexp.MustCompile(`^(?:/` + strings.Repeat(`(?:[a-z]|[0-9]|x)*`, 100) + `q)$`) // matches no path without a q
	size := programSize(re)
	c.Purge("example.com", []PurgeRule{{Kind: PurgeRegex, Regex: re}})
	short := "/" + strings.Repeat("a", regexBudget/size/2)
	long := "/" + strings.Repeat("a", 8000)
	if c.purges.covers("example.com"+short, before) {
		t.Errorf("a path within the budget that the pattern does not match counts as purged")
	}
	if !c.purges.covers("example.com"+long, before) {
		t.Errorf("a path of %d bytes against a program of %d instructions was matched (or kept), want it counted as purged", len(long), size)
	}
}

// BenchmarkCostlyRegexLookup: what a lookup of an 8 KiB path costs against
// the costly pattern above (about 30 ms per match without the budget).
func BenchmarkCostlyRegexLookup(b *testing.B) {
	c, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	before := c.now()
	time.Sleep(time.Millisecond)
	re := regexp.MustCompile(`^(?:/` + strings.Repeat(`(?:[a-z]|[0-9]|x)*`, 100) + `q)$`)
	c.Purge("example.com", []PurgeRule{{Kind: PurgeRegex, Regex: re}})
	key := "example.com/" + strings.Repeat("a", 8000)
	for range b.N {
		c.purges.covers(key, before)
	}
}

// BenchmarkDomainChangeWith100kFloors: a domain's change renews its floor
// at the edge; with every one of 100k domains holding one (a full load
// gives them), that costs the one domain, not a copy of all.
func BenchmarkDomainChangeWith100kFloors(b *testing.B) {
	c, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	t0 := time.Now().Add(-time.Hour)
	floors := make(map[string]time.Time, 100_000)
	for i := range 100_000 {
		floors[fmt.Sprintf("d%d.example.com", i)] = t0
	}
	c.PurgeDomainsBefore(floors)
	b.ResetTimer()
	for i := range b.N {
		c.PurgeDomainsBefore(map[string]time.Time{fmt.Sprintf("d%d.example.com", i%100_000): t0.Add(time.Duration(i+1) * time.Nanosecond)})
	}
}
