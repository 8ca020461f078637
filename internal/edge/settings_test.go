package edge

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/edge/cache"
	"github.com/cdnd/cdnd/internal/store"
)

func fn(name string, args ...string) store.FunctionConfig {
	c := store.FunctionConfig{ConfigID: int64(len(name)*1000 + len(args)), Function: name}
	for i := 0; i+1 < len(args); i += 2 {
		c.Args = append(c.Args, store.FunctionArg{Name: args[i], Value: args[i+1]})
	}
	return c
}

func configs(domain string, fns ...store.FunctionConfig) store.DomainConfigs {
	return store.DomainConfigs{Domain: domain, Configs: fns}
}

// handshakeVersions handshakes with the edge for sni, offering versions min..max and
// ALPN protos, and returns the connection state.
func (en *env) handshakeVersions(sni string, minV, maxV uint16, protos ...string) (tls.ConnectionState, error) {
	cfg := &tls.Config{ServerName: sni, RootCAs: testRoots(), MinVersion: minV, MaxVersion: maxV, NextProtos: protos}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", en.httpsAddr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState(), nil
}

// getTLS sends a GET for host over HTTPS (HTTP/1.1).
func (en *env) getTLS(host, path string) *http.Response {
	en.t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: testRoots(), ServerName: host},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, en.httpsAddr)
		},
	}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get("https://" + host + path)
	if err != nil {
		en.t.Fatalf("GET https://%s%s: %v", host, path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

var noRedirect = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (en *env) getPlain(host, path string) *http.Response {
	en.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+en.httpAddr+path, nil)
	req.Host = host
	resp, err := noRedirect.Do(req)
	if err != nil {
		en.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// Each function does what it says at the edge, on the domain whose SNI or
// Host it is, and nowhere else; changing and removing the configs takes
// effect with the revision that wrote them.
func TestDomainSettingsServed(t *testing.T) {
	st := testStoreFor(t)
	origin := newOrigin(t, "origin")
	c := issue(t, "s.example.com", "plain.example.com")
	putCertAndDomains(t, st, c, "c", domain("s.example.com", "c", origin.source("20")), domain("plain.example.com", "c", origin.source("20")))
	en := startEdge(t, st)
	en.waitApplied(commit(t, st.Txn().PutDomainConfigs(configs("s.example.com",
		fn("https_force", "enable", "on", "https_rewrite", "308"),
		fn("https_tls_version", "tls10", "off", "tls11", "off", "tls12", "off", "tls13", "on"),
		fn("HSTS", "enabled", "on", "https_hsts_max_age", "600", "https_hsts_include_subdomains", "on"),
		fn("https_option", "http2", "off"),
		fn("set_resp_header", "key", "x-tenant", "value", "one", "header_operation_type", "add", "duplicate", "off"),
		fn("set_req_header", "key", "X-To-Origin", "value", "two", "header_operation_type", "rewrite", "duplicate", "off"),
	))))

	if resp := en.getPlain("s.example.com:8080", "/a?b=c"); resp.StatusCode != 308 || resp.Header.Get("Location") != "https://s.example.com/a?b=c" {
		t.Fatalf("https_force: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := en.getPlain("plain.example.com", "/"); resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("a domain without configs: %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := en.handshakeVersions("s.example.com", tls.VersionTLS12, tls.VersionTLS12); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("TLS 1.2 with only 1.3 on: %v", err)
	}
	cs, err := en.handshakeVersions("s.example.com", tls.VersionTLS12, tls.VersionTLS13, "h2", "http/1.1")
	if err != nil || cs.Version != tls.VersionTLS13 || cs.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("TLS 1.3 without h2: %v, version %x, ALPN %q", err, cs.Version, cs.NegotiatedProtocol)
	}
	if cs, err := en.handshakeVersions("plain.example.com", tls.VersionTLS12, tls.VersionTLS12, "h2"); err != nil || cs.NegotiatedProtocol != "h2" {
		t.Fatalf("the other domain keeps TLS 1.2 and h2: %v, %q", err, cs.NegotiatedProtocol)
	}
	resp := en.getTLS("s.example.com", "/")
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") != "max-age=600; includeSubDomains" || resp.Header.Get("X-Tenant") != "one" {
		t.Fatalf("HTTPS response: %d %v", resp.StatusCode, resp.Header)
	}
	if r, _ := origin.seen(); r.Header.Get("X-To-Origin") != "two" {
		t.Fatalf("origin saw %v", r.Header)
	}

	// Changed: http_force over HTTPS, TLS 1.2 only, h2 back; HSTS off.
	en.waitApplied(commit(t, st.Txn().PutDomainConfigs(configs("s.example.com",
		fn("http_force", "enable", "on", "http_rewrite", "302"),
		fn("https_tls_version", "tls10", "off", "tls11", "off", "tls12", "on", "tls13", "off"),
		fn("https_option", "http2", "on"),
	))))
	if resp := en.getTLS("s.example.com", "/x"); resp.StatusCode != 302 || resp.Header.Get("Location") != "http://s.example.com/x" || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("http_force: %d %v", resp.StatusCode, resp.Header)
	}
	if cs, err := en.handshakeVersions("s.example.com", tls.VersionTLS12, tls.VersionTLS13, "h2"); err != nil || cs.Version != tls.VersionTLS12 || cs.NegotiatedProtocol != "h2" {
		t.Fatalf("TLS 1.2 only: %v, %x, %q", err, cs.Version, cs.NegotiatedProtocol)
	}

	// TLS 1.0 on alone: an old client gets it, a TLS 1.2-only one is refused.
	en.waitApplied(commit(t, st.Txn().PutDomainConfigs(configs("s.example.com",
		fn("https_tls_version", "tls10", "on", "tls11", "off", "tls12", "off", "tls13", "off")))))
	if cs, err := en.handshakeVersions("s.example.com", tls.VersionTLS10, tls.VersionTLS13); err != nil || cs.Version != tls.VersionTLS10 {
		t.Fatalf("TLS 1.0 only: %v, %x", err, cs.Version)
	}
	if _, err := en.handshakeVersions("s.example.com", tls.VersionTLS12, tls.VersionTLS13); err == nil {
		t.Fatal("TLS 1.2+ client got a handshake with only TLS 1.0 on")
	}

	// Removed: the listener's defaults again.
	en.waitApplied(commit(t, st.Txn().PutDomainConfigs(configs("s.example.com"))))
	if resp := en.getPlain("s.example.com", "/"); resp.StatusCode != 200 {
		t.Fatalf("after removal: %d", resp.StatusCode)
	}
	if cs, err := en.handshakeVersions("s.example.com", tls.VersionTLS12, tls.VersionTLS13, "h2"); err != nil || cs.Version != tls.VersionTLS13 {
		t.Fatalf("after removal: %v, %x", err, cs.Version)
	}
}

// A server supporting exactly the versions on picks the highest the client
// offers; with none in common the lowest on is chosen, which the client
// refuses (protocol_version).
func TestTLSVersionChoice(t *testing.T) {
	s := &settings{versions: []uint16{tls.VersionTLS10, tls.VersionTLS12}}
	for _, tc := range []struct {
		offered []uint16
		want    uint16
	}{
		{[]uint16{tls.VersionTLS13, tls.VersionTLS12}, tls.VersionTLS12},
		{[]uint16{tls.VersionTLS11, tls.VersionTLS10}, tls.VersionTLS10},
		{[]uint16{tls.VersionTLS13}, tls.VersionTLS10},
		{nil, tls.VersionTLS10},
	} {
		if got := s.tlsVersion(tc.offered); got != tc.want {
			t.Errorf("offered %x: %x, want %x", tc.offered, got, tc.want)
		}
	}
}

func TestHeaderOps(t *testing.T) {
	h := http.Header{"X-Keep": {"k"}, "X-Mod": {"old"}, "X-Gone": {"g"}, "X-Dup": {"1"}}
	applyHeaders(h, []headerOp{
		{op: "add", name: "X-Dup", value: "2", duplicate: true},
		{op: "add", name: "X-New", value: "n"},
		{op: "delete", name: "X-Gone"},
		{op: "modify", name: "X-Mod", value: "new"},
		{op: "modify", name: "X-Absent", value: "no"},
		{op: "rewrite", name: "X-Keep", value: "r"},
	})
	want := http.Header{"X-Keep": {"r"}, "X-Mod": {"new"}, "X-Dup": {"1", "2"}, "X-New": {"n"}}
	if len(h) != len(want) {
		t.Fatalf("%v, want %v", h, want)
	}
	for k, v := range want {
		if strings.Join(h[k], ",") != strings.Join(v, ",") {
			t.Fatalf("%s: %v, want %v", k, h[k], v)
		}
	}
}

// The snapshot keeps the configs: an edge started from it alone serves
// them.
func TestSnapshotKeepsConfigs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snap")
	c := issue(t, "k.example.com")
	s := &store.Served{Revision: 5, ClusterID: 7, Domains: []store.Domain{domain("k.example.com", "c")}, Certs: []store.Cert{c.record(t, acct, "c")},
		Configs: []store.DomainConfigs{configs("k.example.com", fn("HSTS", "enabled", "on", "https_hsts_max_age", "60", "https_hsts_include_subdomains", "off"))}}
	if _, err := writeBase(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSnapshot(path)
	if err != nil || len(got.Configs) != 1 || got.Configs[0].Domain != "k.example.com" || got.Configs[0].Configs[0].Arg("https_hsts_max_age") != "60" {
		t.Fatalf("%+v, %v", got, err)
	}
	e := New(Config{Keyring: testKR})
	e.load(got)
	if d := e.idx.domain("k.example.com"); d == nil || d.settings == nil || d.settings.hsts != "max-age=60" {
		t.Fatalf("loaded: %+v", d)
	}
}

func TestRedirectLocation(t *testing.T) {
	s := &settings{redirectTo: "https", redirectCode: 301}
	for _, tc := range []struct{ target, host, want string }{
		{"/a/b?c=d", "x.example.com:8080", "https://x.example.com/a/b?c=d"},
		{"*", "x.example.com", "https://x.example.com/"},
		{"/", "[2001:db8::1]", "https://[2001:db8::1]/"},
	} {
		r := httptest.NewRequest("OPTIONS", tc.target, nil)
		r.Host = tc.host
		w := httptest.NewRecorder()
		if !s.redirect(w, r) || w.Code != 301 || w.Header().Get("Location") != tc.want {
			t.Errorf("%s %s: %d %q, want %q", tc.host, tc.target, w.Code, w.Header().Get("Location"), tc.want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.TLS = &tls.ConnectionState{}
	if s.redirect(httptest.NewRecorder(), r) {
		t.Error("https_force redirected an HTTPS request")
	}
}

// Configs changed while the edge runs reach its journal: an edge started
// from base and journal with the store unreachable serves them.
func TestJournalKeepsConfigs(t *testing.T) {
	st := testStoreFor(t)
	path := filepath.Join(t.TempDir(), "snapshot")
	c := issue(t, "j.example.com")
	putCertAndDomains(t, st, c, "c", domain("j.example.com", "c"))
	en := startEdge(t, st, snapshotAt(path))
	en.waitDurable(commit(t, st.Txn().PutDomainConfigs(configs("j.example.com", fn("https_option", "http2", "off")))))
	en.stop()

	down := startEdge(t, unreachableStore(t), snapshotAt(path))
	if cs, err := down.handshakeVersions("j.example.com", tls.VersionTLS12, tls.VersionTLS13, "h2", "http/1.1"); err != nil || cs.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("from the journal: %v, ALPN %q", err, cs.NegotiatedProtocol)
	}
}

// A wildcard domain's configs apply to every name it serves; an exact
// domain under it has its own (here none).
func TestWildcardSettings(t *testing.T) {
	st := testStoreFor(t)
	origin := newOrigin(t, "origin")
	c := issue(t, "*.w.example.com")
	putCertAndDomains(t, st, c, "c", domain(".w.example.com", "c", origin.source("20")), domain("exact.w.example.com", "c", origin.source("20")))
	en := startEdge(t, st)
	en.waitApplied(commit(t, st.Txn().PutDomainConfigs(configs(".w.example.com", fn("https_force", "enable", "on", "https_rewrite", "301")))))
	if resp := en.getPlain("any.w.example.com", "/"); resp.StatusCode != 301 || resp.Header.Get("Location") != "https://any.w.example.com/" {
		t.Fatalf("wildcard: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := en.getPlain("exact.w.example.com", "/"); resp.StatusCode != 200 {
		t.Fatalf("exact under the wildcard: %d", resp.StatusCode)
	}
}

// Through the HTTP cache, a domain's response settings are applied as each
// answer is served: an object stored from a plain HTTP fetch gets HSTS over
// HTTPS, and the same object never carries it over plain HTTP.
func TestCachedAnswersGetSettingsAsServed(t *testing.T) {
	st := testStoreFor(t)
	var fetches atomic.Int32
	origin := &testOrigin{srv: httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		_, _ = io.WriteString(w, "object")
	}))}
	t.Cleanup(origin.srv.Close)
	hc, err := cache.New(cache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hc.Close)
	c := issue(t, "hsts.example.com")
	putCertAndDomains(t, st, c, "c", domain("hsts.example.com", "c", origin.source("20")))
	en := startEdge(t, st, withConfig(func(cfg *Config) { cfg.HTTPCache = hc }))
	en.waitApplied(commit(t, st.Txn().PutDomainConfigs(configs("hsts.example.com",
		fn("HSTS", "enabled", "on", "https_hsts_max_age", "600", "https_hsts_include_subdomains", "off"),
		fn("set_resp_header", "key", "x-tenant", "value", "one", "header_operation_type", "add", "duplicate", "off"),
	))))

	const hsts = "max-age=600"
	for i, step := range []struct {
		overTLS bool
		xcache  string
	}{{false, "MISS"}, {true, "HIT"}, {false, "HIT"}, {true, "HIT"}} {
		var resp *http.Response
		if step.overTLS {
			resp = en.getTLS("hsts.example.com", "/obj")
		} else {
			resp = en.getPlain("hsts.example.com", "/obj")
		}
		want := ""
		if step.overTLS {
			want = hsts
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != want || resp.Header.Get("X-Tenant") != "one" ||
			!strings.HasPrefix(resp.Header.Get("X-Cache"), step.xcache) {
			t.Errorf("request %d (TLS %v): HSTS %q (want %q), X-Tenant %q, X-Cache %q", i, step.overTLS, got, want, resp.Header.Get("X-Tenant"), resp.Header.Get("X-Cache"))
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("origin fetched %d times, want 1", n)
	}
}
