package edge

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// refused marks a name whose handshake fails with unrecognized_name even
// when the edge has a default certificate.
const refused = "refused"

func TestCertificateSelection(t *testing.T) {
	st := testStoreFor(t)
	exact := issue(t, "a.example.com")
	wild := issue(t, "*.example.com", "example.com")
	putCertAndDomains(t, st, exact, "exact", domain("a.example.com", "exact"))
	rev := putCertAndDomains(t, st, wild, "wild", domain(".example.com", "wild"), domain("off.example.com", ""))
	def := issue(t, "default.test", "other.test")

	check := func(t *testing.T, en *env, withDefault bool) {
		en.waitApplied(rev)
		for _, tc := range []struct {
			sni  string
			want string // fingerprint; "" = unrecognized name (or default); refused = unrecognized name, default or not
		}{
			{"off.example.com", refused}, // a domain of ours with HTTPS off: never the default certificate
			{"OFF.example.com.", refused},
			{"a.example.com", exact.fp},     // exact beats wildcard
			{"b.example.com", wild.fp},      // wildcard covers one label
			{"B.EXAMPLE.com", wild.fp},      // SNI is case-insensitive
			{"A.Example.Com", exact.fp},     // ... for the exact name too
			{"x.y.example.com", ""},         // ... and only one label
			{"example.com", ""},             // ... and not the apex
			{"other.test", ""},              // unknown
			{"", ""},                        // no SNI
			{"a.example.com.evil.test", ""}, // suffix games
			{"xa.example.com", wild.fp},     // not a prefix match on the exact name
			{"a-example.com", ""},           // nor on the wildcard
		} {
			// Unknown names are checked without verification: with a
			// default certificate the names would not match.
			fp, err := en.handshake(tc.sni, tc.want == "" || tc.want == refused)
			switch {
			case tc.want == refused:
				wantUnrecognized(t, err, fmt.Sprintf("SNI %q", tc.sni))
			case tc.want != "":
				if err != nil {
					t.Fatalf("SNI %q: %v", tc.sni, err)
				}
				if fp != tc.want {
					t.Fatalf("SNI %q: served %s, want %s", tc.sni, short(fp), short(tc.want))
				}
			case withDefault:
				if err != nil {
					t.Fatalf("SNI %q: %v, want the default certificate", tc.sni, err)
				}
				if fp != def.fp {
					t.Fatalf("SNI %q: served %s, want the default %s", tc.sni, short(fp), short(def.fp))
				}
			default:
				wantUnrecognized(t, err, fmt.Sprintf("SNI %q", tc.sni))
			}
		}
	}

	t.Run("no default", func(t *testing.T) {
		check(t, startEdge(t, st), false)
	})
	t.Run("default cert", func(t *testing.T) {
		en := startEdge(t, st, withConfig(func(c *Config) { c.DefaultCert = def.tlsCert(t) }))
		check(t, en, true)
		// The default certificate verifies for its own names.
		if fp, err := en.handshake("other.test", false); err != nil || fp != def.fp {
			t.Fatalf("default cert for its own name: %s, %v", short(fp), err)
		}
	})
}

// TestDomainStates: a domain stops being served (unrecognized_name) when its
// HTTPS is turned off, when it is stopped, when its certificate record goes
// away and when it is deleted, and is served again when that is undone.
func TestDomainStates(t *testing.T) {
	st := testStoreFor(t)
	c := issue(t, "s.example.com")
	putCertAndDomains(t, st, c, "c", domain("s.example.com", "c"))
	en := startEdge(t, st)

	served := func(what string) {
		t.Helper()
		eventually(t, 5*time.Second, func() error {
			fp, err := en.handshake("s.example.com", false)
			if err != nil {
				return fmt.Errorf("%s: %v", what, err)
			}
			if fp != c.fp {
				return fmt.Errorf("%s: served %s", what, short(fp))
			}
			return nil
		})
	}
	refused := func(what string) {
		t.Helper()
		eventually(t, 5*time.Second, func() error {
			if err := isUnrecognized(en.handshake("s.example.com", false)); err != nil {
				return fmt.Errorf("%s: %v", what, err)
			}
			return nil
		})
	}
	put := func(d store.Domain) { commit(t, st.Txn().Put(store.DomainKey(d.Name), d)) }

	served("initial")

	d := domain("s.example.com", "")
	put(d)
	refused("HTTPS off")
	put(domain("s.example.com", "c"))
	served("HTTPS on again")

	d = domain("s.example.com", "c")
	d.Status = "offline"
	put(d)
	refused("stopped")
	put(domain("s.example.com", "c"))
	served("started again")

	commit(t, st.Txn().Delete(store.CertKey(acct, "c")))
	refused("certificate record deleted")
	putCertAndDomains(t, st, c, "c")
	served("certificate record back")

	commit(t, st.Txn().Delete(store.DomainKey("s.example.com")))
	refused("domain deleted")
}

// TestExactShadowsWildcard: an exact record decides for its name even when
// it is stopped or has HTTPS off; the wildcard does not step in.
func TestExactShadowsWildcard(t *testing.T) {
	st := testStoreFor(t)
	wild := issue(t, "*.example.org")
	off := domain("a.example.org", "wild")
	off.Status = "offline"
	putCertAndDomains(t, st, wild, "wild", domain(".example.org", "wild"), off, domain("b.example.org", ""))
	en := startEdge(t, st)
	if fp, err := en.handshake("c.example.org", false); err != nil || fp != wild.fp {
		t.Fatalf("wildcard: %s, %v", short(fp), err)
	}
	wantUnrecognized(t, errOnly(en.handshake("a.example.org", false)), "stopped exact domain")
	wantUnrecognized(t, errOnly(en.handshake("b.example.org", false)), "exact domain with HTTPS off")
}

