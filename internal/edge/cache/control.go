package cache

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// directives is a parsed Cache-Control field (RFC 9111, Section 5.2):
// directive names lower-cased, arguments unquoted; a directive without an
// argument maps to "".
type directives map[string]string

// maxDelta is what a delta-seconds too large to represent means: RFC 9111,
// Section 1.2.2 says to treat it as 2^31.
const maxDelta = time.Duration(math.MaxInt32+1) * time.Second

// parseCacheControl reads every Cache-Control line of h. Duplicate
// directives keep the first, and a list element that is not a token is
// skipped: RFC 9111, Section 4.2.1 leaves conflicting directives to the
// cache, and the first is as good a choice as any that is deterministic.
func parseCacheControl(h http.Header) directives {
	lines := h["Cache-Control"]
	if len(lines) == 0 {
		return nil
	}
	d := directives{}
	for _, line := range lines {
		for len(line) > 0 {
			var item string
			item, line = nextItem(line)
			name, arg, _ := strings.Cut(item, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			arg = strings.TrimSpace(arg)
			if len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"' {
				arg = strings.ReplaceAll(arg[1:len(arg)-1], `\`, "")
			}
			if _, dup := d[name]; !dup {
				d[name] = arg
			}
		}
	}
	return d
}

// nextItem splits a comma-separated list at its first comma outside a
// quoted string (RFC 9110, Section 5.6.1 and 5.6.4).
func nextItem(s string) (item, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

func (d directives) has(name string) bool {
	_, ok := d[name]
	return ok
}

// seconds reads a delta-seconds argument (RFC 9111, Section 1.2.2): digits
// only; an invalid one is reported absent, as a cache must not trust it.
func (d directives) seconds(name string) (time.Duration, bool) {
	v, ok := d[name]
	if !ok || v == "" {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > math.MaxInt32 {
		return maxDelta, true
	}
	return time.Duration(n) * time.Second, true
}

// withoutNoCache is d without the directives that keep a response from
// being stored or reused unvalidated (no-store, no-cache, max-age=0,
// s-maxage=0): what swift_no_cache_low ignores.
func (d directives) withoutNoCache() directives {
	out := make(directives, len(d))
	for name, arg := range d {
		switch {
		case name == "no-store", name == "no-cache":
		case (name == "max-age" || name == "s-maxage") && strings.Trim(arg, "0") == "":
		default:
			out[name] = arg
		}
	}
	return out
}
