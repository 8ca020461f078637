package edge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/edge/cache"
	"github.com/cdnd/cdnd/internal/store"
)

// purgeFixture is a domain on a counting origin and an HTTP cache with a
// disk tier that outlives the edges started over it, as a restart does.
type purgeFixture struct {
	t       *testing.T
	st      *store.Store
	dir     string
	fetches atomic.Int32
	name    string
	origin  *testOrigin
}

func newPurgeFixture(t *testing.T) *purgeFixture {
	f := &purgeFixture{t: t, st: testStoreFor(t), dir: t.TempDir(), name: "purge.example.com"}
	origin := &testOrigin{srv: httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		w.Header().Set("Cache-Control", "max-age=86400000")
		_, _ = io.WriteString(w, "object")
	}))}
	t.Cleanup(origin.srv.Close)
	f.origin = origin
	c := issue(t, f.name)
	putCertAndDomains(t, f.st, c, "c", domain(f.name, "c", origin.source("20")))
	return f
}

// start runs an edge over a cache reopened on the fixture's directory;
// the edge's purge clock runs ahead by ahead.
func (f *purgeFixture) start(ahead time.Duration) (*env, *cache.Cache) {
	hc, err := cache.New(cache.Config{Dir: f.dir})
	if err != nil {
		f.t.Fatal(err)
	}
	en := startEdge(f.t, f.st, withConfig(func(cfg *Config) { cfg.HTTPCache = hc }),
		withEdge(func(e *Edge) { e.now = func() time.Time { return time.Now().Add(ahead) } }))
	return en, hc
}

// stop stops the edge and closes its cache (writing what is queued).
func stop(en *env, hc *cache.Cache) {
	en.stop()
	hc.Close()
}

func (f *purgeFixture) want(en *env, path, xcache string, fetches int32) {
	f.t.Helper()
	resp := en.getPlain(f.name, path)
	if got := resp.Header.Get("X-Cache"); !strings.HasPrefix(got, xcache) {
		f.t.Errorf("%s: X-Cache %q, want %s", path, got, xcache)
	}
	if got := f.fetches.Load(); got != fetches {
		f.t.Errorf("%s: %d origin fetches, want %d", path, got, fetches)
	}
}

// An edge restarted within the purge records' retention keeps its disk
// cache, and applies the purges written while it was away; one away for
// longer than they are kept drops every object it cached (both tiers):
// what was purged meanwhile is gone from the store, so nothing cached
// before can be trusted.
func TestEdgeAwayLongerThanPurgeRecordsDropsItsCache(t *testing.T) {
	f := newPurgeFixture(t)
	en, hc := f.start(0)
	f.want(en, "/a", "MISS", 1)
	f.want(en, "/b", "MISS", 2)
	f.want(en, "/a", "HIT", 2)
	stop(en, hc)

	// Away briefly; meanwhile /a was purged.
	commit(t, f.st.Txn().PutPurge(store.Purge{AccountID: "1", TaskID: store.NewTaskID(time.Now()), Domain: f.name,
		Type: store.PurgeFile, Paths: []string{"http://" + f.name + "/a"}, Created: time.Now()}))
	en, hc = f.start(0)
	f.want(en, "/b", "HIT", 2)
	f.want(en, "/a", "MISS", 3)
	stop(en, hc)

	// Away for longer than purge records are kept.
	en, hc = f.start(store.PurgeRetention + time.Minute)
	f.want(en, "/b", "MISS", 4)
	f.want(en, "/a", "MISS", 5)
	stop(en, hc)
}

// A purge that arrives through the watch covers the object and its
// variants, and is applied before the edge reports its revision.
func TestEdgeAppliesPurgeBeforeReportingIt(t *testing.T) {
	f := newPurgeFixture(t)
	en, hc := f.start(0)
	defer stop(en, hc)
	f.want(en, "/a?x=1", "MISS", 1)
	f.want(en, "/d/e", "MISS", 2)
	f.want(en, "/a?x=1", "HIT", 2)
	rev := commit(t, f.st.Txn().
		PutPurge(store.Purge{AccountID: "1", TaskID: store.NewTaskID(time.Now()), Domain: f.name, Type: store.PurgeFile, Paths: []string{"http://" + f.name + "/a?x=1"}}).
		PutPurge(store.Purge{AccountID: "1", TaskID: store.NewTaskID(time.Now().Add(time.Second)), Domain: f.name, Type: store.PurgeDirectory, Paths: []string{"http://" + f.name + "/d/"}}))
	en.waitApplied(rev)
	f.want(en, "/a?x=1", "MISS", 3)
	f.want(en, "/d/e", "MISS", 4)
	f.want(en, "/a?x=1", "HIT", 4)
}

// The snapshot keeps the purge records, so an edge started from it alone
// still applies them to the disk cache it kept.
func TestSnapshotKeepsPurges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snap")
	p := store.Purge{AccountID: "1", TaskID: "42", Domain: "k.example.com", Type: store.PurgeDirectory, Paths: []string{"http://k.example.com/d/"}}
	s := &store.Served{Revision: 5, ClusterID: 7, Domains: []store.Domain{domain("k.example.com", "c")}, Purges: []store.Purge{p}}
	if _, err := writeBase(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSnapshot(path)
	if err != nil || len(got.Purges) != 1 || got.Purges[0].TaskID != "42" || got.Purges[0].Paths[0] != p.Paths[0] {
		t.Fatalf("%+v, %v", got, err)
	}
	hc, err := cache.New(cache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	e := New(Config{Keyring: testKR, HTTPCache: hc})
	e.load(got)
	if n := hc.PurgeRules(); n != 1 {
		t.Fatalf("%d purge rules after loading the snapshot, want 1", n)
	}
}

// A domain deleted and added again by another account, here on another
// origin, starts with nothing its earlier owner's visitors had cached:
// whether the edge saw the deletion, or was down while it happened.
func TestReaddedDomainStartsWithNothingCached(t *testing.T) {
	f := newPurgeFixture(t)
	other := &testOrigin{srv: httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		_, _ = io.WriteString(w, "the new owner's")
	}))}
	t.Cleanup(other.srv.Close)
	readd := func(owner string, o *testOrigin) int64 {
		d := domain(f.name, "c", o.source("20"))
		d.AccountID, d.Created = owner, time.Now()
		return commit(t, f.st.Txn().Put(store.DomainKey(f.name), d))
	}
	body := func(en *env, path string) string {
		_, b := en.do(http.MethodGet, f.name, path, "", nil)
		return b
	}

	en, hc := f.start(0)
	f.want(en, "/a", "MISS", 1)
	f.want(en, "/a", "HIT", 1)
	en.waitApplied(commit(t, f.st.Txn().Delete(store.DomainKey(f.name))))
	en.waitApplied(readd("2", other))
	if got := body(en, "/a"); got != "the new owner's" {
		t.Errorf("after delete and add, seen by the edge: %q", got)
	}
	f.want(en, "/b", "MISS", 1)
	stop(en, hc)

	// Deleted and added again while the edge was down: the record is
	// newer than what the disk holds.
	commit(t, f.st.Txn().Delete(store.DomainKey(f.name)))
	time.Sleep(time.Millisecond)
	readd("3", f.origin)
	en, hc = f.start(0)
	defer stop(en, hc)
	if got := body(en, "/b"); got != "object" {
		t.Errorf("after delete and add with the edge down: %q", got)
	}
}
