// Package acme obtains and renews the free certificates (CertType=free)
// of every domain that asks for one, through an ACME CA (RFC 8555), on the
// API nodes of an installation.
//
// The API (internal/cdn) records a request as a store.FreeCert; every API
// node's Manager follows those records, and the node that takes a domain's
// lock in etcd orders its certificate: exactly one order per domain at a
// time across the fleet, and a node that dies mid-order leaves its order
// (URL and sealed key in the record) for the next one to finish. The
// challenge answers go into the store, and every edge answers them
// (internal/edge), so the CA may reach any edge. The issued certificate is
// written like an upload (cas.Repo.StageIssued) together with the domain's
// binding, in one transaction.
//
// The protocol is github.com/mholt/acmez/v3's acme package; this package
// decides what to order when, and what a failure means.
package acme

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mholt/acmez/v3/acme"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
)

// Challenge types the manager can have the edges answer.
const (
	HTTP01    = "http-01"
	TLSALPN01 = "tls-alpn-01"
)

// Config is what a Manager needs.
type Config struct {
	Store   *store.Store
	Certs   *cas.Repo
	Keyring *keyring.Keyring
	// Directory is the CA's ACME directory URL (--acme-directory).
	Directory string
	// Email is the account's contact (--acme-email); may be empty.
	Email string
	// HTTPClient reaches the CA (trusting --acme-ca-file); nil: the
	// default client.
	HTTPClient *http.Client
	// EABKeyID and EABHMAC bind the account to one at the CA (RFC 8555
	// section 7.3.4); HMAC is base64url, as CAs hand it out.
	EABKeyID, EABHMAC string
	// Challenges are the types to use, in order of preference; each retry
	// moves to the next. Default: HTTP-01, then TLS-ALPN-01.
	Challenges []string
	// VerifyCname makes the manager check, before ordering, that the name
	// is a CNAME of Cname(domain) (--verify-cname).
	VerifyCname bool
	Cname       func(domain string) string
	// Resolver answers that check; nil: the system's.
	Resolver *net.Resolver
	// LockTTL is the lease of this node's locks: how long a dead node's
	// orders wait before another node takes them over. Default 15 s.
	LockTTL time.Duration
	// Timeouts of the three phases of an order, each reported with its own
	// status when it runs out: getting the challenge token (order and
	// authorization), the CA checking it, getting the certificate
	// (finalize and download). Default 1 min, 2 min, 2 min.
	TokenTimeout, CheckTimeout, CertTimeout time.Duration
	// RetryMin is the first pause after a failure (doubling, at most
	// RetryMax); a CA's Retry-After that asks for longer wins. Defaults
	// 1 min and 24 h.
	RetryMin, RetryMax time.Duration
	// ARIRecheck bounds the time between two polls of a certificate's
	// renewal information, whatever Retry-After the CA gave. Default 6 h
	// (RFC 9773 section 4.3 suggests about that).
	ARIRecheck time.Duration
	// Workers bounds the orders this node runs at once. Default 16.
	Workers int
	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

// Manager runs the free certificates. Its methods are safe for concurrent
// use.
type Manager struct {
	cfg    Config
	st     *store.Store
	log    *slog.Logger
	client *acme.Client
	now    func() time.Time

	mu       sync.Mutex
	certs    map[string]store.FreeCert // the mirror of acme/free/
	inflight map[string]bool
	// lockedUntil: another node held the lock; do not ask again before.
	lockedUntil map[string]time.Time
	queue       *fairQueue // certs by account and when they next need work, inflight ones aside
	wake        chan struct{}

	accountMu sync.Mutex
	account   *acme.Account

	metrics *metrics
}

// New returns a manager; Run runs it.
func New(cfg Config) *Manager {
	if len(cfg.Challenges) == 0 {
		cfg.Challenges = []string{HTTP01, TLSALPN01}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.LockTTL, 15*time.Second)
	def(&cfg.TokenTimeout, time.Minute)
	def(&cfg.CheckTimeout, 2*time.Minute)
	def(&cfg.CertTimeout, 2*time.Minute)
	def(&cfg.RetryMin, time.Minute)
	def(&cfg.RetryMax, 24*time.Hour)
	def(&cfg.ARIRecheck, 6*time.Hour)
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	// Retry-After of an error answer (a rate limit, RFC 8555 section
	// 6.6) reaches the scheduler through the request's context.
	hc = &http.Client{Transport: retryAfterTransport{next: transportOf(hc)}, Timeout: hc.Timeout, CheckRedirect: hc.CheckRedirect}
	m := &Manager{
		cfg: cfg, st: cfg.Store, log: cfg.Logger, now: time.Now,
		client: &acme.Client{
			Directory:    cfg.Directory,
			HTTPClient:   hc,
			UserAgent:    "cdnd",
			PollInterval: 100 * time.Millisecond,
			PollTimeout:  max(cfg.CheckTimeout, cfg.CertTimeout),
		},
		certs:       map[string]store.FreeCert{},
		inflight:    map[string]bool{},
		lockedUntil: map[string]time.Time{},
		queue:       newFairQueue(),
		wake:        make(chan struct{}, 1),
	}
	m.metrics = newMetrics(cfg.Metrics, m)
	return m
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// Run follows the free certificate records and orders, renews and retries
// them until ctx ends. It returns nil then.
func (m *Manager) Run(ctx context.Context) error {
	mirror := m.st.NewMirror(store.FreeCertsPrefix, m.apply)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); mirror.Run(ctx) }()
	select {
	case <-mirror.Ready():
	case <-ctx.Done():
		return nil
	}
	for ctx.Err() == nil {
		locker, err := m.st.NewLocker(ctx, m.cfg.LockTTL)
		if err != nil {
			m.log.Warn("acme: cannot open a lease for the order locks; retrying", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		m.runWith(ctx, locker, &wg)
		_ = locker.Close()
	}
	return nil
}

// runWith schedules orders under one lease until ctx ends or the lease is
// lost (then the orders running under it stop: their locks are gone).
func (m *Manager) runWith(ctx context.Context, locker *store.Locker, wg *sync.WaitGroup) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-locker.Done():
			m.log.Warn("acme: the lease of the order locks was lost; taking a new one")
			return
		case <-m.wake:
		case <-timer.C:
		}
		next := m.schedule(lctx, locker, wg)
		timer.Reset(time.Until(next))
	}
}

