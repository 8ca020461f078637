package e2e

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/acme/acmetest"
	"github.com/cdnd/cdnd/internal/fleettest"
)

// newACMEFleet starts Pebble and a fleet of two API nodes with free
// certificates from it and two edges; Pebble validates against edge e2
// only, so the edge the CA reaches is never beside the ordering node.
func newACMEFleet(t *testing.T) (*fleet, *acmetest.Pebble) {
	t.Helper()
	skipFleet(t)
	p := acmetest.Start(t, acmetest.Options{})
	f := newFleetWith(t, 2, 2, fleetOptions{apiArgs: []string{
		"--acme-directory", p.Directory, "--acme-ca-file", p.CAFile, "--acme-email", "ops@acme.test",
		"--acme-lock-ttl", "2s", "--acme-retry", "300ms",
	}})
	p.Validate(edgePort(t, f.edges[1], "http"), edgePort(t, f.edges[1], "https"))
	return f, p
}

func edgePort(t *testing.T, e *fleettest.Proc, which string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(e.Addr(which))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

// waitFleetFree waits until DescribeDomainCertificateInfo on api reports
// Status want.
func waitFleetFree(t *testing.T, c *cdn.Client, domain, want string, within time.Duration) cdn.CertInfo {
	t.Helper()
	var info cdn.CertInfo
	var err error
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if info, err = certInfo(c, domain); err == nil && info.Status == want {
			return info
		}
	}
	t.Fatalf("%s: Status %q (err %v), want %q", domain, info.Status, err, want)
	return info
}

func TestFleetFreeCertificateOneOrderAnsweredByAnyEdge(t *testing.T) {
	f, p := newACMEFleet(t)
	a := f.newAccount()
	domains := []string{uniqueDomain("acme.test"), uniqueDomain("acme.test"), uniqueDomain("acme.test")}
	for i, d := range domains {
		p.Point(t, d)
		f.addDomain(a, d)
		// Through either API node: both run the manager.
		if err := fleetRetry(func() error { return setFree(a.clients[i%2], d) }); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range domains {
		info := waitFleetFree(t, a.clients[1], d, "success", 30*time.Second)
		f.waitServed(d, pemFingerprint(t, []byte(info.ServerCertificate)), 10*time.Second)
		if n := p.Orders(d); n != 1 {
			t.Fatalf("%s: %d orders at the CA, want exactly 1 across the fleet", d, n)
		}
	}
	// The challenges were answered by e2 while the orders ran on the API
	// nodes, which have no edge at all.
	if placed := strings.Count(f.apis[0].LogText()+f.apis[1].LogText(), "acme: order placed"); placed != len(domains) {
		t.Fatalf("%d orders placed by the API nodes, want %d", placed, len(domains))
	}
}

func TestFleetFreeCertificateOrderingNodeKilledMidOrder(t *testing.T) {
	f, p := newACMEFleet(t)
	a := f.newAccount()
	domain := uniqueDomain("acme.test")
	p.Point(t, domain)
	f.addDomain(a, domain)
	release := p.HoldFinalize()
	defer release()
	if err := fleetRetry(func() error { return setFree(a.clients[0], domain) }); err != nil {
		t.Fatal(err)
	}
	// Find the node that placed the order; its challenge is validated
	// and its finalize is held at the CA.
	var orderer, survivor *fleettest.Proc
	for deadline := time.Now().Add(30 * time.Second); orderer == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no API node placed the order")
		}
		for i, api := range f.apis {
			if strings.Contains(api.LogText(), `msg="acme: order placed" domain=`+domain) {
				orderer, survivor = api, f.apis[1-i]
			}
		}
	}
	waitFleetFree(t, a.clients[0], domain, "applying", 10*time.Second)
	time.Sleep(300 * time.Millisecond) // into the finalize
	orderer.Kill()
	killed := time.Now()
	release()
	info := waitFleetFree(t, fleetClient(t, survivor, a.keyID, a.secret), domain, "success", 30*time.Second)
	t.Logf("%s killed mid-order; %s completed it %v later", orderer.Name, survivor.Name, time.Since(killed).Round(time.Millisecond))
	f.waitServed(domain, pemFingerprint(t, []byte(info.ServerCertificate)), 10*time.Second)
	if !strings.Contains(survivor.LogText(), `msg="acme: resuming the order in progress" domain=`+domain) {
		t.Fatal("the surviving node did not resume the dead node's order")
	}
	if n := p.Orders(domain); n != 1 {
		t.Fatalf("%d orders at the CA, want 1: the order survives its node", n)
	}
}
