package e2e

// The fleet tests (fleet_*_test.go) run what issue 6 describes: a
// three-member etcd cluster of `cdnd etcd` processes, two `cdnd api` nodes
// and two `cdnd edge` nodes, every one a real process of the cdnd binary on
// loopback, and inject faults into them: SIGKILL, SIGSTOP/SIGCONT, restarts,
// a forced compaction. A test talks to etcd directly only to inject faults
// (find the leader, compact, revoke a lease) and to learn revisions.
//
// Each test builds its own fleet (etcd starts in a second or two), so a
// fault in one never reaches another, and runs in parallel with the others.
// -short skips them. A failing test shows the last lines of every
// process's log; FLEET_DEBUG=1 shows them (and the leader test's call
// timeline) on success too.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cdnd/cdnd/internal/certs/certstest"
	"github.com/cdnd/cdnd/internal/edge"
	"github.com/cdnd/cdnd/internal/fleettest"
	"github.com/cdnd/cdnd/internal/store"
)

// What every node of a test fleet shares.
const (
	fleetRootID     = "LTAIfleetRoot00000000000"
	fleetRootSecret = "fleet-root-secret"
	fleetToken      = "fleet-admin-token"
	// fleetSDKTimeout is the SDK's read timeout: longer than the gateway's
	// own 10 s bound, so a call that hits it has hung.
	fleetSDKTimeout = 15 * time.Second
	// fleetGatewayBound is how long an API call may take, whatever the
	// store does: the gateway's 10 s plus slack for a loaded machine.
	fleetGatewayBound = 13 * time.Second
)

// skipFleet skips the fleet tests under -short: they build the binary and
// start seven processes each.
func skipFleet(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an etcd cluster and a fleet of cdnd processes")
	}
}

// --- processes -----------------------------------------------------------

// fleetReadyWithin bounds a process's start, to the line that says it is
// ready.
const fleetReadyWithin = 45 * time.Second

// fleetAdmin calls the operator API of a test fleet's nodes.
var fleetAdmin = fleettest.Admin{Token: fleetToken}

// track kills p when the test ends and, if the test failed (or FLEET_DEBUG
// is set), shows the last lines of its log, which is in the test's
// directory.
func (f *fleet) track(p *fleettest.Proc) {
	t := f.t
	t.Cleanup(func() {
		p.Close()
		if t.Failed() || os.Getenv("FLEET_DEBUG") != "" {
			lines := strings.Split(strings.TrimRight(p.LogText(), "\n"), "\n")
			if len(lines) > 25 {
				lines = lines[len(lines)-25:]
			}
			t.Logf("--- last lines of %s (%s):\n%s", p.Name, p.LogPath(), strings.Join(lines, "\n"))
		}
	})
}

// start runs a process (again, after a kill) and waits until it is ready.
func (f *fleet) start(p *fleettest.Proc) {
	f.t.Helper()
	if err := p.Start(fleetReadyWithin); err != nil {
		f.t.Fatal(err)
	}
}

// --- TLS -----------------------------------------------------------------

// fleetPKI is a CA and the certificates a TLS fleet uses, as PEM files.
type fleetPKI struct {
	ca                string
	member, memberKey string // members, for clients and for peers
	client, clientKey string // cdnd nodes and the test itself
	pool              *x509.CertPool
	clientPair        tls.Certificate
}

func newFleetPKI(t *testing.T, dir string) *fleetPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleet etcd CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	k := &fleetPKI{pool: x509.NewCertPool()}
	k.pool.AddCert(caCert)
	write := func(name string, block *pem.Block) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	k.ca = write("ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	issue := func(serial int64, cn string, usage []x509.ExtKeyUsage) (certPath, keyPath string, pair tls.Certificate) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage,
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certPEM := &pem.Block{Type: "CERTIFICATE", Bytes: der}
		keyPEM := &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}
		pair, err = tls.X509KeyPair(pem.EncodeToMemory(certPEM), pem.EncodeToMemory(keyPEM))
		if err != nil {
			t.Fatal(err)
		}
		return write(cn+".pem", certPEM), write(cn+"-key.pem", keyPEM), pair
	}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	k.member, k.memberKey, _ = issue(2, "member", both)
	k.client, k.clientKey, k.clientPair = issue(3, "cdnd", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	return k
}

