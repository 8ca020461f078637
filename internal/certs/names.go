package certs

import (
	"crypto/x509"
	"strings"

	"github.com/cdnd/cdnd/internal/ascii"
)

// Names returns the DNS names the leaf covers, as cdnd lists and matches
// them: the SAN DNS names, lower-cased and deduplicated in their order; the
// Subject CN only when there are no SAN DNS names and the CN looks like a
// host name (legacy certificates), since a CN such as "My Company" names
// nothing a client could ask for.
func Names(leaf *x509.Certificate) []string {
	if leaf == nil {
		return nil
	}
	src := leaf.DNSNames
	if len(src) == 0 {
		cn := leaf.Subject.CommonName
		if !looksLikeHostPattern(cn) {
			return nil
		}
		src = []string{cn}
	}
	out := make([]string, 0, len(src))
	seen := make(map[string]bool, len(src))
	for _, n := range src {
		n = ascii.Lower(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

// Covers reports whether the certificate name pattern ("example.com" or
// "*.example.com") covers host.
//
// Matching is case-insensitive (ASCII only, as DNS is: Unicode case folding
// would let "\u212a.com" match "k.com") and ignores one trailing dot. A
// wildcard stands for exactly one whole label: "*.example.com" covers
// "a.example.com" but neither "example.com" nor "a.b.example.com", and
// partial wildcards ("w*.example.com") cover nothing, as in browsers.
//
// Host may also be a CDN wildcard domain, which Alibaba writes with a
// leading dot (".example.com", or in SAN form "*.example.com"): only the
// wildcard certificate name for the same parent covers it, since a single
// name cannot serve every subdomain.
//
// IDNs are compared as given; callers pass A-labels ("xn--..."), which is
// what certificates and SNI carry.
func Covers(pattern, host string) bool {
	pattern = normalise(pattern)
	host = normalise(host)
	if !validName(pattern) || !validName(host) {
		return false
	}
	if base, ok := strings.CutPrefix(host, "."); ok {
		host = "*." + base
	}
	if pattern == host {
		return true
	}
	base, ok := strings.CutPrefix(pattern, "*.")
	if !ok || strings.HasPrefix(host, "*.") {
		return false
	}
	_, rest, ok := strings.Cut(host, ".")
	return ok && rest == base
}

// CoversAny reports whether any of names covers host.
func CoversAny(names []string, host string) bool {
	for _, n := range names {
		if Covers(n, host) {
			return true
		}
	}
	return false
}

// normalise lower-cases name and drops one trailing dot.
func normalise(name string) string {
	return ascii.Lower(strings.TrimSuffix(name, "."))
}

// validName reports whether a normalised name is usable for matching: no
// empty label, and a "*" only as the whole first label ("*.example.com") or
// in the CDN form (".example.com", where the empty first label stands for
// the wildcard). Characters are not checked further: a name that no client
// can send simply never matches.
func validName(name string) bool {
	rest := name
	if r, ok := strings.CutPrefix(name, "*."); ok {
		rest = r
	} else if r, ok := strings.CutPrefix(name, "."); ok {
		rest = r
	}
	if rest == "" || strings.Contains(rest, "*") {
		return false
	}
	for _, label := range strings.Split(rest, ".") {
		if label == "" {
			return false
		}
	}
	return true
}

// looksLikeHostPattern reports whether s is a host name or a "*." wildcard
// over one: ASCII letters, digits, "-" and "_" in non-empty labels, with an
// optional trailing dot.
func looksLikeHostPattern(s string) bool {
	s = strings.TrimPrefix(strings.TrimSuffix(s, "."), "*.")
	if s == "" {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
