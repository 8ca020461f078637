package server

import (
	"fmt"
	"net"
)

// Listener names, in logs and metric labels.
const (
	listenAPI   = "api"
	listenHTTPS = "https"
	listenHTTP  = "http"
	listenAdmin = "admin"
)

// bind listens on every address the role uses and records the bound
// addresses in s (useful when the config asked for port 0). It runs before
// anything is created, so that a port in use fails the start with nothing
// to undo; Shutdown closes what was bound.
func (s *Server) bind(cfg Config) (map[string]net.Listener, error) {
	lns := map[string]net.Listener{}
	for _, l := range []struct {
		name, addr string
		bound      *net.Addr
	}{
		{listenAPI, roleAddr(cfg.Role != RoleEdge, cfg.APIAddr), &s.APIAddr},
		{listenHTTPS, roleAddr(cfg.Role != RoleAPI, cfg.HTTPSAddr), &s.HTTPSAddr},
		{listenHTTP, roleAddr(cfg.Role != RoleAPI, cfg.HTTPAddr), &s.HTTPAddr},
		{listenAdmin, cfg.AdminAddr, &s.AdminAddr},
	} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s on %s: %w", l.name, l.addr, err)
		}
		s.listeners = append(s.listeners, ln)
		lns[l.name], *l.bound = ln, ln.Addr()
	}
	return lns, nil
}
