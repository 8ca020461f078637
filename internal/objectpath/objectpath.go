// Package objectpath parses the object paths of Alibaba Cloud CDN's
// refresh and prefetch actions (RefreshObjectCaches, PushObjectCache): a
// URL of an accelerated domain, "http://example.com/image/1.png", read
// according to the task's ObjectType
// (https://www.alibabacloud.com/help/en/cdn/developer-reference/api-cdn-2018-05-10-refreshobjectcaches).
// The API validates with it and the edge turns what it stored into cache
// rules with it, so both read a path the same way.
package objectpath

import (
	"errors"
	"net/url"
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/cdnd/cdnd/internal/ascii"
)

// Type is how a path is read: the ObjectType of RefreshObjectCaches, and
// Preload for PushObjectCache.
type Type string

const (
	File         Type = "File"
	Directory    Type = "Directory"
	Regex        Type = "Regex"
	IgnoreParams Type = "IgnoreParams"
	Preload      Type = "Preload"
)

// Limits of one path. A URL of 2 KiB is what browsers and CDNs commonly
// accept; a pattern is bounded again by the size of its compiled program,
// so that a rule costs little memory and time on every edge however it is
// written (Go's regexp is linear in its input, never exponential).
const (
	MaxLen       = 2048
	maxRegexInst = 2000
)

// ErrMalformed: the path is no URL of the form its type needs.
var ErrMalformed = errors.New("objectpath: malformed")

// ErrWildcard: the path names a wildcard domain ("*.example.com"), which
// cannot be refreshed by name.
var ErrWildcard = errors.New("objectpath: wildcard domain")

// Object is a parsed path.
type Object struct {
	// Host is the domain, lower case.
	Host string
	// Path is the escaped path (at least "/"); for a Directory it ends
	// with "/". Query is the raw query of a File or Preload.
	Path, Query string
	// Regex matches, in full, the escaped paths a Regex path covers.
	Regex *regexp.Regexp
}

// Parse reads s as a path of type t.
func Parse(t Type, s string) (Object, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > MaxLen || !ascii.Is(s) || strings.ContainsAny(s, " \t\r\n\x00") {
		return Object{}, ErrMalformed
	}
	rest, ok := cutScheme(s)
	if !ok {
		return Object{}, ErrMalformed
	}
	host, path, _ := strings.Cut(rest, "/")
	path = "/" + path
	if strings.HasPrefix(host, "*.") {
		return Object{}, ErrWildcard
	}
	host = ascii.Lower(host)
	if !validHost(host) {
		return Object{}, ErrMalformed
	}
	o := Object{Host: host}
	switch t {
	case Regex:
		re, err := compile(path)
		if err != nil {
			return Object{}, ErrMalformed
		}
		o.Regex, o.Path = re, path
		return o, nil
	case File, Directory, IgnoreParams, Preload:
	default:
		return Object{}, ErrMalformed
	}
	// Read as a request line's target is (RFC 9112, Section 3.2.1: an
	// origin-form, so "//a" is a path, not an authority), the fragment
	// dropped as a client drops it (RFC 9110, Section 4.2.5).
	path, _, _ = strings.Cut(path, "#")
	u, err := url.ParseRequestURI(path)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return Object{}, ErrMalformed
	}
	o.Path = u.EscapedPath()
	switch t {
	case File, Preload:
		o.Query = u.RawQuery
	case Directory:
		if u.RawQuery != "" {
			return Object{}, ErrMalformed
		}
		if !strings.HasSuffix(o.Path, "/") {
			o.Path += "/"
		}
	}
	return o, nil
}

// cutScheme strips http:// or https:// (in any case); a path without a
// scheme is read as http, as Alibaba's "domain/path" form.
func cutScheme(s string) (string, bool) {
	lower := ascii.Lower(s[:min(len(s), 8)])
	for _, p := range []string{"http://", "https://"} {
		if strings.HasPrefix(lower, p) {
			return s[len(p):], true
		}
	}
	return s, !strings.Contains(s, "://")
}

// validHost: a DNS name of letters, digits, hyphens and dots (no port, no
// user information), as accelerated domains are.
func validHost(h string) bool {
	if h == "" || len(h) > 253 || h[0] == '.' || h[0] == '-' || strings.Contains(h, "..") {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// compile compiles a path pattern, anchored at both ends, refusing one
// whose program is larger than maxRegexInst.
func compile(pattern string) (*regexp.Regexp, error) {
	full := "^(?:" + pattern + ")$"
	re, err := syntax.Parse(full, syntax.Perl)
	if err != nil {
		return nil, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, err
	}
	if len(prog.Inst) > maxRegexInst {
		return nil, ErrMalformed
	}
	return regexp.Compile(full)
}
