package originpolicy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// RefusedError is an origin the policy refuses.
type RefusedError struct {
	Origin string // as named: host:port
	Reason error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("origin %s refused: %v", e.Origin, e.Reason)
}

func (e *RefusedError) Unwrap() error { return e.Reason }

// Resolve returns the addresses of host (an IP literal is its own),
// refusing the lot if any of them is refused: a name that can lead to the
// node's network is not an origin, whichever of its addresses a dial would
// pick. port is the origin's port, for the node's own listeners.
func (p *Policy) Resolve(ctx context.Context, r *net.Resolver, host string, port int) ([]netip.Addr, error) {
	origin := net.JoinHostPort(host, strconv.Itoa(port))
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		if r == nil {
			r = net.DefaultResolver
		}
		addrs, err = r.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
	}
	for _, a := range addrs {
		if err := p.Check(netip.AddrPortFrom(a, uint16(port))); err != nil {
			return nil, &RefusedError{Origin: origin, Reason: err}
		}
	}
	return addrs, nil
}

// CheckOrigin is the API's check of an origin a tenant sets: refused if it
// is, or resolves to, a refused address. A name that does not resolve now
// is accepted (it may be created later); the edge checks what it resolves
// to when it dials.
func (p *Policy) CheckOrigin(ctx context.Context, r *net.Resolver, host string, port int) error {
	_, err := p.Resolve(ctx, r, host, port)
	var refused *RefusedError
	if errors.As(err, &refused) {
		return err
	}
	return nil
}

// DialContext returns a dial function for an http.Transport that reaches
// origins only where the policy allows: it resolves the host itself with r
// and dials the allowed IPs, and d's Control checks the address of every
// socket once more just before it connects, so that no path through the
// resolver can reach a refused address. A refusal is a *net.OpError with Op
// "dial" wrapping a *RefusedError: nothing was sent, so a caller may fail
// over to another origin.
func (p *Policy) DialContext(r *net.Resolver, d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dialer := *d
	dialer.Control = func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &RefusedError{Origin: address, Reason: err}
		}
		if err := p.Check(ap); err != nil {
			return &RefusedError{Origin: address, Reason: err}
		}
		return nil
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, portText, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		port, err := strconv.Atoi(portText)
		if err != nil || port < 1 || port > 65535 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("bad port %q", portText)}
		}
		addrs, err := p.Resolve(ctx, r, host, port)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		var last error
		for _, a := range addrs {
			conn, err := dialer.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
			if err == nil {
				return conn, nil
			}
			last = err
			if ctx.Err() != nil {
				break
			}
		}
		return nil, last
	}
}