// apply is the mirror's.
func (m *Manager) apply(reset bool, kvs []store.RawKV) {
	m.mu.Lock()
	if reset {
		m.certs = map[string]store.FreeCert{}
		m.queue = newFairQueue()
	}
	for _, kv := range kvs {
		domain := store.DomainOfFreeCert(kv.Key)
		var fc store.FreeCert
		delete(m.lockedUntil, domain) // changed: worth a look at once
		if kv.Value == nil || decodeJSON(kv.Value, &fc) != nil {
			delete(m.certs, domain)
			m.queue.set(domain, "", time.Time{}, false)
			continue
		}
		m.certs[domain] = fc
		m.requeue(domain)
	}
	if reset {
		for domain := range m.certs {
			m.requeue(domain)
		}
	}
	m.mu.Unlock()
	m.poke()
}

// requeue puts domain in the queue at the time its record asks for, or
// later when another node held its lock. An inflight domain is requeued
// when its work ends. m.mu is held.
func (m *Manager) requeue(domain string) {
	if m.inflight[domain] {
		return
	}
	fc, known := m.certs[domain]
	at, ok := dueAt(fc)
	if u := m.lockedUntil[domain]; u.After(at) {
		at = u
	}
	m.queue.set(domain, fc.AccountID, at, known && ok)
}

