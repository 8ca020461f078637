package cache

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	hitMem   = "HIT TCP_MEM_HIT"
	hitDisk  = "HIT TCP_HIT"
	miss     = "MISS TCP_MISS"
	bypassed = "BYPASS TCP_MISS"
)

func TestStoresOnlyWhatMayBeStored(t *testing.T) {
	old := time.Now().Add(-24 * time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name   string
		resp   []string // origin header pairs
		req    []string // request header pairs
		stored bool
	}{
		{"max-age", []string{"Cache-Control", "max-age=60"}, nil, true},
		{"s-maxage", []string{"Cache-Control", "s-maxage=60"}, nil, true},
		{"expires", []string{"Expires", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, nil, true},
		{"heuristic from Last-Modified", []string{"Last-Modified", old}, nil, true},
		{"heuristic from ETag alone", []string{"Etag", `"x"`}, nil, true},
		{"no freshness, no validator", nil, nil, false},
		{"no-store", []string{"Cache-Control", "max-age=60, no-store"}, nil, false},
		{"private", []string{"Cache-Control", "private, max-age=60"}, nil, false},
		{"set-cookie", []string{"Cache-Control", "max-age=60", "Set-Cookie", "s=1"}, nil, false},
		{"vary star", []string{"Cache-Control", "max-age=60", "Vary", "*"}, nil, false},
		{"max-age=0 without validator", []string{"Cache-Control", "max-age=0"}, nil, false},
		{"invalid expires", []string{"Expires", "0"}, nil, false},
		{"authorization", []string{"Cache-Control", "max-age=60"}, []string{"Authorization", "Basic eDp5"}, false},
		{"authorization with public", []string{"Cache-Control", "public, max-age=60"}, []string{"Authorization", "Basic eDp5"}, true},
		{"authorization with s-maxage", []string{"Cache-Control", "s-maxage=60"}, []string{"Authorization", "Basic eDp5"}, true},
		{"request no-store", []string{"Cache-Control", "max-age=60"}, []string{"Cache-Control", "no-store"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, Config{}, fixed("body", tt.resp...))
			resp, body := hs.get("/a", tt.req...)
			if body != "body" {
				t.Fatalf("body = %q", body)
			}
			first, second := bypassed, bypassed
			if tt.stored {
				first, second = miss, hitMem
			}
			hs.want(resp, first, 1)
			resp, _ = hs.get("/a", tt.req...)
			if tt.stored {
				hs.want(resp, second, 1)
			} else {
				hs.want(resp, second, 2)
			}
		})
	}
}

