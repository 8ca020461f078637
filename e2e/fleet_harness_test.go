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
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cdnd/cdnd/internal/certs/certstest"
	"github.com/cdnd/cdnd/internal/edge"
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

// fleetProc is one process of the cdnd binary. Its output goes to a log
// file in the test's directory, shown when the test fails.
type fleetProc struct {
	t    *testing.T
	name string
	args []string
	env  []string
	log  *procLog

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	addrs  map[string]string // api, https, http, admin of the last start
}

// procLog appends a process's output to a file and watches its lines.
type procLog struct {
	mu      sync.Mutex
	f       *os.File
	partial []byte
	watch   func(line string)
}

func (l *procLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.f.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if l.watch != nil {
			l.watch(line)
		}
	}
	return len(p), nil
}

func (l *procLog) setWatch(f func(string)) {
	l.mu.Lock()
	l.watch = f
	l.mu.Unlock()
}

var fleetServing = regexp.MustCompile(`msg="cdnd serving" role=(\S+) api=(\S*) https=(\S*) http=(\S*) admin=(\S*)`)

func newFleetProc(t *testing.T, dir, name string, env []string, args ...string) *fleetProc {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p := &fleetProc{t: t, name: name, args: args, env: env, log: &procLog{f: f}}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() || os.Getenv("FLEET_DEBUG") != "" {
			p.dumpLog()
		}
		f.Close()
	})
	return p
}

