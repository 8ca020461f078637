package edge

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cdnd/cdnd/internal/edge/cache"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/originpolicy"
	"github.com/cdnd/cdnd/internal/store"
)

// Config is what an edge needs to run.
type Config struct {
	Store   *store.Store
	Keyring *keyring.Keyring
	// EdgeID is the id the edge registers under (store.RegisterEdge) and
	// reports its applied revision as.
	EdgeID  string
	Logger  *slog.Logger          // nil: slog.Default()
	Metrics prometheus.Registerer // nil: metrics are kept but not exported
	// CacheSize bounds the parsed certificates kept; default DefaultCacheSize.
	CacheSize int
	// DefaultCert, if set, is served when no domain matches the SNI name
	// (or there is none). Nil: such handshakes fail with unrecognized_name.
	DefaultCert *tls.Certificate
	// SnapshotPath, if set, is a file where the edge keeps what it serves
	// (private keys still sealed), with a journal of what changed since at
	// SnapshotPath + ".journal", so that it starts serving with the store
	// unreachable and catches up from the snapshot's revision. The edge then
	// acknowledges a revision to the store only once both files hold it.
	SnapshotPath string
	// Origins is the origin address policy every dial is checked against;
	// nil refuses every address that is not globally reachable.
	Origins *originpolicy.Policy
	// Resolver resolves origin names for that check and the dial; nil
	// means the system's.
	Resolver *net.Resolver
	// HTTPCache, when set, answers requests before the origins do (its
	// Observer should be CacheObserver of the same Metrics). The caller
	// closes it after the edge has stopped serving.
	HTTPCache *cache.Cache
}

// Edge serves HTTPS and HTTP for the domains in the store.
type Edge struct {
	store   *store.Store
	id      string
	log     *slog.Logger
	metrics *metrics
	idx     *index
	cache   *certCache
	// challenges are the ACME answers published for free certificates.
	challenges *challenges
	tls        *tls.Config
	proxy      http.Handler
	// httpCache is the HTTP cache in front of the origins; nil: none.
	httpCache *cache.Cache
	// transport reaches the origins; a field so tests can shorten its
	// timeouts.
	transport *http.Transport
	// dial connects to an origin through the origin policy, and
	// originBudget bounds connecting per request (proxy.go); fields so
	// tests can stand in a black hole and a short budget.
	dial         func(ctx context.Context, network, addr string) (net.Conn, error)
	originBudget time.Duration
	// bodyIdle bounds a visitor's pause in sending a request body (body.go).
	bodyIdle time.Duration

	ready   atomic.Bool
	applied atomic.Int64
	// domains is the index size as of applied, for reports.
	domains atomic.Int64
	// reportNow wakes the reporter; capacity 1, so signals coalesce.
	reportNow chan struct{}
	// snapshotPath, snap (nil without a path), journalFloor and clusterID
	// serve the fail-static snapshot (snapshot.go, snapshotwriter.go).
	snapshotPath string
	snap         *snapshotQueue
	journalFloor int64
	clusterID    atomic.Uint64
	// loading is held across a full load and while the snapshot writer
	// reads the index for a base.
	loading sync.Mutex

	// purgesSeen are the tasks applied to the HTTP cache (purge.go), read
	// and written only by the goroutine that applies the store's changes;
	// prefetches run prefetch tasks until runCtx (Run's) ends.
	purgesSeen map[purgeRef]bool
	prefetches prefetcher
	runCtx     context.Context
	// now is the clock of the purge horizon; a field so tests can move it.
	now func() time.Time
}

// New returns an edge that serves nothing until Run has loaded the store.
func New(cfg Config) *Edge {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	m := newMetrics(cfg.Metrics)
	e := &Edge{
		store:      cfg.Store,
		id:         cfg.EdgeID,
		log:        log,
		metrics:    m,
		idx:        newIndex(),
		cache:      newCertCache(cfg.CacheSize, cfg.Keyring, log, m),
		challenges: newChallenges(),
		reportNow:  make(chan struct{}, 1),
		bodyIdle:   bodyIdleTimeout,
		httpCache:  cfg.HTTPCache,

		snapshotPath: cfg.SnapshotPath,
		journalFloor: defaultJournalFloor,

		purgesSeen: map[purgeRef]bool{},
		prefetches: prefetcher{slots: make(chan struct{}, prefetchConcurrency)},
		runCtx:     context.Background(),
		now:        time.Now,
	}
	if cfg.Store != nil {
		e.challenges.mirror = cfg.Store.NewMirror(store.ChallengesPrefix, e.challenges.apply)
	}
	if cfg.SnapshotPath != "" {
		e.snap = &snapshotQueue{wake: make(chan struct{}, 1), durableChanged: func(rev int64) {
			m.snapshotDurable.Set(float64(rev))
			e.wakeReporter()
		}}
	}
	e.tls = e.newTLSConfig(cfg.DefaultCert)
	if cfg.Origins == nil {
		cfg.Origins = originpolicy.New(nil)
	}
	e.proxy = e.newProxy(cfg.Origins, cfg.Resolver)
	return e
}

// Ready reports whether the first full load of the store has been applied:
// before that the edge knows no domain and would refuse everything.
func (e *Edge) Ready() bool { return e.ready.Load() }

// Applied is the last store revision applied to the index. It is set after
// the revision is visible to handshakes and requests, so a handshake that
// starts once Applied() ≥ r sees revision r or later.
func (e *Edge) Applied() int64 { return e.applied.Load() }
