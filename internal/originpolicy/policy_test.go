package originpolicy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckRanges(t *testing.T) {
	p := New(nil)
	for _, tc := range []struct {
		addr   string
		refuse string // part of the reason; "" = allowed
	}{
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"2606:4700::1111", ""},
		{"127.0.0.1", "loopback"},
		{"127.255.0.9", "loopback"},
		{"::1", "loopback"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"100.64.0.1", "shared address space"},
		{"169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"fd00::1", "unique local"},
		{"fc00::1", "unique local"},
		{"224.0.0.1", "multicast"},
		{"ff02::1", "multicast"},
		{"255.255.255.255", "reserved"},
		{"240.0.0.1", "reserved"},
		{"192.0.2.1", "documentation"},
		{"2001:db8::1", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"::ffff:127.0.0.1", "loopback"},                 // IPv4-mapped
		{"::ffff:169.254.169.254", "link-local"},         // ... of the metadata service
		{"64:ff9b::a9fe:a9fe", "link-local"},             // NAT64 of 169.254.169.254
		{"2002:7f00:1::1", "loopback"},                   // 6to4 of 127.0.0.1
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "IETF"}, // Teredo
		{"::127.0.0.1", "IPv4-compatible"},
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8
	} {
		err := p.Check(netip.MustParseAddrPort(netip.AddrPortFrom(netip.MustParseAddr(tc.addr), 80).String()))
		switch {
		case tc.refuse == "" && err != nil:
			t.Errorf("%s refused: %v", tc.addr, err)
		case tc.refuse != "" && (err == nil || !strings.Contains(err.Error(), tc.refuse)):
			t.Errorf("%s: %v, want refused as %s", tc.addr, err, tc.refuse)
		case err != nil && !strings.Contains(err.Error(), netip.MustParseAddr(tc.addr).Unmap().String()):
			t.Errorf("%s: %q does not name the address", tc.addr, err)
		}
	}
}

// The operator's ranges allow what they cover, and only that; the node's
// own listeners stay refused inside them.
func TestAllowedRangesAndOwnListeners(t *testing.T) {
	p := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.1.0.0/16")})
	p.AddOwn(netip.MustParseAddrPort("127.0.0.1:7081"))
	p.AddOwn(netip.MustParseAddrPort("10.1.0.5:2379")) // an etcd endpoint
	p.AddOwn(netip.MustParseAddrPort("0.0.0.0:443"))   // a listener on every address
	p.AddOwnAddr("[::]:80")
	p.AddOwnAddr("/var/lib/cdnd/etcd.sock") // not an IP address: ignored
	for _, tc := range []struct {
		addr    string
		refused bool
	}{
		{"127.0.0.1:8000", false},
		{"127.0.0.2:7081", false}, // another address than the listener's
		{"127.0.0.1:7081", true},
		{"[::ffff:127.0.0.1]:7081", true},
		{"10.1.0.5:2379", true},
		{"10.1.0.6:2379", false},
		{"10.2.0.1:80", true}, // outside the allowed ranges
		{"127.0.0.1:443", true},
		{"127.9.9.9:443", true}, // loopback reaches a 0.0.0.0 listener
		{"127.0.0.1:80", true},
		{"192.168.0.1:80", true},
	} {
		err := p.Check(netip.MustParseAddrPort(tc.addr))
		if (err != nil) != tc.refused {
			t.Errorf("%s: %v, want refused=%v", tc.addr, err, tc.refused)
		}
	}
}

func TestResolveRefusesANameWithAnyRefusedAddress(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	for _, host := range []string{"localhost", "127.0.0.1", "169.254.169.254", "::1"} {
		_, err := p.Resolve(ctx, nil, host, 80)
		var refused *RefusedError
		if !errors.As(err, &refused) {
			t.Errorf("%s: %v, want a refusal", host, err)
		}
		if err := p.CheckOrigin(ctx, nil, host, 80); err == nil {
			t.Errorf("CheckOrigin(%s) accepted", host)
		}
	}
	if err := p.CheckOrigin(ctx, nil, "no-such-name.invalid", 80); err != nil {
		t.Errorf("a name that does not resolve: %v, want accepted (the edge checks at dial time)", err)
	}
}

// The dialer refuses before connecting, as a dial error the proxy can fail
// over on, and connects where the policy allows.
func TestDialContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()

	dial := New(nil).DialContext(nil, &net.Dialer{})
	_, err = dial(context.Background(), "tcp", addr)
	var op *net.OpError
	var refused *RefusedError
	if !errors.As(err, &op) || op.Op != "dial" || !errors.As(err, &refused) {
		t.Fatalf("dial %s without an allowance: %v, want a refused dial", addr, err)
	}

	allowed := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	c, err := allowed.DialContext(nil, &net.Dialer{})(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s with 127.0.0.0/8 allowed: %v", addr, err)
	}
	c.Close()
	allowed.AddOwnAddr(addr)
	if _, err := allowed.DialContext(nil, &net.Dialer{})(context.Background(), "tcp", addr); !errors.As(err, &refused) {
		t.Fatalf("dial the node's own listener: %v, want refused", err)
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"127.0.0.1:80", "[::ffff:10.0.0.1]:443", "[64:ff9b::7f00:1]:1", "8.8.8.8:53", "[fe80::1%eth0]:80", "[2002:a00:1::]:80"} {
		f.Add(s)
	}
	p := New([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
	p.AddOwn(netip.MustParseAddrPort("192.0.2.1:7081"))
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return
		}
		err = p.Check(ap)
		a := ap.Addr().Unmap()
		// Invariants: loopback, private and link-local are always refused
		// (none is in the allowed range), in any form; the node's own
		// listener always is.
		if (a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified()) && err == nil {
			t.Fatalf("%s allowed", s)
		}
		if a.WithZone("") == netip.MustParseAddr("192.0.2.1") && ap.Port() == 7081 && err == nil {
			t.Fatalf("own listener %s allowed", s)
		}
		if err != nil && len(err.Error()) > 200 {
			t.Fatalf("reason of %d bytes", len(err.Error()))
		}
	})
}

// A listener on every address is reached through each of the host's
// interface addresses, not only loopback.
func TestUnspecifiedListenerCoversInterfaceAddresses(t *testing.T) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var host netip.Addr
	for _, ia := range addrs {
		if n, ok := ia.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && !ip.IsLoopback() {
				host = ip.Unmap()
				break
			}
		}
	}
	if !host.IsValid() {
		t.Skip("no interface address besides loopback")
	}
	p := New([]netip.Prefix{netip.PrefixFrom(host, host.BitLen())})
	p.AddOwn(netip.MustParseAddrPort("0.0.0.0:443"))
	for range 2 { // the second check is answered from the cache
		if err := p.Check(netip.AddrPortFrom(host, 443)); err == nil {
			t.Fatalf("%s:443 allowed with a listener on 0.0.0.0:443", host)
		}
	}
	if err := p.Check(netip.AddrPortFrom(host, 8443)); err != nil {
		t.Fatalf("%s:8443 refused: %v", host, err)
	}
}
