package e2e

import (
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/fleettest"
)

// TestFleetEdgesAndConfiguring: `cdnd admin edges` lists both edges with
// the revision each has applied and its lag; a change is `configuring`
// while an edge that still holds its lease (SIGSTOP'd) has not applied it,
// and `online` once it has (SIGCONT).
func TestFleetEdgesAndConfiguring(t *testing.T) {
	skipFleet(t)
	t.Parallel()
	f := newFleet(t, 2, 2)
	acc := f.newAccount()
	name := "status.fleet.example"
	f.addDomain(acc, name)
	first := newFleetCert(t, name, "first")
	if err := fleetRetry(func() error { return fleettest.SetCert(acc.clients[0], name, first, false) }); err != nil {
		t.Fatal(err)
	}
	f.waitStatus(acc, name, "online", 10*time.Second)
	f.waitServed(name, first.FP, 10*time.Second)

	// The CLI, against each API node: both edges, their applied revision
	// and lag, and the one domain.
	rev := f.revision()
	for _, api := range f.apis {
		var view fleettest.EdgeList
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			out, err := exec.Command(cdndBinary(t), "admin", "edges", "-o", "json", "--admin-addr", api.Addr("admin"), "--token", fleetToken).Output()
			if err != nil {
				t.Fatalf("cdnd admin edges: %v %s", err, out)
			}
			if err := json.Unmarshal(out, &view); err != nil {
				t.Fatalf("cdnd admin edges: %v: %s", err, out)
			}
			edges := view.ByID()
			if len(view.Edges) == 2 && edges["e1"].Applied >= rev && edges["e2"].Applied >= rev {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cdnd admin edges on %s: %+v, want e1 and e2 at revision %d or later", api.Name, view, rev)
			}
		}
		for _, e := range view.Edges {
			if e.Applied > view.Revision || e.Lag != view.Revision-e.Applied || e.Domains != 1 {
				t.Fatalf("edge %+v in %+v: want Applied ≤ Revision, Lag = Revision - Applied, 1 domain", e, view)
			}
		}
	}

	// Freeze e2: its lease lives on (10 s), so it still counts.
	e1, e2 := f.edges[0], f.edges[1]
	e2.Freeze()
	t.Cleanup(e2.Thaw)
	stopped := time.Now()
	second := newFleetCert(t, name, "second")
	if err := fleettest.SetCert(acc.clients[1], name, second, false); err != nil {
		t.Fatal(err)
	}
	changed := f.revision()
	if st, err := domainStatus(acc.clients[0], name); err != nil || st != "configuring" {
		t.Fatalf("right after a change with e2 frozen: status %q (%v), want configuring", st, err)
	}
	f.waitServed(name, second.FP, 5*time.Second, e1)
	// e1 has applied it and says so; e2 lags behind it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		view, err := f.listEdges()
		if err != nil {
			t.Fatal(err)
		}
		edges := view.ByID()
		if edges["e1"].Applied >= changed && edges["e2"].Applied < changed && edges["e2"].Lag > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with e2 frozen after revision %d: %+v", changed, view)
		}
	}
	// Still configuring: e2 holds its lease and has not applied the change.
	if st, err := domainStatus(acc.clients[1], name); err != nil || st != "configuring" {
		t.Fatalf("with e2 frozen: status %q (%v), want configuring", st, err)
	}
	if held := time.Since(stopped); held > 8*time.Second {
		t.Fatalf("the checks took %v: e2's lease may have expired, the test proves nothing", held)
	}
	e2.Thaw()
	f.waitStatus(acc, name, "online", 8*time.Second)
	f.waitServed(name, second.FP, 5*time.Second, e2)

	// New content under the bound name (ForceSet) changes what the domain
	// serves as much as a new name does: configuring until e2 has it.
	e2.Freeze()
	renewed := newFleetCert(t, name, "second")
	if err := fleettest.SetCert(acc.clients[0], name, renewed, true); err != nil {
		t.Fatal(err)
	}
	f.waitServed(name, renewed.FP, 5*time.Second, e1)
	st, err := domainStatus(acc.clients[0], name)
	e2.Thaw()
	if err != nil || st != "configuring" {
		t.Errorf("after ForceSet replaced the bound certificate, with e2 frozen: status %q (%v), want configuring", st, err)
	}
	f.waitServed(name, renewed.FP, 5*time.Second, e2)
	f.waitStatus(acc, name, "online", 8*time.Second)
}
