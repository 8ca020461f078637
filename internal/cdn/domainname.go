package cdn

import (
	"strings"

	"github.com/cdnd/cdnd/internal/ascii"
)

// normalizeDomain checks an accelerated domain name and returns it in lower
// case. A wildcard domain is written with a leading dot (".example.com") and
// covers one label. Names are ASCII (IDNs arrive as punycode), at least two
// labels, each 1–63 letters, digits or hyphens not at either end, the last
// not all digits.
func normalizeDomain(name string) (string, bool) {
	name = ascii.Lower(name)
	host := strings.TrimPrefix(name, ".")
	if len(host) == 0 || len(host) > 253 {
		return "", false
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return "", false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", false
			}
		}
	}
	// A top-level label is never all digits (RFC 3696 section 2), so an
	// IPv4 literal ("192.0.2.1", "10.1") is never a domain: it would
	// route, and claim, traffic sent to an address rather than a name.
	// IPv6 literals fail the letter check above.
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return "", false
	}
	return name, true
}
