package edge

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cdnd/cdnd/internal/edge/cache"
	"github.com/cdnd/cdnd/internal/originpolicy"
	"github.com/cdnd/cdnd/internal/store"
)

// Origin timeouts: a dead origin is found out fast (and failed over), a slow
// one gets a generous but finite time to answer; the edge never hangs.
const (
	originDialTimeout = 5 * time.Second
	// originTryBudget is how long one request may spend connecting to its
	// domain's origins in all: each failover attempt gets what is left, so
	// twenty black-holed origins cost this, not twenty dial timeouts.
	originTryBudget      = 10 * time.Second
	originHeaderTimeout  = 30 * time.Second
	originTLSTimeout     = 10 * time.Second
	defaultOriginPort    = 80
	httpsOriginPort      = 443
	defaultPriority      = 20 // Alibaba: "20" primary, "30" backup
	defaultOriginWeight  = 10 // Alibaba's default weight
	maxOriginsConsidered = 64 // bounds per-request work on odd records
)

// origin is one place a domain's requests can go.
type origin struct {
	scheme string // http, or https for port 443
	host   string // host:port
	weight int
}

// originGroup is the origins of one priority; lower priority numbers are
// tried first.
type originGroup struct {
	priority int
	origins  []origin
}

// buildOrigins turns a domain's sources into priority groups once, when
// the record is applied, so a request only has to shuffle.
//
// All source types name a host (an IP for ipaddr, a DNS name for domain,
// common, oss and fc_domain), reached at Content:Port; port 0 means 80 and
// 443 means the origin speaks TLS and is verified against Content.
func buildOrigins(srcs []store.Source) []originGroup {
	var groups []originGroup
	for i, s := range srcs {
		if i >= maxOriginsConsidered {
			break
		}
		host := strings.TrimSpace(s.Content)
		if host == "" {
			continue
		}
		port := s.Port
		if port <= 0 || port > 65535 {
			port = defaultOriginPort
		}
		scheme := "http"
		if port == httpsOriginPort {
			scheme = "https"
		}
		prio, err := strconv.Atoi(strings.TrimSpace(s.Priority))
		if err != nil {
			prio = defaultPriority
		}
		weight, err := strconv.Atoi(strings.TrimSpace(s.Weight))
		if err != nil {
			weight = defaultOriginWeight
		}
		weight = max(weight, 1) // weight 0 still serves, only last
		o := origin{scheme: scheme, host: net.JoinHostPort(host, strconv.Itoa(port)), weight: weight}
		if j := slices.IndexFunc(groups, func(g originGroup) bool { return g.priority == prio }); j >= 0 {
			groups[j].origins = append(groups[j].origins, o)
		} else {
			groups = append(groups, originGroup{priority: prio, origins: []origin{o}})
		}
	}
	slices.SortStableFunc(groups, func(a, b originGroup) int { return cmp.Compare(a.priority, b.priority) })
	return groups
}

// candidates orders a domain's origins for one request: by priority, and
// within a priority by weighted random choice without replacement, so load
// spreads by weight and the rest remain as failover targets.
func candidates(groups []originGroup) []origin {
	n := 0
	for _, g := range groups {
		n += len(g.origins)
	}
	out := make([]origin, 0, n)
	for _, g := range groups {
		if len(g.origins) == 1 {
			out = append(out, g.origins[0])
			continue
		}
		rest := slices.Clone(g.origins)
		for len(rest) > 0 {
			total := 0
			for _, o := range rest {
				total += o.weight
			}
			r := rand.IntN(total)
			k := 0
			for ; k < len(rest)-1; k++ {
				if r < rest[k].weight {
					break
				}
				r -= rest[k].weight
			}
			out = append(out, rest[k])
			rest = slices.Delete(rest, k, k+1)
		}
	}
	return out
}

// Handler is the reverse proxy, for both the HTTPS and the plain HTTP
// listener.
func (e *Edge) Handler() http.Handler { return e.proxy }

// originsKey carries, in a proxied request's context, its domain's origin
// groups; the order to try them in is drawn only when the origin is asked,
// not for every request the cache answers.
type originsKey struct{}

