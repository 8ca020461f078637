// Package cache is the edge's HTTP cache: a shared cache in the sense of
// RFC 9111 with the stale extensions of RFC 5861, a memory tier and an
// optional disk tier, request collapsing, and a domain's cache rules
// (Rules) applied on top of the origin's headers.
//
// The cache sits in front of an origin handler (the edge's reverse proxy):
// Serve answers from a stored response when it may, and otherwise lets the
// handler fetch, keeping what may be stored.
package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultMemoryBytes    = 256 << 20
	DefaultDiskBytes      = 10 << 30
	DefaultMaxObjectBytes = 8 << 20
	DefaultCollapseWait   = 10 * time.Second
	// backgroundTimeout bounds a revalidation nobody waits for.
	backgroundTimeout = time.Minute
	// maxJoins is how many flights in a row a waiting request follows
	// (each one ending without an answer for it) before it fetches alone.
	maxJoins = 2
)

// Config configures a Cache.
type Config struct {
	// MemoryBytes bounds the memory tier (DefaultMemoryBytes when 0).
	MemoryBytes int64
	// Dir, when set, holds the disk tier, bounded by DiskBytes
	// (DefaultDiskBytes when 0).
	Dir       string
	DiskBytes int64
	// MaxObjectBytes: larger responses stream through and are not stored
	// (DefaultMaxObjectBytes when 0).
	MaxObjectBytes int64
	// CollapseWait bounds how long a request waits for another's fetch of
	// the same object before it goes to the origin itself
	// (DefaultCollapseWait when 0).
	CollapseWait time.Duration
	Logger       *slog.Logger // nil: slog.Default()
	Observer     Observer     // nil: nobody is told
}

// Observer is told how requests are answered, for metrics. Its methods are
// called concurrently.
type Observer interface {
	// Served is called once per request with how it was answered and the
	// body bytes sent from a stored response.
	Served(s Status, fromCache int64)
	// Fetched is called once per origin fetch with the body bytes the
	// origin sent.
	Fetched(fromOrigin int64)
}

// Status is how the cache answered a request.
type Status int

const (
	Hit     Status = iota // a fresh stored response
	Miss                  // fetched from the origin and stored
	Expired               // a stored response was stale: validated with the origin, or replaced
	Stale                 // a stale stored response (stale-while-revalidate, stale-if-error)
	Bypass                // from the origin, not stored (not storable, or not a cacheable request)
)

var statusWords = [...]string{"HIT", "MISS", "EXPIRED", "STALE", "BYPASS"}

func (s Status) String() string { return statusWords[s] }

// answer is a Status and its X-Cache value. The field starts with the
// status word; the Squid-style code after it is the one Alibaba Cloud CDN's
// edges put in the same place ("X-Cache: HIT TCP_MEM_HIT dirn:-2:-2",
// "MISS TCP_MISS ..."), so scripts written against either form work.
type answer struct {
	status Status
	xcache []string
}

func newAnswer(s Status, code string) answer { return answer{s, []string{s.String() + " " + code}} }

var (
	ansMemHit      = newAnswer(Hit, "TCP_MEM_HIT")
	ansDiskHit     = newAnswer(Hit, "TCP_HIT")
	ansMiss        = newAnswer(Miss, "TCP_MISS")
	ansRefreshHit  = newAnswer(Expired, "TCP_REFRESH_HIT")
	ansRefreshMiss = newAnswer(Expired, "TCP_REFRESH_MISS")
	ansStale       = newAnswer(Stale, "TCP_STALE_HIT")
	ansBypass      = newAnswer(Bypass, "TCP_MISS")
)

// Cache is safe for concurrent use.
type Cache struct {
	mem       *memTier
	disk      *diskTier // nil without Config.Dir
	flights   flights
	maxObject int64
	wait      time.Duration
	log       *slog.Logger
	obs       Observer
	now       func() time.Time // a field so tests can move the clock

	// varies maps a primary key to the Vary fields of its latest response,
	// for as long as a tier holds a variant with Vary.
	varyMu sync.Mutex
	varies map[string]*varyRef

	purges purges

	bg sync.WaitGroup // background revalidations
}

