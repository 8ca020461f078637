// Package originpolicy decides which addresses an origin may have. Every
// origin is a tenant's choice, so an edge that dialled whatever a tenant
// named would reach the node itself (its operator API, its etcd), the
// node's private network and the cloud's metadata service on the tenant's
// behalf. A Policy refuses every address that is not globally reachable,
// unless the operator allows a range, and always refuses the node's own
// listeners. The API checks origins when they are set, and the edge checks
// the address it is about to dial, after its own resolution, so that a name
// that resolves differently later (DNS rebinding) gains nothing.
package originpolicy

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// refusedRanges are the addresses no origin may have unless the operator
// allows them: those the IANA special-purpose address registries mark as
// not globally reachable (RFC 6890 and its updates), plus multicast.
// https://www.iana.org/assignments/iana-ipv4-special-registry and
// https://www.iana.org/assignments/iana-ipv6-special-registry
var refusedRanges = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (\"this network\", RFC 791)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (RFC 6598)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback (RFC 1122)"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local, incl. cloud metadata (RFC 3927)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments (RFC 6890)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation (RFC 5737)"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast (RFC 7526)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking (RFC 2544)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation (RFC 5737)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation (RFC 5737)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast (RFC 5771)"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved (RFC 1112), incl. broadcast"},
	{netip.MustParsePrefix("::/128"), "unspecified (RFC 4291)"},
	{netip.MustParsePrefix("::1/128"), "loopback (RFC 4291)"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible, deprecated (RFC 4291)"},
	{netip.MustParsePrefix("100::/64"), "discard-only (RFC 6666)"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments, incl. Teredo (RFC 2928, RFC 4380)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation (RFC 3849)"},
	{netip.MustParsePrefix("3fff::/20"), "documentation (RFC 9637)"},
	{netip.MustParsePrefix("5f00::/16"), "segment routing SIDs (RFC 9602)"},
	{netip.MustParsePrefix("fc00::/7"), "unique local (RFC 4193)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local (RFC 4291)"},
	{netip.MustParsePrefix("fec0::/10"), "site-local, deprecated (RFC 3879)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast (RFC 4291)"},
}

// Embedded IPv4: these IPv6 forms carry an IPv4 address that the network
// may end up delivering to, so the IPv4 inside is judged too.
var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")   // RFC 6052
	nat64L  = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215
	sixTo4  = netip.MustParsePrefix("2002::/16")      // RFC 3056
	mapped4 = netip.MustParsePrefix("::ffff:0:0/96")  // RFC 4291
)

// Policy is the origin address policy of one node. The zero value refuses
// every special-purpose address and knows no listener. Safe for concurrent
// use.
type Policy struct {
	allowed []netip.Prefix

	mu sync.RWMutex
	// own are the node's listeners and the etcd endpoints it talks to;
	// ownPorts are the ports of listeners bound to every address.
	own      map[netip.AddrPort]bool
	ownPorts map[uint16]bool

	// local caches this host's interface addresses for listeners bound
	// to every address: an edge on 0.0.0.0:80 checks every dial to an
	// origin on port 80, and listing the interfaces is a netlink dump.
	localMu  sync.Mutex
	localAt  time.Time
	localSet map[netip.Addr]bool
}

// localTTL is how long the interface addresses are trusted: interfaces
// come and go, but not per request.
const localTTL = time.Second

// New returns a policy that also accepts the addresses in allowed (the
// operator's --allow-origin-cidrs).
func New(allowed []netip.Prefix) *Policy {
	p := &Policy{own: map[netip.AddrPort]bool{}, ownPorts: map[uint16]bool{}}
	for _, a := range allowed {
		p.allowed = append(p.allowed, a.Masked())
	}
	return p
}

// AddOwn records an address this node listens on, or talks to as its own
// (an etcd endpoint): refused whatever the ranges allow. A listener bound
// to an unspecified address (0.0.0.0, ::) is the port on every address:
// refused on any address, since no check here can tell which addresses
// reach this host.
func (p *Policy) AddOwn(ap netip.AddrPort) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := ap.Addr().Unmap()
	if a.IsUnspecified() {
		p.ownPorts[ap.Port()] = true
		return
	}
	p.own[netip.AddrPortFrom(a, ap.Port())] = true
}

// AddOwnAddr is AddOwn for a net.Addr (a listener's) or a "host:port"
// string naming an IP; it ignores anything else (a unix socket).
func (p *Policy) AddOwnAddr(addr string) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		p.AddOwn(ap)
	}
}

// Check returns nil if an origin may be reached at ap, else an error that
// names the address and why it is refused.
func (p *Policy) Check(ap netip.AddrPort) error {
	a := ap.Addr().Unmap().WithZone("")
	if p.isOwn(netip.AddrPortFrom(a, ap.Port())) {
		return fmt.Errorf("%s is an address of this node", netip.AddrPortFrom(a, ap.Port()))
	}
	if why := p.refused(a); why != "" {
		return fmt.Errorf("%s is %s", a, why)
	}
	return nil
}

// CheckAddr is Check for an IP without a port (an origin's address before
// its port is known): only the ranges apply.
func (p *Policy) CheckAddr(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	if why := p.refused(a); why != "" {
		return fmt.Errorf("%s is %s", a, why)
	}
	return nil
}

func (p *Policy) isOwn(ap netip.AddrPort) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.own[ap] || p.ownPorts[ap.Port()] && p.local(ap.Addr())
}

// local reports whether a is an address of this host: loopback, or one of
// its interfaces' (as of at most localTTL ago).
func (p *Policy) local(a netip.Addr) bool {
	if a.IsLoopback() || a.IsUnspecified() {
		return true
	}
	p.localMu.Lock()
	defer p.localMu.Unlock()
	if p.localSet == nil || time.Since(p.localAt) > localTTL {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return true // cannot tell: assume the worst
		}
		p.localSet, p.localAt = map[netip.Addr]bool{}, time.Now()
		for _, ia := range addrs {
			if n, ok := ia.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					p.localSet[ip.Unmap()] = true
				}
			}
		}
	}
	return p.localSet[a]
}

// refused says why a is refused by the ranges, or "" if it is not.
func (p *Policy) refused(a netip.Addr) string {
	if !a.IsValid() {
		return "not an address"
	}
	for _, allowed := range p.allowed {
		if allowed.Contains(a) {
			return ""
		}
	}
	if a.Is6() {
		if v4, ok := embeddedIPv4(a); ok {
			if why := p.refused(v4); why != "" {
				return "an IPv6 form of " + v4.String() + ", " + why
			}
		}
	}
	for _, r := range refusedRanges {
		if r.prefix.Contains(a) {
			return r.why
		}
	}
	return ""
}

// embeddedIPv4 returns the IPv4 address inside a NAT64, 6to4 or mapped
// IPv6 address.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case nat64.Contains(a), nat64L.Contains(a), mapped4.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixTo4.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}
