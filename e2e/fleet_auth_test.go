package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/fleettest"
)

// TestFleetAuthEdgeRestartsWithEtcdDown runs the fleet against an etcd
// with authentication on (--etcd-user, CDND_ETCD_PASSWORD; the user may
// touch only /cdnd/): changes flow as without it; then etcd goes away
// entirely and an edge restarted meanwhile must still serve from its
// snapshot: logging in to etcd cannot be a condition of serving.
func TestFleetAuthEdgeRestartsWithEtcdDown(t *testing.T) {
	skipFleet(t)
	t.Parallel()
	f := newFleetWith(t, 1, 2, fleetOptions{auth: true})
	acc := f.newAccount()
	name := "auth.fleet.example"
	f.addDomain(acc, name)
	cert := newFleetCert(t, name, "auth")
	if err := fleetRetry(func() error { return fleettest.SetCert(acc.clients[0], name, cert, false) }); err != nil {
		t.Fatal(err)
	}
	f.waitServed(name, cert.FP, 10*time.Second)
	// The user cdnd logs in as may write only under its prefix.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if resp, err := f.etcd.Get(ctx, "/cdnd/v1/served/domains/"+name); err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("the domain's record under /cdnd/: %v %v", resp, err)
	}

	e2 := f.edges[1]
	f.snapshotCovers(e2, map[string]string{name: cert.Name})
	for _, m := range f.cluster.Members {
		m.Kill()
	}
	f.waitServed(name, cert.FP, 2*time.Second, f.edges[0])
	e2.Kill()
	if err := e2.Start(30 * time.Second); errors.Is(err, fleettest.ErrExited) {
		t.Fatal("cdnd edge with --etcd-user exits when etcd is unreachable instead of serving its snapshot")
	} else if err != nil {
		t.Fatalf("cdnd edge with --etcd-user did not start within 30s with etcd unreachable: %v", err)
	}
	f.waitServed(name, cert.FP, 10*time.Second, e2)

	// etcd returns (its login tokens gone with it): both edges follow again.
	f.restartMembers(f.cluster.Members...)
	next := newFleetCert(t, name, "auth-next")
	if err := fleetRetry(func() error { return fleettest.SetCert(acc.clients[0], name, next, false) }); err != nil {
		t.Fatal(err)
	}
	f.waitServed(name, next.FP, 15*time.Second)
}
