package e2e

import (
	"strings"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
)

// A wildcard and a name it covers route the same requests, so they may
// belong to one account only: whichever comes second from another account
// is ExtensiveAndSpecificDomainConflict, in either order; within one account
// both are fine (the exact name wins at the edge).
func TestWildcardAndExactNameAcrossAccounts(t *testing.T) {
	a, b := newAccount(t), newAccount(t)
	add := func(acct *account, name string) error {
		req := cdn.CreateAddCdnDomainRequest()
		req.DomainName, req.CdnType, req.Sources = name, "web", testSources
		_, err := acct.cdn.AddCdnDomain(req)
		return err
	}

	// Wildcard first, then another account's name under it.
	zone := uniqueDomain("wild.example")
	a.addDomain(t, "."+zone)
	wantAPIError(t, add(b, "x."+zone), "ExtensiveAndSpecificDomainConflict", 400)
	a.addDomain(t, "x."+zone) // the wildcard's own account may
	// A name two labels down is not covered by the wildcard (one label):
	// no conflict.
	b.addDomain(t, "y.z."+zone)

	// Name first, then another account's wildcard over it.
	zone = uniqueDomain("exact.example")
	a.addDomain(t, "www."+zone)
	wantAPIError(t, add(b, "."+zone), "ExtensiveAndSpecificDomainConflict", 400)
	a.addDomain(t, "."+zone)

	// Racing adds from two accounts: at most one of them stands.
	for range 5 {
		zone = uniqueDomain("race.example")
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, call := range []func() error{
			func() error { return unthrottled(func() error { return add(a, "."+zone) }) },
			func() error { return unthrottled(func() error { return add(b, "r."+zone) }) },
		} {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = call() }()
		}
		wg.Wait()
		if errs[0] == nil && errs[1] == nil {
			t.Fatalf("both the wildcard .%s (account A) and r.%s (account B) were added", zone, zone)
		}
		for _, err := range errs {
			if err != nil && !strings.Contains(err.Error(), "ExtensiveAndSpecificDomainConflict") {
				t.Fatalf("racing adds: %v", err)
			}
		}
	}
}
