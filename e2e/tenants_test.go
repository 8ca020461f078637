package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/store"
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

// TestDeletedDomainLeavesNoGuard: the wildcard guard a wildcard writes, and
// the marker a name under a wildcard writes, go with the domain, so add-and-delete cycles leave nothing in the store, and
// a name freed by one account is open to another's wildcard.
func TestDeletedDomainLeavesNoGuard(t *testing.T) {
	a, b := newAccount(t), newAccount(t)
	zone := uniqueDomain("guard.example")
	names := []string{"x." + zone, "." + uniqueDomain("guard.example")}
	for _, name := range names {
		a.addDomain(t, name)
	}
	for _, name := range names {
		key, wildcard, _ := store.CoverKeyOf(name)
		if wildcard != name { // an exact name keeps a marker, not the guard
			key = store.CoverMarkerKey(wildcard, name)
		}
		var mark struct{}
		if _, err := srv.Store().Get(context.Background(), key, &mark); err != nil {
			t.Fatalf("%s: guard %s while the domain stands: %v", name, key, err)
		}
		del := cdn.CreateDeleteCdnDomainRequest()
		del.DomainName = name
		if _, err := a.cdn.DeleteCdnDomain(del); err != nil {
			t.Fatalf("DeleteCdnDomain %s: %v", name, err)
		}
		if _, err := srv.Store().Get(context.Background(), key, &mark); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: guard %s after the delete: %v, want it gone", name, key, err)
		}
	}
	b.addDomain(t, "."+zone) // x.zone of account A is gone: no conflict
	req := cdn.CreateAddCdnDomainRequest()
	req.DomainName, req.CdnType, req.Sources = "x."+zone, "web", testSources
	_, err := a.cdn.AddCdnDomain(req)
	wantAPIError(t, err, "ExtensiveAndSpecificDomainConflict", 400)
}

// TestConcurrentAddsUnderOneZone: adds of many accounts' names under one
// zone all rewrite the zone's guard record; under that contention a call
// either lands or answers a retryable 503, never an internal error (the
// exhausted retry itself is proven in store.TestRetryConflicts).
func TestConcurrentAddsUnderOneZone(t *testing.T) {
	zone := uniqueDomain("busy.example")
	accounts := make([]*account, 16)
	for i := range accounts {
		accounts[i] = newAccount(t)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	for i, a := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 8 {
				req := cdn.CreateAddCdnDomainRequest()
				req.DomainName, req.CdnType, req.Sources = fmt.Sprintf("a%d-%d.%s", i, j, zone), "web", testSources
				err := unthrottled(func() error { _, err := a.cdn.AddCdnDomain(req); return err })
				code := "ok"
				if err != nil {
					code = err.Error()
					var e *sdkerrors.ServerError
					if errors.As(err, &e) {
						code = fmt.Sprintf("%d %s", e.HttpStatus(), e.ErrorCode())
					}
				}
				mu.Lock()
				outcomes[code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for code, n := range outcomes {
		if code != "ok" && code != "503 ServiceUnavailable" {
			t.Errorf("%d adds answered %s", n, code)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}
