// Package acmetest runs Pebble, Let's Encrypt's ACME test server
// (github.com/letsencrypt/pebble/v2), in the test's process, with real
// validation: its VA resolves the names through a dnstest server (which
// the test points at 127.0.0.1) and fetches HTTP-01 answers from, and
// makes TLS-ALPN-01 handshakes with, the edge ports the test names. It also
// counts orders per domain, and can be told to refuse orders, as a CA that
// is down or rate-limiting would.
package acmetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"github.com/cdnd/cdnd/internal/dnstest"
)

// Pebble is a running ACME server.
type Pebble struct {
	// Directory is the ACME directory URL, for --acme-directory.
	Directory string
	// CAFile is the PEM of the server's TLS certificate, for --acme-ca-file.
	CAFile string
	// DNS is the server Pebble's VA resolves names with: Point adds names.
	DNS *dnstest.Server

	srv     *httptest.Server
	handler atomic.Pointer[http.Handler]
	mgmt    atomic.Pointer[http.Handler]
	db      *db.MemoryStore
	ca      *ca.CAImpl
	logger  *log.Logger
	// requireEAB: accounts need an external account binding.
	requireEAB bool
	profiles   map[string]ca.Profile
	// httpPort and tlsPort are what Validate was last told.
	httpPort, tlsPort int

	mu     sync.Mutex
	orders map[string]int // newOrder requests by identifier
	// refuse, when set, answers every newOrder with this status and a
	// serverInternal problem, with Retry-After refuseRetryAfter.
	refuse           int
	refuseRetryAfter string
	// hold, while open, keeps finalize requests waiting: an order stays
	// in progress for as long as a test needs.
	hold chan struct{}
}

// Options vary a Pebble.
type Options struct {
	// Validity of the certificates, in seconds; 0: Pebble's 90 days.
	Validity uint64
	// EAB, when set, makes new accounts require an external account
	// binding (RFC 8555 section 7.3.4) with one of these key ids and
	// HMAC keys (base64url).
	EAB map[string]string
}

// Start runs Pebble until the test ends. It answers only once Validate has
// named the ports to validate against.
func Start(t testing.TB, opts Options) *Pebble {
	t.Helper()
	// Validation without Pebble's random sleep, every nonce good, every
	// authorization validated afresh.
	for k, v := range map[string]string{"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"} {
		if os.Getenv(k) != v {
			os.Setenv(k, v) //nolint:errcheck // the test process's own environment
		}
	}
	p := &Pebble{DNS: dnstest.Start(t), orders: map[string]int{}, db: db.NewMemoryStore(), logger: log.New(io.Discard, "", 0), requireEAB: len(opts.EAB) > 0}
	for kid, hmac := range opts.EAB {
		if err := p.db.AddExternalAccountKeyByID(kid, hmac); err != nil {
			t.Fatal(err)
		}
	}
	if testing.Verbose() && os.Getenv("PEBBLE_DEBUG") != "" {
		p.logger = log.New(os.Stderr, "pebble ", log.Lmicroseconds)
	}
	p.profiles = map[string]ca.Profile{"default": {Description: "test", ValidityPeriod: opts.Validity}}
	p.ca = ca.New(p.logger, p.db, "", "ecdsa", 0, 1, p.profiles)
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	p.Directory = p.srv.URL + wfe.DirectoryPath
	p.CAFile = filepath.Join(t.TempDir(), "pebble-ca.pem")
	if err := os.WriteFile(p.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Validate makes the VA validate HTTP-01 on httpPort and TLS-ALPN-01 on
// tlsPort of whatever the names resolve to.
func (p *Pebble) Validate(httpPort, tlsPort int) {
	p.httpPort, p.tlsPort = httpPort, tlsPort
	v := va.New(p.logger, httpPort, tlsPort, false, p.DNS.Addr, p.db)
	w := wfe.New(p.logger, p.db, v, p.ca, []string{"pebble.letsencrypt.org"}, false, p.requireEAB, 0, 0)
	h, m := w.Handler(), w.ManagementHandler()
	p.handler.Store(&h)
	p.mgmt.Store(&m)
}

// Block makes the CA refuse to issue for domain (rejectedIdentifier).
func (p *Pebble) Block(t testing.TB, domain string) {
	t.Helper()
	if err := p.db.AddBlockedDomain(domain); err != nil {
		t.Fatal(err)
	}
}

// Restart is Pebble restarted at the same address: it forgets every
// account, order and certificate (its store is in memory) and issues from
// a new root.
func (p *Pebble) Restart() {
	p.db = db.NewMemoryStore()
	p.ca = ca.New(p.logger, p.db, "", "ecdsa", 0, 1, p.profiles)
	p.Validate(p.httpPort, p.tlsPort)
}

// Point makes the names resolve to 127.0.0.1 for the VA.
func (p *Pebble) Point(t testing.TB, names ...string) {
	t.Helper()
	rrs := make([]string, len(names))
	for i, n := range names {
		rrs[i] = n + ". 60 IN A 127.0.0.1"
	}
	p.DNS.Set(t, rrs...)
}

// Refuse makes Pebble answer every new order with status and a
// serverInternal problem (and Retry-After retryAfter, if not empty);
// Refuse(0, "") accepts orders again.
func (p *Pebble) Refuse(status int, retryAfter string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse, p.refuseRetryAfter = status, retryAfter
}

// HoldFinalize keeps every finalize request waiting (until its client
// goes away) until release is called: an order stays in progress, its
// challenge already validated, for a test to kill the node that placed it.
func (p *Pebble) HoldFinalize() (release func()) {
	ch := make(chan struct{})
	p.mu.Lock()
	p.hold = ch
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.hold = nil
			p.mu.Unlock()
			close(ch)
		})
	}
}

