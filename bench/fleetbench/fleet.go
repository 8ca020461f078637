package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// The secrets every node of the bench fleet shares.
const (
	benchMasterKey  = "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=" // base64 of 32 bytes
	benchRootID     = "LTAIfleetbenchRoot000000"
	benchRootSecret = "fleetbench-root-secret"
	benchToken      = "fleetbench-admin-token"
)

// proc is one process of the cdnd binary, its output in DIR/NAME.log.
type proc struct {
	name, bin string
	args, env []string
	logPath   string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	addrs  map[string]string
}

var servingLine = regexp.MustCompile(`msg="cdnd serving" role=(\S+) api=(\S*) https=(\S*) http=(\S*) admin=(\S*)`)

// lineWatcher appends output to a file and reports the line a process
// announces itself with.
type lineWatcher struct {
	mu      sync.Mutex
	f       *os.File
	partial []byte
	ready   chan map[string]string
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = w.f.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		var addrs map[string]string
		if m := servingLine.FindStringSubmatch(line); m != nil {
			addrs = map[string]string{"api": unquote(m[2]), "https": unquote(m[3]), "http": unquote(m[4]), "admin": unquote(m[5])}
		} else if strings.Contains(line, `msg="etcd member ready"`) {
			addrs = map[string]string{}
		}
		if addrs != nil {
			select {
			case w.ready <- addrs:
			default:
			}
		}
	}
}

func unquote(s string) string { return strings.Trim(s, `"`) }

// launch starts the process; the returned channel delivers its addresses
// once it is ready.
func (p *proc) launch() (chan map[string]string, error) {
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	w := &lineWatcher{f: f, ready: make(chan map[string]string, 1)}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	return w.ready, nil
}

func (p *proc) wait(ready chan map[string]string) error {
	select {
	case addrs := <-ready:
		if len(addrs) > 0 {
			p.mu.Lock()
			p.addrs = addrs
			p.mu.Unlock()
		}
		return nil
	case <-p.exited:
		return fmt.Errorf("%s exited before it was ready (see %s)", p.name, p.logPath)
	case <-time.After(60 * time.Second):
		return fmt.Errorf("%s not ready within 60s (see %s)", p.name, p.logPath)
	}
}

func (p *proc) start() error {
	ready, err := p.launch()
	if err != nil {
		return err
	}
	return p.wait(ready)
}

func (p *proc) addr(which string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addrs[which]
}

