package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cdnd/cdnd/internal/audit"
	"github.com/cdnd/cdnd/internal/edge/cache"
	"github.com/cdnd/cdnd/internal/server"
	"github.com/spf13/cobra"
)

// Defaults: everything on loopback, data in ./cdnd-data.
const (
	defaultDataDir   = "cdnd-data"
	defaultAPIAddr   = "127.0.0.1:7080"
	defaultHTTPSAddr = "127.0.0.1:8443"
	defaultHTTPAddr  = "127.0.0.1:8080"
	defaultAdminAddr = "127.0.0.1:7081"
	// defaultCacheDiskSize bounds the HTTP cache's disk tier.
	defaultCacheDiskSize = 1 << 30
)

const envHelp = `
Environment:
  CDND_ROOT_ACCESS_KEY_ID, CDND_ROOT_ACCESS_KEY_SECRET
      the root account's AccessKey (created on first start, kept after). Without
      them the first start generates a pair, prints it once and writes it to
      DATA_DIR/root-credentials (mode 0600).
  CDND_ADMIN_TOKEN
      bearer token of the operator API (else generated into DATA_DIR/admin.token).
  CDND_MASTER_KEY
      base64 of 32 bytes: the key that seals private keys and AccessKey secrets
      (else --master-key-file, else generated into DATA_DIR/master.key; with
      --etcd-endpoints every node must be given the same key).
  CDND_ETCD_PASSWORD
      password of --etcd-user (kept out of the process list).
  CDND_ACME_EAB_HMAC
      HMAC key (base64url) of the ACME external account binding of --acme-eab-kid.`

func serveCommand() *cobra.Command {
	return nodeCommand(server.RoleServe, "serve",
		"Run the API, the edge and the operator API in one process, with embedded storage",
		`Run cdnd: the OpenAPI gateway, the certificate and domain service, an embedded
etcd in the data directory (or an external cluster with --etcd-endpoints), the
HTTPS/HTTP edge and the operator API.`)
}

func apiCommand() *cobra.Command {
	return nodeCommand(server.RoleAPI, "api",
		"Run the OpenAPI gateway and services over an external etcd cluster (stateless; run several behind a balancer)",
		`Run the API role of a fleet: gateway, services and operator API, no edge. It
keeps no state of its own: run as many as you like behind a balancer.`)
}

func edgeCommand() *cobra.Command {
	return nodeCommand(server.RoleEdge, "edge",
		"Run an edge (data plane only) over an external etcd cluster",
		`Run the edge role of a fleet: HTTPS and HTTP for every domain, fed by a watch on
the cluster. It keeps a snapshot of what it serves in the data directory and
serves it while the cluster is unreachable, even across its own restarts.`)
}

