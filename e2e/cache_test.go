package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/server"
)

// countingOrigin is a real origin on loopback that counts its requests by
// path.
type countingOrigin struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newCountingOrigin(t *testing.T, h http.HandlerFunc) *countingOrigin {
	o := &countingOrigin{hits: map[string]int{}}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		o.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *countingOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

func (o *countingOrigin) port() string {
	_, p, _ := net.SplitHostPort(o.srv.Listener.Addr().String())
	return p
}

// cacheTestOrigin serves /static/* cacheable, /dynamic/* with no-store.
func cacheTestOrigin(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/dynamic/") {
		w.Header().Set("Cache-Control", "no-store")
	} else {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Etag", `"v1"`)
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "content of "+r.URL.Path)
}

// addCachedDomain adds a domain whose origin is o through client and waits
// until edgeAddr serves it.
func addCachedDomain(t *testing.T, client *cdn.Client, edgeAddr string, o *countingOrigin) string {
	t.Helper()
	name := uniqueDomain("cache.example")
	req := cdn.CreateAddCdnDomainRequest()
	req.DomainName, req.CdnType, req.Sources = name, "web", sourcesAt("ipaddr", "127.0.0.1", o.port())
	if _, err := client.AddCdnDomain(req); err != nil {
		t.Fatalf("AddCdnDomain: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, _ := plainRequest(t, edgeAddr, name, http.MethodGet, "/ready-probe/x", nil)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Cache") != "" {
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge never served %s", name)
		}
	}
}

func plainRequest(t *testing.T, addr, host, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+path, nil)
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// metricValue reads one sample of the shared server's metrics.
func metricValue(t *testing.T, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + srv.AdminAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// The edge answers from its cache: a second request for a cacheable
// object never reaches the origin; HEAD and Range come from the stored
// GET; no-store responses pass through every time; each domain has its
// own objects; X-Cache and Age are on every answer and the metrics count
// hits, misses and bytes.
func TestEdgeCacheServesFromCache(t *testing.T) {
	o := newCountingOrigin(t, cacheTestOrigin)
	a := newAccount(t)
	edgeAddr := srv.HTTPAddr.String()
	name := addCachedDomain(t, a.cdn, edgeAddr, o)
	hitsBefore := metricValue(t, `cdnd_edge_http_cache_requests_total{result="hit"}`)
	cacheBytesBefore := metricValue(t, `cdnd_edge_http_cache_body_bytes_total{source="cache"}`)

	steps := []struct {
		method, path string
		hdr          map[string]string
		status       int
		xcache, body string
		originHits   int
	}{
		{"GET", "/static/a.txt", nil, 200, "MISS TCP_MISS", "content of /static/a.txt", 1},
		{"GET", "/static/a.txt", nil, 200, "HIT TCP_MEM_HIT", "content of /static/a.txt", 1},
		{"HEAD", "/static/a.txt", nil, 200, "HIT TCP_MEM_HIT", "", 1},
		{"GET", "/static/a.txt", map[string]string{"Range": "bytes=0-6"}, 206, "HIT TCP_MEM_HIT", "content", 1},
		{"GET", "/static/a.txt", map[string]string{"If-None-Match": `"v1"`}, 304, "HIT TCP_MEM_HIT", "", 1},
		{"GET", "/dynamic/b", nil, 200, "BYPASS TCP_MISS", "content of /dynamic/b", 1},
		{"GET", "/dynamic/b", nil, 200, "BYPASS TCP_MISS", "content of /dynamic/b", 2},
		{"POST", "/static/a.txt", nil, 200, "BYPASS TCP_MISS", "content of /static/a.txt", 2},
	}
	for i, s := range steps {
		resp, body := plainRequest(t, edgeAddr, name, s.method, s.path, s.hdr)
		if resp.StatusCode != s.status || resp.Header.Get("X-Cache") != s.xcache || body != s.body {
			t.Errorf("step %d %s %s: %d %q %q, want %d %q %q", i, s.method, s.path, resp.StatusCode, resp.Header.Get("X-Cache"), body, s.status, s.xcache, s.body)
		}
		if resp.Header.Get("Age") == "" {
			t.Errorf("step %d: no Age", i)
		}
		if got := o.count(s.path); got != s.originHits {
			t.Errorf("step %d %s %s: origin hits %d, want %d", i, s.method, s.path, got, s.originHits)
		}
	}
	// Another domain on the same origin has its own copy.
	other := addCachedDomain(t, a.cdn, edgeAddr, o)
	if resp, _ := plainRequest(t, edgeAddr, other, "GET", "/static/a.txt", nil); resp.Header.Get("X-Cache") != "MISS TCP_MISS" {
		t.Errorf("another domain's first request: X-Cache %q, want a miss", resp.Header.Get("X-Cache"))
	}
	if got := metricValue(t, `cdnd_edge_http_cache_requests_total{result="hit"}`) - hitsBefore; got < 4 {
		t.Errorf("hit counter grew by %v, want ≥ 4", got)
	}
	if got := metricValue(t, `cdnd_edge_http_cache_body_bytes_total{source="cache"}`) - cacheBytesBefore; got < float64(len("content of /static/a.txt")) {
		t.Errorf("bytes from cache grew by %v", got)
	}
}

// 1,000 concurrent misses for one object through the edge cause one
// origin request.
func TestEdgeCacheCollapsesConcurrentMisses(t *testing.T) {
	release := make(chan struct{})
	o := newCountingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hot" {
			<-release
		}
		cacheTestOrigin(w, r)
	})
	a := newAccount(t)
	edgeAddr := srv.HTTPAddr.String()
	name := addCachedDomain(t, a.cdn, edgeAddr, o)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1000}}
	const n = 1000
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, "http://"+edgeAddr+"/hot", nil)
			req.Host = name
			resp, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "content of /hot" {
				failed.Add(1)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // let most of them queue behind the first (the count holds either way)
	close(release)
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d requests failed", failed.Load())
	}
	if got := o.count("/hot"); got != 1 {
		t.Errorf("%d concurrent misses made %d origin requests, want 1", n, got)
	}
}