func (p *proc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// fleet is three `cdnd etcd` members, API nodes and edges. Edge e1 reaches
// etcd only through cutProxy, so that it can be cut off while the rest of
// the fleet carries on.
type fleet struct {
	dir, bin  string
	members   []*proc
	clientURL []string
	etcd      *clientv3.Client
	apis      []*proc
	edges     []*proc
	cut       *cutProxy
}

func freePort() (int, error) {
	for range 1000 {
		port := 20000 + rand.IntN(12000) // below the ephemeral range: stable across restarts
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			ln.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port")
}

func startFleet(dir, bin string, nAPI int) (*fleet, error) {
	f := &fleet{dir: dir, bin: bin}
	var peers []string
	type ports struct{ client, peer int }
	ps := make([]ports, 3)
	for i := range ps {
		c, err := freePort()
		if err != nil {
			return f, err
		}
		p, err := freePort()
		if err != nil {
			return f, err
		}
		ps[i] = ports{c, p}
		peers = append(peers, fmt.Sprintf("n%d=http://127.0.0.1:%d", i+1, p))
		f.clientURL = append(f.clientURL, fmt.Sprintf("http://127.0.0.1:%d", c))
	}
	readies := make([]chan map[string]string, 3)
	for i := range ps {
		name := fmt.Sprintf("n%d", i+1)
		peer := fmt.Sprintf("http://127.0.0.1:%d", ps[i].peer)
		m := &proc{name: "etcd-" + name, bin: bin, logPath: filepath.Join(dir, "etcd-"+name+".log"), args: []string{
			"etcd", "--name", name, "--data-dir", filepath.Join(dir, "etcd-"+name),
			"--listen-client-urls", f.clientURL[i], "--advertise-client-urls", f.clientURL[i],
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(peers, ","), "--initial-cluster-state", "new", "--log-level", "info",
		}}
		f.members = append(f.members, m)
		r, err := m.launch()
		if err != nil {
			return f, err
		}
		readies[i] = r
	}
	for i, m := range f.members {
		if err := m.wait(readies[i]); err != nil {
			return f, err
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: f.clientURL, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return f, err
	}
	f.etcd = cli

	var err2 error
	if f.cut, err2 = newCutProxy(f.clientURL); err2 != nil {
		return f, err2
	}
	for i := range nAPI {
		f.apis = append(f.apis, f.node(fmt.Sprintf("api%d", i+1), "api", f.clientURL))
	}
	f.edges = append(f.edges, f.node("e1", "edge", f.cut.urls()), f.node("e2", "edge", f.clientURL))
	for _, p := range append(append([]*proc(nil), f.apis...), f.edges...) {
		if err := p.start(); err != nil {
			return f, err
		}
	}
	return f, f.waitEdges(2, 30*time.Second)
}

func (f *fleet) node(name, role string, endpoints []string) *proc {
	args := []string{role, "--etcd-endpoints", strings.Join(endpoints, ","), "--data-dir", filepath.Join(f.dir, name), "--admin-addr", "127.0.0.1:0"}
	if role == "api" {
		args = append(args, "--api-addr", "127.0.0.1:0")
	} else {
		args = append(args, "--edge-id", name, "--https-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	}
	return &proc{name: name, bin: f.bin, logPath: filepath.Join(f.dir, name+".log"), args: args, env: []string{
		"CDND_MASTER_KEY=" + benchMasterKey, "CDND_ROOT_ACCESS_KEY_ID=" + benchRootID,
		"CDND_ROOT_ACCESS_KEY_SECRET=" + benchRootSecret, "CDND_ADMIN_TOKEN=" + benchToken,
	}}
}

func (f *fleet) stop() {
	for _, p := range append(append(append([]*proc(nil), f.edges...), f.apis...), f.members...) {
		p.kill()
	}
	if f.cut != nil {
		f.cut.close()
	}
	if f.etcd != nil {
		f.etcd.Close()
	}
}

var httpClient = &http.Client{Timeout: 15 * time.Second}

// admin calls an operator API (the first API node's unless at is given).
func (f *fleet) admin(method, path string, out any, at ...*proc) error {
	node := f.apis[0]
	if len(at) > 0 {
		node = at[0]
	}
	req, err := http.NewRequest(method, "http://"+node.addr("admin")+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, body)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

type edgeView struct {
	EdgeId  string
	Applied int64
}

func (f *fleet) edgeViews() ([]edgeView, error) {
	var out struct{ Edges []edgeView }
	err := f.admin(http.MethodGet, "/admin/v1/edges", &out)
	return out.Edges, err
}

func (f *fleet) waitEdges(n int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		es, err := f.edgeViews()
		if err == nil && len(es) == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("want %d edges registered, have %v (%v)", n, es, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var appliedLine = regexp.MustCompile(`(?m)^cdnd_edge_applied_revision (\S+)$`)

// edgeApplied reads the revision an edge has applied from its metrics.
func edgeApplied(edge *proc) (int64, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+edge.addr("admin")+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := appliedLine.FindSubmatch(body)
	if m == nil {
		return 0, errors.New("no cdnd_edge_applied_revision in the edge's metrics")
	}
	var v float64
	if _, err := fmt.Sscan(string(m[1]), &v); err != nil {
		return 0, err
	}
	return int64(v), nil
}

// cutProxy forwards TCP to the etcd members, one listener per member, and
// can cut every connection and refuse new ones: a network partition
// between one edge and etcd.
type cutProxy struct {
	lns     []net.Listener
	mu      sync.Mutex
	down    bool
	conns   map[net.Conn]bool
	targets []string
}

func newCutProxy(clientURLs []string) (*cutProxy, error) {
	p := &cutProxy{conns: map[net.Conn]bool{}}
	for _, u := range clientURLs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			p.close()
			return nil, err
		}
		target := strings.TrimPrefix(u, "http://")
		p.lns = append(p.lns, ln)
		p.targets = append(p.targets, target)
		go p.serve(ln, target)
	}
	return p, nil
}

func (p *cutProxy) urls() []string {
	var out []string
	for _, ln := range p.lns {
		out = append(out, "http://"+ln.Addr().String())
	}
	return out
}

func (p *cutProxy) serve(ln net.Listener, target string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = true
		p.mu.Unlock()
		go p.pipe(c, target)
	}
}

func (p *cutProxy) pipe(c net.Conn, target string) {
	u, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		u.Close()
		p.drop(c)
		return
	}
	p.conns[u] = true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
	p.drop(c)
	p.drop(u)
}

func (p *cutProxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// setDown cuts (true) or restores (false) the link.
func (p *cutProxy) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	var open []net.Conn
	if down {
		for c := range p.conns {
			open = append(open, c)
		}
	}
	p.mu.Unlock()
	for _, c := range open {
		c.Close()
	}
}

func (p *cutProxy) close() {
	p.setDown(true)
	for _, ln := range p.lns {
		ln.Close()
	}
}