// nodeCommand builds serve, api or edge with the flags its role uses.
func nodeCommand(role, use, short, long string) *cobra.Command {
	var cfg server.Config
	var logLevel, logFormat, endpoints, allowOrigins string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long + "\n" + envHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel, logFormat)
			if err != nil {
				return err
			}
			cfg.Role, cfg.Logger, cfg.Env, cfg.Stdout = role, log, server.EnvFromOS(), cmd.OutOrStdout()
			if endpoints != "" {
				cfg.Store.Endpoints = strings.Split(endpoints, ",")
			}
			cfg.Store.Password = os.Getenv("CDND_ETCD_PASSWORD")
			if cfg.AllowOriginCIDRs, err = parseCIDRs(allowOrigins); err != nil {
				return fmt.Errorf("--allow-origin-cidrs: %w", err)
			}
			if role != server.RoleEdge && (cfg.ACME.Orders < 1 || cfg.ACME.Orders > 1024) {
				return fmt.Errorf("--acme-orders must be between 1 and 1024, not %d", cfg.ACME.Orders)
			}
			return run(cfg, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", defaultDataDir, "directory for the embedded store, the edge snapshot and generated secrets")
	f.StringVar(&cfg.AdminAddr, "admin-addr", defaultAdminAddr, "operator API listen address (health, readiness, metrics, accounts)")
	f.StringVar(&cfg.MasterKeyFile, "master-key-file", "", "file with the sealing key(s): base64 32-byte keys, one per line, the first seals (default DATA_DIR/master.key)")
	f.StringVar(&endpoints, "etcd-endpoints", "", "comma-separated URLs of an external etcd cluster (default: embedded etcd in the data directory)")
	f.StringVar(&cfg.Store.CertFile, "etcd-cert", "", "TLS client certificate for the etcd cluster")
	f.StringVar(&cfg.Store.KeyFile, "etcd-key", "", "TLS client key for the etcd cluster")
	f.StringVar(&cfg.Store.CAFile, "etcd-ca", "", "CA that signed the etcd cluster's certificates")
	f.StringVar(&cfg.Store.Username, "etcd-user", "", "etcd user (password from CDND_ETCD_PASSWORD)")
	f.StringVar(&cfg.Store.Prefix, "etcd-prefix", "/cdnd", "key prefix, so that several installations share one cluster")
	f.StringVar(&allowOrigins, "allow-origin-cidrs", "", "comma-separated CIDRs origins may be in beyond public addresses, e.g. 10.0.0.0/8 or 127.0.0.0/8 for local tests (this node's own ports stay refused)")
	f.StringVar(&cfg.DNSResolver, "dns-resolver", "", "DNS server HOST:PORT for the names tenants give (origins, ownership checks); default the system's")
	f.IntVar(&cfg.MaxConns, "max-conns", 0, "connections each listener keeps open; more are reset at once (default: the file limit, less headroom for the store, shared by the listeners)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "text or json")
	if role != server.RoleEdge {
		f.StringVar(&cfg.APIAddr, "api-addr", defaultAPIAddr, "OpenAPI (Alibaba Cloud CDN compatible) listen address")
		f.StringVar(&cfg.CnameSuffix, "cname-suffix", "w.cdnd.localhost", "suffix of the CNAME reported for each domain")
		f.DurationVar(&cfg.AuditRetention, "audit-retention", audit.DefaultRetention, "how long the audit trail keeps a record")
		f.BoolVar(&cfg.VerifyDomainOwner, "verify-domain-owner", false, "AddCdnDomain requires the account to have verified the root domain (VerifyDomainOwner)")
		f.StringVar(&cfg.ACME.Directory, "acme-directory", "", "ACME directory URL of the CA that issues CertType=free certificates (default: none, free is refused)")
		f.StringVar(&cfg.ACME.Email, "acme-email", "", "contact e-mail of the ACME account")
		f.StringVar(&cfg.ACME.CAFile, "acme-ca-file", "", "PEM of the CA(s) that sign the ACME endpoint's TLS certificate, trusted besides the system's")
		f.StringVar(&cfg.ACME.EABKeyID, "acme-eab-kid", "", "external account binding key id (its HMAC key from CDND_ACME_EAB_HMAC)")
		f.StringSliceVar(&cfg.ACME.Challenges, "acme-challenges", []string{"http-01", "tls-alpn-01"}, "challenge types in order of preference; each retry moves to the next")
		f.DurationVar(&cfg.ACME.LockTTL, "acme-lock-ttl", 15*time.Second, "lease of this node's order locks: how soon another API node takes over the orders of one that died")
		f.DurationVar(&cfg.ACME.RetryMin, "acme-retry", time.Minute, "first pause after a failed order, doubling up to 24h (a CA's Retry-After that asks for longer wins)")
		f.IntVar(&cfg.ACME.Orders, "acme-orders", 16, "free-certificate orders this node runs at once (a bulk switch to free is worked through at this width; the CA's rate limits apply per account)")
		f.BoolVar(&cfg.ACME.VerifyCname, "verify-cname", false, "a free certificate is ordered only once the name is a CNAME of the domain's Cname (else status cname_error)")
	}
	if role != server.RoleAPI {
		f.StringVar(&cfg.HTTPSAddr, "https-addr", defaultHTTPSAddr, "edge HTTPS listen address")
		f.StringVar(&cfg.HTTPAddr, "http-addr", defaultHTTPAddr, "edge plain HTTP listen address")
		f.IntVar(&cfg.CertCacheSize, "cert-cache-size", 10000, "parsed certificates the edge keeps in memory")
		f.StringVar(&cfg.DefaultCertFile, "default-cert", "", "PEM certificate served when SNI matches no domain (default: refuse the handshake)")
		f.StringVar(&cfg.DefaultKeyFile, "default-key", "", "PEM private key of --default-cert")
		cfg.CacheMemorySize, cfg.CacheDiskSize = cache.DefaultMemoryBytes, defaultCacheDiskSize
		f.Var((*byteSize)(&cfg.CacheMemorySize), "cache-memory-size", "bytes the edge's HTTP cache keeps in memory (suffixes K, M, G, T: powers of 1024)")
		f.Var((*byteSize)(&cfg.CacheDiskSize), "cache-disk-size", "bytes the edge's HTTP cache keeps on disk in --cache-dir; 0: no disk tier")
		f.StringVar(&cfg.CacheDir, "cache-dir", "", "directory of the HTTP cache's disk tier (default DATA_DIR/cache)")
		f.StringVar(&cfg.EdgeID, "edge-id", "", "this edge's name in the fleet (default: the host name; \"local\" with embedded storage)")
	}
	return cmd
}

// run starts a node and serves until SIGINT/SIGTERM or a component fails.
func run(cfg server.Config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.Start(ctx, cfg)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted during start-up: %w", err)
	}
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-srv.Err():
	}
	// A second signal during the drain stops the process at once.
	stop()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	return err
}

func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// parseCIDRs reads a comma-separated list of CIDRs; a bare address is its
// own /32 or /128.
func parseCIDRs(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if a, err := netip.ParseAddr(item); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR", item)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
