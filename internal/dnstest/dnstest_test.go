package dnstest

import (
	"context"
	"net"
	"testing"
)

// An alias is answered for every type, as an authoritative server does:
// Go's LookupCNAME asks for A and AAAA beside CNAME and takes the first
// answer, so an A answer without the alias made it report no alias about
// half the time.
func TestAliasAnsweredForEveryType(t *testing.T) {
	s := Start(t)
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, s.Addr)
	}}
	s.Set(t, "www.acme.test. 60 IN CNAME www.acme.test.cdn.test.", "www.acme.test.cdn.test. 60 IN A 127.0.0.1")
	for range 20 {
		got, err := r.LookupCNAME(context.Background(), "www.acme.test")
		if err != nil || got != "www.acme.test.cdn.test." {
			t.Fatalf("LookupCNAME: %q %v", got, err)
		}
	}
	addrs, err := r.LookupHost(context.Background(), "www.acme.test")
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.1" {
		t.Fatalf("LookupHost through the alias: %v %v", addrs, err)
	}
	if _, err := r.LookupHost(context.Background(), "nowhere.acme.test"); err == nil {
		t.Fatal("an unknown name resolved")
	}
}