// A restarted node serves what its disk cache holds without asking the
// origin.
func TestEdgeCacheWarmAfterRestart(t *testing.T) {
	o := newCountingOrigin(t, cacheTestOrigin)
	dir := t.TempDir()
	adjust := func(c *server.Config) { c.DataDir, c.CacheDiskSize = dir, 64<<20 }
	var name string
	// The first node stops when its subtest ends (startNode's cleanup).
	t.Run("first start", func(t *testing.T) {
		node := startNode(t, adjust)
		client := sdkClient(t, rootAccessKeyID, rootAccessKeySecret)
		client.Domain = node.APIAddr.String()
		name = addCachedDomain(t, client, node.HTTPAddr.String(), o)
		if resp, _ := plainRequest(t, node.HTTPAddr.String(), name, "GET", "/static/warm", nil); resp.Header.Get("X-Cache") != "MISS TCP_MISS" {
			t.Fatalf("first request: X-Cache %q", resp.Header.Get("X-Cache"))
		}
	})
	node := startNode(t, adjust)
	resp, body := plainRequest(t, node.HTTPAddr.String(), name, "GET", "/static/warm", nil)
	if resp.Header.Get("X-Cache") != "HIT TCP_HIT" || body != "content of /static/warm" {
		t.Errorf("after restart: X-Cache %q body %q, want a disk hit", resp.Header.Get("X-Cache"), body)
	}
	if got := o.count("/static/warm"); got != 1 {
		t.Errorf("origin hits %d, want 1", got)
	}
}

