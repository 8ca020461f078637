// Package dnstest runs a small authoritative DNS server on 127.0.0.1 for
// tests: the records a test sets, NXDOMAIN for any other name, so that
// nothing a test resolves ever leaves the machine.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server answers over UDP and TCP on the same 127.0.0.1 port.
type Server struct {
	// Addr is HOST:PORT, for --dns-resolver.
	Addr string

	mu      sync.Mutex
	records map[string][]dns.RR // by lower-case FQDN
}

// Start serves until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	// The TCP port is the UDP one's number, which a TCP socket may
	// already hold: draw another pair then.
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for range 20 {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: pc.LocalAddr().String(), records: map[string][]dns.RR{}}
	servers := []*dns.Server{
		{PacketConn: pc, Handler: s},
		{Listener: ln, Handler: s},
	}
	for _, srv := range servers {
		go func() { _ = srv.ActivateAndServe() }()
	}
	t.Cleanup(func() {
		for _, srv := range servers {
			_ = srv.Shutdown()
		}
	})
	return s
}

// Set replaces the records of their owner names with rrs, each in zone
// file syntax ("verification.example.com. 60 IN TXT \"verify_…\"").
func (s *Server) Set(t testing.TB, rrs ...string) {
	t.Helper()
	parsed := map[string][]dns.RR{}
	for _, text := range rrs {
		rr, err := dns.NewRR(text)
		if err != nil {
			t.Fatalf("dnstest: %q: %v", text, err)
		}
		name := strings.ToLower(rr.Header().Name)
		parsed[name] = append(parsed[name], rr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, set := range parsed {
		s.records[name] = set
	}
}

// ServeDNS answers the records of the question's name and type.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) == 1 {
		q := req.Question[0]
		s.mu.Lock()
		m.Answer, m.Rcode = s.answer(strings.ToLower(q.Name), q.Qtype)
		s.mu.Unlock()
	}
	_ = w.WriteMsg(m)
}

// answer is what an authoritative server holding every record answers:
// the records of the name and type, and for a name that is an alias
// (CNAME), the alias and then the answer for its target, as RFC 1034
// section 4.3.2 (step 3.a) says, so that a resolver asking for A learns
// the CNAME too.
func (s *Server) answer(name string, qtype uint16) ([]dns.RR, int) {
	var out []dns.RR
	for hops := 0; hops < 8; hops++ {
		set, known := s.records[name]
		if !known {
			if hops == 0 {
				return nil, dns.RcodeNameError
			}
			return out, dns.RcodeSuccess
		}
		var alias *dns.CNAME
		for _, rr := range set {
			if rr.Header().Rrtype == qtype {
				out = append(out, rr)
			} else if c, ok := rr.(*dns.CNAME); ok {
				alias = c
			}
		}
		if alias == nil || qtype == dns.TypeCNAME {
			return out, dns.RcodeSuccess
		}
		out = append(out, alias)
		name = strings.ToLower(alias.Target)
	}
	return out, dns.RcodeSuccess
}