// Orders is how many new orders named domain.
func (p *Pebble) Orders(domain string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.orders[domain]
}

// TotalOrders is how many new orders Pebble received.
func (p *Pebble) TotalOrders() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.orders {
		n += c
	}
	return n
}

// SetRenewalInfo makes Pebble's renewal information (RFC 9773) for the
// certificate chainPEM's leaf answer ariJSON, e.g. a window in the past
// to force a renewal. It goes through Pebble's management API.
func (p *Pebble) SetRenewalInfo(t testing.TB, chainPEM, ariJSON string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"Certificate": chainPEM, "ARIResponse": ariJSON})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/set-renewal-info/", bytes.NewReader(body))
	req.Header.Set("User-Agent", "acmetest")
	(*p.mgmt.Load()).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("pebble set-renewal-info: %d %s", rec.Code, rec.Body)
	}
}

func (p *Pebble) serve(w http.ResponseWriter, r *http.Request) {
	h := p.handler.Load()
	if h == nil {
		http.Error(w, "acmetest: Validate was not called", http.StatusServiceUnavailable)
		return
	}
	if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/finalize-order/") {
		p.mu.Lock()
		hold := p.hold
		p.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return // the client is gone: the order stays ready
			}
		}
	}
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/order-plz") {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.mu.Lock()
		refuse, retryAfter := p.refuse, p.refuseRetryAfter
		p.mu.Unlock()
		if refuse != 0 {
			w.Header().Set("Content-Type", "application/problem+json")
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(refuse)
			_, _ = io.WriteString(w, `{"type":"urn:ietf:params:acme:error:serverInternal","detail":"acmetest: the CA refuses orders","status":`+strconv.Itoa(refuse)+`}`)
			return
		}
		// An order counts once created (201): a request the client
		// repeats after a bad nonce is not a second order.
		sw := &statusWriter{ResponseWriter: w}
		(*h).ServeHTTP(sw, r)
		if sw.status == http.StatusCreated {
			p.mu.Lock()
			for _, id := range orderIdentifiers(body) {
				p.orders[id]++
			}
			p.mu.Unlock()
		}
		return
	}
	(*h).ServeHTTP(w, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// orderIdentifiers reads the identifiers of a newOrder request's JWS
// payload (RFC 8555 section 7.4) without checking its signature: Pebble
// does that.
func orderIdentifiers(body []byte) []string {
	var jws struct{ Payload string }
	if json.Unmarshal(body, &jws) != nil {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(jws.Payload)
	if err != nil {
		return nil
	}
	var order struct{ Identifiers []struct{ Value string } }
	if json.Unmarshal(payload, &order) != nil {
		return nil
	}
	out := make([]string, len(order.Identifiers))
	for i, id := range order.Identifiers {
		out[i] = id.Value
	}
	return out
}
