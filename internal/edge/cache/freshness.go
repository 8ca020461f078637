package cache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Heuristic freshness (RFC 9111, Section 4.2.2) as Alibaba Cloud CDN does
// it ("default cache rule", cache-related FAQ): 10% of the time since
// Last-Modified, at least 10 s and at most 3600 s; an object with an ETag
// but no Last-Modified gets the minimum; one with neither is dynamic and
// not stored.
const (
	heuristicFraction = 10 // 1/10
	heuristicMin      = 10 * time.Second
	heuristicMax      = time.Hour
)

// heuristicStatus are the status codes RFC 9110, Section 15.1 defines as
// heuristically cacheable.
var heuristicStatus = map[int]bool{200: true, 203: true, 204: true, 300: true, 301: true, 308: true,
	404: true, 405: true, 410: true, 414: true, 501: true}

// policy is what a response and the domain's rules say about storing and
// reusing it.
type policy struct {
	store    bool
	lifetime time.Duration
	// validate: every use needs a successful validation first
	// (Cache-Control: no-cache, RFC 9111 Section 5.2.2.4; or the rule's
	// force_revalidate).
	validate bool
	// noStale: never served stale (must-revalidate, proxy-revalidate and,
	// for a shared cache, s-maxage: RFC 9111 Sections 4.2.4, 5.2.2.2,
	// 5.2.2.8, 5.2.2.10).
	noStale bool
	// swr and sie are stale-while-revalidate and stale-if-error (RFC 5861,
	// Sections 3 and 4).
	swr, sie time.Duration
	// follow: visitors are told lifetime rather than the origin's
	// Cache-Control (swift_follow_cachetime).
	follow bool
}

// visitorCacheControl is the Cache-Control a visitor is told for an object
// of lifetime under a follow rule: the edge's own lifetime, which with the
// Age field lets the visitor's cache expire it when the edge does.
func visitorCacheControl(lifetime time.Duration) []string {
	return []string{"max-age=" + strconv.FormatInt(int64(lifetime/time.Second), 10)}
}

// responsePolicy decides whether the response to req (status, header h),
// received at now, may be stored by a shared cache (RFC 9111, Section 3)
// and for how long it is fresh (Section 4.2.1).
func responsePolicy(req *http.Request, status int, h http.Header, now time.Time, rules *Rules, p string) policy {
	cc := parseCacheControl(h)
	var rule *TTLRule
	if status == http.StatusOK {
		rule = rules.ttlRule(p)
	}
	pragma := pragmaNoCache(h)
	if rule != nil && rule.IgnoreNoCache {
		cc, pragma = cc.withoutNoCache(), false
	}
	switch {
	case req.Method != http.MethodGet,
		status < 200 || status == http.StatusPartialContent || status == http.StatusNotModified,
		cc.has("no-store"), cc.has("private"),
		// Authorization: only with public, s-maxage or must-revalidate
		// (RFC 9111, Section 3.5).
		req.Header.Get("Authorization") != "" && !cc.has("public") && !cc.has("s-maxage") && !cc.has("must-revalidate"),
		// A Set-Cookie is someone's session: never handed to others
		// (RFC 9111, Section 7.3 leaves it to the cache; we do not store).
		len(h["Set-Cookie"]) > 0,
		// Vary: * never matches a later request (Section 4.1).
		varyStar(h):
		return policy{}
	}
	pol := policy{
		validate: cc.has("no-cache") || (cc == nil && pragma),
		noStale:  cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage"),
		follow:   rule != nil && rule.Follow,
	}
	pol.swr, _ = cc.seconds("stale-while-revalidate")
	pol.sie, _ = cc.seconds("stale-if-error")
	lifetime, explicit := explicitLifetime(cc, h, now)
	if !explicit && (heuristicStatus[status] || cc.has("public")) {
		lifetime = heuristicLifetime(h, now)
	}
	// The origin's no-cache and max-age=0 win over the domain's rules
	// (Alibaba: they come first in the cache priority) unless the rule
	// ignores them; otherwise a rule sets the lifetime.
	if !pol.validate && !(explicit && lifetime == 0) {
		lifetime = applyRules(rules, rule, p, status, lifetime, explicit, &pol)
	}
	pol.lifetime = lifetime
	validator := h.Get("Etag") != "" || h.Get("Last-Modified") != ""
	pol.store = lifetime > 0 || (validator && (pol.validate || explicit))
	return pol
}

// applyRules returns the lifetime the domain's rules give a response whose
// origin lifetime is lifetime (explicit: stated by its headers); rule is
// the TTL rule covering it, if any.
func applyRules(rules *Rules, rule *TTLRule, p string, status int, lifetime time.Duration, explicit bool, pol *policy) time.Duration {
	if rules == nil {
		return lifetime
	}
	if ttl, ok := codeTTL(rules.CodeTTL, p, status); ok {
		return ttl
	}
	if rule != nil {
		pol.validate = pol.validate || rule.ForceRevalidate
		if rule.OriginFirst && explicit {
			return lifetime
		}
		return rule.TTL
	}
	if ttl, ok := codeTTL(rules.DefaultCodeTTL, p, status); ok && !explicit {
		return ttl
	}
	return lifetime
}

// explicitLifetime is the freshness lifetime the response states
// (RFC 9111, Section 4.2.1): s-maxage, then max-age, then Expires minus
// Date. An invalid Expires means already expired (Section 5.3).
func explicitLifetime(cc directives, h http.Header, now time.Time) (time.Duration, bool) {
	if d, ok := cc.seconds("s-maxage"); ok {
		return d, true
	}
	if d, ok := cc.seconds("max-age"); ok {
		return d, true
	}
	exp := h.Get("Expires")
	if exp == "" {
		return 0, false
	}
	t, err := http.ParseTime(exp)
	if err != nil {
		return 0, true
	}
	return max(t.Sub(dateOf(h, now)), 0), true
}

// heuristicLifetime applies the heuristic above.
func heuristicLifetime(h http.Header, now time.Time) time.Duration {
	lm, err := http.ParseTime(h.Get("Last-Modified"))
	if err != nil {
		if h.Get("Etag") != "" {
			return heuristicMin
		}
		return 0
	}
	return min(max(dateOf(h, now).Sub(lm)/heuristicFraction, heuristicMin), heuristicMax)
}

// dateOf is the response's Date, or now when it has none or an invalid
// one (RFC 9110, Section 6.6.1: a recipient with a clock assigns one).
func dateOf(h http.Header, now time.Time) time.Time {
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		return t
	}
	return now
}

// initialAge is corrected_initial_age (RFC 9111, Section 4.2.3) of a
// response requested at reqTime and received at respTime.
func initialAge(h http.Header, reqTime, respTime time.Time) time.Duration {
	apparent := max(respTime.Sub(dateOf(h, respTime)), 0)
	var ageValue time.Duration
	if a, ok := (directives{"age": strings.TrimSpace(h.Get("Age"))}).seconds("age"); ok {
		ageValue = a
	}
	return max(apparent, ageValue+respTime.Sub(reqTime))
}

func varyStar(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.TrimSpace(f) == "*" {
				return true
			}
		}
	}
	return false
}

// pragmaNoCache: Pragma: no-cache in a response without Cache-Control;
// RFC 9111 (Section 5.4) deprecates it, but Alibaba's edges treat it as
// no-cache and origins still send it.
func pragmaNoCache(h http.Header) bool {
	return strings.Contains(strings.ToLower(h.Get("Pragma")), "no-cache")
}