type varyRef struct {
	fields []string
	n      int // variants with Vary in the tiers (counted per tier)
}

// New opens a cache; with Config.Dir, the disk tier's index is rebuilt
// from the files there before it returns.
func New(cfg Config) (*Cache, error) {
	c := &Cache{
		maxObject: cmpOr(cfg.MaxObjectBytes, DefaultMaxObjectBytes),
		wait:      cmpOr(cfg.CollapseWait, DefaultCollapseWait),
		log:       cfg.Logger,
		obs:       cfg.Observer,
		now:       time.Now,
		varies:    map[string]*varyRef{},
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.obs == nil {
		c.obs = nopObserver{}
	}
	c.mem = newMemTier(cmpOr(cfg.MemoryBytes, DefaultMemoryBytes), c.varyAdded, c.varyGone)
	if cfg.Dir != "" {
		d, err := openDiskTier(cfg.Dir, cmpOr(cfg.DiskBytes, DefaultDiskBytes), c.log, c.varyAdded, c.varyGone, c.admitToDisk)
		if err != nil {
			return nil, err
		}
		c.disk = d
	}
	return c, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

type nopObserver struct{}

func (nopObserver) Served(Status, int64) {}
func (nopObserver) Fetched(int64)        {}

// Close waits for background revalidations and queued disk writes.
func (c *Cache) Close() {
	c.bg.Wait()
	if c.disk != nil {
		c.disk.close()
	}
}

// Usage returns the bytes the memory and disk tiers hold.
func (c *Cache) Usage() (memory, disk int64) {
	memory = c.mem.used()
	if c.disk != nil {
		disk = c.disk.used()
	}
	return memory, disk
}

// conditionalFields are the request fields that make the visitor's answer
// depend on the stored response (RFC 9110, Section 13.1, and Range,
// Section 14.2). Fetches to fill the cache go without them, so that the
// origin sends a whole response the cache can store; the visitor's
// conditions are then evaluated against the stored response
// (RFC 9111, Section 4.3.2).
var conditionalFields = []string{"Range", "If-Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"}

// acceptRanges is what a stored object says of ranges: it can answer them
// (RFC 9110, Section 14.3), as ServeContent says.
var acceptRanges = []string{"bytes"}

// hasAny reports whether h has any of the canonical field names.
func hasAny(h http.Header, names []string) bool {
	for _, n := range names {
		if _, ok := h[n]; ok {
			return true
		}
	}
	return false
}

// Serve answers r for the object key under the domain's rules, from the
// cache when it may and otherwise through origin, which writes the origin's
// response (the edge's reverse proxy). Every response carries X-Cache and
// Age.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, key Key, rules *Rules, origin http.Handler) {
	rcc := parseCacheControl(r.Header)
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || r.Header.Get("Upgrade") != "" ||
		// The visitor asks that nothing of the exchange be stored
		// (RFC 9111, Section 5.2.1.5).
		rcc.has("no-store") {
		c.bypass(w, r, origin)
		return
	}
	k := key.String()
	arrival := c.now()
	e, onDisk := c.lookup(k, r)
	if e != nil {
		if e.fresh(arrival) && acceptable(r, rcc, e, arrival) {
			c.serveEntry(w, r, e, hitAnswer(onDisk), arrival)
			return
		}
		// RFC 5861, Section 3: within stale-while-revalidate, the stale
		// response is served while one background fetch validates it.
		if !e.pol.noStale && !e.pol.validate && e.pol.swr > 0 && e.staleFor(arrival) <= e.pol.swr && !wantsValidation(r, rcc) {
			c.revalidateInBackground(r, k, key.Path, rules, origin, e)
			c.serveEntry(w, r, e, ansStale, arrival)
			return
		}
	} else if rcc.has("only-if-cached") {
		// RFC 9111, Section 5.2.1.7.
		w.Header()["X-Cache"] = ansBypass.xcache
		w.Header().Set("Age", "0")
		w.WriteHeader(http.StatusGatewayTimeout)
		c.obs.Served(Bypass, 0)
		return
	}
	c.fill(w, r, k, key.Path, rules, origin, e, arrival)
}

func hitAnswer(onDisk bool) answer {
	if onDisk {
		return ansDiskHit
	}
	return ansMemHit
}

// wantsValidation: the request's no-cache (or, without Cache-Control,
// Pragma: no-cache) asks that a stored response be validated before use
// (RFC 9111, Sections 5.2.1.4 and 5.4).
func wantsValidation(r *http.Request, rcc directives) bool {
	return rcc.has("no-cache") || (rcc == nil && pragmaNoCache(r.Header))
}

// acceptable reports whether a fresh e satisfies the request's own limits
// (RFC 9111, Section 5.2.1): no-cache and max-age.
func acceptable(r *http.Request, rcc directives, e *entry, now time.Time) bool {
	if wantsValidation(r, rcc) {
		return false
	}
	if ma, ok := rcc.seconds("max-age"); ok && e.age(now) > ma {
		return false
	}
	return true
}

// lookup finds the variant of key that r selects (RFC 9111, Section 4.1),
// in memory first, then on disk (bringing it into memory).
func (c *Cache) lookup(key string, r *http.Request) (*entry, bool) {
	id := variantID(key, variantOf(r, c.fieldsFor(key)))
	if e := c.mem.get(id); e != nil {
		if c.purges.covers(key, e.fetched) {
			c.forget(id)
			return nil, false
		}
		return e, false
	}
	if c.disk == nil {
		return nil, false
	}
	e := c.disk.get(id)
	if e == nil {
		return nil, false
	}
	if c.purges.covers(key, e.fetched) {
		c.forget(id)
		return nil, false
	}
	c.mem.put(e)
	return e, true
}

// forget removes a purged entry from both tiers.
func (c *Cache) forget(id string) {
	c.mem.remove(id)
	if c.disk != nil {
		c.disk.remove(id)
	}
}

// store publishes e in the tiers.
func (c *Cache) store(e *entry) {
	c.mem.put(e)
	c.varyMu.Lock()
	if ref := c.varies[e.key]; ref != nil {
		ref.fields = e.vary
	}
	c.varyMu.Unlock()
	if c.disk != nil {
		c.disk.put(e)
	}
}

func (c *Cache) fieldsFor(key string) []string {
	c.varyMu.Lock()
	defer c.varyMu.Unlock()
	if ref := c.varies[key]; ref != nil {
		return ref.fields
	}
	return nil
}

func (c *Cache) varyAdded(key string, vary []string) {
	if vary == nil {
		return
	}
	c.varyMu.Lock()
	defer c.varyMu.Unlock()
	ref := c.varies[key]
	if ref == nil {
		ref = &varyRef{}
		c.varies[key] = ref
	}
	ref.fields = vary
	ref.n++
}

func (c *Cache) varyGone(key string, vary []string) {
	if vary == nil {
		return
	}
	c.varyMu.Lock()
	defer c.varyMu.Unlock()
	if ref := c.varies[key]; ref != nil {
		if ref.n--; ref.n <= 0 {
			delete(c.varies, key)
		}
	}
}

// fill answers a request the cache could not answer alone: it leads the
// key's flight, or waits on another's and answers from what it stored.
func (c *Cache) fill(w http.ResponseWriter, r *http.Request, key, path string, rules *Rules, origin http.Handler, stale *entry, arrival time.Time) {
	timer := time.NewTimer(c.wait)
	defer timer.Stop()
	for joins := 0; ; joins++ {
		f, lead := c.flights.join(key)
		if lead {
			// A flight may have landed between this request's lookup and
			// its join: what it stored answers this request too, or a
			// herd arriving as the first fetch ends would fetch again.
			if e, onDisk, usable := c.recheck(key, r, stale, arrival); usable {
				c.answerFlight(key, f, e, false)
				c.serveEntry(w, r, e, hitAnswer(onDisk), c.now())
				return
			}
		}
		if lead || joins == maxJoins {
			if !lead {
				f = nil
			}
			c.fetch(w, r, key, path, rules, origin, stale, f)
			return
		}
		select {
		case <-f.done:
		case <-timer.C:
			c.fetch(w, r, key, path, rules, origin, stale, nil)
			return
		case <-r.Context().Done():
			return
		}
		if f.pass {
			c.fetch(w, r, key, path, rules, origin, stale, nil)
			return
		}
		// The leader's answer serves this request if it is the variant
		// it selects.
		if e := f.entry; e != nil && variantOf(r, e.vary) == e.variant && !c.purges.covers(key, e.fetched) {
			ans := ansMemHit
			if f.stale {
				ans = ansStale
			}
			c.serveEntry(w, r, e, ans, c.now())
			return
		}
		e, onDisk, usable := c.recheck(key, r, stale, arrival)
		if usable {
			c.serveEntry(w, r, e, hitAnswer(onDisk), c.now())
			return
		}
		if e != nil {
			stale = e
		}
	}
}

// recheck looks key up again for a request that arrived at arrival and
// found seen (maybe nil), not usable: another entry stored or validated
// since is as good as fresh for it, and any other must be fresh and
// acceptable now. It returns what it found and whether that answers r.
func (c *Cache) recheck(key string, r *http.Request, seen *entry, arrival time.Time) (e *entry, onDisk, usable bool) {
	e, onDisk = c.lookup(key, r)
	if e == nil || e == seen {
		return e, onDisk, false
	}
	now := c.now()
	usable = !e.respTime.Before(arrival) || (e.fresh(now) && acceptable(r, parseCacheControl(r.Header), e, now))
	return e, onDisk, usable
}

// revalidateInBackground starts a fetch of key that nobody waits for,
// unless one is under way.
func (c *Cache) revalidateInBackground(r *http.Request, key, path string, rules *Rules, origin http.Handler, stale *entry) {
	f, lead := c.flights.join(key)
	if !lead {
		return
	}
	// The request's values (the edge's origin candidates) are kept; its
	// cancellation is not: the visitor has its answer already.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), backgroundTimeout)
	br := r.Clone(ctx)
	br.Body = http.NoBody
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer cancel()
		c.fetch(nil, br, key, path, rules, origin, stale, f)
	}()
}