func TestFreshnessLifetime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	date := now.Format(http.TimeFormat)
	req := httptest.NewRequest(http.MethodGet, "/x.jpg", nil)
	tests := []struct {
		name   string
		status int
		hdr    []string
		rules  *Rules
		want   time.Duration
	}{
		{"s-maxage over max-age", 200, []string{"Cache-Control", "max-age=10, s-maxage=20"}, nil, 20 * time.Second},
		{"max-age over expires", 200, []string{"Cache-Control", "max-age=10", "Expires", now.Add(time.Hour).Format(http.TimeFormat)}, nil, 10 * time.Second},
		{"expires minus date", 200, []string{"Date", date, "Expires", now.Add(time.Minute).Format(http.TimeFormat)}, nil, time.Minute},
		{"heuristic tenth", 200, []string{"Date", date, "Last-Modified", now.Add(-1000 * time.Second).Format(http.TimeFormat)}, nil, 100 * time.Second},
		{"heuristic floor", 200, []string{"Date", date, "Last-Modified", now.Add(-time.Second).Format(http.TimeFormat)}, nil, heuristicMin},
		{"heuristic cap", 200, []string{"Date", date, "Last-Modified", now.Add(-1000 * time.Hour).Format(http.TimeFormat)}, nil, heuristicMax},
		{"no heuristic for 302", 302, []string{"Date", date, "Last-Modified", now.Add(-1000 * time.Second).Format(http.TimeFormat)}, nil, 0},
		{"huge max-age", 200, []string{"Cache-Control", "max-age=99999999999999"}, nil, maxDelta},
		{"bad max-age ignored", 200, []string{"Cache-Control", "max-age=1x", "Expires", now.Add(time.Minute).Format(http.TimeFormat), "Date", date}, nil, time.Minute},
		{"quoted arguments", 200, []string{"Cache-Control", `no-transform, max-age="30", community="a,b"`}, nil, 30 * time.Second},
		{"file type rule wins", 200, []string{"Cache-Control", "max-age=10"}, &Rules{TTL: []TTLRule{{Extensions: []string{"jpg"}, TTL: time.Hour}}}, time.Hour},
		{"origin first rule", 200, []string{"Cache-Control", "max-age=10"}, &Rules{TTL: []TTLRule{{Extensions: []string{"jpg"}, TTL: time.Hour, OriginFirst: true}}}, 10 * time.Second},
		{"origin first without origin lifetime", 200, nil, &Rules{TTL: []TTLRule{{Extensions: []string{"jpg"}, TTL: time.Hour, OriginFirst: true}}}, time.Hour},
		{"heavier rule wins", 200, nil, &Rules{TTL: []TTLRule{
			{Extensions: []string{"jpg"}, TTL: time.Hour, Weight: 1},
			{Path: "/", TTL: time.Minute, Weight: 2},
		}}, time.Minute},
		{"equal weights: first", 200, nil, &Rules{TTL: []TTLRule{
			{Extensions: []string{"jpg"}, TTL: time.Hour, Weight: 1},
			{Path: "/", TTL: time.Minute, Weight: 1},
		}}, time.Hour},
		{"max-age=0 beats a rule", 200, []string{"Cache-Control", "max-age=0"}, &Rules{TTL: []TTLRule{{Path: "/", TTL: time.Hour}}}, 0},
		{"swift_no_cache_low: max-age=0 yields to the rule", 200, []string{"Cache-Control", "max-age=0"}, &Rules{TTL: []TTLRule{{Path: "/", TTL: time.Hour, IgnoreNoCache: true}}}, time.Hour},
		{"swift_no_cache_low: no-store yields to the rule", 200, []string{"Cache-Control", "no-store, no-cache"}, &Rules{TTL: []TTLRule{{Path: "/", TTL: time.Hour, IgnoreNoCache: true}}}, time.Hour},
		{"swift_no_cache_low: Pragma yields to the rule", 200, []string{"Pragma", "no-cache"}, &Rules{TTL: []TTLRule{{Path: "/", TTL: time.Hour, IgnoreNoCache: true}}}, time.Hour},
		{"swift_no_cache_low keeps private", 200, []string{"Cache-Control", "private, max-age=0"}, &Rules{TTL: []TTLRule{{Path: "/", TTL: time.Hour, IgnoreNoCache: true}}}, 0},
		{"swift_no_cache_low of another directory", 200, []string{"Cache-Control", "no-store"}, &Rules{TTL: []TTLRule{{Path: "/img/", TTL: time.Hour, IgnoreNoCache: true}}}, 0},
		{"forced code ttl", 404, []string{"Cache-Control", "max-age=600"}, &Rules{CodeTTL: []CodeTTL{{Code: "4xx", TTL: 2 * time.Second}, {Code: "404", TTL: 3 * time.Second}}}, 3 * time.Second},
		{"default code ttl yields to origin", 404, []string{"Cache-Control", "max-age=600"}, &Rules{DefaultCodeTTL: []CodeTTL{{Code: "404", TTL: 3 * time.Second}}}, 600 * time.Second},
		{"default code ttl", 403, nil, &Rules{DefaultCodeTTL: []CodeTTL{{Code: "4xx", TTL: 3 * time.Second}}}, 3 * time.Second},
		{"code ttl of the request's file type", 404, []string{"Cache-Control", "max-age=600"}, &Rules{CodeTTL: []CodeTTL{
			{Code: "404", TTL: time.Second, Extensions: []string{"png"}},
			{Code: "404", TTL: 4 * time.Second, Extensions: []string{"jpg"}},
		}}, 4 * time.Second},
		{"code ttl of another directory", 404, []string{"Cache-Control", "max-age=600"}, &Rules{CodeTTL: []CodeTTL{{Code: "404", TTL: time.Second, Path: "/img/"}}}, 600 * time.Second},
		{"code ttl of the request's directory", 404, nil, &Rules{CodeTTL: []CodeTTL{{Code: "4xx", TTL: 5 * time.Second, Path: "/"}}}, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				h.Add(tt.hdr[i], tt.hdr[i+1])
			}
			pol := responsePolicy(req, tt.status, h, now, tt.rules, "/x.jpg")
			if pol.lifetime != tt.want {
				t.Errorf("lifetime = %v, want %v", pol.lifetime, tt.want)
			}
		})
	}
}

