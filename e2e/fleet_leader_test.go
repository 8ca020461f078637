package e2e

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/fleettest"
)

// fleetCall is the outcome of one API call in a stream.
type fleetCall struct {
	cert    int // index of the certificate the call set
	err     error
	elapsed time.Duration
	at      time.Time // when it was sent
}

// refused: the API answered an error that says the call changed nothing
// (a 4xx: throttled, busy). A 5xx or no answer leaves the outcome unknown.
func (c fleetCall) refused() bool { s := fleettest.APIStatus(c.err); return s >= 400 && s < 500 }

// TestFleetLeaderKilledDuringWrites kills the etcd leader (SIGKILL) while
// SetDomainServerCertificate calls stream in through both API nodes: every
// call answers in bounded time, with success, 503 ServiceUnavailable or a
// refusal that changed nothing; every acknowledged certificate is there
// afterwards (or one sent after it), the API's record and the certificate
// agree, and both edges converge to serving exactly it.
func TestFleetLeaderKilledDuringWrites(t *testing.T) {
	skipFleet(t)
	t.Parallel()
	f := newFleet(t, 2, 2)

	// Three accounts of two domains, a writer per domain with a pause
	// between calls: each account stays under its 10 calls a second.
	const accounts, perAccount, certsPerDomain = 3, 2, 40
	const pace = 250 * time.Millisecond
	type domain struct {
		name  string
		acc   *fleetAccount
		certs []fleettest.Cert // certs[0] is set before the stream
		log   []fleetCall
	}
	var domains []*domain
	for a := range accounts {
		acc := f.newAccount()
		for d := range perAccount {
			name := fmt.Sprintf("d%d.a%d.leader.fleet.example", d, a)
			f.addDomain(acc, name)
			dom := &domain{name: name, acc: acc}
			for i := range certsPerDomain {
				dom.certs = append(dom.certs, newFleetCert(t, name, fmt.Sprintf("d%d-c%02d", d, i)))
			}
			if err := fleetRetry(func() error { return fleettest.SetCert(acc.clients[0], name, dom.certs[0], false) }); err != nil {
				t.Fatal(err)
			}
			domains = append(domains, dom)
		}
	}
	for _, d := range domains {
		f.waitServed(d.name, d.certs[0].FP, 10*time.Second)
	}

	// The stream: one sequential writer per domain, alternating API nodes,
	// nothing retried, until 4.5 s after the leader dies (a second in).
	start := time.Now()
	var killed time.Time
	killedCh := make(chan struct{})
	var wg sync.WaitGroup
	for di, d := range domains {
		wg.Go(func() {
			for i := 1; i < len(d.certs); i++ {
				select {
				case <-killedCh:
					if time.Since(killed) > 4500*time.Millisecond {
						return
					}
				default:
				}
				c := d.acc.clients[(i+di)%2]
				sent := time.Now()
				err := fleettest.SetCert(c, d.name, d.certs[i], false)
				d.log = append(d.log, fleetCall{cert: i, err: err, elapsed: time.Since(sent), at: sent})
				time.Sleep(pace)
			}
		})
	}
	time.Sleep(time.Second)
	leader := f.leader()
	leader.Kill()
	killed = time.Now()
	close(killedCh)
	t.Logf("killed the leader %s %v into the stream", leader.Name, killed.Sub(start).Round(time.Millisecond))
	wg.Wait()
	t.Logf("stream of %d calls over %v", func() (n int) {
		for _, d := range domains {
			n += len(d.log)
		}
		return n
	}(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if !t.Failed() && os.Getenv("FLEET_DEBUG") == "" {
			return
		}
		for _, d := range domains { // when each call went (from the kill), its answer and its time
			var b strings.Builder
			for _, c := range d.log {
				code := "ok"
				if c.err != nil {
					code = fleettest.APICode(c.err)
				}
				fmt.Fprintf(&b, " %+.2fs:%s/%v", c.at.Sub(killed).Seconds(), code, c.elapsed.Round(time.Millisecond))
			}
			t.Logf("%s:%s", d.name, b.String())
		}
	})

	// Every call answered within the gateway's bound, with success, 503 or a
	// refusal; nothing else (no 500, no client timeout).
	codes := map[string]int{}
	var slowest time.Duration
	for _, d := range domains {
		for _, c := range d.log {
			code := "OK"
			if c.err != nil {
				code = fleettest.APICode(c.err)
				if code == "" {
					code = "client: " + c.err.Error()
				}
			}
			codes[code]++
			slowest = max(slowest, c.elapsed)
			switch code {
			case "OK", "ServiceUnavailable", "ServiceBusy", "Throttling.User":
			default:
				t.Errorf("%s: call %d at +%v answered %v after %v", d.name, c.cert, c.at.Sub(killed).Round(time.Millisecond), c.err, c.elapsed)
			}
			if c.elapsed > fleetGatewayBound {
				t.Errorf("%s: call %d took %v", d.name, c.cert, c.elapsed)
			}
			// A new leader is in place within a second or two; the edges'
			// reports of what they applied must follow, or every domain
			// reads configuring and its changes answer ServiceBusy.
			if code == "ServiceBusy" && c.at.Sub(killed) > 2500*time.Millisecond {
				t.Errorf("%s: call %d sent %v after the leader died answered ServiceBusy: the edges' applied revisions are still stale", d.name, c.cert, c.at.Sub(killed).Round(time.Millisecond))
			}
		}
	}
	t.Logf("answers: %v; slowest %v", codes, slowest.Round(time.Millisecond))
	if codes["OK"] == 0 {
		t.Fatal("no call succeeded")
	}

	// The killed member comes back and catches up; the cluster has three
	// members again.
	f.restartMembers(leader)

	// Per domain: the last acknowledged certificate, or one sent after it
	// whose outcome is unknown, is bound; the record and the binding agree;
	// both edges serve it.
	for _, d := range domains {
		last := 0
		for _, c := range d.log {
			if c.err == nil {
				last = c.cert
			}
		}
		allowed := map[string]int{d.certs[last].Name: last}
		for _, c := range d.log {
			if c.cert > last && !c.refused() {
				allowed[d.certs[c.cert].Name] = c.cert
			}
		}
		var info struct {
			name, fp string
		}
		if err := fleetRetry(func() error {
			ci, err := certInfo(d.acc.clients[0], d.name)
			if err == nil {
				info.name = ci.CertName
				if chain, perr := tlsCertificates([]byte(ci.ServerCertificate)); perr != nil {
					err = fmt.Errorf("ServerCertificate does not parse: %v", perr)
				} else {
					info.fp = fingerprint(chain[0])
				}
			}
			return err
		}); err != nil {
			t.Fatalf("%s: DescribeDomainCertificateInfo: %v", d.name, err)
		}
		i, ok := allowed[info.name]
		if !ok {
			names := make([]string, 0, len(allowed))
			for n := range allowed {
				names = append(names, n)
			}
			sort.Strings(names)
			t.Fatalf("%s: bound to %s; the last acknowledged is %s, the allowed %s", d.name, info.name, d.certs[last].Name, strings.Join(names, ","))
		}
		if info.fp != d.certs[i].FP {
			t.Fatalf("%s: bound to %s but the record holds another certificate", d.name, info.name)
		}
		f.waitServed(d.name, info.fp, 10*time.Second)
	}
}
