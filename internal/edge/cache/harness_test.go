package cache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// origin is a real HTTP server on loopback that counts the requests it
// gets and remembers the last one's header.
type origin struct {
	srv     *httptest.Server
	hits    atomic.Int64
	mu      sync.Mutex
	last    http.Header
	handler atomic.Pointer[http.HandlerFunc]
}

// newOrigin starts an origin whose Date follows clk.
func newOrigin(t *testing.T, clk *clock, h http.HandlerFunc) *origin {
	o := &origin{}
	o.set(h)
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		o.mu.Lock()
		o.last = r.Header.Clone()
		o.last.Set("X-Method", r.Method)
		o.mu.Unlock()
		w.Header().Set("Date", clk.now().UTC().Format(http.TimeFormat))
		(*o.handler.Load())(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) set(h http.HandlerFunc) { o.handler.Store(&h) }

func (o *origin) lastHeader() http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// clock is a test clock that starts at the real time (origins stamp Date
// with it) and moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is a cache in front of a reverse proxy to an origin, as the edge
// has it, served over real HTTP.
type harness struct {
	t     *testing.T
	c     *Cache
	o     *origin
	clk   *clock
	rules *Rules
	front *httptest.Server
	proxy http.Handler
}

func newHarness(t *testing.T, cfg Config, h http.HandlerFunc) *harness {
	t.Helper()
	clk := &clock{t: time.Now()}
	hs := &harness{t: t, o: newOrigin(t, clk, h), clk: clk}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.now = hs.clk.now
	hs.c = c
	u, _ := url.Parse(hs.o.srv.URL)
	hs.proxy = httputil.NewSingleHostReverseProxy(u)
	hs.front = httptest.NewServer(http.HandlerFunc(hs.serve))
	t.Cleanup(hs.front.Close)
	t.Cleanup(c.Close)
	return hs
}

func (hs *harness) serve(w http.ResponseWriter, r *http.Request) {
	hs.c.Serve(w, r, KeyFor("example.com", r.URL, hs.rules), hs.rules, hs.proxy)
}

// do sends a request to the cache and returns the response with its body
// read.
func (hs *harness) do(method, path string, hdr ...string) (*http.Response, string) {
	hs.t.Helper()
	req, err := http.NewRequest(method, hs.front.URL+path, nil)
	if err != nil {
		hs.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hs.front.Client().Do(req)
	if err != nil {
		hs.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		hs.t.Fatal(err)
	}
	return resp, string(b)
}

func (hs *harness) get(path string, hdr ...string) (*http.Response, string) {
	hs.t.Helper()
	return hs.do(http.MethodGet, path, hdr...)
}

// want checks a response's status word and the origin's hit count.
func (hs *harness) want(resp *http.Response, xcache string, hits int64) {
	hs.t.Helper()
	if got := resp.Header.Get("X-Cache"); got != xcache {
		hs.t.Errorf("X-Cache = %q, want %q", got, xcache)
	}
	if resp.Header.Get("Age") == "" {
		hs.t.Errorf("no Age header")
	}
	if got := hs.o.hits.Load(); got != hits {
		hs.t.Errorf("origin hits = %d, want %d", got, hits)
	}
}

// fixed answers with the given header pairs and body.
func fixed(body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Add(hdr[i], hdr[i+1])
		}
		_, _ = io.WriteString(w, body)
	}
}
