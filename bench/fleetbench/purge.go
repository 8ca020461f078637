package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/fleettest"
)

// purgeObjects are the objects the purges take turns on, so that a purge
// never waits for the previous one's object to be fetched again.
const purgeObjects = 8

// versionOrigin serves every path cacheable for an hour with a body naming
// the path's version, which the bench raises before purging it: an edge
// serving the new version fetched after the purge.
type versionOrigin struct {
	ln       net.Listener
	mu       sync.Mutex
	versions map[string]int
	hits     atomic.Int64
}

func newVersionOrigin() (*versionOrigin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o := &versionOrigin{ln: ln, versions: map[string]int{}}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			o.hits.Add(1)
			w.Header().Set("Cache-Control", "max-age=3600")
			_, _ = io.WriteString(w, o.body(r.URL.Path))
		}))
	}()
	return o, nil
}

func (o *versionOrigin) body(path string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return "v" + strconv.Itoa(o.versions[path]) + " " + path
}

func (o *versionOrigin) bump(path string) string {
	o.mu.Lock()
	o.versions[path]++
	o.mu.Unlock()
	return o.body(path)
}

func (o *versionOrigin) port() string {
	_, p, _ := net.SplitHostPort(o.ln.Addr().String())
	return p
}

// purge times RefreshObjectCaches from sending the call to neither edge
// serving the purged object any more (each serving the origin's new
// version), over cfg.purges purges of one URL each, the API nodes
// alternating. Each purge is of an object both edges hold.
func (b *bench) purge() ([]row, error) {
	o, err := newVersionOrigin()
	if err != nil {
		return nil, err
	}
	defer o.ln.Close()
	t := b.tenants[0]
	domain := "purge." + t.domain
	add := cdn.CreateAddCdnDomainRequest()
	add.DomainName, add.CdnType = domain, "web"
	add.Sources = `[{"content":"127.0.0.1","type":"ipaddr","priority":"20","port":` + o.port() + `,"weight":"10"}]`
	if err := retry(func() error { _, err := t.clients[0].AddCdnDomain(add); return err }); err != nil {
		return nil, fmt.Errorf("AddCdnDomain %s: %w", domain, err)
	}
	get := func(e *fleettest.Proc, path string) (string, error) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+e.Addr("http")+path, nil)
		req.Host = domain
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}
	// Both edges serve the domain and hold every object.
	for i := range purgeObjects {
		path := fmt.Sprintf("/obj/%d", i)
		for _, e := range b.f.edges {
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if body, err := get(e, path); err == nil && body == o.body(path) {
					break
				}
				if time.Now().After(deadline) {
					return nil, fmt.Errorf("edge %s never served %s%s", e.Name, domain, path)
				}
			}
		}
	}
	n := b.cfg.purges
	progress("purge: %d purges of one URL on %s, API nodes alternating", n, domain)
	var times edgeTimings
	var calls []time.Duration
	for i := range n {
		if b.ctx.Err() != nil {
			return nil, b.ctx.Err()
		}
		path := fmt.Sprintf("/obj/%d", i%purgeObjects)
		want := o.bump(path)
		req := cdn.CreateRefreshObjectCachesRequest()
		req.ObjectPath = "http://" + domain + path
		client := t.clients[i%len(t.clients)]
		// A tenant may make 50 calls a second; the pause keeps well under.
		time.Sleep(25 * time.Millisecond)
		sent := time.Now()
		if err := retry(func() error { _, err := client.RefreshObjectCaches(req); return err }); err != nil {
			return nil, fmt.Errorf("RefreshObjectCaches %s: %w", req.ObjectPath, err)
		}
		calls = append(calls, time.Since(sent))
		seen, err := b.untilEveryEdge(sent, "the purge of "+path, func(e *fleettest.Proc) bool {
			body, err := get(e, path)
			return err == nil && body == want
		})
		if err != nil {
			return nil, err
		}
		times.add(seen)
	}
	return []row{
		{fmt.Sprintf("purge, RefreshObjectCaches sent → purged object served by **neither** edge (%d purges)", n),
			spread(times.both) + fmt.Sprintf(" (%s the 50 ms p99 target)", meets(times.both, 50*time.Millisecond))},
		{"… of which the API call (sent → RefreshTaskId)", spread(calls)},
		{"… edge e1 alone, sent → new version served", spread(times.each[0])},
		{"… edge e2 alone, sent → new version served", spread(times.each[1])},
	}, nil
}

// stepNames are the measurements -steps chooses from, in the order run.
var stepNames = []string{"propagation", "throughput", "catchup", "purge"}

func parseSteps(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		known := false
		for _, k := range stepNames {
			known = known || k == name
		}
		if !known {
			return nil, fmt.Errorf("-steps: %q is none of %s", name, strings.Join(stepNames, ","))
		}
		out[name] = true
	}
	return out, nil
}
