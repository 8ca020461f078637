// Package dnstest is a DNS server on loopback for tests: A, AAAA and TXT
// answers that a test sets and changes while the server runs (to play DNS
// rebinding, or a tenant's ownership record).
package dnstest

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server answers for the names it was given, NXDOMAIN for the rest.
type Server struct {
	// Addr is HOST:PORT, for --dns-resolver.
	Addr string

	mu    sync.Mutex
	addrs map[string][]netip.Addr
	txt   map[string][]string
}

// Start runs a server on 127.0.0.1 (UDP and TCP on one port) until the
// test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{addrs: map[string][]netip.Addr{}, txt: map[string][]string{}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	s.Addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: ln, Handler: s}
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	t.Cleanup(func() { _ = udp.Shutdown(); _ = tcp.Shutdown() })
	return s
}

// SetAddrs makes name resolve to addrs (A and AAAA), replacing what it had.
func (s *Server) SetAddrs(name string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	s.addrs[dns.Fqdn(strings.ToLower(name))] = as
}

// SetTXT gives name these TXT strings, replacing what it had.
func (s *Server) SetTXT(name string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txt[dns.Fqdn(strings.ToLower(name))] = values
}

// ServeDNS answers one query; every answer has TTL 0, so nothing caches it.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	s.mu.Lock()
	defer s.mu.Unlock()
	known := false
	for _, q := range req.Question {
		name := strings.ToLower(q.Name)
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 0}
		if as, ok := s.addrs[name]; ok {
			known = true
			for _, a := range as {
				switch {
				case q.Qtype == dns.TypeA && a.Is4():
					hdr.Rrtype = dns.TypeA
					m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
				case q.Qtype == dns.TypeAAAA && a.Is6():
					hdr.Rrtype = dns.TypeAAAA
					m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
				}
			}
		}
		if vs, ok := s.txt[name]; ok {
			known = true
			if q.Qtype == dns.TypeTXT {
				hdr.Rrtype = dns.TypeTXT
				m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr, Txt: vs})
			}
		}
	}
	if !known {
		m.Rcode = dns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}
