package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// Config says where the data lives.
type Config struct {
	// DataDir holds the embedded etcd member (in DataDir/etcd) when Endpoints is empty.
	DataDir string
	// Endpoints of an external etcd cluster; empty means embedded.
	Endpoints []string
	// Prefix is prepended to every key so that several installations (or
	// tests) can share one cluster. Default "/cdnd".
	Prefix string
	// Logger receives etcd's own warnings; nil means slog.Default().
	Logger *slog.Logger
	// TLS client certificate, key and CA of an external cluster (all
	// optional), and its user and password when it has auth enabled.
	CertFile, KeyFile, CAFile string
	Username, Password        string

	// clientListener gives the embedded member a client port on loopback,
	// for this package's tests of a second client over one member; cdnd
	// itself never opens one.
	clientListener bool
}

// Store is an open connection to etcd plus the key layout.
type Store struct {
	cli    *clientv3.Client
	etcd   *embed.Etcd // nil when external
	prefix string      // e.g. "/cdnd/v1/"
	nonces *nonceLeases
	// retained shares leases among audit records, purges among purge
	// records (a pool per time to live: one pool alternating between two
	// would grant a lease per call).
	retained *nonceLeases
	purges   *nonceLeases
	// closing silences the embedded member's shutdown noise.
	closing *atomic.Bool
	// derived stores (WithPrefix) share the client and do not close it.
	derived bool
	log     *slog.Logger
	// background runs the store's own watches (see reportsView); Close
	// ends it before the client goes.
	background context.Context
	stop       context.CancelFunc

	reportsOnce sync.Once
	reports     *reportsView
}

// Open starts the embedded etcd member (or connects to the external cluster)
// and returns a Store ready for use.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "/cdnd"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Store{prefix: cfg.Prefix + "/v1/", closing: new(atomic.Bool), log: cfg.Logger}
	if len(cfg.Endpoints) > 0 {
		ccfg := clientv3.Config{
			Endpoints:   cfg.Endpoints,
			DialTimeout: 5 * time.Second,
			Username:    cfg.Username,
			Password:    cfg.Password,
			Logger:      newEtcdLogger(cfg.Logger, s.closing),
			// gRPC's own reconnect backoff grows to 2 minutes: after a long
			// outage an edge would retry every second against a connection
			// that is not even attempted. Cap it at a second too.
			DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
				MinConnectTimeout: 5 * time.Second,
			})},
		}
		// clientv3 logs in inside New and fails when no member answers,
		// which would keep an edge from starting (and serving its snapshot)
		// during an outage. While New runs, the login is answered "auth
		// not enabled"; the first call the cluster then refuses for want of
		// a token (ErrUserEmpty) makes clientv3 log in for real.
		starting := new(atomic.Bool)
		if cfg.Username != "" {
			starting.Store(true)
			ccfg.DialOptions = append(ccfg.DialOptions, grpc.WithChainUnaryInterceptor(deferLogin(starting)))
		}
		if cfg.CertFile != "" || cfg.CAFile != "" {
			info := transport.TLSInfo{CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, TrustedCAFile: cfg.CAFile}
			tlsCfg, err := info.ClientConfig()
			if err != nil {
				return nil, fmt.Errorf("store: etcd TLS: %w", err)
			}
			ccfg.TLS = tlsCfg
		}
		// The client connects lazily: an edge starts (and serves its
		// snapshot) while the cluster is unreachable.
		cli, err := clientv3.New(ccfg)
		starting.Store(false)
		if err != nil {
			return nil, fmt.Errorf("store: connect to %v: %w", cfg.Endpoints, err)
		}
		s.cli = cli
	} else {
		e, err := startEmbedded(ctx, filepath.Join(cfg.DataDir, "etcd"), newEtcdLogger(cfg.Logger, s.closing), cfg.clientListener)
		if err != nil {
			return nil, err
		}
		s.etcd = e
		s.cli = v3client.New(e.Server)
	}
	s.nonces = &nonceLeases{cli: s.cli}
	s.retained = &nonceLeases{cli: s.cli}
	s.purges = &nonceLeases{cli: s.cli}
	s.background, s.stop = context.WithCancel(context.Background())
	return s, nil
}

