// Package server assembles one cdnd process: store, services, OpenAPI
// gateway, edge and operator API, each on its own listener. cmd/cdnd and the
// end-to-end tests start it the same way.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cdnd/cdnd/internal/admin"
	"github.com/cdnd/cdnd/internal/audit"
	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/cdn"
	"github.com/cdnd/cdnd/internal/edge"
	"github.com/cdnd/cdnd/internal/edge/cache"
	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/iam/ramapi"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/originpolicy"
	"github.com/cdnd/cdnd/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Roles a process can play.
const (
	// RoleServe runs everything in one process (the default).
	RoleServe = "serve"
	// RoleAPI runs the gateway, the services and the operator API: stateless,
	// any number behind a balancer.
	RoleAPI = "api"
	// RoleEdge runs the data plane only.
	RoleEdge = "edge"
)

// Config is what `cdnd serve`, `cdnd api` and `cdnd edge` are told.
type Config struct {
	Role string
	// Store says where etcd is: embedded in DataDir when it names no
	// endpoints.
	Store store.Config
	// EdgeID names this edge in the fleet (default: the host name; "local"
	// for serve with embedded storage).
	EdgeID        string
	DataDir       string
	APIAddr       string
	HTTPSAddr     string
	HTTPAddr      string
	AdminAddr     string
	MasterKeyFile string
	// CertCacheSize bounds the edge's parsed certificates.
	CertCacheSize int
	// DefaultCertFile and DefaultKeyFile, when set, are served to TLS
	// clients whose SNI matches no domain.
	DefaultCertFile string
	DefaultKeyFile  string
	CnameSuffix     string
	// DNSResolver is the DNS server (HOST:PORT) that resolves names tenants
	// give cdnd; empty means the system's.
	DNSResolver string
	// VerifyDomainOwner makes AddCdnDomain require a verified root domain
	// (VerifyDomainOwner) of the calling account.
	VerifyDomainOwner bool
	// AllowOriginCIDRs are the ranges origins may have beyond the globally
	// reachable addresses (--allow-origin-cidrs): an operator's private
	// origins, or loopback for local tests. The node's own listeners and
	// etcd endpoints stay refused inside them.
	AllowOriginCIDRs []netip.Prefix
	// MaxConns bounds the open connections of each listener (--max-conns);
	// 0 derives it from the process's file limit (netlimit.DefaultMaxConns).
	MaxConns int
	// AuditRetention is how long the audit trail keeps a record.
	AuditRetention time.Duration
	// CacheMemorySize bounds the edge's HTTP cache in memory, in bytes
	// (0: cache.DefaultMemoryBytes). CacheDiskSize bounds its disk tier
	// in CacheDir (default DataDir/cache); 0 means no disk tier.
	CacheMemorySize int64
	CacheDiskSize   int64
	CacheDir        string
	// ACME configures free certificates (CertType=free) on API nodes;
	// without a Directory they are refused.
	ACME ACMEConfig
	// Env holds the CDND_* environment values.
	Env Env
	// Logger receives every log line; nil means slog.Default().
	Logger *slog.Logger
	// Stdout receives the root credentials generated on a first start.
	Stdout io.Writer
}

// Env is the configuration that comes from the environment because it is
// secret.
type Env struct {
	RootAccessKeyID     string // CDND_ROOT_ACCESS_KEY_ID
	RootAccessKeySecret string // CDND_ROOT_ACCESS_KEY_SECRET
	AdminToken          string // CDND_ADMIN_TOKEN
	MasterKey           string // CDND_MASTER_KEY
	ACMEEABHMAC         string // CDND_ACME_EAB_HMAC
}

// EnvFromOS reads Env from the process environment.
func EnvFromOS() Env {
	return Env{
		RootAccessKeyID:     os.Getenv("CDND_ROOT_ACCESS_KEY_ID"),
		RootAccessKeySecret: os.Getenv("CDND_ROOT_ACCESS_KEY_SECRET"),
		AdminToken:          os.Getenv("CDND_ADMIN_TOKEN"),
		MasterKey:           os.Getenv("CDND_MASTER_KEY"),
		ACMEEABHMAC:         os.Getenv("CDND_ACME_EAB_HMAC"),
	}
}