var errTooLarge = errors.New("cache: response larger than the object limit")

// fetch asks the origin for key and answers w (nil: nobody) from what it
// sent: streamed as it comes when the visitor's request is plain, or from
// the stored response when the visitor's answer depends on it (HEAD,
// Range, conditions). With a stale entry the request is conditional
// (RFC 9111, Section 4.3.1); a 304 refreshes the entry (Section 4.3.4),
// and a server error within stale-if-error is answered from it (RFC 5861,
// Section 4). f, when set, is the flight this fetch leads.
func (c *Cache) fetch(w http.ResponseWriter, r *http.Request, key, path string, rules *Rules, origin http.Handler, stale *entry, f *flight) {
	out := r.Clone(r.Context())
	out.Method = http.MethodGet // a HEAD is answered from a GET (RFC 9111, Section 4.3.5)
	detached := w == nil || r.Method == http.MethodHead
	for _, h := range conditionalFields {
		if _, ok := out.Header[h]; ok {
			out.Header.Del(h)
			detached = true
		}
	}
	if stale != nil {
		if v := stale.header.Get("Etag"); v != "" {
			out.Header.Set("If-None-Match", v)
		}
		if v := stale.header.Get("Last-Modified"); v != "" {
			out.Header.Set("If-Modified-Since", v)
		}
	}
	reqTime := c.now()
	var pol policy
	ans := ansMiss
	cp := &capture{header: http.Header{}, limit: c.maxObject}
	cp.decide = func(cp *capture) captureMode {
		now := c.now()
		if stale != nil && (cp.status == http.StatusNotModified || (rules.stale().originError(cp.status) && staleIfError(stale, rules, now))) {
			return modeAbsorb
		}
		pol = responsePolicy(out, cp.status, cp.header, now, rules, path)
		if declaredLength(cp.header) > c.maxObject {
			pol.store = false
		}
		switch {
		case !pol.store:
			ans = ansBypass
			c.flights.land(key, f, true)
		case stale != nil:
			ans = ansRefreshMiss
		}
		if detached {
			return modeKeep
		}
		h := w.Header()
		for k, v := range cp.header {
			h[k] = v
		}
		h["Age"] = ageSeconds(initialAge(cp.header, reqTime, now))
		h["X-Cache"] = ans.xcache
		if pol.store && pol.follow {
			h["Cache-Control"] = visitorCacheControl(pol.lifetime)
			delete(h, "Expires")
		}
		w.WriteHeader(cp.status)
		cp.client = w
		return modeStream
	}
	aborted := runOrigin(origin, cp, out)
	c.obs.Fetched(cp.fromOrigin)
	respTime := c.now()
	if respTime.Sub(reqTime) > fetchSlack {
		pol.store = false // a purge's rule may be gone by now (purge.go)
	}
	switch {
	case cp.mode == modeAbsorb && cp.status == http.StatusNotModified:
		e := stale.refreshed(cp.header, reqTime, respTime)
		e.pol = responsePolicy(out, e.status, e.header, respTime, rules, path)
		if e.pol.store && respTime.Sub(reqTime) <= fetchSlack {
			c.store(e)
		}
		c.answerFlight(key, f, e, false)
		c.serveEntry(w, r, e, ansRefreshHit, respTime)
	case cp.mode == modeAbsorb:
		c.answerFlight(key, f, stale, true)
		c.serveEntry(w, r, stale, ansStale, respTime)
	case aborted && cp.mode == modeStream:
		c.flights.land(key, f, false)
		panic(http.ErrAbortHandler) // the visitor's response is cut short, as the proxy would
	case aborted || !cp.complete():
		c.flights.land(key, f, false)
		if w != nil && cp.over && cp.mode == modeKeep {
			// Too large to answer from: the visitor's own request goes
			// through as it is.
			c.bypass(w, r, origin)
		} else if w != nil && cp.mode == modeKeep {
			w.WriteHeader(http.StatusBadGateway)
			c.obs.Served(Bypass, 0)
		}
	case pol.store:
		fields := varyFields(cp.header)
		h := cp.header.Clone()
		delete(h, "Age")
		delete(h, "X-Cache")
		e := &entry{key: key, vary: fields, variant: variantOf(r, fields), status: cp.status, header: h,
			body: cp.body, respTime: respTime, fetched: reqTime, initialAge: initialAge(cp.header, reqTime, respTime), pol: pol}
		c.store(e)
		c.answerFlight(key, f, e, false)
		if cp.mode == modeStream {
			c.obs.Served(ans.status, 0)
		} else {
			c.serveEntry(w, r, e, ans, respTime)
		}
	default:
		c.flights.land(key, f, true)
		if cp.mode == modeStream {
			c.obs.Served(ans.status, 0)
		} else if w != nil {
			c.writeCaptured(w, r, cp, ans, initialAge(cp.header, reqTime, respTime))
		}
	}
}

