package edge

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"unique"

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
	lru *lru.Cache[*certEntry, *tls.Certificate]
	// intermediates holds the decoded DER of each distinct run of
	// intermediates, so that every parsed certificate of one CA shares it
	// as the compact records do (compactChain).
	intermediates *lru.Cache[unique.Handle[string], [][]byte]
	kr            *keyring.Keyring
	log           *slog.Logger
	metrics       *metrics
}

// intermediateRuns bounds the distinct runs of intermediates kept decoded:
// one per CA (and per CA generation) in use, a few dozen in practice.
const intermediateRuns = 1024

func newCertCache(size int, kr *keyring.Keyring, log *slog.Logger, m *metrics) *certCache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	c, err := lru.New[*certEntry, *tls.Certificate](size)
	if err != nil { // only for a non-positive size, excluded above
		panic(err)
	}
	inter, err := lru.New[unique.Handle[string], [][]byte](intermediateRuns)
	if err != nil {
		panic(err)
	}
	return &certCache{lru: c, intermediates: inter, kr: kr, log: log, metrics: m}
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

// parse unseals the key and turns chain and key into a tls.Certificate.
//
// The chain is only PEM-decoded, not parsed: the API stored it validated
// and in serving order (leaf first), and a server that picks its
// certificate in GetCertificate needs the DER and the key, nothing else.
// Parsing the leaf and the CA with crypto/x509 was half the cost of a cache
// miss. The key is still checked against the leaf's public key info, so a
// damaged record is refused here, once, rather than failing every
// handshake at the client. Leaf stays unset for the same reason: a parsed
// leaf kept per cached certificate (≈2.7 KB) is heap the garbage collector
// scans on every cycle.
func (c *certCache) parse(e *certEntry) (*tls.Certificate, error) {
	if c.kr == nil {
		return nil, errors.New("edge: no keyring configured")
	}
	leaf, err := certificatesDER(e.chain.leaf)
	if err == nil && len(leaf) != 1 {
		err = fmt.Errorf("%d certificates where the leaf should be", len(leaf))
	}
	if err != nil {
		return nil, fmt.Errorf("edge: chain: %w", err)
	}
	rest, err := c.intermediatesOf(e.chain.rest)
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
	if !certs.KeyMatchesDER(leaf[0], key) {
		return nil, errKeyMismatch
	}
	return &tls.Certificate{
		Certificate: append(leaf, rest...),
		PrivateKey:  key,
	}, nil
}

// intermediatesOf returns the decoded DER of a run of intermediates, shared
// with every certificate that carries the same run.
func (c *certCache) intermediatesOf(run unique.Handle[string]) ([][]byte, error) {
	if der, ok := c.intermediates.Get(run); ok {
		return der, nil
	}
	der, err := certificatesDER(run.Value())
	if err != nil {
		return nil, err
	}
	// Capacity = length, so appending to it (as parse does, after the
	// leaf) can never write into the shared array.
	der = slices.Clip(der)
	c.intermediates.Add(run, der)
	return der, nil
}