func TestFollowRuleTellsVisitorsTheEdgeLifetime(t *testing.T) {
	hs := newHarness(t, Config{}, fixed("body", "Cache-Control", "max-age=10", "Expires", "Thu, 01 Jan 2099 00:00:00 GMT"))
	hs.rules = &Rules{TTL: []TTLRule{{Path: "/", TTL: time.Hour, Follow: true}}}
	for i, want := range []string{"MISS TCP_MISS", "HIT TCP_MEM_HIT"} {
		resp, _ := hs.get("/a")
		if got := resp.Header.Get("X-Cache"); got != want {
			t.Fatalf("request %d: X-Cache %q, want %q", i, got, want)
		}
		if cc, exp := resp.Header.Get("Cache-Control"), resp.Header.Get("Expires"); cc != "max-age=3600" || exp != "" {
			t.Errorf("request %d: Cache-Control %q, Expires %q; want the rule's max-age=3600 and no Expires", i, cc, exp)
		}
	}
	hs.rules = &Rules{TTL: []TTLRule{{Path: "/b", TTL: time.Hour}}}
	if resp, _ := hs.get("/b"); resp.Header.Get("Cache-Control") != "max-age=10" {
		t.Errorf("without swift_follow_cachetime the origin's Cache-Control goes through: %q", resp.Header.Get("Cache-Control"))
	}
}

func TestAgeCountsResidentTime(t *testing.T) {
	hs := newHarness(t, Config{}, fixed("x", "Cache-Control", "max-age=100", "Age", "7"))
	hs.get("/a")
	hs.clk.advance(5 * time.Second)
	resp, _ := hs.get("/a")
	hs.want(resp, hitMem, 1)
	if got, _ := strconv.Atoi(resp.Header.Get("Age")); got < 12 {
		t.Errorf("Age = %d, want ≥ 7 + 5", got)
	}
}

func TestExpiredEntryRevalidatedBy304(t *testing.T) {
	hs := newHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("Etag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.Header().Set("X-Refreshed", "yes")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write([]byte("version one"))
	})
	hs.get("/a")
	hs.clk.advance(11 * time.Second)
	resp, body := hs.get("/a")
	hs.want(resp, "EXPIRED TCP_REFRESH_HIT", 2)
	if body != "version one" || resp.Header.Get("X-Refreshed") != "yes" {
		t.Errorf("after 304: body %q, X-Refreshed %q; want the stored body with the 304's fields", body, resp.Header.Get("X-Refreshed"))
	}
	if resp.Header.Get("Age") != "0" {
		t.Errorf("Age after revalidation = %s, want 0", resp.Header.Get("Age"))
	}
	resp, _ = hs.get("/a")
	hs.want(resp, hitMem, 2)
}

func TestExpiredEntryReplacedWhenChanged(t *testing.T) {
	hs := newHarness(t, Config{}, fixed("one", "Cache-Control", "max-age=10", "Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"))
	hs.get("/a")
	hs.o.set(fixed("two", "Cache-Control", "max-age=10", "Last-Modified", "Tue, 02 Jan 2024 00:00:00 GMT"))
	hs.clk.advance(11 * time.Second)
	resp, body := hs.get("/a")
	hs.want(resp, "EXPIRED TCP_REFRESH_MISS", 2)
	if ims := hs.o.lastHeader().Get("If-Modified-Since"); ims != "Mon, 01 Jan 2024 00:00:00 GMT" {
		t.Errorf("If-Modified-Since = %q", ims)
	}
	if body != "two" {
		t.Errorf("body = %q", body)
	}
	if _, body = hs.get("/a"); body != "two" {
		t.Errorf("stored body = %q", body)
	}
}