// clientTLS is the test's own TLS configuration for etcd (nil without TLS).
func (f *fleet) clientTLS() *tls.Config {
	if f.pki == nil {
		return nil
	}
	return &tls.Config{RootCAs: f.pki.pool, Certificates: []tls.Certificate{f.pki.clientPair}}
}

// --- the fleet -----------------------------------------------------------

type fleet struct {
	t        *testing.T
	opts     fleetOptions
	launcher fleettest.Launcher // for nodes a test adds later
	pki      *fleetPKI
	dir      string
	cluster  *fleettest.Cluster
	etcd     *clientv3.Client
	apis     []*fleettest.Proc
	edges    []*fleettest.Proc
}

// fleetOptions vary a fleet.
type fleetOptions struct {
	// auth turns on etcd's authentication: the nodes log in as user
	// "cdnd", whose role may read and write only under /cdnd/.
	auth bool
	// tls makes the members speak TLS to clients and peers and require
	// client certificates of both; the nodes present theirs.
	tls bool
	// apiArgs are more flags for the API nodes.
	apiArgs []string
}

// The etcd users of a fleet with auth.
const (
	fleetEtcdUser     = "cdnd"
	fleetEtcdPassword = "fleet-etcd-password"
	fleetEtcdRootPass = "fleet-etcd-root"
)

// newFleet starts three etcd members, nAPI API nodes and nEdge edges
// (e1, e2, ...), and waits until every edge is registered.
func newFleet(t *testing.T, nAPI, nEdge int) *fleet {
	t.Helper()
	return newFleetWith(t, nAPI, nEdge, fleetOptions{})
}

func newFleetWith(t *testing.T, nAPI, nEdge int, opts fleetOptions) *fleet {
	t.Helper()
	skipFleet(t)
	l := fleettest.Launcher{Bin: cdndBinary(t), Dir: t.TempDir(), Secrets: fleettest.Secrets{
		MasterKey: masterKey, RootAccessKeyID: fleetRootID, RootAccessKeySecret: fleetRootSecret, AdminToken: fleetToken,
	}}
	start := time.Now()
	f := &fleet{t: t, dir: l.Dir, opts: opts, launcher: l}
	if opts.tls {
		f.pki = newFleetPKI(t, f.dir)
	}
	f.startEtcd(l)
	if opts.auth {
		f.enableAuth()
	}
	for i := range nAPI {
		f.apis = append(f.apis, f.newNode(l, "api", fmt.Sprintf("api%d", i+1)))
	}
	for i := range nEdge {
		f.edges = append(f.edges, f.newNode(l, "edge", fmt.Sprintf("e%d", i+1)))
	}
	for _, p := range append(append([]*fleettest.Proc(nil), f.apis...), f.edges...) {
		f.start(p)
	}
	f.waitEdges(nEdge)
	t.Logf("fleet of 3 etcd members, %d API nodes, %d edges up in %v", nAPI, nEdge, time.Since(start).Round(time.Millisecond))
	return f
}

// startEtcd starts the members and connects the test's own client.
func (f *fleet) startEtcd(l fleettest.Launcher) {
	t := f.t
	var memberTLS *fleettest.MemberTLS
	if f.pki != nil {
		memberTLS = &fleettest.MemberTLS{CA: f.pki.ca, Cert: f.pki.member, Key: f.pki.memberKey}
	}
	c, err := l.NewCluster(memberTLS)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Members {
		f.track(m.Proc)
	}
	f.cluster = c
	if err := c.StartMembers(fleetReadyWithin, c.Members...); err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop(), TLS: f.clientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	f.etcd = cli
}

// restartMembers starts the given (killed) members again on their data
// directories, and waits until the cluster answers a linearizable read.
func (f *fleet) restartMembers(ms ...*fleettest.Member) {
	f.t.Helper()
	if err := f.cluster.StartMembers(fleetReadyWithin, ms...); err != nil {
		f.t.Fatal(err)
	}
	f.waitQuorum(20 * time.Second)
}

// waitQuorum waits until the cluster serves a linearizable read.
func (f *fleet) waitQuorum(within time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := f.etcd.Get(clientv3.WithRequireLeader(ctx), "/fleet-probe")
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("etcd has no quorum after %v: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leader returns the member that leads the cluster now.
func (f *fleet) leader() *fleettest.Member {
	f.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, m := range f.cluster.Members {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := f.etcd.Status(ctx, m.ClientURL)
			cancel()
			if err == nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
				return m
			}
		}
	}
	f.t.Fatal("no etcd leader found")
	return nil
}

