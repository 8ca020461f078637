package server

import (
	"fmt"
	"net"
)

// listeners are a node's bound sockets, one per role it plays (nil for a
// listener the role does not use). They are bound before anything is
// created, so a node that cannot take its ports leaves nothing behind.
type listeners struct {
	api, https, http, admin net.Listener
}

func bindListeners(cfg Config) (*listeners, error) {
	l := &listeners{}
	for _, b := range []struct {
		name, addr string
		ln         *net.Listener
	}{
		{"api", roleAddr(cfg.Role != RoleEdge, cfg.APIAddr), &l.api},
		{"https", roleAddr(cfg.Role != RoleAPI, cfg.HTTPSAddr), &l.https},
		{"http", roleAddr(cfg.Role != RoleAPI, cfg.HTTPAddr), &l.http},
		{"admin", cfg.AdminAddr, &l.admin},
	} {
		if b.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", b.addr)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("listen %s on %s: %w", b.name, b.addr, err)
		}
		*b.ln = ln
	}
	return l, nil
}

// all lists the bound listeners.
func (l *listeners) all() []net.Listener {
	var out []net.Listener
	for _, ln := range []net.Listener{l.api, l.https, l.http, l.admin} {
		if ln != nil {
			out = append(out, ln)
		}
	}
	return out
}

// close closes every listener not yet handed to a server.
func (l *listeners) close() {
	for _, ln := range l.all() {
		_ = ln.Close()
	}
}

func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}
