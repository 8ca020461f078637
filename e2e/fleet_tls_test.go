package e2e

import (
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/fleettest"
)

// TestFleetTLS runs the members of `cdnd etcd` with TLS for clients and
// peers, each requiring a certificate from the fleet's CA, and the nodes
// with --etcd-cert, --etcd-key and --etcd-ca: a fleet spread over machines
// keeps etcd's traffic (domain bindings, sealed keys, login tokens)
// encrypted and closed to strangers. A change flows to both edges, and an
// edge restarted with etcd down serves its snapshot.
func TestFleetTLS(t *testing.T) {
	skipFleet(t)
	t.Parallel()
	f := newFleetWith(t, 1, 2, fleetOptions{tls: true})
	acc := f.newAccount()
	name := "tls.fleet.example"
	f.addDomain(acc, name)
	cert := newFleetCert(t, name, "tls")
	if err := fleetRetry(func() error { return fleettest.SetCert(acc.clients[0], name, cert, false) }); err != nil {
		t.Fatal(err)
	}
	f.waitServed(name, cert.FP, 10*time.Second)
	f.snapshotCovers(f.edges[1], map[string]string{name: cert.Name})
	for _, m := range f.cluster.Members {
		m.Kill()
	}
	f.edges[1].Kill()
	f.start(f.edges[1])
	f.waitServed(name, cert.FP, 10*time.Second)
	f.restartMembers(f.cluster.Members...)
	next := newFleetCert(t, name, "tls-next")
	if err := fleetRetry(func() error { return fleettest.SetCert(acc.clients[0], name, next, false) }); err != nil {
		t.Fatal(err)
	}
	f.waitServed(name, next.FP, 15*time.Second)
}