// settingsKey carries, in a proxied request's context, its domain's
// settings and whether the visitor came over TLS, for the proxy's Rewrite
// and ModifyResponse.
type settingsKey struct{}

type requestSettings struct {
	s       *settings
	overTLS bool
	// cached: the response goes through the HTTP cache, which stores it
	// for both schemes, so the response settings are applied as it is
	// served (settingsWriter), not as it comes from the origin.
	cached bool
}

func (e *Edge) newProxy(origins *originpolicy.Policy, resolver *net.Resolver) http.Handler {
	e.transport = &http.Transport{
		Proxy: nil, // origins are reached directly, whatever the environment says
		// Every dial resolves the origin here and connects only to an
		// address the policy allows, so neither a record nor its DNS
		// answers can point the edge at the node or its network.
		DialContext:           e.dialWithinBudget,
		TLSHandshakeTimeout:   originTLSTimeout,
		ResponseHeaderTimeout: originHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		// ServerName defaults to the URL's host, i.e. the source's
		// Content: the origin's certificate is verified against it.
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12},
	}
	e.dial = origins.DialContext(resolver, &net.Dialer{Timeout: originDialTimeout, KeepAlive: 30 * time.Second})
	e.originBudget = originTryBudget
	rt := &failover{rt: e.transport, log: e.log, budget: func() time.Duration { return e.originBudget }}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The failover transport puts the origin in the URL; these are
			// placeholders so that nothing treats the URL as relative.
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "origin.invalid"
			pr.Out.Host = pr.In.Host // origins serve by the visitor's Host
			// Append to the visitor's X-Forwarded-For rather than replace it.
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			if rs, ok := pr.In.Context().Value(settingsKey{}).(requestSettings); ok {
				applyHeaders(pr.Out.Header, rs.s.reqHeaders)
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			if rs, ok := resp.Request.Context().Value(settingsKey{}).(requestSettings); ok && !rs.cached {
				rs.s.modifyResponse(resp.Header, rs.overTLS)
			}
			return nil
		},
		Transport:    rt,
		ErrorHandler: e.proxyError,
		ErrorLog:     slog.NewLogLogger(e.log.Handler(), slog.LevelWarn),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !e.Ready() {
			plainError(w, "cdnd: edge is starting", http.StatusServiceUnavailable)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if isHTTP01(r.URL.Path) {
			e.challenges.serveHTTP01(w, host, r.URL.Path)
			return
		}
		var d *domainEntry
		if name, ok := normalizeName(host); ok {
			d = e.idx.domain(name)
		}
		if misdirected(r, d, e.idx) {
			plainError(w, "cdnd: misdirected request: this connection is for another domain", http.StatusMisdirectedRequest)
			return
		}
		// Over TLS, a domain with HTTPS off is as unknown as it is to the
		// handshake.
		if d == nil || !d.online || (r.TLS != nil && d.cert == nil) {
			plainError(w, "cdnd: unknown domain", http.StatusNotFound)
			return
		}
		if d.settings.redirect(w, r) {
			return
		}
		ctx := context.WithValue(r.Context(), originsKey{}, d.origins)
		if d.settings != nil {
			ctx = context.WithValue(ctx, settingsKey{}, requestSettings{d.settings, r.TLS != nil, e.httpCache != nil})
		}
		var b *idleBody
		if r.Body != nil && r.Body != http.NoBody {
			b = newIdleBody(r.Body, w, e.bodyIdle)
			defer b.handlerDone()
			ctx = context.WithValue(ctx, idleBodyKey{}, b)
		}
		r = r.WithContext(ctx)
		if b != nil {
			r.Body = b
		}
		if e.httpCache != nil {
			// The key is the domain's name as the index has it, never the
			// Host as sent, and no scheme: HTTP and HTTPS share objects.
			rules := d.settings.cacheRules()
			if d.settings != nil {
				w = &settingsWriter{ResponseWriter: w, s: d.settings, overTLS: r.TLS != nil}
			}
			e.httpCache.Serve(w, r, cache.KeyFor(d.name, r.URL, rules), rules, rp)
			return
		}
		rp.ServeHTTP(w, r)
	})
}

