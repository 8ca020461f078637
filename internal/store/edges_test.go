package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func edgesByID(t *testing.T, st *Store) map[string]Edge {
	t.Helper()
	es, err := st.Edges(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]Edge{}
	for _, e := range es {
		m[e.EdgeID] = e
	}
	return m
}

func TestEdgeLease(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	before := time.Now()

	l1 := st.RegisterEdge("edge-1")
	defer l1.Close(ctx)
	// The record is the lease's id and the store's clock, whatever the
	// report says.
	if err := l1.Report(ctx, Edge{EdgeID: "spoofed", Applied: 42, Domains: 3, Reported: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	got := edgesByID(t, st)
	if e, ok := got["edge-1"]; !ok || e.Applied != 42 || e.Domains != 3 || e.Reported.Before(before) || len(got) != 1 {
		t.Fatalf("Edges = %+v, want edge-1 applied 42", got)
	}

	// The record is attached to a lease of EdgeTTL.
	lease := l1.lease
	lr, err := st.cli.TimeToLive(ctx, lease)
	if err != nil {
		t.Fatal(err)
	}
	if lr.GrantedTTL != int64(EdgeTTL/time.Second) || lr.TTL <= 0 {
		t.Errorf("edge lease: granted %d s, %d s left; want %v", lr.GrantedTTL, lr.TTL, EdgeTTL)
	}

	if err := l1.Report(ctx, Edge{Applied: 43}); err != nil {
		t.Fatal(err)
	}
	if l1.lease != lease {
		t.Error("a second report took a new lease")
	}
	l2 := st.RegisterEdge("edge-2")
	defer l2.Close(ctx)
	if err := l2.Report(ctx, Edge{Applied: 7}); err != nil {
		t.Fatal(err)
	}
	es, err := st.Edges(ctx)
	if err != nil || len(es) != 2 || es[0].EdgeID != "edge-1" || es[0].Applied != 43 || es[1].EdgeID != "edge-2" || es[1].Applied != 7 {
		t.Fatalf("Edges = %+v, %v; want edge-1@43, edge-2@7", es, err)
	}

	// The lease is lost behind the edge's back (as when etcd expires it):
	// the record goes, and the next report grants a new lease.
	if _, err := st.cli.Revoke(ctx, lease); err != nil {
		t.Fatal(err)
	}
	if _, ok := edgesByID(t, st)["edge-1"]; ok {
		t.Fatal("edge-1 still listed after its lease was revoked")
	}
	if err := l1.Report(ctx, Edge{Applied: 44}); err != nil {
		t.Fatalf("Report after the lease was lost: %v", err)
	}
	if e := edgesByID(t, st)["edge-1"]; e.Applied != 44 {
		t.Fatalf("edge-1 = %+v after re-grant, want applied 44", e)
	}

	// Close withdraws the record at once.
	l1.Close(ctx)
	got = edgesByID(t, st)
	if _, ok := got["edge-1"]; ok || len(got) != 1 {
		t.Fatalf("Edges after Close = %+v, want only edge-2", got)
	}
	l2.Close(ctx)
	if got := edgesByID(t, st); len(got) != 0 {
		t.Fatalf("Edges after closing all = %+v", got)
	}
}

// AwaitApplied follows the edges' reports: it waits while an edge is
// behind, returns with the report that brings the last one up, and stops
// waiting for an edge whose record goes away.
func TestAwaitAppliedFollowsReports(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	if err := st.AwaitApplied(ctx, 1<<40); err != nil {
		t.Fatalf("no edge registered: %v", err)
	}
	ahead, behind := st.RegisterEdge("ahead"), st.RegisterEdge("behind")
	defer ahead.Close(ctx)
	defer behind.Close(ctx)
	for _, r := range []struct {
		l   *EdgeLease
		rev int64
	}{{ahead, 100}, {behind, 10}} {
		if err := r.l.Report(ctx, Edge{Applied: r.rev}); err != nil {
			t.Fatal(err)
		}
	}

	wait := func(rev int64) chan error {
		done := make(chan error, 1)
		go func() { done <- st.AwaitApplied(ctx, rev) }()
		return done
	}
	stillWaiting := func(done chan error, why string) {
		t.Helper()
		// A report that does not bring every edge to rev is a write the
		// watch sees; waiting for one more write of the store's makes sure
		// the call had the chance to return wrongly.
		if err := ahead.Report(ctx, Edge{Applied: 100}); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			t.Fatalf("%s: AwaitApplied returned %v", why, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	returns := func(done chan error, why string) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", why, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: AwaitApplied did not return", why)
		}
	}

	done := wait(50)
	stillWaiting(done, "edge 'behind' at 10")
	if err := behind.Report(ctx, Edge{Applied: 40}); err != nil {
		t.Fatal(err)
	}
	stillWaiting(done, "edge 'behind' at 40")
	if err := behind.Report(ctx, Edge{Applied: 50}); err != nil {
		t.Fatal(err)
	}
	returns(done, "every edge at 50")

	done = wait(60)
	stillWaiting(done, "edge 'behind' at 50")
	behind.Close(ctx)
	returns(done, "the edge behind has gone")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := st.AwaitApplied(cctx, 1000); err == nil {
		t.Fatal("AwaitApplied with a cancelled context returned nil")
	}
}

// Many concurrent AwaitApplied callers read once each and share one watch
// of the reports: a watch per call (as first written) made 64 callers hang
// here, and under write load made the edges' own watch queue behind theirs,
// so the API answered ServiceBusy for changes the edges had applied.
func TestAwaitAppliedManyCallers(t *testing.T) {
	st := newStore(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang fails, not a slow run
	defer cancel()
	edge := st.RegisterEdge("edge")
	defer edge.Close(ctx)
	if err := edge.Report(ctx, Edge{Applied: 1000}); err != nil {
		t.Fatal(err)
	}
	waitAll := func(rev func(n int64) int64, calls int64) *sync.WaitGroup {
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				for n := range calls {
					if err := st.AwaitApplied(ctx, rev(n)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		return &wg
	}

	ranges := etcdCounter(t, "etcd_mvcc_range_total")
	waitAll(func(n int64) int64 { return n + 1 }, 20).Wait()
	if d := etcdCounter(t, "etcd_mvcc_range_total") - ranges; d > 64*20 {
		t.Errorf("1280 waits for applied revisions read the store %v times", d)
	}

	// Behind: every caller waits for the one report that brings the edge
	// to 2000.
	wg := waitAll(func(int64) int64 { return 2000 }, 1)
	for applied := int64(1100); applied <= 2000; applied += 100 {
		if err := edge.Report(ctx, Edge{Applied: applied}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

// etcdCounter reads one of the embedded member's counters.
func etcdCounter(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var sum float64
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
		return sum
	}
	t.Fatalf("no metric %s", name)
	return 0
}
