package edge

import (
	"net/http"

	"github.com/cdnd/cdnd/internal/store"
)

// misdirected reports whether a request over TLS asks for a domain other
// than the one its connection's SNI selected. Such a request is answered
// 421 Misdirected Request (RFC 9110, Section 15.5.20), never proxied: the
// TLS session proved only the SNI domain's certificate, and the Host header
// (":authority" in HTTP/2) is the client's to choose. A browser that
// coalesces connections across names that one certificate covers (RFC
// 9113, Section 9.1.1) retries a 421 on a connection of its own, so this
// costs a legitimate client one round trip and lets no request of one
// domain (or account) travel on another's TLS session. A connection without
// SNI selected no domain, so every known Host is misdirected on it.
//
// Entries are compared by name, the index's key: the same domain replaced
// by a change between the handshake and the request is still the same
// domain.
func misdirected(r *http.Request, host *domainEntry, ix *index) bool {
	if r.TLS == nil || host == nil {
		return false
	}
	sni, ok := normalizeName(r.TLS.ServerName)
	if !ok {
		return true
	}
	if sni == host.name {
		return false
	}
	// The SNI's entry is the exact name or its wildcard: a cheap test
	// before the index lookup settles it.
	if w := store.WildcardOf(sni); w != host.name {
		return true
	}
	d := ix.domain(sni)
	return d == nil || d.name != host.name
}