func TestRequestNoCacheValidates(t *testing.T) {
	hs := newHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		w.Header().Set("Etag", `"e"`)
		if r.Header.Get("If-None-Match") == `"e"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write([]byte("x"))
	})
	hs.get("/a")
	resp, body := hs.get("/a", "Cache-Control", "no-cache")
	hs.want(resp, "EXPIRED TCP_REFRESH_HIT", 2)
	if body != "x" {
		t.Errorf("body = %q", body)
	}
	resp, _ = hs.get("/a", "Pragma", "no-cache")
	hs.want(resp, "EXPIRED TCP_REFRESH_HIT", 3)
	resp, _ = hs.get("/a", "Cache-Control", "max-age=0")
	hs.want(resp, "EXPIRED TCP_REFRESH_HIT", 4)
}

func TestResponseNoCacheStoredButAlwaysValidated(t *testing.T) {
	hs := newHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Etag", `"e"`)
		if r.Header.Get("If-None-Match") == `"e"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write([]byte("x"))
	})
	resp, _ := hs.get("/a")
	hs.want(resp, miss, 1)
	resp, body := hs.get("/a")
	hs.want(resp, "EXPIRED TCP_REFRESH_HIT", 2)
	if body != "x" {
		t.Errorf("body = %q", body)
	}
}

func TestVaryKeepsVariantsUnderOneKey(t *testing.T) {
	hs := newHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		w.Header().Set("Vary", "Accept-Encoding")
		_, _ = w.Write([]byte("for " + r.Header.Get("Accept-Encoding")))
	})
	resp, body := hs.get("/a", "Accept-Encoding", "gzip")
	hs.want(resp, miss, 1)
	resp, body2 := hs.get("/a", "Accept-Encoding", "br")
	hs.want(resp, miss, 2)
	if body != "for gzip" || body2 != "for br" {
		t.Fatalf("bodies %q, %q", body, body2)
	}
	for _, ae := range []string{"gzip", "br"} {
		resp, body := hs.get("/a", "Accept-Encoding", ae)
		hs.want(resp, hitMem, 2)
		if body != "for "+ae {
			t.Errorf("variant %s: body %q", ae, body)
		}
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	hs := newHarness(t, Config{}, fixed("one", "Cache-Control", "max-age=1, stale-while-revalidate=60"))
	hs.get("/a")
	hs.o.set(fixed("two", "Cache-Control", "max-age=100"))
	hs.clk.advance(5 * time.Second)
	resp, body := hs.get("/a")
	if resp.Header.Get("X-Cache") != "STALE TCP_STALE_HIT" || body != "one" {
		t.Fatalf("within stale-while-revalidate: X-Cache %q body %q", resp.Header.Get("X-Cache"), body)
	}
	hs.c.bg.Wait()
	resp, body = hs.get("/a")
	hs.want(resp, hitMem, 2)
	if body != "two" {
		t.Errorf("after the background revalidation: body %q", body)
	}
	// Past the window the entry is fetched again before answering.
	hs.o.set(fixed("three", "Cache-Control", "max-age=1, stale-while-revalidate=5"))
	hs.clk.advance(200 * time.Second)
	resp, body = hs.get("/a")
	hs.want(resp, "EXPIRED TCP_REFRESH_MISS", 3)
	if body != "three" {
		t.Errorf("body %q", body)
	}
}

