package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cdnd/cdnd/internal/fleettest"
)

// The secrets every node of the bench fleet shares.
const (
	benchMasterKey  = "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=" // base64 of 32 bytes
	benchRootID     = "LTAIfleetbenchRoot000000"
	benchRootSecret = "fleetbench-root-secret"
	benchToken      = "fleetbench-admin-token"
)

// benchSecrets and benchAdmin are the secrets every node of the bench fleet
// shares and what calls its operator API with them.
var (
	benchSecrets = fleettest.Secrets{MasterKey: benchMasterKey, RootAccessKeyID: benchRootID, RootAccessKeySecret: benchRootSecret, AdminToken: benchToken}
	benchAdmin   = fleettest.Admin{Token: benchToken}
)

// readyWithin bounds a process's start, to the line that says it is ready.
const readyWithin = 60 * time.Second

// fleet is three `cdnd etcd` members, API nodes and edges. Edge e1 reaches
// etcd only through cut, so that it can be cut off while the rest of the
// fleet carries on.
type fleet struct {
	cluster *fleettest.Cluster
	etcd    *clientv3.Client
	apis    []*fleettest.Proc
	edges   []*fleettest.Proc
	cut     *cutProxy
}

// startFleet starts the fleet, with its data and logs in dir. On an error
// it returns what it has started, for stop.
func startFleet(dir, bin string, nAPI int) (*fleet, error) {
	l := fleettest.Launcher{Bin: bin, Dir: dir, Secrets: benchSecrets}
	f := &fleet{}
	var err error
	if f.cluster, err = l.NewCluster(nil); err != nil {
		return f, err
	}
	if err := f.cluster.StartMembers(readyWithin, f.cluster.Members...); err != nil {
		return f, err
	}
	endpoints := f.cluster.Endpoints
	if f.etcd, err = clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}); err != nil {
		return f, err
	}
	if f.cut, err = newCutProxy(endpoints); err != nil {
		return f, err
	}
	var nodes []fleettest.Node
	for i := range nAPI {
		nodes = append(nodes, fleettest.Node{Role: "api", Name: fmt.Sprintf("api%d", i+1), Endpoints: endpoints})
	}
	nodes = append(nodes, fleettest.Node{Role: "edge", Name: "e1", Endpoints: f.cut.urls()}, fleettest.Node{Role: "edge", Name: "e2", Endpoints: endpoints})
	for _, n := range nodes {
		p, err := l.NewNode(n)
		if err != nil {
			return f, err
		}
		if n.Role == "api" {
			f.apis = append(f.apis, p)
		} else {
			f.edges = append(f.edges, p)
		}
	}
	for _, p := range append(append([]*fleettest.Proc(nil), f.apis...), f.edges...) {
		if err := p.Start(readyWithin); err != nil {
			return f, err
		}
	}
	return f, benchAdmin.WaitEdges(f.apis[0], 2, 30*time.Second)
}

// stop kills every process of the fleet, the nodes before the members they
// depend on, and closes their logs.
func (f *fleet) stop() {
	procs := append(append([]*fleettest.Proc(nil), f.edges...), f.apis...)
	if f.cluster != nil {
		for _, m := range f.cluster.Members {
			procs = append(procs, m.Proc)
		}
	}
	for _, p := range procs {
		p.Close()
	}
	if f.cut != nil {
		f.cut.close()
	}
	if f.etcd != nil {
		f.etcd.Close()
	}
}

var httpClient = &http.Client{Timeout: 15 * time.Second}

var appliedLine = regexp.MustCompile(`(?m)^cdnd_edge_applied_revision (\S+)$`)

// edgeApplied reads the revision an edge has applied from its metrics.
func edgeApplied(edge *fleettest.Proc) (int64, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+edge.Addr("admin")+"/metrics", nil)
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
