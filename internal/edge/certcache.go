package edge

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
)

// DefaultCacheSize bounds the parsed certificates kept when Config.CacheSize
// is not set.
const DefaultCacheSize = 10000

// certCache turns compact certificate records into *tls.Certificate on
// first use and keeps a bounded number of them. Unsealing a key and parsing
// a chain costs far more than a map lookup, but doing it for every record
// at start-up would make a node with 100k domains slow to start and big in
// memory for certificates nobody asks for; so it is done lazily, once per
// content, and the least recently used results are dropped.
//
// The key is the *certEntry itself: new content under the same name is a
// new entry, so a replaced certificate can never be served from the cache.
type certCache struct {
	lru     *lru.Cache[*certEntry, *tls.Certificate]
	kr      *keyring.Keyring
	log     *slog.Logger
	metrics *metrics
}

func newCertCache(size int, kr *keyring.Keyring, log *slog.Logger, m *metrics) *certCache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	c, err := lru.New[*certEntry, *tls.Certificate](size)
	if err != nil { // only for a non-positive size, excluded above
		panic(err)
	}
	return &certCache{lru: c, kr: kr, log: log, metrics: m}
}

// get returns the parsed certificate of e, parsing it if needed.
func (c *certCache) get(e *certEntry) (*tls.Certificate, error) {
	if cert, ok := c.lru.Get(e); ok {
		c.metrics.cacheHit.Inc()
		return cert, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		c.metrics.cacheError.Inc()
		return nil, e.err
	}
	// Another handshake may have parsed it while this one waited.
	if cert, ok := c.lru.Get(e); ok {
		c.metrics.cacheHit.Inc()
		return cert, nil
	}
	cert, err := c.parse(e)
	if err != nil {
		e.err = err
		c.metrics.cacheError.Inc()
		// Logged once per content (e.err is remembered). The error comes
		// from keyring or certs, neither of which quotes its input, and
		// nothing here adds key material.
		c.log.Error("edge: certificate unusable; domains bound to it get no certificate",
			"account", e.ref.account, "cert", e.ref.name, "fingerprint", e.fingerprint, "err", err)
		return nil, err
	}
	c.metrics.cacheMiss.Inc()
	c.lru.Add(e, cert)
	return cert, nil
}

// drop forgets the parsed forms of entries that left the index.
func (c *certCache) drop(entries []*certEntry) {
	for _, e := range entries {
		c.lru.Remove(e)
	}
}

// errKeyMismatch: the record's key is not the leaf's. Serving it would make
// every handshake fail at the client's signature check; refusing it here
// fails the same domains, but visibly and once.
var errKeyMismatch = errors.New("edge: private key does not match the leaf certificate")

// parse unseals the key and parses chain and key into a tls.Certificate.
// Leaf stays unset: a server that picks its certificate in GetCertificate
// never reads it, and a parsed leaf kept per cached certificate (≈2.7 KB)
// is heap the garbage collector scans on every cycle (measured: +7%
// handshakes per CPU-second at 100k cached certificates without it).
func (c *certCache) parse(e *certEntry) (*tls.Certificate, error) {
	if c.kr == nil {
		return nil, errors.New("edge: no keyring configured")
	}
	chain, err := certs.ParseChain([]byte(e.chain.String()))
	if err != nil {
		return nil, fmt.Errorf("edge: chain: %w", err)
	}
	keyPEM, err := c.kr.Open(e.key, store.CertKeyAAD(e.ref.account, e.ref.name))
	if err != nil {
		return nil, fmt.Errorf("edge: unseal key: %w", err)
	}
	key, err := certs.ParseKey(keyPEM)
	clear(keyPEM) // best effort: do not leave the plaintext PEM on the heap
	if err != nil {
		return nil, fmt.Errorf("edge: key: %w", err)
	}
	if !certs.KeyMatches(chain.Leaf, key) {
		return nil, errKeyMismatch
	}
	return &tls.Certificate{
		Certificate: chain.DER,
		PrivateKey:  key,
	}, nil
}
