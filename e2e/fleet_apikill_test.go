package e2e

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/fleettest"
)

// TestFleetAPIKilledMidWrite kills an API node (SIGKILL) while it serves a
// stream of SetDomainServerCertificate calls with ForceSet, alternating two
// certificates per domain, and watches all along, through the other API
// node and both edges, that no half-written certificate is ever visible:
// the record a domain is bound to holds one of the uploaded certificates
// whole, under the name it was uploaded with, and the edges serve it with
// its own key (the handshake proves the key matches).
func TestFleetAPIKilledMidWrite(t *testing.T) {
	skipFleet(t)
	t.Parallel()
	f := newFleet(t, 2, 2)
	victim, survivor := f.apis[0], f.apis[1]

	// Four accounts of one domain each, so that the calls in flight are
	// many and none is throttled. Even domains rotate the content under
	// one name (ForceSet replaces it); odd ones switch between two names.
	const n = 4
	type domain struct {
		name  string
		acc   *fleetAccount
		certs [2]fleettest.Cert
	}
	domains := make([]*domain, n)
	for i := range n {
		d := &domain{name: fmt.Sprintf("d%d.apikill.fleet.example", i), acc: f.newAccount()}
		f.addDomain(d.acc, d.name)
		if i%2 == 0 {
			d.certs = [2]fleettest.Cert{newFleetCert(t, d.name, "rotating"), newFleetCert(t, d.name, "rotating")}
		} else {
			d.certs = [2]fleettest.Cert{newFleetCert(t, d.name, "blue"), newFleetCert(t, d.name, "green")}
		}
		if err := fleetRetry(func() error { return fleettest.SetCert(d.acc.clients[1], d.name, d.certs[0], true) }); err != nil {
			t.Fatal(err)
		}
		domains[i] = d
	}
	for _, d := range domains {
		f.waitServed(d.name, d.certs[0].FP, 10*time.Second)
	}

	// consistent reports what is wrong with what a domain shows, if anything.
	consistent := func(d *domain, certName, fp string) error {
		for _, c := range d.certs {
			if c.Name == certName && c.FP == fp {
				return nil
			}
		}
		return fmt.Errorf("%s shows %q with certificate %.16s, which is none of the uploaded pairs", d.name, certName, fp)
	}
	var (
		violations []error
		vmu        sync.Mutex
		observed   atomic.Int64
	)
	violation := func(err error) {
		vmu.Lock()
		violations = append(violations, err)
		vmu.Unlock()
	}

	// Watchers: the surviving API node's view of each domain, and both
	// edges' handshakes, over and over until the end.
	done := make(chan struct{})
	var watchers sync.WaitGroup
	watchers.Go(func() {
		for {
			for _, d := range domains {
				select {
				case <-done:
					return
				default:
				}
				ci, err := certInfo(d.acc.clients[1], d.name)
				if err != nil {
					continue // throttled or busy: nothing seen
				}
				chain, perr := tlsCertificates([]byte(ci.ServerCertificate))
				if perr != nil {
					violation(fmt.Errorf("%s: ServerCertificate does not parse: %v", d.name, perr))
					continue
				}
				if err := consistent(d, ci.CertName, fingerprint(chain[0])); err != nil {
					violation(fmt.Errorf("API: %v", err))
				}
				observed.Add(1)
			}
		}
	})
	for _, e := range f.edges {
		watchers.Go(func() {
			for {
				for _, d := range domains {
					select {
					case <-done:
						return
					default:
					}
					fp, err := edgeServes(e, d.name)
					if err != nil {
						violation(fmt.Errorf("edge %s: %s: handshake failed: %v", e.Name, d.name, err))
						continue
					}
					if fp != d.certs[0].FP && fp != d.certs[1].FP {
						violation(fmt.Errorf("edge %s serves %s a certificate never uploaded for it", e.Name, d.name))
					}
					observed.Add(1)
				}
			}
		})
	}

	// The stream, all to the victim, one writer per domain; the victim is
	// killed once most writers have a call in flight, restarted, and
	// killed again, three times.
	var acked, failed atomic.Int32
	for round := range 3 {
		var inFlight atomic.Int32
		stop := make(chan struct{})
		var writers sync.WaitGroup
		for _, d := range domains {
			f.refresh(d.acc)
			writers.Go(func() {
				for i := 1; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					inFlight.Add(1)
					err := fleettest.SetCert(d.acc.clients[0], d.name, d.certs[i%2], true)
					inFlight.Add(-1)
					if err != nil {
						failed.Add(1)
						if fleettest.APICode(err) == "" { // no answer: the node is gone
							return
						}
						time.Sleep(50 * time.Millisecond)
						continue
					}
					acked.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
			})
		}
		time.Sleep(600 * time.Millisecond)
		for deadline := time.Now().Add(5 * time.Second); inFlight.Load() < n/2 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		t.Logf("round %d: killing %s with %d calls in flight, %d acknowledged so far", round+1, victim.Name, inFlight.Load(), acked.Load())
		victim.Kill()
		close(stop)
		writers.Wait()
		if round < 2 {
			f.start(victim)
		}
	}

	// The survivor keeps working: one more change per domain through it.
	last := map[string]fleettest.Cert{}
	for _, d := range domains {
		ci, err := certInfo(d.acc.clients[1], d.name)
		if err != nil {
			t.Fatal(err)
		}
		next := d.certs[0]
		if ci.CertName == next.Name && pemFingerprintString(ci.ServerCertificate) == next.FP {
			next = d.certs[1]
		}
		if err := fleetRetry(func() error { return fleettest.SetCert(d.acc.clients[1], d.name, next, true) }); err != nil {
			t.Fatalf("%s through %s after the kill: %v", d.name, survivor.Name, err)
		}
		last[d.name] = next
	}
	// The killed node starts again and serves.
	f.start(victim)
	for _, d := range domains {
		f.refresh(d.acc)
		if ci, err := certInfo(d.acc.clients[0], d.name); err != nil || ci.CertName != last[d.name].Name {
			t.Fatalf("%s through the restarted %s: %+v, %v", d.name, victim.Name, ci, err)
		}
	}
	for _, d := range domains {
		f.waitServed(d.name, last[d.name].FP, 10*time.Second)
	}
	close(done)
	watchers.Wait()
	t.Logf("%d acknowledged, %d failed writes; %d observations", acked.Load(), failed.Load(), observed.Load())
	for _, v := range violations {
		t.Error(v)
	}
	if observed.Load() < 50 {
		t.Fatalf("only %d observations", observed.Load())
	}
}

func pemFingerprintString(chain string) string {
	certs, err := tlsCertificates([]byte(chain))
	if err != nil {
		return ""
	}
	return fingerprint(certs[0])
}