var errNoOrigin = errors.New("edge: domain has no origin")

// proxyError answers what the origins could not: 504 when they timed out,
// 502 otherwise (refused, reset, bad TLS, no origin at all); 408 when it was
// the visitor's body that stalled.
func (e *Edge) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if stalledBody(r) {
		// Checked first: the timed-out read also ended the request's
		// context.
		plainError(w, "cdnd: request body timed out", http.StatusRequestTimeout)
		return
	}
	if r.Context().Err() != nil {
		// The visitor went away; nobody reads the answer.
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	status, msg := http.StatusBadGateway, "cdnd: origin unreachable"
	var ne net.Error
	if errors.As(err, new(*originpolicy.RefusedError)) {
		msg = "cdnd: origin address not allowed"
	} else if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		status, msg = http.StatusGatewayTimeout, "cdnd: origin timed out"
	}
	e.log.Warn("edge: proxy failed", "host", r.Host, "status", status, "err", err)
	plainError(w, msg, status)
}

func plainError(w http.ResponseWriter, msg string, status int) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// failover is the proxy's RoundTripper: it tries the request's candidate
// origins in order and moves to the next one only when connecting failed,
// that is, before a byte of the request reached any origin. Any later
// failure is returned as is: retrying then could repeat a non-idempotent
// request.
type failover struct {
	rt     http.RoundTripper
	log    *slog.Logger
	budget func() time.Duration // for connecting, over all the attempts
}

// dialDeadlineKey carries, in a request's context, when connecting to its
// origins must have succeeded (failover's budget). Only the dial sees it:
// a deadline on the request itself would also cut off the response.
type dialDeadlineKey struct{}

// dialWithinBudget dials an origin by e.dial, no later than the request's
// connect deadline.
func (e *Edge) dialWithinBudget(ctx context.Context, network, addr string) (net.Conn, error) {
	if d, ok := ctx.Value(dialDeadlineKey{}).(time.Time); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d)
		defer cancel() // an established connection outlives its dial's context
	}
	return e.dial(ctx, network, addr)
}

func (f *failover) RoundTrip(req *http.Request) (*http.Response, error) {
	groups, _ := req.Context().Value(originsKey{}).([]originGroup)
	cands := candidates(groups)
	if len(cands) == 0 {
		return nil, errNoOrigin
	}
	var body *onceBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &onceBody{rc: req.Body}
	}
	deadline := time.Now().Add(f.budget())
	ctx := context.WithValue(req.Context(), dialDeadlineKey{}, deadline)
	var err error
	for i, o := range cands {
		if i > 0 && !time.Now().Before(deadline) {
			break // the budget is spent: err is the last attempt's
		}
		u := *req.URL
		u.Scheme, u.Host = o.scheme, o.host
		out := req.WithContext(ctx) // shallow copy: RoundTrip must not modify req
		out.URL = &u
		if body != nil {
			out.Body = body
		}
		var resp *http.Response
		resp, err = f.rt.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		if !isDialError(err) || (body != nil && body.started()) || req.Context().Err() != nil {
			return nil, err
		}
		if i+1 < len(cands) {
			f.log.Debug("edge: origin refused; failing over", "origin", o.host, "err", err)
		}
	}
	return nil, err
}

// isDialError reports whether err happened while connecting, before
// anything was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// onceBody lets one request body be offered to several origins in turn.
// http.Transport closes a request's body even when the dial fails, which
// would leave nothing for the next origin; onceBody ignores Close until the
// body has been read from, and from then on (no failover is possible any
// more) behaves as the body itself.
type onceBody struct {
	rc   io.ReadCloser
	read atomic.Bool
}

func (b *onceBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.rc.Read(p)
}

func (b *onceBody) Close() error {
	if b.read.Load() {
		return b.rc.Close()
	}
	return nil
}

func (b *onceBody) started() bool { return b.read.Load() }