// revision is the cluster's current revision.
func (f *fleet) revision() int64 {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := f.etcd.Get(ctx, "/fleet-probe")
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.Header.Revision
}

// newNode prepares an API node or an edge (named like e1), closed when the
// test ends; start runs it, and runs it again after a kill.
func (f *fleet) newNode(l fleettest.Launcher, role, name string) *fleettest.Proc {
	n := fleettest.Node{Role: role, Name: name, Endpoints: f.cluster.Endpoints}
	if f.pki != nil {
		n.Args = append(n.Args, "--etcd-cert", f.pki.client, "--etcd-key", f.pki.clientKey, "--etcd-ca", f.pki.ca)
	}
	if role == "api" {
		n.Args = append(n.Args, f.opts.apiArgs...)
	}
	if f.opts.auth {
		n.Args = append(n.Args, "--etcd-user", fleetEtcdUser)
		n.Env = append(n.Env, "CDND_ETCD_PASSWORD="+fleetEtcdPassword)
	}
	p, err := l.NewNode(n)
	if err != nil {
		f.t.Fatal(err)
	}
	f.track(p)
	return p
}

// enableAuth creates root and the cdnd user (read-write under /cdnd/ only),
// turns authentication on, and logs the test's own client in as root.
func (f *fleet) enableAuth() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli := f.etcd
	steps := []func() error{
		func() error { _, err := cli.RoleAdd(ctx, "cdnd"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "cdnd", "/cdnd/", clientv3.GetPrefixRangeEnd("/cdnd/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, fleetEtcdUser, fleetEtcdPassword); return err },
		func() error { _, err := cli.UserGrantRole(ctx, fleetEtcdUser, "cdnd"); return err },
		func() error { _, err := cli.UserAdd(ctx, "root", fleetEtcdRootPass); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			f.t.Fatal(err)
		}
	}
	root, err := clientv3.New(clientv3.Config{Endpoints: cli.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		Username: "root", Password: fleetEtcdRootPass, TLS: f.clientTLS()})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { root.Close() })
	f.etcd = root
}

// --- operator API --------------------------------------------------------

// listEdges is GET /admin/v1/edges on the first API node.
func (f *fleet) listEdges() (fleettest.EdgeList, error) { return fleetAdmin.Edges(f.apis[0]) }

// waitEdges waits until n edges are registered.
func (f *fleet) waitEdges(n int) {
	f.t.Helper()
	if err := fleetAdmin.WaitEdges(f.apis[0], n, 20*time.Second); err != nil {
		f.t.Fatal(err)
	}
}

// --- accounts, domains, certificates -------------------------------------

// fleetAccount is a tenant with one SDK client per API node.
type fleetAccount struct {
	ID            string
	keyID, secret string
	clients       []*cdn.Client // one per API node of the fleet, in order
}

func (f *fleet) newAccount() *fleetAccount {
	f.t.Helper()
	var body struct{ AccountId, AccessKeyId, AccessKeySecret string }
	if err := fleetAdmin.Call(f.apis[0], http.MethodPost, "/admin/v1/accounts", &body); err != nil {
		f.t.Fatal(err)
	}
	a := &fleetAccount{ID: body.AccountId, keyID: body.AccessKeyId, secret: body.AccessKeySecret}
	for _, api := range f.apis {
		a.clients = append(a.clients, fleetClient(f.t, api, body.AccessKeyId, body.AccessKeySecret))
	}
	return a
}

// fleetClient is an SDK client for one API node, with bounded timeouts and
// no retries (the SDK's default): what a call returns is what it got.
func fleetClient(t *testing.T, api *fleettest.Proc, id, secret string) *cdn.Client {
	c := sdkClient(t, id, secret)
	c.Domain = api.Addr("api")
	c.SetConnectTimeout(3 * time.Second)
	c.SetReadTimeout(fleetSDKTimeout)
	return c
}

// refresh points the account's clients at the API nodes' current
// addresses (after a restart).
func (f *fleet) refresh(a *fleetAccount) {
	for i, api := range f.apis {
		a.clients[i].Domain = api.Addr("api")
	}
}

// addDomain adds a domain through the first API node and waits until every
// edge has applied it.
func (f *fleet) addDomain(a *fleetAccount, name string) {
	f.t.Helper()
	req := cdn.CreateAddCdnDomainRequest()
	req.DomainName, req.CdnType, req.Sources = name, "web", testSources
	if err := fleetRetry(func() error { _, err := a.clients[0].AddCdnDomain(req); return err }); err != nil {
		f.t.Fatalf("AddCdnDomain %s: %v", name, err)
	}
	f.waitStatus(a, name, "online", 15*time.Second)
}

func domainStatus(c *cdn.Client, name string) (string, error) {
	req := cdn.CreateDescribeCdnDomainDetailRequest()
	req.DomainName = name
	resp, err := c.DescribeCdnDomainDetail(req)
	if err != nil {
		return "", err
	}
	return resp.GetDomainDetailModel.DomainStatus, nil
}

func (f *fleet) waitStatus(a *fleetAccount, name, want string, within time.Duration) {
	f.t.Helper()
	var got string
	var err error
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got, err = domainStatus(a.clients[0], name); err == nil && got == want {
			return
		}
	}
	f.t.Fatalf("domain %s: status %q (%v), want %q", name, got, err, want)
}

