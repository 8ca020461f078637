// Package edge is cdnd's data plane: it terminates HTTPS for every
// accelerated domain with the certificate the API configured and proxies
// requests to the domain's origins.
//
// The edge never calls the API. It learns what to serve from one store
// watch (store.LoadServed, then store.WatchServed), keeps it in an
// in-memory index and reports the revision it has applied back to the store
// (store.EdgeLease), which is how the API tells that a change has reached
// the edge.
//
// The index is built for many domains per node: plain maps under one
// sync.RWMutex, changed in place one revision at a time, so a change costs
// as much as the records it touches rather than a copy of everything.
// Certificates are held as the compact records the store sends (PEM plus
// sealed key) and become a *tls.Certificate only when a handshake first
// needs one, in a bounded LRU. Starting with 100,000 domains therefore
// parses and unseals nothing.
//
// One file per concern: index.go (names → records), handshake.go (SNI →
// certificate and the domain's TLS config), settings.go (a domain's
// function configs: redirects, TLS versions, ALPN, HSTS, headers),
// certcache.go and chain.go (lazy parse, bounded cache, intermediates
// shared per CA), watch.go (store feed, applied-revision reports), proxy.go (reverse proxy and origin failover), serve.go
// (listeners), metrics.go, and the fail-static snapshot: snapshot.go (its
// two files), snapshotbase.go, journal.go, snapshotqueue.go and
// snapshotwriter.go.
package edge
