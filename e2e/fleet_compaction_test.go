package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cdnd/cdnd/internal/fleettest"
)

// TestFleetCompactionPastEdges: one edge frozen (SIGSTOP), the other killed,
// both long enough for their leases to go; meanwhile domains change, one is
// deleted, one stopped, two added, thousands of revisions go by, and the
// history is compacted past both edges. Thawed and restarted (from its
// snapshot), each edge resyncs and serves exactly the right set.
func TestFleetCompactionPastEdges(t *testing.T) {
	skipFleet(t)
	t.Parallel()
	f := newFleet(t, 2, 2)
	e1, e2 := f.edges[0], f.edges[1]
	accs := []*fleetAccount{f.newAccount(), f.newAccount()}
	const n = 8 // d0..d5 exist before, d6 and d7 are added during the outage
	names := make([]string, n)
	certs := make([]fleettest.Cert, n)
	bound := map[string]string{}
	acc := func(i int) *fleetAccount { return accs[i%2] }
	for i := range n {
		names[i] = fmt.Sprintf("d%d.compaction.fleet.example", i)
		certs[i] = newFleetCert(t, names[i], fmt.Sprintf("d%d-before", i))
	}
	for i := range 6 {
		f.addDomain(acc(i), names[i])
		if err := fleetRetry(func() error { return fleettest.SetCert(acc(i).clients[i%2], names[i], certs[i], false) }); err != nil {
			t.Fatal(err)
		}
		bound[names[i]] = certs[i].Name
	}
	for i := range 6 {
		f.waitServed(names[i], certs[i].FP, 10*time.Second)
	}
	f.snapshotCovers(e2, bound)
	before := f.revision()

	e1.Freeze()
	t.Cleanup(e1.Thaw)
	e2.Kill()
	// Both leases end, as they would 10 s later: the API stops waiting on
	// these edges.
	f.expireEdgeLease("e1")
	f.expireEdgeLease("e2")
	f.waitEdges(0)

	// The changes made while they are away.
	want := map[string]string{} // domain → fingerprint served, "" for refused
	for i := range 3 {
		next := newFleetCert(t, names[i], fmt.Sprintf("d%d-after", i))
		if err := fleetRetry(func() error { return fleettest.SetCert(acc(i).clients[(i+1)%2], names[i], next, false) }); err != nil {
			t.Fatal(err)
		}
		want[names[i]] = next.FP
	}
	again := newFleetCert(t, names[0], "d0-again")
	if err := fleetRetry(func() error { return fleettest.SetCert(acc(0).clients[0], names[0], again, false) }); err != nil {
		t.Fatal(err)
	}
	want[names[0]] = again.FP
	del := cdn.CreateDeleteCdnDomainRequest()
	del.DomainName = names[3]
	if err := fleetRetry(func() error { _, err := acc(3).clients[0].DeleteCdnDomain(del); return err }); err != nil {
		t.Fatal(err)
	}
	want[names[3]] = ""
	stop := cdn.CreateStopCdnDomainRequest()
	stop.DomainName = names[4]
	if err := fleetRetry(func() error { _, err := acc(4).clients[1].StopCdnDomain(stop); return err }); err != nil {
		t.Fatal(err)
	}
	want[names[4]] = ""
	want[names[5]] = certs[5].FP
	for _, i := range []int{6, 7} {
		f.addDomain(acc(i), names[i])
		if err := fleetRetry(func() error { return fleettest.SetCert(acc(i).clients[i%2], names[i], certs[i], false) }); err != nil {
			t.Fatal(err)
		}
		want[names[i]] = certs[i].FP
	}
	// Thousands of revisions (another installation sharing the cluster).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 2000 {
		if _, err := f.etcd.Put(ctx, fmt.Sprintf("/other-installation/k%d", i%50), strings.Repeat("x", 100)); err != nil {
			t.Fatal(err)
		}
	}
	rev := f.revision()
	if _, err := f.etcd.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	t.Logf("compacted at revision %d; the edges had applied up to %d", rev, before)

	e1.Thaw()
	f.start(e2)
	for name, fp := range want {
		f.waitServed(name, fp, 15*time.Second)
	}
	f.waitEdges(2)
	// Resynced past the compaction, and they say so.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		view, err := f.listEdges()
		if err == nil && view.ByID()["e1"].Applied >= rev && view.ByID()["e2"].Applied >= rev &&
			view.ByID()["e1"].Domains == 7 && view.ByID()["e2"].Domains == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("edges after the compaction at %d: %+v (%v); want both past it with 7 domains", rev, view, err)
		}
	}
	if !strings.Contains(e2.LogText(), "compacted") {
		t.Error("e2 never said it found its history compacted: the test did not exercise a resync")
	}
	// Once resynced they keep following: a change now reaches both.
	last := newFleetCert(t, names[5], "d5-last")
	if err := fleetRetry(func() error { return fleettest.SetCert(acc(5).clients[0], names[5], last, false) }); err != nil {
		t.Fatal(err)
	}
	f.waitServed(names[5], last.FP, 10*time.Second)
}

// expireEdgeLease revokes the lease an edge's record lives under: what
// etcd does by itself once the edge has been silent for store.EdgeTTL.
func (f *fleet) expireEdgeLease(edgeID string) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := f.etcd.Get(ctx, "/cdnd/v1/edges/"+edgeID)
	if err != nil || len(resp.Kvs) != 1 {
		f.t.Fatalf("edge %s's record: %v %v", edgeID, resp, err)
	}
	if _, err := f.etcd.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		f.t.Fatal(err)
	}
}