func TestStaleIfError(t *testing.T) {
	hour := &StaleRule{Window: time.Hour}
	for _, tt := range []struct {
		name   string
		cc     string
		rules  *Rules
		failed int // the origin's status once it fails
		after  time.Duration
		stale  bool
	}{
		{"within stale-if-error", "max-age=1, stale-if-error=60", nil, 503, 30 * time.Second, true},
		{"past stale-if-error", "max-age=1, stale-if-error=60", nil, 503, 90 * time.Second, false},
		{"must-revalidate", "max-age=1, stale-if-error=60, must-revalidate", nil, 503, 30 * time.Second, false},
		{"501 is not an error to RFC 5861", "max-age=1, stale-if-error=60", nil, 501, 30 * time.Second, false},
		{"serving_stale_content", "max-age=1", &Rules{Stale: hour}, 503, 30 * time.Minute, true},
		{"serving_stale_content past its window", "max-age=1", &Rules{Stale: hour}, 503, 2 * time.Hour, false},
		{"serving_stale_content: any 5xx", "max-age=1", &Rules{Stale: hour}, 501, time.Minute, true},
		{"serving_stale_content: not a 4xx", "max-age=1", &Rules{Stale: hour}, 404, time.Minute, false},
		{"origin_error_status_code 404", "max-age=1", &Rules{Stale: &StaleRule{Codes: []string{"404"}, Window: time.Hour}}, 404, time.Minute, true},
		{"origin_error_status_code 4xx leaves out 503", "max-age=1", &Rules{Stale: &StaleRule{Codes: []string{"4xx"}, Window: time.Hour}}, 503, time.Minute, false},
		{"the rule's window over the origin's", "max-age=1, stale-if-error=60", &Rules{Stale: hour}, 503, 30 * time.Minute, true},
		{"origin_first: the origin's window", "max-age=1, stale-if-error=60", &Rules{Stale: &StaleRule{Window: time.Hour, OriginFirst: true}}, 503, 30 * time.Minute, false},
		{"origin_first without stale-if-error: the rule's", "max-age=1", &Rules{Stale: &StaleRule{Window: time.Hour, OriginFirst: true}}, 503, 30 * time.Minute, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, Config{}, fixed("good", "Cache-Control", tt.cc))
			hs.get("/a")
			// Set after the object is stored: the rule covers objects
			// already in the cache.
			hs.rules = tt.rules
			hs.o.set(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", tt.failed) })
			hs.clk.advance(tt.after)
			resp, body := hs.get("/a")
			want := tt.failed
			if tt.stale {
				want = 200
			}
			if resp.StatusCode != want {
				t.Fatalf("status %d, want %d", resp.StatusCode, want)
			}
			if tt.stale && (body != "good" || resp.Header.Get("X-Cache") != "STALE TCP_STALE_HIT") {
				t.Errorf("want the stale body: got %q, X-Cache %q", body, resp.Header.Get("X-Cache"))
			}
		})
	}
}

func TestStaleIfErrorWhenOriginUnreachable(t *testing.T) {
	hs := newHarness(t, Config{}, fixed("good", "Cache-Control", "max-age=1, stale-if-error=60"))
	hs.get("/a")
	hs.o.srv.Close() // the proxy answers 502
	hs.clk.advance(10 * time.Second)
	resp, body := hs.get("/a")
	if resp.StatusCode != 200 || body != "good" {
		t.Errorf("status %d body %q, want the stale entry", resp.StatusCode, body)
	}
}

func TestHeadAnsweredFromGetEntry(t *testing.T) {
	hs := newHarness(t, Config{}, fixed("0123456789", "Cache-Control", "max-age=100"))
	resp, body := hs.do(http.MethodHead, "/a")
	hs.want(resp, miss, 1)
	if m := hs.o.lastHeader().Get("X-Method"); m != http.MethodGet {
		t.Errorf("a HEAD miss reached the origin as %s, want GET (to fill the cache)", m)
	}
	if body != "" || resp.ContentLength != 10 {
		t.Errorf("HEAD: body %q, Content-Length %d", body, resp.ContentLength)
	}
	resp, body = hs.get("/a")
	hs.want(resp, hitMem, 1)
	if body != "0123456789" {
		t.Errorf("GET after HEAD: body %q", body)
	}
	resp, _ = hs.do(http.MethodHead, "/a")
	hs.want(resp, hitMem, 1)
}

