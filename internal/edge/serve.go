package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server limits. Visitors are strangers: a slow or oversized request
// header must not hold a connection (Slowloris), idle keep-alive
// connections are closed eventually, and a stop drains for a bounded time.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	shutdownTimeout   = 10 * time.Second
)

// Serve serves the HTTPS listener (TLSConfig, HTTP/2 via ALPN) and the
// plain HTTP listener with Handler until ctx ends; either listener may be
// nil. When ctx ends it stops accepting and drains in-flight requests for
// up to 10s, then returns nil. If a listener fails, both servers are shut
// down and the error is returned.
func (e *Edge) Serve(ctx context.Context, httpsLn, httpLn net.Listener) error {
	type result struct {
		name string
		err  error
	}
	var servers []*http.Server
	done := make(chan result, 2)
	start := func(name string, srv *http.Server, serve func() error) {
		servers = append(servers, srv)
		go func() { done <- result{name, serve()} }()
	}
	if httpsLn != nil {
		srv := e.NewServer(true)
		start("https", srv, func() error { return srv.ServeTLS(httpsLn, "", "") })
	}
	if httpLn != nil {
		srv := e.NewServer(false)
		start("http", srv, func() error { return srv.Serve(httpLn) })
	}
	if len(servers) == 0 {
		return errors.New("edge: Serve needs at least one listener")
	}

	var failed error
	running := len(servers)
	select {
	case <-ctx.Done():
	case r := <-done:
		running--
		if !errors.Is(r.err, http.ErrServerClosed) {
			failed = errors.Join(failed, fmt.Errorf("edge: %s listener: %w", r.name, r.err))
		}
	}

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			// Drain time is up: cut what is left rather than hang.
			e.log.Warn("edge: graceful shutdown incomplete; closing connections", "err", err)
			_ = srv.Close()
		}
	}
	for ; running > 0; running-- {
		if r := <-done; r.err != nil && !errors.Is(r.err, http.ErrServerClosed) {
			failed = errors.Join(failed, fmt.Errorf("edge: %s listener: %w", r.name, r.err))
		}
	}
	return failed
}

// NewServer is the http.Server of one of the edge's listeners, for a
// caller that serves it and shuts it down itself (Serve does both): with
// tls, the HTTPS one, to be served with ServeTLS(ln, "", ""), which
// configures HTTP/2 (TLSConfig already offers h2) and takes certificates
// from GetCertificate.
func (e *Edge) NewServer(tls bool) *http.Server {
	srv := &http.Server{
		Handler:           e.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// TLS handshake failures (unknown names, scanners) are routine at an
		// edge; keep them out of warnings.
		ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	if tls {
		srv.TLSConfig = e.TLSConfig()
	}
	return srv
}