// answerFlight lands f with e as the answer for its followers.
func (c *Cache) answerFlight(key string, f *flight, e *entry, stale bool) {
	if f != nil {
		f.entry, f.stale = e, stale
	}
	c.flights.land(key, f, false)
}

// staleIfError reports whether e may answer in place of an origin error
// at now (RFC 5861, Section 4; the domain's StaleRule).
func staleIfError(e *entry, rules *Rules, now time.Time) bool {
	return !e.pol.noStale && !e.pol.validate && e.staleFor(now) <= rules.stale().window(e.pol.sie)
}

// runOrigin runs the origin handler into cp. The reverse proxy ends a
// response whose copy failed with http.ErrAbortHandler; that is reported
// as aborted, any other panic goes on.
func runOrigin(origin http.Handler, cp *capture, r *http.Request) (aborted bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler { //nolint:errorlint // a sentinel compared as the server does
				panic(v)
			}
			aborted = true
		}
	}()
	origin.ServeHTTP(cp, r)
	return false
}

// serveEntry answers r from e; nil w means nobody asked.
func (c *Cache) serveEntry(w http.ResponseWriter, r *http.Request, e *entry, ans answer, now time.Time) {
	if w == nil {
		return
	}
	h := w.Header()
	for k, v := range e.header {
		h[k] = v
	}
	h["Age"] = ageSeconds(e.age(now))
	h["X-Cache"] = ans.xcache
	if e.pol.follow {
		h["Cache-Control"] = visitorCacheControl(e.pol.lifetime)
		delete(h, "Expires")
	}
	cw := &countingWriter{ResponseWriter: w}
	if e.status == http.StatusOK {
		if _, ok := e.header["Content-Type"]; !ok {
			h["Content-Type"] = nil // what the origin did not say is not guessed
		}
		if !hasAny(r.Header, conditionalFields) {
			// Most requests: the whole object, no conditions. Written
			// directly, as ServeContent would answer it.
			h["Accept-Ranges"] = acceptRanges
			h["Content-Length"] = []string{strconv.Itoa(len(e.body))}
			cw.WriteHeader(http.StatusOK)
			if r.Method != http.MethodHead {
				_, _ = cw.Write(e.body)
			}
			c.obs.Served(ans.status, cw.n)
			return
		}
		// ServeContent evaluates the visitor's conditions against the
		// stored response (RFC 9110, Section 13.2.2) and answers a single
		// Range with 206, several with multipart/byteranges, an
		// unsatisfiable one with 416 (Section 14).
		lm, _ := http.ParseTime(e.header.Get("Last-Modified"))
		http.ServeContent(cw, r, "", lm, bytes.NewReader(e.body))
	} else {
		h["Content-Length"] = []string{strconv.Itoa(len(e.body))}
		cw.WriteHeader(e.status)
		if r.Method != http.MethodHead {
			_, _ = cw.Write(e.body)
		}
	}
	c.obs.Served(ans.status, cw.n)
}

