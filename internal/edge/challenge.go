package edge

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mholt/acmez/v3"
	"github.com/mholt/acmez/v3/acme"

	"github.com/cdnd/cdnd/internal/store"
)

// The edge answers ACME challenges for the free certificates an API node
// orders (internal/acme), from the answers that node publishes in the
// store: whichever edge the CA reaches answers, whichever node ordered. The
// edge never talks to a CA.
const (
	// http01Prefix is where a CA fetches an HTTP-01 key authorization
	// (RFC 8555 section 8.3).
	http01Prefix = "/.well-known/acme-challenge/"
	// acmeTLSProto is the ALPN protocol of TLS-ALPN-01 (RFC 8737 section 6.2).
	acmeTLSProto = "acme-tls/1"
)

// challenges are the published answers by domain, fed by a store mirror.
type challenges struct {
	// mirror follows the answers in the store; nil without a store.
	mirror *store.Mirror

	mu sync.RWMutex
	m  map[string]*challengeEntry

	// waiting holds a slot per request waiting in await: anyone may ask
	// for any token of any host, so the waits are bounded in number, not
	// only in time. A CA validates a node's few concurrent orders.
	waiting chan struct{}
}

// maxChallengeWaiters bounds the requests that wait for an answer at once;
// past it, a request for an answer the edge does not have is answered at
// once.
const maxChallengeWaiters = 64

// challengeWait is how long a request for an answer the edge does not have
// waits for its watch to bring it: the CA may come as soon as the ordering
// node's write commits, before the watch delivers it here (1,000 orders at
// once lost 3 validations to that). Bounded, and spent only on requests
// for the challenge path or the acme-tls/1 protocol.
const challengeWait = time.Second

// await returns the domain's answer if it matches, waiting for the watch
// (at most challengeWait) when it does not yet.
func (c *challenges) await(domain string, match func(*challengeEntry) bool) *challengeEntry {
	var timeout <-chan time.Time
	for {
		var changed <-chan struct{}
		if c.mirror != nil {
			_, changed = c.mirror.Progress()
		}
		if ch := c.get(domain); ch != nil && match(ch) {
			return ch
		}
		if changed == nil {
			return nil
		}
		if timeout == nil {
			select {
			case c.waiting <- struct{}{}:
				defer func() { <-c.waiting }()
			default:
				return nil // as many waiting as may
			}
			t := time.NewTimer(challengeWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return nil
		}
	}
}

type challengeEntry struct {
	store.Challenge
	domain string
	once   sync.Once
	cert   *tls.Certificate // TLS-ALPN-01's, made on first use
}

func newChallenges() *challenges {
	return &challenges{m: map[string]*challengeEntry{}, waiting: make(chan struct{}, maxChallengeWaiters)}
}

// apply is the mirror's: the whole prefix on reset, else one batch.
func (c *challenges) apply(reset bool, kvs []store.RawKV) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reset {
		c.m = map[string]*challengeEntry{}
	}
	for _, kv := range kvs {
		domain := store.DomainOfChallenge(kv.Key)
		var ch store.Challenge
		if kv.Value == nil || json.Unmarshal(kv.Value, &ch) != nil {
			delete(c.m, domain)
			continue
		}
		c.m[domain] = &challengeEntry{Challenge: ch, domain: domain}
	}
}

func (c *challenges) get(domain string) *challengeEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[domain]
}

// serveHTTP01 answers a request for the challenge path: the key
// authorization when the token is the one published for the host, else
// 404. Such a request never reaches the domain's origin, so an origin
// cannot answer for cdnd (nor a visitor reach it on that path).
func (c *challenges) serveHTTP01(w http.ResponseWriter, host, path string) {
	name, ok := normalizeName(host)
	var ch *challengeEntry
	if ok && len(path) > len(http01Prefix) {
		ch = c.await(name, func(ch *challengeEntry) bool { return path == http01Prefix+ch.Token })
	}
	if ch == nil {
		plainError(w, "cdnd: no such challenge", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, ch.KeyAuth)
}

// tlsALPN01Config is the handshake config of a client that offers
// acme-tls/1: the challenge certificate of the name, and only that
// protocol (RFC 8737 section 3: such a connection carries no application
// data). With no challenge published, the handshake is refused
// (unrecognized_name, see newTLSConfig), never answered with the domain's
// real certificate.
func (c *challenges) tlsALPN01Config(hello *tls.ClientHelloInfo) *tls.Config {
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12, // RFC 8737 section 4
		NextProtos:     []string{acmeTLSProto},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil },
	}
	name, ok := normalizeName(hello.ServerName)
	if !ok {
		return cfg
	}
	ch := c.await(name, func(*challengeEntry) bool { return true })
	if ch == nil {
		return cfg
	}
	ch.once.Do(func() {
		// An error leaves cert nil: the handshake is refused and the CA
		// reports the failure to the ordering node.
		ch.cert, _ = acmez.TLSALPN01ChallengeCert(acme.Challenge{
			Identifier:       acme.Identifier{Type: "dns", Value: ch.domain},
			KeyAuthorization: ch.KeyAuth,
		})
	})
	if ch.cert != nil {
		cert := ch.cert
		cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return cfg
}

// offersACMETLS: a CA validating TLS-ALPN-01 offers acme-tls/1 as its only
// protocol (RFC 8737 section 3); a client that offers others beside it
// gets the domain's ordinary handshake.
func offersACMETLS(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeTLSProto
}

func isHTTP01(path string) bool { return strings.HasPrefix(path, http01Prefix) }
