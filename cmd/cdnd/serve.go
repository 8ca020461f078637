package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cdnd/cdnd/internal/audit"
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
)

func serveCommand() *cobra.Command {
	var cfg server.Config
	var logLevel, logFormat string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API, the edge and the operator API in one process, with embedded storage",
		Long: `Run cdnd: the OpenAPI gateway, the certificate and domain service, an embedded
etcd in the data directory, the HTTPS/HTTP edge and the operator API.

Environment:
  CDND_ROOT_ACCESS_KEY_ID, CDND_ROOT_ACCESS_KEY_SECRET
      the root account's AccessKey (created on first start, kept after). Without
      them the first start generates a pair, prints it once and writes it to
      DATA_DIR/root-credentials (mode 0600).
  CDND_ADMIN_TOKEN
      bearer token of the operator API (else generated into DATA_DIR/admin.token).
  CDND_MASTER_KEY
      base64 of 32 bytes: the key that seals private keys and AccessKey secrets
      (else --master-key-file, else generated into DATA_DIR/master.key).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel, logFormat)
			if err != nil {
				return err
			}
			cfg.Logger, cfg.Env, cfg.Stdout = log, server.EnvFromOS(), cmd.OutOrStdout()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv, err := server.Start(ctx, cfg)
			if err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				log.Info("shutting down")
			case err = <-srv.Err():
			}
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			srv.Shutdown(shutdownCtx)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", defaultDataDir, "directory for the embedded store and generated secrets")
	f.StringVar(&cfg.APIAddr, "api-addr", defaultAPIAddr, "OpenAPI (Alibaba Cloud CDN compatible) listen address")
	f.StringVar(&cfg.HTTPSAddr, "https-addr", defaultHTTPSAddr, "edge HTTPS listen address")
	f.StringVar(&cfg.HTTPAddr, "http-addr", defaultHTTPAddr, "edge plain HTTP listen address")
	f.StringVar(&cfg.AdminAddr, "admin-addr", defaultAdminAddr, "operator API listen address (health, readiness, metrics, accounts)")
	f.StringVar(&cfg.MasterKeyFile, "master-key-file", "", "file with the sealing key(s): base64 32-byte keys, one per line, the first seals (default DATA_DIR/master.key)")
	f.IntVar(&cfg.CertCacheSize, "cert-cache-size", 10000, "parsed certificates the edge keeps in memory")
	f.StringVar(&cfg.DefaultCertFile, "default-cert", "", "PEM certificate served when SNI matches no domain (default: refuse the handshake)")
	f.StringVar(&cfg.DefaultKeyFile, "default-key", "", "PEM private key of --default-cert")
	f.StringVar(&cfg.CnameSuffix, "cname-suffix", "w.cdnd.localhost", "suffix of the CNAME reported for each domain")
	f.DurationVar(&cfg.AuditRetention, "audit-retention", audit.DefaultRetention, "how long the audit trail keeps a record")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "text or json")
	return cmd
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
