package edge

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/cdnd/cdnd/internal/dnstest"
	"github.com/cdnd/cdnd/internal/originpolicy"
	"github.com/cdnd/cdnd/internal/store"
)

// The edge checks an origin's address when it dials, after its own
// resolution: a record that names a refused address, the node's own
// listener, or a name that resolves to one by the time of the request (DNS
// rebinding) is answered 502 and never connected to.
func TestEdgeRefusesOriginsItMayNotReach(t *testing.T) {
	st := testStoreFor(t)
	secret := newOrigin(t, "the node's operator API")
	_, secretPortText, _ := net.SplitHostPort(secret.srv.Listener.Addr().String())
	secretPort, _ := strconv.Atoi(secretPortText)
	public := newOrigin(t, "public")
	dns := dnstest.Start(t)
	// The API saw this name resolve to an allowed address; by the time the
	// edge dials, it resolves to the node's own listener.
	dns.Set(t, "rebind.origin.test. 0 IN A 127.0.0.1")

	policy := originpolicy.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	policy.AddOwnAddr(secret.srv.Listener.Addr().String()) // as the server adds its listeners
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, dns.Addr)
	}}
	en := startEdge(t, st, withConfig(func(c *Config) { c.Origins, c.Resolver = policy, resolver }))

	own := secret.source("20")
	rebind := store.Source{Type: "domain", Content: "rebind.origin.test", Port: secretPort, Priority: "20", Weight: "10"}
	private := store.Source{Type: "ipaddr", Content: "10.0.0.1", Port: 80, Priority: "20", Weight: "10"}
	rev := commit(t, st.Txn().
		Put(store.DomainKey("own.example.com"), domain("own.example.com", "", own)).
		Put(store.DomainKey("rebind.example.com"), domain("rebind.example.com", "", rebind)).
		Put(store.DomainKey("private.example.com"), domain("private.example.com", "", private)).
		Put(store.DomainKey("failover.example.com"), domain("failover.example.com", "", own, public.source("30"))))
	en.waitApplied(rev)

	for _, host := range []string{"own.example.com", "private.example.com", "rebind.example.com"} {
		resp, body := en.do(http.MethodGet, host, "/metrics", "", nil)
		if resp.StatusCode != http.StatusBadGateway || strings.Contains(body, secret.name) {
			t.Errorf("%s: %d %q, want 502 without reaching the node", host, resp.StatusCode, body)
		}
	}
	// A refused origin is a failed dial: the next origin serves.
	if resp, body := en.do(http.MethodGet, "failover.example.com", "/", "", nil); resp.StatusCode != 200 || body != "public" {
		t.Errorf("failover past a refused origin: %d %q", resp.StatusCode, body)
	}
	if r, _ := secret.seen(); r != nil {
		t.Fatalf("the node's own listener was reached: %s %s", r.Host, r.URL)
	}
	// The same name at another port, not the node's: served.
	other := newOrigin(t, "allowed")
	_, otherPort, _ := net.SplitHostPort(other.srv.Listener.Addr().String())
	p, _ := strconv.Atoi(otherPort)
	rebind.Port = p
	rev = commit(t, st.Txn().Put(store.DomainKey("rebind.example.com"), domain("rebind.example.com", "", rebind)))
	en.waitApplied(rev)
	if resp, body := en.do(http.MethodGet, "rebind.example.com", "/", "", nil); resp.StatusCode != 200 || body != "allowed" {
		t.Errorf("allowed origin by name: %d %q", resp.StatusCode, body)
	}
}
