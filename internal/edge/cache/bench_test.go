package cache

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// discard is a ResponseWriter that keeps nothing, so that the benchmark
// measures the cache, not a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkServeHit: the cache's own cost of answering a fresh 1 KB object
// from memory, without the HTTP server around it.
func BenchmarkServeHit(b *testing.B) {
	c, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Last-Modified", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
		_, _ = w.Write([]byte(strings.Repeat("x", 1024)))
	})
	r := httptest.NewRequest(http.MethodGet, "https://bench.example.com/objects/one-kilobyte.txt", nil)
	c.Serve(&discard{h: http.Header{}}, r, KeyFor("bench.example.com", r.URL, nil), nil, origin)
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		clear(w.h)
		c.Serve(w, r, KeyFor("bench.example.com", r.URL, nil), nil, origin)
	}
	b.StopTimer()
	if w.h.Get("X-Cache") != "HIT TCP_MEM_HIT" {
		b.Fatalf("X-Cache %q", w.h.Get("X-Cache"))
	}
}