// Server is a running cdnd.
type Server struct {
	// Bound addresses (useful when the config asked for port 0).
	APIAddr, HTTPSAddr, HTTPAddr, AdminAddr net.Addr
	// AdminToken is the operator API's bearer token.
	AdminToken string

	log     *slog.Logger
	lock    *os.File // the data directory's, held until Shutdown
	origins *originpolicy.Policy
	store   *store.Store
	edge    *edge.Edge
	trail   *audit.Trail // nil without the API role
	// httpCache is the edge's HTTP cache, closed (its disk writes done)
	// once the edge has stopped.
	httpCache *cache.Cache
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	http      []*http.Server
	// calls counts API and operator calls in flight, so that the store
	// outlives them.
	calls    sync.WaitGroup
	stopOnce sync.Once
	errs     chan error
}

// Start opens everything and serves in the background until Shutdown.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if (cfg.Env.RootAccessKeyID == "") != (cfg.Env.RootAccessKeySecret == "") {
		return nil, errors.New("set both CDND_ROOT_ACCESS_KEY_ID and CDND_ROOT_ACCESS_KEY_SECRET, or neither")
	}
	if err := os.MkdirAll(cfg.DataDir, dataDirPerm); err != nil {
		return nil, err
	}
	if cfg.Role == "" {
		cfg.Role = RoleServe
	}
	external := len(cfg.Store.Endpoints) > 0
	if cfg.Role != RoleServe && !external {
		return nil, fmt.Errorf("cdnd %s needs --etcd-endpoints: only serve embeds etcd", cfg.Role)
	}
	if external && cfg.Env.MasterKey == "" && cfg.MasterKeyFile == "" {
		// A key generated per node would seal what no other node can open.
		return nil, errors.New("with --etcd-endpoints every node must share the master key: set CDND_MASTER_KEY or --master-key-file")
	}
	var defaultCert *tls.Certificate
	if cfg.DefaultCertFile != "" {
		c, err := tls.LoadX509KeyPair(cfg.DefaultCertFile, cfg.DefaultKeyFile)
		if err != nil {
			return nil, fmt.Errorf("default certificate: %w", err)
		}
		defaultCert = &c
	}
	// The lock, then every port: a node that cannot have both creates
	// nothing (no secret generated or printed, no store, no account).
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	lns, err := bindListeners(cfg, reg)
	if err != nil {
		lock.Close()
		return nil, err
	}
	s := &Server{log: log, lock: lock, errs: make(chan error, 8), origins: originpolicy.New(cfg.AllowOriginCIDRs)}
	for _, ln := range lns.all() {
		s.origins.AddOwnAddr(ln.Addr().String())
	}
	fail := func(err error) (*Server, error) {
		lns.close()
		s.Shutdown(context.Background())
		return nil, err
	}
	kr, err := loadKeyring(cfg.Env.MasterKey, cfg.MasterKeyFile, cfg.DataDir, log)
	if err != nil {
		return fail(err)
	}
	if s.AdminToken, _, err = loadAdminToken(cfg.Env.AdminToken, cfg.DataDir); err != nil {
		return fail(fmt.Errorf("admin token: %w", err))
	}
	cfg.Store.DataDir, cfg.Store.Logger = cfg.DataDir, log
	if s.store, err = store.Open(ctx, cfg.Store); err != nil {
		return fail(err)
	}
	s.addOwnEndpoints(ctx, cfg.Store.Endpoints, newResolver(cfg.DNSResolver))
	if err := s.start(ctx, cfg, kr, defaultCert, lns, reg); err != nil {
		return fail(err)
	}
	return s, nil
}