func errOnly(_ string, err error) error { return err }

// TestSwapUnderLoad replaces a domain's certificate 20 times (same record
// name, new content) while 4 goroutines handshake in a loop: no handshake
// fails, each new certificate is served, and once Applied() has reached a
// replacement's revision no handshake started after that sees an older
// certificate.
func TestSwapUnderLoad(t *testing.T) {
	const swaps = 20
	st := testStoreFor(t)
	gens := make([]testCert, swaps+1)
	genOf := map[string]int{}
	for i := range gens {
		gens[i] = issue(t, "swap.example.com")
		genOf[gens[i].fp] = i
	}
	putCertAndDomains(t, st, gens[0], "rotating", domain("swap.example.com", "rotating"))
	en := startEdge(t, st)

	// floor is the oldest generation a handshake may still be served: it
	// is raised only after Applied() reached that generation's revision.
	var floor atomic.Int64
	var handshakes, failures atomic.Int64
	var mu sync.Mutex
	var problems []string
	report := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 10 {
			problems = append(problems, s)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				lowest := floor.Load() // read before the handshake starts
				fp, err := en.handshake("swap.example.com", false)
				handshakes.Add(1)
				if err != nil {
					failures.Add(1)
					report("handshake failed: " + err.Error())
					continue
				}
				g, ok := genOf[fp]
				if !ok {
					report("served an unknown certificate " + short(fp))
				} else if int64(g) < lowest {
					report(fmt.Sprintf("served generation %d after generation %d was applied", g, lowest))
				}
			}
		}()
	}

	for i := 1; i <= swaps; i++ {
		rev := putCertAndDomains(t, st, gens[i], "rotating")
		en.waitApplied(rev)
		floor.Store(int64(i))
		eventually(t, 5*time.Second, func() error {
			fp, err := en.handshake("swap.example.com", false)
			if err != nil {
				return err
			}
			if fp != gens[i].fp {
				return fmt.Errorf("swap %d: served generation %d", i, genOf[fp])
			}
			return nil
		})
	}
	cancel()
	wg.Wait()
	if failures.Load() != 0 || len(problems) != 0 {
		t.Fatalf("%d of %d handshakes failed; problems: %s", failures.Load(), handshakes.Load(), strings.Join(problems, "; "))
	}
	t.Logf("%d concurrent handshakes across %d swaps", handshakes.Load(), swaps)
}

// TestBadCertIsolated: a certificate that cannot be used (its sealed key
// does not open, or the key is not the leaf's) fails only the domains bound
// to it, is logged without key material, and the watch goes on.
func TestBadCertIsolated(t *testing.T) {
	st := testStoreFor(t)
	good := issue(t, "good.example.com")
	sealedWrong := issue(t, "sealed.example.com")
	mismatched := issue(t, "mismatch.example.com")
	other := issue(t, "other.example.com")

	putCertAndDomains(t, st, good, "good", domain("good.example.com", "good"))

	// Sealed for another record: the AAD binds the key to its record, so it
	// does not open here.
	rec := sealedWrong.record(t, acct, "someone-else")
	rec.Name = "sealed"
	commit(t, st.Txn().Put(store.CertKey(acct, "sealed"), rec).Put(store.DomainKey("sealed.example.com"), domain("sealed.example.com", "sealed")))

	// Opens and parses, but is the key of another certificate.
	rec = mismatched.record(t, acct, "mismatch")
	rec2 := other.record(t, acct, "mismatch")
	rec.Key = rec2.Key
	commit(t, st.Txn().Put(store.CertKey(acct, "mismatch"), rec).Put(store.DomainKey("mismatch.example.com"), domain("mismatch.example.com", "mismatch")))

	en := startEdge(t, st)
	wantUnrecognized(t, errOnly(en.handshake("sealed.example.com", false)), "key that does not open")
	wantUnrecognized(t, errOnly(en.handshake("mismatch.example.com", false)), "mismatched key")
	if fp, err := en.handshake("good.example.com", false); err != nil || fp != good.fp {
		t.Fatalf("good domain: %s, %v", short(fp), err)
	}

	// The watch goes on: later changes still arrive, including a fix of the
	// bad certificate under the same name.
	putCertAndDomains(t, st, other, "other", domain("other.example.com", "other"))
	putCertAndDomains(t, st, sealedWrong, "sealed")
	eventually(t, 5*time.Second, func() error {
		for name, want := range map[string]string{"other.example.com": other.fp, "sealed.example.com": sealedWrong.fp} {
			fp, err := en.handshake(name, false)
			if err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			if fp != want {
				return fmt.Errorf("%s: served %s", name, short(fp))
			}
		}
		return nil
	})

	logged := en.log.String()
	if n := strings.Count(logged, "certificate unusable"); n != 2 {
		t.Errorf("logged %d unusable certificates, want 2 (once each):\n%s", n, logged)
	}
	for _, c := range []testCert{good, sealedWrong, mismatched, other} {
		for _, line := range strings.Split(string(c.keyPEM), "\n") {
			if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(logged, line) {
				t.Fatalf("log contains private key material:\n%s", logged)
			}
		}
	}
	if strings.Contains(logged, "PRIVATE KEY") {
		t.Fatalf("log mentions a PEM private key:\n%s", logged)
	}
}