// newFleetCert is a certificate for domain, to upload under name.
func newFleetCert(t *testing.T, domain, name string) fleettest.Cert {
	chain, key := certstest.Valid(t, domain)
	return fleettest.Cert{Name: name, Chain: string(chain), Key: string(key), FP: pemFingerprint(t, chain)}
}

// fleetRetry retries a setup call the fleet may refuse for a moment, for
// up to 20 s.
func fleetRetry(call func() error) error { return fleettest.Retry(20*time.Second, call) }

// certInfo reads a domain's certificate through the API.
func certInfo(c *cdn.Client, domain string) (cdn.CertInfo, error) {
	req := cdn.CreateDescribeDomainCertificateInfoRequest()
	req.DomainName = domain
	resp, err := c.DescribeDomainCertificateInfo(req)
	if err != nil {
		return cdn.CertInfo{}, err
	}
	if n := len(resp.CertInfos.CertInfo); n != 1 {
		return cdn.CertInfo{}, fmt.Errorf("%d CertInfo, want 1", n)
	}
	return resp.CertInfos.CertInfo[0], nil
}

// --- the edges, from outside ---------------------------------------------

// edgeServes returns the fingerprint an edge serves for sni, or the
// handshake error.
func edgeServes(edge *fleettest.Proc, sni string) (string, error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", edge.Addr("https"), &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return fingerprint(conn.ConnectionState().PeerCertificates[0]), nil
}

// waitServed waits until every edge serves sni with the certificate of
// fingerprint want ("" means: refuses the name).
func (f *fleet) waitServed(sni, want string, within time.Duration, edges ...*fleettest.Proc) {
	f.t.Helper()
	if len(edges) == 0 {
		edges = f.edges
	}
	for _, e := range edges {
		var got string
		var err error
		deadline := time.Now().Add(within)
		for {
			got, err = edgeServes(e, sni)
			if want == "" && err != nil && strings.Contains(err.Error(), "unrecognized name") {
				break
			}
			if want != "" && err == nil && got == want {
				break
			}
			if time.Now().After(deadline) {
				f.t.Fatalf("edge %s serves %s: got %.16s (err %v), want %.16s", e.Name, sni, got, err, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// snapshotCovers waits until the edge's snapshot (DATA_DIR/edge-snapshot and
// its journal) holds each domain bound to the named certificate: a killed
// edge restarts from it.
func (f *fleet) snapshotCovers(edge *fleettest.Proc, bound map[string]string) {
	f.t.Helper()
	path := filepath.Join(f.dir, edge.Name, "edge-snapshot")
	var last string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		s, err := readFleetSnapshot(path)
		if err != nil {
			last = err.Error()
			continue
		}
		have := map[string]string{}
		for _, d := range s.Domains {
			if d.HTTPS != nil && d.Status == "online" {
				have[d.Name] = d.HTTPS.CertName
			}
		}
		missing := 0
		for name, cert := range bound {
			if have[name] != cert {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		last = fmt.Sprintf("revision %d: %d of %d domains not as bound", s.Revision, missing, len(bound))
	}
	f.t.Fatalf("edge %s's snapshot does not cover the domains: %s", edge.Name, last)
}

func readFleetSnapshot(path string) (*store.Served, error) {
	return edge.ReadSnapshot(path)
}
