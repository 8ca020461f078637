package server

import (
	"context"
	"net"
	"time"
)

// resolverTimeout bounds one DNS exchange: a name a tenant chose must not
// hold an API call or an edge request on a server that never answers.
const resolverTimeout = 3 * time.Second

// newResolver is the resolver for names tenants give cdnd (origins of type
// domain, ownership TXT records): the system's, or the DNS server at addr
// (HOST:PORT) when the operator names one with --dns-resolver. Go's own
// resolver is used either way, so lookups honour the context's deadline.
func newResolver(addr string) *net.Resolver {
	if addr == "" {
		return &net.Resolver{PreferGo: true}
	}
	d := net.Dialer{Timeout: resolverTimeout}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}
}