// startEmbedded runs a single etcd member without a listener: cdnd reaches
// it in-process through v3client, so nothing outside the process can, and
// two cdnd processes never collide on a port.
func startEmbedded(ctx context.Context, dir string, log *zap.Logger, clientListener bool) (*embed.Etcd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// No listener at all: cdnd reaches the member in-process (v3client),
	// and a single member never dials its peer URL, which is advertised
	// only because a member must have one. A TCP port, even on loopback,
	// is reachable by every local process and, through an origin that
	// points there, by a tenant: the whole store to read and write.
	unused := url.URL{Scheme: "http", Host: "127.0.0.1:1"}
	cfg := embed.NewConfig()
	cfg.Name = "cdnd"
	cfg.Dir = dir
	cfg.ListenPeerUrls = nil
	cfg.AdvertisePeerUrls = []url.URL{unused}
	cfg.ListenClientUrls = nil
	cfg.ListenClientHttpUrls = nil
	cfg.AdvertiseClientUrls = []url.URL{unused}
	if clientListener {
		loopback := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{loopback}, []url.URL{loopback}
	}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(log)
	// embed.NewConfig leaves this at 0, which makes every request through
	// the client listener "expensive" and logs it as a warning.
	cfg.WarningUnaryRequestDuration = embed.DefaultWarningUnaryRequestDuration
	// Keep history for watchers that fall behind, but not forever.
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "1h"
	cfg.QuotaBackendBytes = 8 << 30
	// Snapshot the raft log more often than etcd's default, so that a
	// restart replays fewer entries (measured with 100k domains: thousands
	// of "too many requests" retries while a long log replays).
	cfg.SnapshotCount = 4000
	// etcd decodes every retained WAL segment (64 MB each) at start to find
	// its snapshots: 0.4 s of CPU at the default of five, at 100k domains.
	// Segments the last snapshot still needs stay locked and are never
	// purged, so keeping fewer loses nothing.
	cfg.MaxWalFiles = 2
	// A single member elects itself only after a randomised election
	// timeout (etcd fast-forwards all but one tick of it): 0.1–1 s with the
	// default 100 ms ticks, most of a start-up at 10k domains. Nothing
	// crosses a network here, so ticks of 10 ms cost nothing and bring
	// that down to 10–100 ms.
	cfg.TickMs, cfg.ElectionMs = 10, 100
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("store: start embedded etcd in %s: %w", dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("store: embedded etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, errors.New("store: embedded etcd did not become ready within 60s")
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
}

// deferLogin answers clientv3's login in New with "auth not enabled" while
// starting is set, without asking the cluster.
func deferLogin(starting *atomic.Bool) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if starting.Load() && method == "/etcdserverpb.Auth/Authenticate" {
			return rpctypes.ErrGRPCAuthNotEnabled
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// WithPrefix returns a Store sharing s's connection whose keys live under
// another prefix. Tests use it to isolate themselves on one etcd.
func (s *Store) WithPrefix(prefix string) *Store {
	return &Store{cli: s.cli, prefix: prefix + "/v1/", nonces: s.nonces, retained: s.retained, purges: s.purges, closing: s.closing, derived: true, log: s.log, background: s.background, stop: s.stop}
}

// Close releases the client and stops the embedded member, if any. Closing
// a store made by WithPrefix does nothing: the parent owns the connection.
func (s *Store) Close() error {
	if s.derived {
		return nil
	}
	s.closing.Store(true)
	s.stop()
	err := s.cli.Close()
	if errors.Is(err, context.Canceled) {
		err = nil // the client reports its own shutdown so
	}
	if s.etcd != nil {
		s.etcd.Close()
	}
	return err
}

// Revision returns the store's current revision: the point up to which
// every acknowledged write is visible.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	resp, err := s.cli.Get(lead(ctx), s.prefix+"rev", clientv3.WithCountOnly())
	if err != nil {
		return 0, wrap(err)
	}
	return resp.Header.Revision, nil
}

// lead makes an operation fail at once when the cluster has no leader (no
// quorum) instead of waiting for one: the API answers 503 and the client
// retries, rather than hanging.
func lead(ctx context.Context) context.Context { return clientv3.WithRequireLeader(ctx) }

// ClusterID identifies the etcd cluster: revisions of one cluster mean
// nothing in another, so a snapshot taken from one is not resumed on
// another.
func (s *Store) ClusterID(ctx context.Context) (uint64, error) {
	resp, err := s.cli.Get(lead(ctx), s.prefix+"rev", clientv3.WithCountOnly())
	if err != nil {
		return 0, wrap(err)
	}
	return resp.Header.ClusterId, nil
}