func TestRangeAnsweredFromCachedObject(t *testing.T) {
	hs := newHarness(t, Config{}, fixed("0123456789", "Cache-Control", "max-age=100", "Etag", `"e"`, "Content-Type", "text/plain"))
	resp, body := hs.get("/a", "Range", "bytes=2-5")
	hs.want(resp, miss, 1)
	if r := hs.o.lastHeader().Get("Range"); r != "" {
		t.Errorf("the fill asked the origin for Range %q; want the whole object", r)
	}
	if resp.StatusCode != http.StatusPartialContent || body != "2345" || resp.Header.Get("Content-Range") != "bytes 2-5/10" {
		t.Fatalf("first range: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	tests := []struct {
		name   string
		hdr    []string
		status int
		body   string
	}{
		{"suffix", []string{"Range", "bytes=-3"}, 206, "789"},
		{"open end", []string{"Range", "bytes=8-"}, 206, "89"},
		{"past the end clipped", []string{"Range", "bytes=8-100"}, 206, "89"},
		{"unsatisfiable", []string{"Range", "bytes=20-30"}, 416, ""},
		// RFC 9110, Section 15.5.17: 416 covers invalid ranges too.
		{"malformed", []string{"Range", "bytes=x-y"}, 416, ""},
		{"if-range match", []string{"Range", "bytes=0-0", "If-Range", `"e"`}, 206, "0"},
		{"if-range mismatch", []string{"Range", "bytes=0-0", "If-Range", `"other"`}, 200, "0123456789"},
		{"if-none-match", []string{"If-None-Match", `"e"`}, 304, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := hs.get("/a", tt.hdr...)
			if resp.StatusCode != tt.status || (tt.status != 416 && body != tt.body) {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
			if hs.o.hits.Load() != 1 {
				t.Errorf("origin hits %d, want 1", hs.o.hits.Load())
			}
		})
	}
	resp, body = hs.get("/a", "Range", "bytes=0-1,4-5")
	if resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") || !strings.Contains(body, "45") {
		t.Errorf("multiple ranges: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestLargeObjectStreamsUncached(t *testing.T) {
	big := strings.Repeat("x", 5000)
	hs := newHarness(t, Config{MaxObjectBytes: 1000}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(big))
	})
	for i := 1; i <= 2; i++ {
		resp, body := hs.get("/big")
		hs.want(resp, bypassed, int64(i))
		if body != big {
			t.Fatalf("body of %d bytes, want %d", len(body), len(big))
		}
	}
	// Unknown length: found out while streaming (X-Cache was sent before
	// that, as MISS).
	hs.o.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		for range 5 {
			_, _ = w.Write([]byte(big[:1000]))
			w.(http.Flusher).Flush()
		}
	})
	for i := 3; i <= 4; i++ {
		resp, body := hs.get("/chunked")
		hs.want(resp, miss, int64(i))
		if body != big {
			t.Fatalf("chunked: %d bytes, origin hits %d (X-Cache %q)", len(body), hs.o.hits.Load(), resp.Header.Get("X-Cache"))
		}
	}
	// A range of a large object goes to the origin as asked.
	hs.o.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(big))
	})
	resp, body := hs.get("/big", "Range", "bytes=0-9")
	if resp.StatusCode != 206 || body != big[:10] {
		t.Errorf("range of a large object: %d %q", resp.StatusCode, body)
	}
}

func TestCollapsedMissesMakeOneOriginRequest(t *testing.T) {
	release := make(chan struct{})
	hs := newHarness(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Cache-Control", "max-age=100")
		_, _ = w.Write([]byte("once"))
	})
	const n = 1000
	var wg sync.WaitGroup
	var bad sync.Map
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			hs.serve(rec, httptest.NewRequest(http.MethodGet, "/hot", nil))
			if rec.Code != 200 || rec.Body.String() != "once" {
				bad.Store(i, fmt.Sprintf("%d %q", rec.Code, rec.Body.String()))
			}
		}()
	}
	close(release)
	wg.Wait()
	bad.Range(func(k, v any) bool {
		t.Errorf("request %v: %v", k, v)
		return false
	})
	if got := hs.o.hits.Load(); got != 1 {
		t.Errorf("%d concurrent misses made %d origin requests, want 1", n, got)
	}
}

func TestCollapsedFollowersOfUncacheableGoToOrigin(t *testing.T) {
	hs := newHarness(t, Config{}, fixed("each", "Cache-Control", "no-store"))
	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			hs.serve(rec, httptest.NewRequest(http.MethodGet, "/dyn", nil))
			if rec.Body.String() != "each" {
				t.Errorf("body %q", rec.Body.String())
			}
		}()
	}
	wg.Wait()
	if got := hs.o.hits.Load(); got != n {
		t.Errorf("origin hits %d, want %d (one each: nothing could be shared)", got, n)
	}
}

