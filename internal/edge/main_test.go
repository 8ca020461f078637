package edge

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/certs/certstest"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/originpolicy"
	"github.com/cdnd/cdnd/internal/store"
	"github.com/cdnd/cdnd/internal/store/storetest"
)

// One embedded etcd for the whole package; each test isolates itself under
// its own prefix (store.WithPrefix).
var (
	testStore *store.Store
	testKR    *keyring.Keyring
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var err error
	if testKR, err = keyring.New(master); err != nil {
		fmt.Fprintln(os.Stderr, "keyring:", err)
		return 1
	}
	return storetest.Run(m, &testStore, nil)
}

// logBuf collects an edge's log; it is shown when the test fails and can be
// searched (e.g. for key material that must not be there).
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// env is one running edge on loopback listeners over the test's own part
// of the store.
type env struct {
	t         *testing.T
	st        *store.Store
	edge      *Edge
	id        string
	log       *logBuf
	httpsAddr string
	httpAddr  string
	stop      func() // stops Run and Serve and waits for them
}

// envOption adjusts an edge before it starts.
type envOption func(*envSetup)

type envSetup struct {
	cfg   Config
	tweak []func(*Edge) // applied after New, before Run and Serve
}

func withConfig(f func(*Config)) envOption { return func(s *envSetup) { f(&s.cfg) } }

func withEdge(f func(*Edge)) envOption {
	return func(s *envSetup) { s.tweak = append(s.tweak, f) }
}

func testStoreFor(t *testing.T) *store.Store {
	return testStore.WithPrefix("/test-" + t.Name())
}

// startEdge starts an edge over st and waits until it is Ready.
func startEdge(t *testing.T, st *store.Store, opts ...envOption) *env {
	t.Helper()
	lb := &logBuf{}
	id := "edge-" + strings.ReplaceAll(t.Name(), "/", "-")
	setup := envSetup{cfg: Config{
		Store:   st,
		Keyring: testKR,
		EdgeID:  id,
		Logger:  slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// The test origins listen on loopback, as an operator's private
		// origins would be allowed with --allow-origin-cidrs.
		Origins: originpolicy.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}),
	}}
	for _, o := range opts {
		o(&setup)
	}
	e := New(setup.cfg)
	for _, f := range setup.tweak {
		f(e)
	}
	httpsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := e.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := e.Serve(ctx, httpsLn, httpLn); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	en := &env{
		t: t, st: st, edge: e, id: id, log: lb,
		httpsAddr: httpsLn.Addr().String(), httpAddr: httpLn.Addr().String(),
	}
	var once sync.Once
	en.stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
	t.Cleanup(func() {
		en.stop()
		if t.Failed() {
			t.Logf("edge log:\n%s", lb.String())
		}
	})
	eventually(t, 10*time.Second, func() error {
		if !e.Ready() {
			return errors.New("edge not ready")
		}
		return nil
	})
	return en
}

// eventually polls f (every few ms) until it returns nil or the time is up.
func eventually(t testing.TB, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", within, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testCert is a certificate issued by the test CA, ready to be stored.
type testCert struct {
	chainPEM, keyPEM []byte
	fp               string
}

func issue(t testing.TB, names ...string) testCert {
	t.Helper()
	chainPEM, keyPEM := certstest.Valid(t, names...)
	chain, err := certs.ParseChain(chainPEM)
	if err != nil {
		t.Fatal(err)
	}
	testRoots().AddCert(chain.Certs[len(chain.Certs)-1]) // the test CA; the pool ignores duplicates
	return testCert{chainPEM: chainPEM, keyPEM: keyPEM, fp: certs.Fingerprint(chain.Leaf)}
}

func (c testCert) tlsCert(t testing.TB) *tls.Certificate {
	t.Helper()
	kp, err := tls.X509KeyPair(c.chainPEM, c.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &kp
}

// record makes the store record of c under (account, name), the key sealed
// as the API seals it.
func (c testCert) record(t testing.TB, account, name string) store.Cert {
	t.Helper()
	sealed, err := testKR.Seal(c.keyPEM, store.CertKeyAAD(account, name))
	if err != nil {
		t.Fatal(err)
	}
	return store.Cert{AccountID: account, Name: name, ChainPEM: string(c.chainPEM), Key: sealed, Fingerprint: c.fp}
}

const acct = "1234567890"

// domain is an online domain of acct bound to certName ("" = HTTPS off).
func domain(name, certName string, sources ...store.Source) store.Domain {
	d := store.Domain{Name: name, AccountID: acct, Status: "online", Sources: sources}
	if certName != "" {
		d.HTTPS = &store.Binding{CertName: certName, CertType: "upload"}
	}
	return d
}

func commit(t testing.TB, txn *store.Txn) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rev, err := txn.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// putCertAndDomains writes a certificate and domains bound to it in one
// transaction, as the API does.
func putCertAndDomains(t testing.TB, st *store.Store, c testCert, certName string, domains ...store.Domain) int64 {
	t.Helper()
	txn := st.Txn().Put(store.CertKey(acct, certName), c.record(t, acct, certName))
	for _, d := range domains {
		txn.Put(store.DomainKey(d.Name), d)
	}
	return commit(t, txn)
}

// waitApplied waits until the edge has applied rev.
func (en *env) waitApplied(rev int64) {
	en.t.Helper()
	eventually(en.t, 5*time.Second, func() error {
		if got := en.edge.Applied(); got < rev {
			return fmt.Errorf("applied %d < %d", got, rev)
		}
		return nil
	})
}

// handshake does a full TLS handshake with sni against the edge's HTTPS
// listener and returns the served leaf's fingerprint. The chain is verified
// against the test CA unless sni is empty (no SNI) or insecure is set.
func (en *env) handshake(sni string, insecure bool) (string, error) {
	return handshakeAt(en.httpsAddr, sni, insecure)
}

func handshakeAt(addr, sni string, insecure bool) (string, error) {
	cfg := &tls.Config{
		ServerName:         sni,
		RootCAs:            testRoots(),
		InsecureSkipVerify: insecure || sni == "",
		NextProtos:         []string{"http/1.1"},
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	st := conn.(*tls.Conn).ConnectionState()
	sum := sha256.Sum256(st.PeerCertificates[0].Raw)
	return hex.EncodeToString(sum[:]), nil
}

var (
	rootsOnce sync.Once
	roots     *x509.CertPool
)

// testRoots trusts the certstest CA. It is known once a certificate has been
// issued (issue records it), which every test does before its first
// handshake.
func testRoots() *x509.CertPool {
	rootsOnce.Do(func() { roots = x509.NewCertPool() })
	return roots
}

// wantUnrecognized asserts err is the unrecognized_name alert.
func wantUnrecognized(t testing.TB, err error, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: handshake succeeded, want unrecognized name", what)
	}
	if !strings.Contains(err.Error(), "unrecognized name") {
		t.Fatalf("%s: handshake error %q, want the unrecognized name alert", what, err)
	}
}

// isUnrecognized is wantUnrecognized for polling.
func isUnrecognized(fp string, err error) error {
	if err == nil {
		return fmt.Errorf("handshake succeeded (served %s), want unrecognized name", short(fp))
	}
	if !strings.Contains(err.Error(), "unrecognized name") {
		return fmt.Errorf("handshake error %q, want unrecognized name", err)
	}
	return nil
}

func short(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}
