package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/fleettest"
)

// TestFleetEtcdDownEdgesServe kills every etcd member: both edges keep
// serving every domain; an edge killed and restarted meanwhile serves from
// its snapshot; both API nodes, and a third started meanwhile, answer 503
// ServiceUnavailable in bounded time; when the members come back on their
// data directories the API recovers by itself and a change made then
// reaches both edges.
func TestFleetEtcdDownEdgesServe(t *testing.T) {
	skipFleet(t)
	t.Parallel()
	f := newFleet(t, 2, 2)
	acc := f.newAccount()
	const n = 4
	names := make([]string, n)
	certs := make([]fleettest.Cert, n)
	bound := map[string]string{}
	for i := range n {
		names[i] = fmt.Sprintf("d%d.outage.fleet.example", i)
		f.addDomain(acc, names[i])
		certs[i] = newFleetCert(t, names[i], fmt.Sprintf("d%d", i))
		if err := fleetRetry(func() error { return fleettest.SetCert(acc.clients[i%2], names[i], certs[i], false) }); err != nil {
			t.Fatal(err)
		}
		bound[names[i]] = certs[i].Name
	}
	for i := range n {
		f.waitServed(names[i], certs[i].FP, 10*time.Second)
	}
	e1, e2 := f.edges[0], f.edges[1]
	f.snapshotCovers(e2, bound)

	for _, m := range f.cluster.Members {
		m.Kill()
	}
	down := time.Now()
	servesAll := func(when string) {
		t.Helper()
		for _, e := range f.edges {
			for i := range n {
				got, err := edgeServes(e, names[i])
				if err != nil || got != certs[i].FP {
					t.Fatalf("%s: edge %s serves %s: %.16s, %v; want %.16s", when, e.Name, names[i], got, err, certs[i].FP)
				}
			}
		}
	}
	servesAll("etcd down")

	// An edge restarted with no store to reach serves its snapshot.
	e2.Kill()
	f.start(e2)
	f.waitServed(names[0], certs[0].FP, 10*time.Second, e2)
	servesAll("e2 restarted with etcd down")

	// The API: 503 ServiceUnavailable from both nodes, reads and writes,
	// within the gateway's bound.
	late := newFleetCert(t, names[0], "late")
	var wg sync.WaitGroup
	for i := range f.apis {
		c := acc.clients[i]
		for _, call := range []struct {
			what string
			do   func() error
		}{
			{"DescribeCdnDomainDetail", func() error { _, err := domainStatus(c, names[0]); return err }},
			{"SetDomainServerCertificate", func() error { return fleettest.SetCert(c, names[0], late, false) }},
		} {
			wg.Go(func() {
				sent := time.Now()
				err := call.do()
				took := time.Since(sent)
				if fleettest.APICode(err) != "ServiceUnavailable" || fleettest.APIStatus(err) != 503 {
					t.Errorf("%s on %s with etcd down: %v, want 503 ServiceUnavailable", call.what, f.apis[i].Name, err)
				}
				if took > fleetGatewayBound {
					t.Errorf("%s on %s with etcd down took %v", call.what, f.apis[i].Name, took)
				}
				t.Logf("%s on %s with etcd down: %d %s in %v", call.what, f.apis[i].Name, fleettest.APIStatus(err), fleettest.APICode(err), took.Round(time.Millisecond))
			})
		}
	}
	wg.Wait()

	// An API node started now comes up (it confirms the root account once
	// the store answers) and answers like the others, rather than hang
	// before it even listens.
	api3 := f.newNode(f.launcher, "api", "api3")
	f.start(api3)
	late3 := fleetClient(t, api3, acc.keyID, acc.secret)
	sent := time.Now()
	if _, err := domainStatus(late3, names[0]); fleettest.APICode(err) != "ServiceUnavailable" || time.Since(sent) > fleetGatewayBound {
		t.Fatalf("an API node started with etcd down: %v after %v, want 503 ServiceUnavailable", err, time.Since(sent))
	}
	// By now the edges have been cut off longer than their leases last.
	servesAll(fmt.Sprintf("etcd down for %v", time.Since(down).Round(time.Second)))

	// etcd comes back; nothing is restarted on the cdnd side.
	f.restartMembers(f.cluster.Members...)
	back := time.Now()
	next := newFleetCert(t, names[1], "after")
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err = fleettest.SetCert(acc.clients[1], names[1], next, false); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("the API did not recover within 20s of etcd's return: %v", err)
	}
	t.Logf("first acknowledged write %v after etcd's return", time.Since(back).Round(time.Millisecond))
	if err := fleetRetry(func() error { _, err := domainStatus(late3, names[1]); return err }); err != nil {
		t.Fatalf("the API node started during the outage after etcd's return: %v", err)
	}
	f.waitServed(names[1], next.FP, 10*time.Second, e1, e2)
	f.waitStatus(acc, names[1], "online", 15*time.Second)
	// The write refused during the outage left nothing behind.
	if ci, err := certInfo(acc.clients[0], names[0]); err != nil || ci.CertName != certs[0].Name {
		t.Fatalf("%s after the outage: %+v, %v; want %s", names[0], ci, err, certs[0].Name)
	}
	f.waitServed(names[0], certs[0].FP, 5*time.Second)
}