func TestCollapsedFollowersWaitBounded(t *testing.T) {
	release := make(chan struct{})
	var calls sync.WaitGroup
	calls.Add(2)
	hs := newHarness(t, Config{CollapseWait: time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
		calls.Done()
		<-release
		w.Header().Set("Cache-Control", "max-age=100")
		_, _ = w.Write([]byte("slow"))
	})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hs.serve(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/slow", nil))
		}()
	}
	// Both reach the origin: the follower stopped waiting for the leader.
	calls.Wait()
	close(release)
	wg.Wait()
}

func TestCacheKeyArgs(t *testing.T) {
	tests := []struct {
		name  string
		url   string
		rules *Rules
		want  string
	}{
		{"default keeps the query", "/p?b=2&a=1", nil, "d.example/p?b=2&a=1"},
		{"keep listed", "/p?b=2&a=1&c=3", &Rules{KeepArgs: []string{"a", "c"}, KeepArgsSet: true}, "d.example/p?a=1&c=3"},
		{"keep none", "/p?b=2&a=1", &Rules{KeepArgsSet: true}, "d.example/p"},
		{"remove listed", "/p?b=2&a=1&t=9", &Rules{RemoveArgs: []string{"t", "b"}}, "d.example/p?a=1"},
		{"escaped names", "/p?%61=1&b=2", &Rules{RemoveArgs: []string{"a"}}, "d.example/p?b=2"},
		{"empty path", "", nil, "d.example/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://d.example"+tt.url, nil)
			if got := KeyFor("d.example", r.URL, tt.rules).String(); got != tt.want {
				t.Errorf("key %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNonCacheableMethodsBypass(t *testing.T) {
	hs := newHarness(t, Config{}, fixed("ok", "Cache-Control", "max-age=100"))
	resp, _ := hs.do(http.MethodPost, "/a")
	hs.want(resp, bypassed, 1)
	resp, _ = hs.get("/a")
	hs.want(resp, miss, 2)
}

func TestOnlyIfCached(t *testing.T) {
	hs := newHarness(t, Config{}, fixed("ok", "Cache-Control", "max-age=100"))
	resp, _ := hs.get("/a", "Cache-Control", "only-if-cached")
	if resp.StatusCode != http.StatusGatewayTimeout || hs.o.hits.Load() != 0 {
		t.Errorf("only-if-cached miss: %d, origin hits %d", resp.StatusCode, hs.o.hits.Load())
	}
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=1", `a="b,c", s-maxage=2`, `x="\"`, ",,,", "max-age=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := parseCacheControl(http.Header{"Cache-Control": {s}})
		if v, ok := d.seconds("max-age"); ok && (v < 0 || v > maxDelta) {
			t.Errorf("max-age %v out of range", v)
		}
	})
}

// TestPlainHitAnswersAsServeContent: a hit without conditions is written
// directly; its header must be what ServeContent gives a conditional
// request that it answers in full.
func TestPlainHitAnswersAsServeContent(t *testing.T) {
	lm := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	hs := newHarness(t, Config{}, fixed("0123456789", "Cache-Control", "max-age=100", "Last-Modified", lm))
	hs.get("/a")
	plain, body := hs.get("/a")
	old := time.Now().Add(-48 * time.Hour).UTC().Format(http.TimeFormat)
	cond, condBody := hs.get("/a", "If-Modified-Since", old)
	if plain.StatusCode != 200 || cond.StatusCode != 200 || body != condBody || body != "0123456789" {
		t.Fatalf("plain %d %q, conditional %d %q", plain.StatusCode, body, cond.StatusCode, condBody)
	}
	for _, f := range []string{"Content-Length", "Accept-Ranges", "Content-Type", "Last-Modified", "Cache-Control", "X-Cache"} {
		if p, c := plain.Header.Values(f), cond.Header.Values(f); strings.Join(p, ",") != strings.Join(c, ",") {
			t.Errorf("%s: plain %q, through ServeContent %q", f, p, c)
		}
	}
	head, headBody := hs.do(http.MethodHead, "/a")
	if head.Header.Get("Content-Length") != "10" || headBody != "" {
		t.Errorf("HEAD: Content-Length %q, body %q", head.Header.Get("Content-Length"), headBody)
	}
}
