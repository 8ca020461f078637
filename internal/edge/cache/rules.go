package cache

import (
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rules are a domain's cache settings: what Alibaba Cloud CDN's cache
// functions (filetype_based_ttl_set, path_based_ttl_set, *_force_ttl_code,
// default_ttl_code, set_hashkey_args, ali_remove_args,
// serving_stale_content) say once the configuration layer has validated
// them. A nil *Rules means the defaults: the origin's headers and
// Alibaba's heuristics decide, and the whole query is in the key.
// Rules are read-only once given to the cache.
type Rules struct {
	// TTL are the file-type and directory rules. Only one rule applies to
	// a request: the one of highest weight, and among equal weights the
	// first (Alibaba: "weight > creation time", cache-related FAQ).
	TTL []TTLRule
	// CodeTTL sets the lifetime of responses by status code, overriding
	// the origin's headers (filetype_force_ttl_code, path_force_ttl_code).
	CodeTTL []CodeTTL
	// DefaultCodeTTL sets it where the origin gives none (default_ttl_code).
	DefaultCodeTTL []CodeTTL
	// KeepArgs, when KeepArgsSet, keeps only the listed query parameters
	// in the cache key (set_hashkey_args); an empty list drops the whole
	// query. RemoveArgs drops the listed ones (ali_remove_args). Alibaba
	// allows one of the two on a domain; KeepArgs wins if both are set.
	KeepArgs    []string
	KeepArgsSet bool
	RemoveArgs  []string
	// Stale, when set, serves a stored object past its expiry when the
	// origin fails (serving_stale_content).
	Stale *StaleRule
}

// StaleRule is serving_stale_content: when the origin answers one of Codes
// (nil: any 5xx, which includes the edge's own 502 for an unreachable
// origin and 504 for one that timed out), an object stale for at most
// Window is served instead. With OriginFirst, an object whose origin sent
// stale-if-error gets that window instead (RFC 5861, Section 4). Unlike
// the TTL rules it applies to objects already stored: an operator turns it
// on during an outage.
type StaleRule struct {
	Codes       []string // "502" or a class "5xx"
	Window      time.Duration
	OriginFirst bool
}

// originError reports whether status is, for a domain with rule s, the
// origin failing: the rule's codes, or without a rule the statuses RFC 5861
// (Section 4) names.
func (s *StaleRule) originError(status int) bool {
	if s == nil {
		return status == 500 || status == 502 || status == 503 || status == 504
	}
	if s.Codes == nil {
		return status >= 500 && status <= 599
	}
	return matchCode(s.Codes, status)
}

// window is how long past its expiry an object whose origin stated
// stale-if-error sie (0: none) may answer for a failing origin.
func (s *StaleRule) window(sie time.Duration) time.Duration {
	if s == nil || (s.OriginFirst && sie > 0) {
		return sie
	}
	return s.Window
}

// TTLRule is one filetype_based_ttl_set or path_based_ttl_set.
type TTLRule struct {
	// Extensions (without the dot, lower case) or Path (a directory,
	// "/img/") says what the rule covers; a rule with neither covers
	// nothing.
	Extensions []string
	Path       string
	TTL        time.Duration // 0: do not cache
	Weight     int
	// OriginFirst (swift_origin_cache_high): the origin's own lifetime,
	// when it states one, wins over TTL.
	OriginFirst bool
	// ForceRevalidate (force_revalidate): every use of a stored object is
	// validated with the origin first, as for Cache-Control: no-cache.
	ForceRevalidate bool
	// IgnoreNoCache (swift_no_cache_low): the origin's no-store, no-cache,
	// max-age=0 and Pragma: no-cache do not keep the rule from applying.
	IgnoreNoCache bool
	// Follow (swift_follow_cachetime): visitors are told the lifetime the
	// rule gives (Cache-Control: max-age), not the origin's.
	Follow bool
}

// CodeTTL is one "code=ttl" pair of a code_string: Code is "403" or a
// class "4xx". Extensions or Path limit it to some requests
// (filetype_force_ttl_code, path_force_ttl_code); with neither it covers
// every request.
type CodeTTL struct {
	Code       string
	TTL        time.Duration
	Extensions []string
	Path       string
}

// covers reports whether the pair applies to a request for p.
func (c CodeTTL) covers(p string) bool {
	switch {
	case c.Path != "":
		return strings.HasPrefix(p, c.Path)
	case len(c.Extensions) > 0:
		return slices.Contains(c.Extensions, extension(p))
	}
	return true
}

// extension is p's file type as the rules name it: lower case, no dot.
func extension(p string) string {
	return strings.TrimPrefix(strings.ToLower(path.Ext(p)), ".")
}

// stale is r's StaleRule; nil for no rules.
func (r *Rules) stale() *StaleRule {
	if r == nil {
		return nil
	}
	return r.Stale
}

// ttlRule returns the rule that covers p, or nil.
func (r *Rules) ttlRule(p string) *TTLRule {
	if r == nil {
		return nil
	}
	ext := extension(p)
	var best *TTLRule
	for i := range r.TTL {
		t := &r.TTL[i]
		covers := (t.Path != "" && strings.HasPrefix(p, t.Path)) ||
			(ext != "" && slices.Contains(t.Extensions, ext))
		if covers && (best == nil || t.Weight > best.Weight) {
			best = t
		}
	}
	return best
}

// codeTTL finds status in the pairs of list that cover p: an exact code
// first, then its class.
func codeTTL(list []CodeTTL, p string, status int) (time.Duration, bool) {
	code := strconv.Itoa(status)
	class := code[:1] + "xx"
	for _, want := range []string{code, class} {
		for _, c := range list {
			if strings.EqualFold(c.Code, want) && c.covers(p) {
				return c.TTL, true
			}
		}
	}
	return 0, false
}

// matchCode reports whether status is one of codes, exactly or by class.
func matchCode(codes []string, status int) bool {
	code := strconv.Itoa(status)
	class := code[:1] + "xx"
	return slices.ContainsFunc(codes, func(c string) bool { return c == code || strings.EqualFold(c, class) })
}

// Key identifies an object in the cache: the domain, the path and the part
// of the query the domain's rules keep. The scheme is not in it, so HTTP
// and HTTPS visitors share one copy, as CDNs do by default (RFC 9111,
// Section 2 lets a cache choose its key beyond the target URI).
type Key struct {
	Domain string
	Path   string // escaped, as in the request line
	Query  string
}

// String is the primary key (RFC 9111, Section 4: variants sit under it).
func (k Key) String() string {
	if k.Query == "" {
		return k.Domain + k.Path
	}
	return k.Domain + k.Path + "?" + k.Query
}

// KeyFor returns the key of a request for domain with URL u under r.
func KeyFor(domain string, u *url.URL, r *Rules) Key {
	k := Key{Domain: domain, Path: u.EscapedPath(), Query: u.RawQuery}
	if k.Path == "" {
		k.Path = "/"
	}
	if r == nil || k.Query == "" || (!r.KeepArgsSet && len(r.RemoveArgs) == 0) {
		return k
	}
	var kept []string
	for _, part := range strings.Split(k.Query, "&") {
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		keep := !slices.Contains(r.RemoveArgs, name)
		if r.KeepArgsSet {
			keep = slices.Contains(r.KeepArgs, name)
		}
		if keep && part != "" {
			kept = append(kept, part)
		}
	}
	k.Query = strings.Join(kept, "&")
	return k
}