// Cache rules set through BatchSetCdnDomainConfig: a file-type TTL stores
// what the origin leaves without a lifetime, a directory's forced code TTL
// stores its 404s, and set_hashkey_args keeps one parameter in the key.
func TestEdgeCacheRules(t *testing.T) {
	o := newCountingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/missing/"):
			http.NotFound(w, r)
		case r.URL.Path == "/q":
			w.Header().Set("Cache-Control", "max-age=600")
			_, _ = io.WriteString(w, "q "+r.URL.RawQuery)
		default: // no lifetime, no validator: not stored without a rule
			_, _ = io.WriteString(w, "content of "+r.URL.Path)
		}
	})
	a := newAccount(t)
	edgeAddr := srv.HTTPAddr.String()
	name := addCachedDomain(t, a.cdn, edgeAddr, o)
	get := func(path string) string {
		resp, _ := plainRequest(t, edgeAddr, name, "GET", path, nil)
		return strings.Fields(resp.Header.Get("X-Cache") + " ?")[0]
	}
	get("/img/a.jpg")
	if x := get("/img/a.jpg"); o.count("/img/a.jpg") != 2 {
		t.Fatalf("without a rule the object is stored: X-Cache %s, origin hits %d", x, o.count("/img/a.jpg"))
	}

	functions := `[
		{"functionName":"filetype_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"600"},{"argName":"file_type","argValue":"JPG,png"},{"argName":"weight","argValue":"10"}]},
		{"functionName":"path_force_ttl_code","functionArgs":[{"argName":"path","argValue":"/missing/"},{"argName":"code_string","argValue":"404=60"}]},
		{"functionName":"set_hashkey_args","functionArgs":[{"argName":"hashkey_args","argValue":"a"}]}]`
	if _, err := a.setConfig(name, functions); err != nil {
		t.Fatalf("BatchSetCdnDomainConfig: %v", err)
	}
	a.configs(t, name, "", "")

	for i, s := range []struct {
		path, xcache string
		originPath   string
		originHits   int
	}{
		{"/img/a.jpg", "MISS", "/img/a.jpg", 3},
		{"/img/a.jpg", "HIT", "/img/a.jpg", 3},
		{"/img/b.gif", "BYPASS", "/img/b.gif", 1},
		{"/img/b.gif", "BYPASS", "/img/b.gif", 2},
		{"/missing/x", "MISS", "/missing/x", 1},
		{"/missing/x", "HIT", "/missing/x", 1},
		{"/q?a=1&t=2", "MISS", "/q", 1},
		{"/q?t=3&a=1", "HIT", "/q", 1},
		{"/q?a=2&t=2", "MISS", "/q", 2},
	} {
		if got := get(s.path); got != s.xcache || o.count(s.originPath) != s.originHits {
			t.Errorf("step %d %s: X-Cache %s, origin hits %d; want %s, %d", i, s.path, got, o.count(s.originPath), s.xcache, s.originHits)
		}
	}
}

// TestEdgeCacheStaleContentAndSwiftRules sets serving_stale_content and a
// path rule with swift_no_cache_low and swift_follow_cachetime through the
// SDK, and checks them at the edge against a real origin.
func TestEdgeCacheStaleContentAndSwiftRules(t *testing.T) {
	var failing atomic.Bool
	o := newCountingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case failing.Load():
			http.Error(w, "origin down", http.StatusServiceUnavailable)
		case strings.HasPrefix(r.URL.Path, "/nocache/"):
			w.Header().Set("Cache-Control", "no-store, no-cache")
			_, _ = io.WriteString(w, "never stored by the origin's word")
		default:
			w.Header().Set("Cache-Control", "max-age=1")
			_, _ = io.WriteString(w, "fresh for a second")
		}
	})
	a := newAccount(t)
	edgeAddr := srv.HTTPAddr.String()
	name := addCachedDomain(t, a.cdn, edgeAddr, o)
	functions := `[
		{"functionName":"serving_stale_content","functionArgs":[{"argName":"extend_expiration_time","argValue":"600"}]},
		{"functionName":"path_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"600"},{"argName":"path","argValue":"/nocache/"},{"argName":"swift_no_cache_low","argValue":"on"},{"argName":"swift_follow_cachetime","argValue":"on"}]}]`
	if _, err := a.setConfig(name, functions); err != nil {
		t.Fatalf("BatchSetCdnDomainConfig: %v", err)
	}
	a.configs(t, name, "", "")

	plainRequest(t, edgeAddr, name, "GET", "/nocache/a", nil)
	resp, _ := plainRequest(t, edgeAddr, name, "GET", "/nocache/a", nil)
	if x := resp.Header.Get("X-Cache"); !strings.HasPrefix(x, "HIT") || o.count("/nocache/a") != 1 {
		t.Errorf("swift_no_cache_low: X-Cache %q, origin hits %d; want a hit after one fetch", x, o.count("/nocache/a"))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "max-age=600" {
		t.Errorf("swift_follow_cachetime: Cache-Control %q, want the rule's max-age=600", cc)
	}

	plainRequest(t, edgeAddr, name, "GET", "/page", nil)
	failing.Store(true)
	time.Sleep(1500 * time.Millisecond) // past max-age=1
	resp, body := plainRequest(t, edgeAddr, name, "GET", "/page", nil)
	if resp.StatusCode != http.StatusOK || body != "fresh for a second" || resp.Header.Get("X-Cache") != "STALE TCP_STALE_HIT" {
		t.Errorf("serving_stale_content: %d %q X-Cache %q, want the stale object", resp.StatusCode, body, resp.Header.Get("X-Cache"))
	}
	if got := o.count("/page"); got != 2 {
		t.Errorf("origin hits for /page %d, want 2 (the fill and the failed refresh)", got)
	}
}