func (s *Server) start(ctx context.Context, cfg Config, kr *keyring.Keyring, defaultCert *tls.Certificate, lns *listeners, reg *prometheus.Registry) error {
	adminCfg := admin.Config{Token: s.AdminToken, Store: s.store, Gatherer: reg, Logger: s.log, Ready: s.ready}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel

	var gw http.Handler
	if cfg.Role != RoleEdge {
		g, err := s.startAPI(ctx, runCtx, cfg, kr, reg, &adminCfg)
		if err != nil {
			return err
		}
		gw = g
	}
	if cfg.Role != RoleAPI {
		id := cfg.EdgeID
		if id == "" {
			id = defaultEdgeID(cfg)
		}
		hc, err := openHTTPCache(cfg, s.log, reg)
		if err != nil {
			return err
		}
		s.httpCache = hc
		s.edge = edge.New(edge.Config{
			Store:        s.store,
			Keyring:      kr,
			EdgeID:       id,
			Logger:       s.log,
			Metrics:      reg,
			CacheSize:    cfg.CertCacheSize,
			DefaultCert:  defaultCert,
			SnapshotPath: filepath.Join(cfg.DataDir, snapshotFile),
			Origins:      s.origins,
			Resolver:     newResolver(cfg.DNSResolver),
			HTTPCache:    hc,
		})
	}

	s.APIAddr, s.HTTPSAddr, s.HTTPAddr, s.AdminAddr = addrOf(lns.api), addrOf(lns.https), addrOf(lns.http), addrOf(lns.admin)
	apiLn, httpsLn, httpLn, adminLn := lns.api, lns.https, lns.http, lns.admin

	if s.edge != nil {
		s.goRun("edge watch", func() error { return s.edge.Run(runCtx) })
		// The edge's servers stop with the others, under Shutdown's one
		// deadline.
		s.serveHTTP("https", httpsLn, s.edge.NewServer(true))
		s.serveHTTP("http", httpLn, s.edge.NewServer(false))
	}
	if gw != nil {
		s.serveHTTP("api", apiLn, &http.Server{
			Handler:           s.counted(gw),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			IdleTimeout:       120 * time.Second,
			// Certificates travel in the URL (the classic SDK puts everything
			// in the query): allow request lines of about 1 MB.
			MaxHeaderBytes: 2 << 20,
			ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		})
	}
	s.serveHTTP("admin", adminLn, &http.Server{
		Handler:           s.counted(admin.Handler(adminCfg)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second, // an idle keep-alive connection was kept forever
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	})
	s.log.Info("cdnd serving", "role", cfg.Role, "api", addrString(s.APIAddr), "https", addrString(s.HTTPSAddr),
		"http", addrString(s.HTTPAddr), "admin", addrString(s.AdminAddr), "data_dir", cfg.DataDir)
	return nil
}

// cacheDir is the default place of the HTTP cache's disk tier, in the
// data directory.
const cacheDir = "cache"

// openHTTPCache opens the edge's HTTP cache as the configuration says.
func openHTTPCache(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*cache.Cache, error) {
	cc := cache.Config{MemoryBytes: cfg.CacheMemorySize, Logger: log, Observer: edge.CacheObserver(reg)}
	if cfg.CacheDiskSize > 0 {
		cc.Dir, cc.DiskBytes = cmp.Or(cfg.CacheDir, filepath.Join(cfg.DataDir, cacheDir)), cfg.CacheDiskSize
	}
	c, err := cache.New(cc)
	if err != nil {
		return nil, fmt.Errorf("http cache: %w", err)
	}
	return c, nil
}

// snapshotFile is where an edge keeps what it serves (the base; its journal
// is snapshotFile + ".journal").
const snapshotFile = "edge-snapshot"

// startAPI builds the gateway and the services, and the operator API's
// account and domain routes.
func (s *Server) startAPI(ctx, runCtx context.Context, cfg Config, kr *keyring.Keyring, reg *prometheus.Registry, adminCfg *admin.Config) (http.Handler, error) {
	accounts := iam.New(s.store, kr)
	actx, cancel := context.WithTimeout(ctx, rootAttempt)
	err := s.ensureRoot(actx, accounts, cfg)
	cancel()
	if errors.Is(err, store.ErrUnavailable) {
		// An API node must come up with its store down, answering 503
		// like the running ones, rather than hang before it listens; the
		// root account is confirmed as soon as the store answers.
		s.log.Warn("the store is unreachable; the root account is confirmed once it answers", "err", err)
		s.goRun("root account", func() error { return s.ensureRootLater(runCtx, accounts, cfg) })
	} else if err != nil {
		return nil, err
	}
	repo := cas.New(s.store, kr)
	resolver := newResolver(cfg.DNSResolver)
	service := cdn.New(cdn.Config{Store: s.store, Certs: repo, CnameSuffix: cfg.CnameSuffix, Resolver: resolver, Keyring: kr,
		OriginClient: newOriginClient(s.origins, resolver), VerifyDomainOwner: cfg.VerifyDomainOwner, Origins: s.origins,
		FreeCerts: cfg.ACME.Directory != ""})
	if cfg.ACME.Directory != "" {
		mgr, err := newACMEManager(cfg, s.store, repo, kr, resolver, service.Cname, s.log, reg)
		if err != nil {
			return nil, err
		}
		s.goRun("acme", func() error { return mgr.Run(runCtx) })
	}
	trail := audit.New(s.store, cfg.AuditRetention, s.log)
	s.trail = trail
	peers := newPeerCount(s.store, s.log)
	gw := openapi.New(openapi.Config{
		Credentials:   accounts,
		Nonces:        s.store,
		Authorizer:    accounts,
		Auditor:       trail,
		Share:         peers.share,
		Timeout:       10 * time.Second,
		Logger:        s.log,
		Metrics:       reg,
		IsUnavailable: func(err error) bool { return errors.Is(err, store.ErrUnavailable) },
	})
	gw.Register(service.Actions()...)
	gw.Register(repo.Actions()...)
	gw.Register(ramapi.New(accounts).Actions()...)
	adminCfg.Accounts, adminCfg.CDN, adminCfg.Audit = accounts, service, trail
	s.goRun("iam mirror", func() error { accounts.Run(runCtx); return nil })
	s.goRun("api node lease", func() error { peers.run(runCtx); return nil })
	return gw, nil
}

// rootAttempt bounds each attempt to confirm the root account.
const rootAttempt = 5 * time.Second

// ensureRoot creates the root account and its AccessKey on the first start
// of an installation (printing generated credentials once), and checks them
// on later ones.
func (s *Server) ensureRoot(ctx context.Context, accounts *iam.Directory, cfg Config) error {
	root, created, err := accounts.EnsureRoot(ctx, cfg.Env.RootAccessKeyID, cfg.Env.RootAccessKeySecret)
	if err != nil {
		return fmt.Errorf("root account: %w", err)
	}
	if created && cfg.Env.RootAccessKeyID == "" {
		return announceRoot(cfg.Stdout, cfg.DataDir, root)
	}
	return nil
}

// ensureRootLater retries ensureRoot while the store is unavailable.
func (s *Server) ensureRootLater(ctx context.Context, accounts *iam.Directory, cfg Config) error {
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		actx, cancel := context.WithTimeout(ctx, rootAttempt)
		err := s.ensureRoot(actx, accounts, cfg)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			s.log.Info("root account confirmed")
			return nil
		case !errors.Is(err, store.ErrUnavailable):
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// roleAddr is addr when the role uses the listener, else none.
func roleAddr(used bool, addr string) string {
	if !used {
		return ""
	}
	return addr
}

// defaultEdgeID: one embedded-storage process is the only edge there is;
// in a fleet, the host name tells edges apart.
func defaultEdgeID(cfg Config) string {
	if len(cfg.Store.Endpoints) == 0 {
		return "local"
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "edge"
}

// ready: the edge has loaded everything (serve, edge), or the store answers
// (api).
func (s *Server) ready() bool {
	if s.edge != nil {
		return s.edge.Ready()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := s.store.ClusterID(ctx)
	return err == nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func (s *Server) goRun(name string, f func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f(); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("component stopped", "component", name, "err", err)
			s.errs <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

func (s *Server) serveHTTP(name string, ln net.Listener, srv *http.Server) {
	if ln == nil {
		return
	}
	s.http = append(s.http, srv)
	s.goRun(name, func() error {
		serve := srv.Serve
		if srv.TLSConfig != nil {
			serve = func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
		}
		if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
}

// Store is the open store, for in-process tools and tests that need to
// stand in for another node (a second edge, say).
func (s *Server) Store() *store.Store { return s.store }

// Ready is what /readyz answers.
func (s *Server) Ready() bool { return s.ready() }

// Err delivers the first failure of a component that should run forever.
func (s *Server) Err() <-chan error { return s.errs }

// Shutdown stops the node within ctx's deadline, one deadline for all of
// it: every listener stops accepting and drains in parallel; what is still
// open when ctx ends is closed; the components stop; the store is closed
// last, once the calls that were cut have returned (their contexts are
// cancelled, so they do at once) or handlerGrace has passed. Acknowledged
// writes are already durable: etcd syncs its log before it answers. It
// returns what went wrong (a drain cut short, a store that did not close
// cleanly); calling it again does nothing.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	s.stopOnce.Do(func() { errs = s.shutdown(ctx) })
	return errors.Join(errs...)
}

// handlerGrace bounds the wait, after the deadline, for calls whose
// connections were closed under them to return before the store closes.
const handlerGrace = 2 * time.Second

func (s *Server) shutdown(ctx context.Context) []error {
	var mu sync.Mutex
	var errs []error
	var drains sync.WaitGroup
	for _, srv := range s.http {
		drains.Add(1)
		go func() {
			defer drains.Done()
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
				mu.Lock()
				errs = append(errs, fmt.Errorf("drain of %s cut short: %w", srv.Addr, err))
				mu.Unlock()
			}
		}()
	}
	drains.Wait()
	if s.cancel != nil {
		s.cancel()
	}
	components := make(chan struct{})
	go func() { s.wg.Wait(); s.calls.Wait(); close(components) }()
	select {
	case <-components:
	case <-time.After(time.Until(deadlineOf(ctx)) + handlerGrace):
		errs = append(errs, errors.New("components still running when the store closes"))
	}
	if s.httpCache != nil {
		s.httpCache.Close()
	}
	if s.trail != nil {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handlerGrace)
		s.trail.Flush(fctx) // the refusals still being counted
		cancel()
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing store: %w", err))
		}
	}
	if s.lock != nil {
		s.lock.Close() // releases the flock: the directory is free again
	}
	for _, err := range errs {
		s.log.Warn("shutdown", "err", err)
	}
	return errs
}

// counted counts h's calls in s.calls. Shutdown waits for them only once
// every listener is closed, so no call starts after the wait has begun.
func (s *Server) counted(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		defer s.calls.Done()
		h.ServeHTTP(w, r)
	})
}

// deadlineOf is ctx's deadline, or now when it has none (a stop without a
// deadline waits for nothing beyond the grace).
func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now()
}

// announceRoot shows generated root credentials once and keeps them in a
// 0600 file, the only place the secret exists outside the sealed store.
func announceRoot(out io.Writer, dataDir string, c iam.Credentials) error {
	path := filepath.Join(dataDir, rootCredsFile)
	content := fmt.Sprintf("AccountId=%s\nAccessKeyId=%s\nAccessKeySecret=%s\n", c.AccountID, c.AccessKeyID, c.AccessKeySecret)
	if err := writeSecretFile(path, content); err != nil {
		return fmt.Errorf("root credentials: %w", err)
	}
	_, err := fmt.Fprintf(out, "Root account created. This is the only time the secret is shown (also kept in %s, mode 0600):\n%s", path, content)
	return err
}

// addOwnEndpoints makes the etcd cluster's client endpoints addresses no
// origin may have, whatever --allow-origin-cidrs says: an origin there would
// let a tenant read and write the store through the edge. Names are
// resolved now; one that does not resolve is skipped (the store cannot
// reach it either).
func (s *Server) addOwnEndpoints(ctx context.Context, endpoints []string, r *net.Resolver) {
	for _, e := range endpoints {
		u, err := url.Parse(e)
		if err != nil || u.Port() == "" {
			continue
		}
		port, _ := strconv.Atoi(u.Port())
		rctx, cancel := context.WithTimeout(ctx, resolverTimeout)
		addrs, err := r.LookupNetIP(rctx, "ip", u.Hostname())
		cancel()
		if err != nil {
			s.log.Warn("etcd endpoint does not resolve; origins are not checked against it", "endpoint", e, "err", err)
			continue
		}
		for _, a := range addrs {
			s.origins.AddOwn(netip.AddrPortFrom(a, uint16(port)))
		}
	}
}
