package edge

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// Connecting to a domain's origins shares one budget: with every origin
// black-holed (a dial that never completes), the request ends after the
// budget with 504, having waited out one dial rather than one per origin
// (20 black-holed origins took 100 s before).
func TestOriginFailoverSharesOneBudget(t *testing.T) {
	st := testStoreFor(t)
	var dials atomic.Int32
	blackHole := func(ctx context.Context, _, _ string) (net.Conn, error) {
		dials.Add(1)
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: ctx.Err()}
	}
	en := startEdge(t, st, withEdge(func(e *Edge) { e.dial, e.originBudget = blackHole, 300*time.Millisecond }))
	var sources []store.Source
	for i := range 20 {
		sources = append(sources, store.Source{Type: "ipaddr", Content: "127.0.0.1", Port: 10000 + i, Priority: strconv.Itoa(20 + i%2*10), Weight: "10"})
	}
	rev := commit(t, st.Txn().Put(store.DomainKey("holes.example.com"), domain("holes.example.com", "", sources...)))
	en.waitApplied(rev)

	resp, _ := en.do(http.MethodGet, "holes.example.com", "/", "", nil)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", resp.StatusCode)
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d origins dialled within one budget, want 1 (each attempt gets what is left)", n)
	}
}