// writeCaptured answers r with a fetched response that was not stored.
func (c *Cache) writeCaptured(w http.ResponseWriter, r *http.Request, cp *capture, ans answer, age time.Duration) {
	h := w.Header()
	for k, v := range cp.header {
		h[k] = v
	}
	h["Age"] = ageSeconds(age)
	h["X-Cache"] = ans.xcache
	w.WriteHeader(cp.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(cp.body)
	}
	c.obs.Served(ans.status, 0)
}

// bypass sends r to the origin as it is.
func (c *Cache) bypass(w http.ResponseWriter, r *http.Request, origin http.Handler) {
	sw := &stampWriter{ResponseWriter: w}
	defer func() {
		c.obs.Fetched(sw.n)
		c.obs.Served(Bypass, 0)
	}()
	origin.ServeHTTP(sw, r)
}

// stampWriter adds X-Cache: BYPASS, and Age when the origin sent none, to
// a response passed through.
type stampWriter struct {
	http.ResponseWriter
	stamped bool
	n       int64
}

func (s *stampWriter) WriteHeader(code int) {
	if !s.stamped && code >= 200 {
		s.stamped = true
		h := s.ResponseWriter.Header()
		h["X-Cache"] = ansBypass.xcache
		if h.Get("Age") == "" {
			h.Set("Age", "0")
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *stampWriter) Write(p []byte) (int, error) {
	if !s.stamped {
		s.WriteHeader(http.StatusOK)
	}
	n, err := s.ResponseWriter.Write(p)
	s.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (the proxy
// hijacks it for protocol upgrades and flushes through it).
func (s *stampWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// countingWriter counts the body bytes written.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	n, err := cw.ResponseWriter.Write(p)
	cw.n += int64(n)
	return n, err
}

// ReadFrom keeps the server's own ReadFrom (pooled buffers) in the copy
// ServeContent makes.
func (cw *countingWriter) ReadFrom(src io.Reader) (int64, error) {
	n, err := io.Copy(cw.ResponseWriter, src)
	cw.n += n
	return n, err
}

func (cw *countingWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }
