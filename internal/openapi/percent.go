package openapi

import "strings"

// Alibaba's canonical strings (v1 string-to-sign, V3 canonical query) use strict
// RFC 3986 encoding rather than form encoding: a client and the server must agree
// on every byte, so the rule is spelled out here once instead of being derived
// from net/url's escaping plus a chain of replacements.

const pctUpperHex = "0123456789ABCDEF"

// pctUnreserved is a lookup table because encoding runs over every byte of every
// parameter (certificate PEMs included) on each signed request.
var pctUnreserved = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['_'], t['.'], t['~'] = true, true, true, true
	return t
}()

// PercentEncode is Alibaba's RFC 3986 encoding used in canonical strings:
// unreserved A-Z a-z 0-9 - _ . ~ literal, every other byte %XY upper-case hex
// (space -> %20, * -> %2A). Byte-wise over UTF-8.
//
// It works on bytes, not runes, so invalid UTF-8 is encoded faithfully instead of
// being replaced: the signature must cover exactly what the client sent.
func PercentEncode(s string) string {
	n := percentEncodedLen(s, false)
	if n == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(n)
	writePercentEncoded(&b, s, false)
	return b.String()
}

// percentEncodedLen is the exact length of s once encoded, so that callers can
// size their buffer once. With double set, each escape is itself escaped ("%"
// becomes "%25"), as in the v1 string-to-sign.
func percentEncodedLen(s string, double bool) int {
	esc := 3
	if double {
		esc = 5
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if pctUnreserved[s[i]] {
			n++
		} else {
			n += esc
		}
	}
	return n
}

// writePercentEncoded appends the encoding of s to b, copying runs of unreserved
// bytes in one call. With double set it writes PercentEncode(PercentEncode(s))
// in a single pass: the v1 string-to-sign encodes the canonical query a second
// time, and doing both at once avoids building the intermediate string.
func writePercentEncoded(b *strings.Builder, s string, double bool) {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if pctUnreserved[c] {
			continue
		}
		b.WriteString(s[start:i])
		if double {
			b.WriteString("%25")
		} else {
			b.WriteByte('%')
		}
		b.WriteByte(pctUpperHex[c>>4])
		b.WriteByte(pctUpperHex[c&0x0F])
		start = i + 1
	}
	b.WriteString(s[start:])
}