func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// schedule starts the work that is due and returns when to look again: at
// the next due time, and at least once a lock lease, so that a dead node's
// domains are taken over.
func (m *Manager) schedule(ctx context.Context, locker *store.Locker, wg *sync.WaitGroup) time.Time {
	now := m.now()
	next := now.Add(m.cfg.LockTTL)
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.inflight) < m.cfg.Workers { // else poked again as each order ends
		domain, ok, wake := m.queue.next(now)
		if !ok {
			if !wake.IsZero() {
				next = minTime(next, wake)
			}
			break
		}
		m.inflight[domain] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.work(ctx, locker, domain)
			m.mu.Lock()
			delete(m.inflight, domain)
			m.requeue(domain)
			m.mu.Unlock()
			m.poke()
		}()
	}
	return next
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// dueAt is when a record needs work, and false when it never does by
// itself (a wildcard, which only another request changes).
func dueAt(fc store.FreeCert) (time.Time, bool) {
	switch fc.Status {
	case store.FreeUnsupportWildcard:
		return time.Time{}, false
	case store.FreeChecking, store.FreeApplying:
		return fc.NextAttempt, true
	case store.FreeSuccess:
		at := fc.RenewAt
		if !fc.ARICheck.IsZero() && fc.ARICheck.Before(at) {
			at = fc.ARICheck
		}
		return at, true
	}
	return fc.NextAttempt, true
}

// work takes the domain's lock and advances its record: renewal
// information, or an order.
func (m *Manager) work(ctx context.Context, locker *store.Locker, domain string) {
	unlock, err := locker.TryLock(ctx, domain)
	if err != nil {
		// Held by another node, or the store failed: either way, not
		// again before half a lease (the record is unchanged, so it would
		// otherwise be due again at once).
		m.mu.Lock()
		m.lockedUntil[domain] = m.now().Add(m.cfg.LockTTL / 2)
		m.mu.Unlock()
	}
	if errors.Is(err, store.ErrLocked) {
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("acme: taking the order lock failed", "domain", domain, "err", err)
		}
		return
	}
	defer unlock()
	// The record as of now, under the lock: another node may have just
	// finished it.
	var fc store.FreeCert
	rev, err := m.st.Get(ctx, store.FreeCertKey(domain), &fc)
	if err != nil {
		return
	}
	at, ok := dueAt(fc)
	if !ok || at.After(m.now()) {
		return
	}
	if !m.stillFree(ctx, domain, fc, rev) {
		return
	}
	if fc.Status == store.FreeSuccess && fc.RenewAt.After(m.now()) {
		m.refreshRenewalInfo(ctx, domain, fc, rev)
		return
	}
	m.order(ctx, domain, fc, rev)
}

// stillFree checks that the domain still asks for this free certificate;
// a record left behind by a deleted domain is removed.
func (m *Manager) stillFree(ctx context.Context, domain string, fc store.FreeCert, rev int64) bool {
	var d store.Domain
	_, err := m.st.Get(ctx, store.DomainKey(domain), &d)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return false
	case d.AccountID == fc.AccountID && d.HTTPS != nil && d.HTTPS.CertType == "free":
		return true
	}
	_, _ = m.st.Txn().Unchanged(store.FreeCertKey(domain), rev).Delete(store.FreeCertKey(domain)).Commit(ctx)
	return false
}

// update writes fc if the record is still at rev and returns its new
// revision; a conflict means the API changed the request meanwhile.
func (m *Manager) update(ctx context.Context, fc store.FreeCert, rev int64) (int64, error) {
	fc.Updated = m.now().UTC()
	return m.st.Txn().Unchanged(store.FreeCertKey(fc.Domain), rev).Put(store.FreeCertKey(fc.Domain), fc).Commit(ctx)
}

// backoff is the pause before attempt n+1 after n failures: RetryMin
// doubling to RetryMax, less up to a tenth at random so that domains that
// failed together do not retry together.
func (m *Manager) backoff(n int) time.Duration {
	d := m.cfg.RetryMin
	for i := 1; i < n && d < m.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, m.cfg.RetryMax)
	return d - time.Duration(rand.Int64N(int64(d)/10+1))
}