// launch runs the process and returns the channel on which it announces
// itself: an API or edge node's "cdnd serving" line (with its addresses),
// an etcd member's "etcd member ready".
func (p *fleetProc) launch() chan map[string]string {
	p.t.Helper()
	ready := make(chan map[string]string, 1)
	p.log.setWatch(func(line string) {
		var addrs map[string]string
		if m := fleetServing.FindStringSubmatch(line); m != nil {
			addrs = map[string]string{"role": m[1], "api": unquote(m[2]), "https": unquote(m[3]), "http": unquote(m[4]), "admin": unquote(m[5])}
		} else if strings.Contains(line, `msg="etcd member ready"`) {
			addrs = map[string]string{}
		}
		if addrs != nil {
			select {
			case ready <- addrs:
			default:
			}
		}
	})
	fmt.Fprintf(p.log, "=== %s start %s\n", time.Now().Format(time.StampMilli), strings.Join(p.args, " "))
	cmd := exec.Command(cdndBinary(p.t), p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	return ready
}

// start runs the process and waits until it is ready.
func (p *fleetProc) start() {
	p.t.Helper()
	ready := p.launch()
	p.waitReady(ready, p.exited)
}

func (p *fleetProc) waitReady(ready chan map[string]string, exited chan struct{}) {
	p.t.Helper()
	select {
	case addrs := <-ready:
		p.mu.Lock()
		if len(addrs) > 0 {
			p.addrs = addrs
		}
		p.mu.Unlock()
	case <-exited:
		p.t.Fatalf("%s exited before it was ready", p.name)
	case <-time.After(45 * time.Second):
		p.t.Fatalf("%s not ready within 45s", p.name)
	}
}

func unquote(s string) string { return strings.Trim(s, `"`) }

// addr is one of the addresses the last start announced.
func (p *fleetProc) addr(which string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addrs[which]
}

func (p *fleetProc) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *fleetProc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	fmt.Fprintf(p.log, "=== %s SIGKILL\n", time.Now().Format(time.StampMilli))
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// stop and cont freeze and thaw the process (SIGSTOP, SIGCONT): its sockets
// stay open and its leases live on until they expire.
func (p *fleetProc) stop() {
	fmt.Fprintf(p.log, "=== %s SIGSTOP\n", time.Now().Format(time.StampMilli))
	p.signal(syscall.SIGSTOP)
}

func (p *fleetProc) cont() {
	fmt.Fprintf(p.log, "=== %s SIGCONT\n", time.Now().Format(time.StampMilli))
	p.signal(syscall.SIGCONT)
}

// logText is everything the process has written, over all its starts.
func (p *fleetProc) logText() string {
	b, _ := os.ReadFile(p.log.f.Name())
	return string(b)
}

func (p *fleetProc) dumpLog() {
	lines := strings.Split(strings.TrimRight(p.logText(), "\n"), "\n")
	if len(lines) > 25 {
		lines = lines[len(lines)-25:]
	}
	p.t.Logf("--- last lines of %s (%s):\n%s", p.name, p.log.f.Name(), strings.Join(lines, "\n"))
}

// --- ports ---------------------------------------------------------------

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

// fleetPort picks a free loopback port for an etcd member. etcd's ports
// must survive the member's restart, so they are taken below Linux's
// ephemeral range, where no ":0" listener or outgoing connection lands.
func fleetPort(t *testing.T) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 1000 {
		port := 20000 + mrand.IntN(12000)
		if portsUsed[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		portsUsed[port] = true
		return port
	}
	t.Fatal("no free port")
	return 0
}

// --- etcd ----------------------------------------------------------------

type etcdMember struct {
	*fleetProc
	clientURL string
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

func (f *fleet) scheme() string {
	if f.pki != nil {
		return "https"
	}
	return "http"
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
	t         *testing.T
	opts      fleetOptions
	pki       *fleetPKI
	dir       string
	members   []*etcdMember
	endpoints string
	etcd      *clientv3.Client
	apis      []*fleetProc
	edges     []*fleetProc
}

// fleetOptions vary a fleet.
type fleetOptions struct {
	// auth turns on etcd's authentication: the nodes log in as user
	// "cdnd", whose role may read and write only under /cdnd/.
	auth bool
	// tls makes the members speak TLS to clients and peers and require
	// client certificates of both; the nodes present theirs.
	tls bool
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
	cdndBinary(t)
	start := time.Now()
	f := &fleet{t: t, dir: t.TempDir(), opts: opts}
	if opts.tls {
		f.pki = newFleetPKI(t, f.dir)
	}
	f.startEtcd(3)
	if opts.auth {
		f.enableAuth()
	}
	for i := range nAPI {
		f.apis = append(f.apis, f.newNode(fmt.Sprintf("api%d", i+1), "api"))
	}
	for i := range nEdge {
		f.edges = append(f.edges, f.newNode(fmt.Sprintf("e%d", i+1), "edge"))
	}
	for _, p := range append(append([]*fleetProc(nil), f.apis...), f.edges...) {
		p.start()
	}
	f.waitEdges(nEdge)
	t.Logf("fleet of 3 etcd members, %d API nodes, %d edges up in %v", nAPI, nEdge, time.Since(start).Round(time.Millisecond))
	return f
}

func (f *fleet) startEtcd(n int) {
	t := f.t
	var peers, clients []string
	type ports struct{ client, peer int }
	ps := make([]ports, n)
	for i := range n {
		ps[i] = ports{fleetPort(t), fleetPort(t)}
		peers = append(peers, fmt.Sprintf("n%d=%s://127.0.0.1:%d", i+1, f.scheme(), ps[i].peer))
		clients = append(clients, fmt.Sprintf("%s://127.0.0.1:%d", f.scheme(), ps[i].client))
	}
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		peer := fmt.Sprintf("%s://127.0.0.1:%d", f.scheme(), ps[i].peer)
		args := []string{"etcd", "--name", name,
			"--data-dir", filepath.Join(f.dir, "etcd-"+name),
			"--listen-client-urls", clients[i], "--advertise-client-urls", clients[i],
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(peers, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "fleet-" + filepath.Base(f.dir), "--log-level", "info"}
		if f.pki != nil {
			k := f.pki
			args = append(args, "--cert-file", k.member, "--key-file", k.memberKey, "--trusted-ca-file", k.ca, "--client-cert-auth",
				"--peer-cert-file", k.member, "--peer-key-file", k.memberKey, "--peer-trusted-ca-file", k.ca, "--peer-client-cert-auth")
		}
		p := newFleetProc(t, f.dir, "etcd-"+name, nil, args...)
		f.members = append(f.members, &etcdMember{fleetProc: p, clientURL: clients[i]})
	}
	// A new cluster's members become ready together: start all, then wait.
	readies := make([]chan map[string]string, n)
	for i, m := range f.members {
		readies[i] = m.launch()
	}
	for i, m := range f.members {
		m.waitReady(readies[i], m.exited)
	}
	f.endpoints = strings.Join(clients, ",")
	cli, err := clientv3.New(clientv3.Config{Endpoints: clients, DialTimeout: 5 * time.Second, Logger: zap.NewNop(), TLS: f.clientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	f.etcd = cli
}

// restartMembers starts the given (killed) members again on their data
// directories, and waits until the cluster answers a linearizable read.
func (f *fleet) restartMembers(ms ...*etcdMember) {
	f.t.Helper()
	readies := make([]chan map[string]string, len(ms))
	for i, m := range ms {
		readies[i] = m.launch()
	}
	for i, m := range ms {
		m.waitReady(readies[i], m.exited)
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
func (f *fleet) leader() *etcdMember {
	f.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, m := range f.members {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := f.etcd.Status(ctx, m.clientURL)
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

// newNode prepares an API node or an edge (named like e1) with its own data
// directory; start runs it, and runs it again after a kill.
func (f *fleet) newNode(name, role string) *fleetProc {
	env := []string{
		"CDND_MASTER_KEY=" + masterKey,
		"CDND_ROOT_ACCESS_KEY_ID=" + fleetRootID,
		"CDND_ROOT_ACCESS_KEY_SECRET=" + fleetRootSecret,
		"CDND_ADMIN_TOKEN=" + fleetToken,
	}
	args := []string{role, "--etcd-endpoints", f.endpoints, "--data-dir", filepath.Join(f.dir, name),
		"--admin-addr", "127.0.0.1:0"}
	switch role {
	case "api":
		args = append(args, "--api-addr", "127.0.0.1:0")
	case "edge":
		args = append(args, "--edge-id", name, "--https-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	}
	if f.pki != nil {
		args = append(args, "--etcd-cert", f.pki.client, "--etcd-key", f.pki.clientKey, "--etcd-ca", f.pki.ca)
	}
	if f.opts.auth {
		args = append(args, "--etcd-user", fleetEtcdUser)
		env = append(env, "CDND_ETCD_PASSWORD="+fleetEtcdPassword)
	}
	return newFleetProc(f.t, f.dir, name, env, args...)
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

type fleetEdgeView struct {
	EdgeId  string
	Applied int64
	Lag     int64
	Domains int
}

type fleetEdges struct {
	Revision int64
	Edges    []fleetEdgeView
}

func (e fleetEdges) byID() map[string]fleetEdgeView {
	m := map[string]fleetEdgeView{}
	for _, v := range e.Edges {
		m[v.EdgeId] = v
	}
	return m
}

// admin calls an API node's operator API.
func (f *fleet) admin(api *fleetProc, method, path string, out any) error {
	req, err := http.NewRequest(method, "http://"+api.addr("admin")+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+fleetToken)
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, body)
	}
	return json.Unmarshal(body, out)
}

// listEdges is GET /admin/v1/edges on the first API node.
func (f *fleet) listEdges() (fleetEdges, error) {
	var out fleetEdges
	err := f.admin(f.apis[0], http.MethodGet, "/admin/v1/edges", &out)
	return out, err
}

// waitEdges waits until n edges are registered.
func (f *fleet) waitEdges(n int) {
	f.t.Helper()
	var got fleetEdges
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, err = f.listEdges(); err == nil && len(got.Edges) == n {
			return
		}
	}
	f.t.Fatalf("want %d edges registered, have %+v (%v)", n, got, err)
}

// --- accounts, domains, certificates -------------------------------------

// fleetAccount is a tenant with one SDK client per API node.
type fleetAccount struct {
	ID      string
	clients []*cdn.Client
}

func (f *fleet) newAccount() *fleetAccount {
	f.t.Helper()
	var body struct{ AccountId, AccessKeyId, AccessKeySecret string }
	if err := f.admin(f.apis[0], http.MethodPost, "/admin/v1/accounts", &body); err != nil {
		f.t.Fatal(err)
	}
	a := &fleetAccount{ID: body.AccountId}
	for _, api := range f.apis {
		a.clients = append(a.clients, fleetClient(f.t, api, body.AccessKeyId, body.AccessKeySecret))
	}
	return a
}

// fleetClient is an SDK client for one API node, with bounded timeouts and
// no retries (the SDK's default): what a call returns is what it got.
func fleetClient(t *testing.T, api *fleetProc, id, secret string) *cdn.Client {
	c := sdkClient(t, id, secret)
	c.Domain = api.addr("api")
	c.SetConnectTimeout(3 * time.Second)
	c.SetReadTimeout(fleetSDKTimeout)
	return c
}

// refresh points the account's clients at the API nodes' current
// addresses (after a restart).
func (f *fleet) refresh(a *fleetAccount) {
	for i, api := range f.apis {
		a.clients[i].Domain = api.addr("api")
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

// fleetCert is a certificate the test uploads, by name.
type fleetCert struct {
	name       string
	chain, key string
	fp         string // SHA-256 of the leaf
}

func newFleetCert(t *testing.T, domain, name string) fleetCert {
	chain, key := certstest.Valid(t, domain)
	return fleetCert{name: name, chain: string(chain), key: string(key), fp: pemFingerprint(t, chain)}
}

// setCert is one SetDomainServerCertificate call, not retried.
func setCert(c *cdn.Client, domain string, cert fleetCert, force bool) error {
	req := cdn.CreateSetDomainServerCertificateRequest()
	req.DomainName, req.ServerCertificateStatus, req.CertName, req.CertType = domain, "on", cert.name, "upload"
	req.ServerCertificate, req.PrivateKey = cert.chain, cert.key
	if force {
		req.ForceSet = "1"
	}
	_, err := c.SetDomainServerCertificate(req)
	return err
}

// fleetRetry retries a setup call the fleet may refuse for a moment
// (throttling, a domain still configuring, a store catching its breath).
func fleetRetry(call func() error) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := call()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		switch apiCode(err) {
		case "Throttling.User", "ServiceBusy", "ServiceUnavailable":
			time.Sleep(100 * time.Millisecond)
		default:
			return err
		}
	}
}

// apiCode is the API error code of err ("" for success or a client-side
// failure).
func apiCode(err error) string {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return ""
}

func apiStatus(err error) int {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.HttpStatus()
	}
	return 0
}

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
func edgeServes(edge *fleetProc, sni string) (string, error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", edge.addr("https"), &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return fingerprint(conn.ConnectionState().PeerCertificates[0]), nil
}

// waitServed waits until every edge serves sni with the certificate of
// fingerprint want ("" means: refuses the name).
func (f *fleet) waitServed(sni, want string, within time.Duration, edges ...*fleetProc) {
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
				f.t.Fatalf("edge %s serves %s: got %.16s (err %v), want %.16s", e.name, sni, got, err, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// snapshotCovers waits until the edge's snapshot (DATA_DIR/edge-snapshot and
// its journal) holds each domain bound to the named certificate: a killed
// edge restarts from it.
func (f *fleet) snapshotCovers(edge *fleetProc, bound map[string]string) {
	f.t.Helper()
	path := filepath.Join(f.dir, edge.name, "edge-snapshot")
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
	f.t.Fatalf("edge %s's snapshot does not cover the domains: %s", edge.name, last)
}

func readFleetSnapshot(path string) (*store.Served, error) {
	return edge.ReadSnapshot(path)
}
