package edge

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// A TLS session proves one domain's certificate; a request on it for
// another domain entry (another account's, or the same account's other
// entry) is 421, over HTTP/1.1 and on a coalesced HTTP/2 connection, while
// plain HTTP keeps routing by Host.
func TestMisdirectedRequests(t *testing.T) {
	st := testStoreFor(t)
	wildOrigin, exactOrigin := newOrigin(t, "wildcard"), newOrigin(t, "exact")
	wild := issue(t, "*.example.com")
	exact := issue(t, "a.example.com")
	putCertAndDomains(t, st, wild, "wild", domain(".example.com", "wild", wildOrigin.source("20")))
	// The exact name is another account's: what a coalesced connection
	// must never reach.
	other := domain("a.example.com", "exact", exactOrigin.source("20"))
	other.AccountID = "999"
	rev := commit(t, st.Txn().
		Put(store.CertKey("999", "exact"), exact.record(t, "999", "exact")).
		Put(store.DomainKey(other.Name), other))
	def := issue(t, "default.test")
	en := startEdge(t, st, withConfig(func(c *Config) { c.DefaultCert = def.tlsCert(t) }))
	en.waitApplied(rev)

	for _, tc := range []struct {
		sni, host string
		status    int
		body      string
	}{
		{"a.example.com", "a.example.com", 200, "exact"},
		{"x.example.com", "x.example.com", 200, "wildcard"},
		{"x.example.com", "y.example.com", 200, "wildcard"}, // one entry serves both
		{"x.example.com", "X.Example.COM:443", 200, "wildcard"},
		{"x.example.com", "a.example.com", 421, ""}, // the wildcard's session, the exact name's Host
		{"a.example.com", "x.example.com", 421, ""},
		{"a.example.com", "a.example.com.", 200, "exact"},
		{"", "a.example.com", 421, ""}, // no SNI (the default certificate) selects no domain
		{"x.example.com", "unknown.test", 404, ""},
	} {
		resp, body := en.httpsDo(t, tc.sni, tc.host, "http/1.1")
		if resp.StatusCode != tc.status || (tc.body != "" && body != tc.body) {
			t.Errorf("SNI %q, Host %q: %d %q; want %d %q", tc.sni, tc.host, resp.StatusCode, body, tc.status, tc.body)
		}
	}

	// HTTP/2: one connection, SNI x.example.com, reused for several names.
	h2 := &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: "x.example.com", RootCAs: testRoots()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, en.httpsAddr)
		},
		Protocols: new(http.Protocols),
	}
	h2.Protocols.SetHTTP2(true)
	cc, err := h2.NewClientConn(t.Context(), "https", "x.example.com:443")
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for _, tc := range []struct {
		authority string
		status    int
		body      string
	}{
		{"x.example.com", 200, "wildcard"},
		{"a.example.com", 421, ""},
		{"y.example.com", 200, "wildcard"}, // the connection survives the 421
	} {
		req, _ := http.NewRequest(http.MethodGet, "https://"+tc.authority+"/", nil)
		resp, err := cc.RoundTrip(req)
		if err != nil {
			t.Fatalf("h2 :authority %s: %v", tc.authority, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("h2 :authority %s: answered over %s", tc.authority, resp.Proto)
		}
		if resp.StatusCode != tc.status || (tc.body != "" && string(b) != tc.body) {
			t.Errorf("h2 :authority %s: %d %q; want %d %q", tc.authority, resp.StatusCode, b, tc.status, tc.body)
		}
	}
	if r, _ := exactOrigin.seen(); r != nil && r.Host != "a.example.com" && r.Host != "a.example.com." {
		t.Errorf("the exact name's origin saw a request for %q", r.Host)
	}

	// Plain HTTP has no session to protect: Host routes.
	if resp, body := en.do(http.MethodGet, "a.example.com", "/", "", nil); resp.StatusCode != 200 || body != "exact" {
		t.Errorf("plain HTTP Host a.example.com: %d %q", resp.StatusCode, body)
	}
}

// dialTLS opens a TLS connection to the edge with sni (none if empty),
// offering alpn.
func (en *env) dialTLS(t *testing.T, sni, alpn string) *tls.Conn {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: &tls.Config{
		ServerName: sni, RootCAs: testRoots(), InsecureSkipVerify: sni == "", NextProtos: []string{alpn},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", en.httpsAddr)
	if err != nil {
		t.Fatalf("TLS to the edge, SNI %q: %v", sni, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.(*tls.Conn)
}

// httpsDo sends one GET with host over a new TLS connection whose SNI is
// sni.
func (en *env) httpsDo(t *testing.T, sni, host, alpn string) (*http.Response, string) {
	t.Helper()
	conn := en.dialTLS(t, sni, alpn)
	tr := &http.Transport{DialTLSContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, "https://edge.invalid/", nil)
	req.Host = host
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("SNI %q, Host %q: %v", sni, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
