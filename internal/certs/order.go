package certs

import (
	"bytes"
	"crypto/x509"
)

// orderChain puts distinct certificates in the order a TLS server sends
// them: the leaf, then its issuer, then that one's issuer, and so on as far
// as the set allows; certificates that are not on that path keep their input
// order at the end.
//
// The leaf is a certificate that issued no other certificate in the set.
// When several qualify (an unrelated certificate was pasted too, or an
// intermediate whose issued certificate is missing), a non-CA certificate is
// preferred, then the earliest in the input. When none qualifies (a cycle of
// cross-signed names), the same preference applies to all of them.
//
// "Issued" is decided on names and key identifiers, as path builders do, and
// not on signatures: this keeps ordering cheap and deterministic; whether a
// chain verifies is a separate question. The ordering is idempotent: feeding
// the result back in yields the same order, which EncodeChain relies on.
func orderChain(certs []*x509.Certificate) []*x509.Certificate {
	if len(certs) < 2 {
		return certs
	}
	leaf := pickLeaf(certs)
	used := make([]bool, len(certs))
	used[leaf] = true
	out := []*x509.Certificate{certs[leaf]}
	for cur := leaf; ; {
		next := -1
		for j, c := range certs {
			if !used[j] && issued(c, certs[cur]) {
				next = j
				break
			}
		}
		if next < 0 {
			break
		}
		used[next] = true
		out = append(out, certs[next])
		cur = next
	}
	for j, c := range certs {
		if !used[j] {
			out = append(out, c)
		}
	}
	return out
}

// pickLeaf returns the index of the certificate to serve first.
func pickLeaf(certs []*x509.Certificate) int {
	isIssuer := make([]bool, len(certs))
	for i, parent := range certs {
		for j, child := range certs {
			if i != j && issued(parent, child) {
				isIssuer[i] = true
				break
			}
		}
	}
	best := -1
	for pass := 0; pass < 2 && best < 0; pass++ {
		// Pass 0 considers only certificates that issued nothing in the
		// set; pass 1, reached only for cycles, considers all.
		for i, c := range certs {
			if pass == 0 && isIssuer[i] {
				continue
			}
			if best < 0 || (certs[best].IsCA && !c.IsCA) {
				best = i
			}
		}
	}
	return best
}

// issued reports whether parent looks like the issuer of child: parent's
// subject is child's issuer and, when both carry them, the key identifiers
// agree. A certificate never counts as its own issuer.
func issued(parent, child *x509.Certificate) bool {
	if parent == child || !bytes.Equal(parent.RawSubject, child.RawIssuer) {
		return false
	}
	if len(parent.SubjectKeyId) > 0 && len(child.AuthorityKeyId) > 0 {
		return bytes.Equal(parent.SubjectKeyId, child.AuthorityKeyId)
	}
	return true
}
