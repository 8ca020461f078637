package edge

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// testOrigin is a test origin that records what reached it.
type testOrigin struct {
	name string
	srv  *httptest.Server
	mu   sync.Mutex
	last *http.Request
	body string
}

func newOrigin(t *testing.T, name string) *testOrigin {
	o := &testOrigin{name: name}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		o.mu.Lock()
		o.last, o.body = r, string(b)
		o.mu.Unlock()
		_, _ = io.WriteString(w, o.name)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *testOrigin) seen() (*http.Request, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last, o.body
}

func (o *testOrigin) source(priority string) store.Source {
	host, port, _ := net.SplitHostPort(o.srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return store.Source{Type: "ipaddr", Content: host, Port: p, Priority: priority, Weight: "10"}
}

// do sends a request for host through the edge's plain HTTP listener.
func (en *env) do(method, host, path, body string, hdr http.Header) (*http.Response, string) {
	en.t.Helper()
	req, err := http.NewRequest(method, "http://"+en.httpAddr+path, strings.NewReader(body))
	if err != nil {
		en.t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := plainClient.Do(req)
	if err != nil {
		en.t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var plainClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func TestProxy(t *testing.T) {
	st := testStoreFor(t)
	primary, backup := newOrigin(t, "primary"), newOrigin(t, "backup")
	c := issue(t, "p.example.com")
	off := domain("off.example.com", "", primary.source("20"))
	off.Status = "offline"
	// The backup is listed first: priority, not order, decides.
	putCertAndDomains(t, st, c, "c",
		domain("p.example.com", "c", backup.source("30"), primary.source("20")),
		off)
	en := startEdge(t, st)

	// Both up: the primary answers, and sees the visitor's Host and the
	// forwarding headers.
	for i := 0; i < 5; i++ {
		resp, body := en.do("GET", "P.example.com:80", "/x", "", http.Header{"X-Forwarded-For": {"203.0.113.7"}})
		if resp.StatusCode != 200 || body != "primary" {
			t.Fatalf("both up: %d %q, want the primary", resp.StatusCode, body)
		}
	}
	r, _ := primary.seen()
	if r.Host != "P.example.com:80" {
		t.Errorf("origin saw Host %q", r.Host)
	}
	if got := r.Header.Get("X-Forwarded-For"); got != "203.0.113.7, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q", got)
	}
	if got := r.Header.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto %q over http", got)
	}

	// HTTPS: HTTP/2 through ALPN, and the origin learns it was https.
	h2 := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		ForceAttemptHTTP2: true,
		TLSClientConfig:   &tls.Config{RootCAs: testRoots()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, en.httpsAddr)
		},
	}}
	// Close the client's connection first: a server shutting down gives an
	// idle HTTP/2 connection a second after its GOAWAY.
	defer h2.CloseIdleConnections()
	resp, err := h2.Get("https://p.example.com/h2")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(b) != "primary" {
		t.Fatalf("https: %s %q, want HTTP/2 from the primary", resp.Proto, b)
	}
	r, _ = primary.seen()
	if got := r.Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto %q over https", got)
	}
	if r.Host != "p.example.com" {
		t.Errorf("origin saw Host %q over https", r.Host)
	}

	// Primary down (its listener closed: connections are refused): fail
	// over to the backup, request bodies included.
	primary.srv.Close()
	for i := 0; i < 3; i++ {
		if resp, body := en.do("GET", "p.example.com", "/", "", nil); resp.StatusCode != 200 || body != "backup" {
			t.Fatalf("primary down: %d %q, want the backup", resp.StatusCode, body)
		}
	}
	if resp, body := en.do("POST", "p.example.com", "/post", "payload", nil); resp.StatusCode != 200 || body != "backup" {
		t.Fatalf("POST, primary down: %d %q", resp.StatusCode, body)
	}
	if _, got := backup.seen(); got != "payload" {
		t.Fatalf("backup got body %q after failover", got)
	}

	// All down: 502, quickly, with a short plain-text body.
	backup.srv.Close()
	start := time.Now()
	resp, body := en.do("GET", "p.example.com", "/", "", nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.HasPrefix(body, "cdnd: ") {
		t.Fatalf("all down: %d %q, want 502", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("all down: 502 took %v", d)
	}

	for _, host := range []string{"unknown.example.com", "off.example.com", "", "[::1]:80"} {
		resp, body := en.do("GET", host, "/", "", nil)
		if resp.StatusCode != http.StatusNotFound || body != "cdnd: unknown domain\n" {
			t.Fatalf("host %q: %d %q, want 404", host, resp.StatusCode, body)
		}
	}
}

// TestProxyTimeout: an origin that accepts but does not answer gets 504
// after the response-header timeout (shortened here), not a hang.
func TestProxyTimeout(t *testing.T) {
	st := testStoreFor(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	host, port, _ := net.SplitHostPort(slow.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	commit(t, st.Txn().Put(store.DomainKey("slow.example.com"),
		domain("slow.example.com", "", store.Source{Type: "ipaddr", Content: host, Port: p, Priority: "20"})))
	en := startEdge(t, st, withEdge(func(e *Edge) { e.transport.ResponseHeaderTimeout = 200 * time.Millisecond }))
	resp, body := en.do("GET", "slow.example.com", "/", "", nil)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("slow origin: %d %q, want 504", resp.StatusCode, body)
	}
}

func TestOriginOrder(t *testing.T) {
	groups := buildOrigins([]store.Source{
		{Type: "domain", Content: "backup.example", Port: 0, Priority: "30"},
		{Type: "ipaddr", Content: "192.0.2.1", Port: 8080, Priority: "20", Weight: "90"},
		{Type: "ipaddr", Content: "2001:db8::1", Port: 443, Priority: "20", Weight: "10"},
		{Type: "common", Content: "  ", Port: 80, Priority: "20"}, // empty: skipped
	})
	if len(groups) != 2 || groups[0].priority != 20 || groups[1].priority != 30 {
		t.Fatalf("groups: %+v", groups)
	}
	if o := groups[1].origins[0]; o.scheme != "http" || o.host != "backup.example:80" {
		t.Fatalf("default port: %+v", o)
	}
	if o := groups[0].origins[1]; o.scheme != "https" || o.host != "[2001:db8::1]:443" {
		t.Fatalf("port 443: %+v", o)
	}
	first := map[string]int{}
	const n = 4000
	for i := 0; i < n; i++ {
		c := candidates(groups)
		if len(c) != 3 || c[2].host != "backup.example:80" {
			t.Fatalf("order: %+v", c)
		}
		first[c[0].host]++
	}
	// Weight 90 vs 10: expect ~3600 firsts; 3300 is > 9 standard deviations off.
	if got := first["192.0.2.1:8080"]; got < 3300 || got > n-200 {
		t.Fatalf("weighted choice: heavy origin first %d of %d", got, n)
	}
}
