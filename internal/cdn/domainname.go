package cdn

import (
	"strings"

	"github.com/cdnd/cdnd/internal/ascii"
)

// normalizeDomain checks an accelerated domain name and returns it in lower
// case. A wildcard domain is written with a leading dot (".example.com") and
// covers one label. Names are ASCII (IDNs arrive as punycode), at least two
// labels, each 1–63 letters, digits or hyphens not at either end.
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
	return name, true
}
