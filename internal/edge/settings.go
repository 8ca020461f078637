package edge

import (
	"crypto/tls"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/edge/cache"
	"github.com/cdnd/cdnd/internal/store"
)

// settings is what a domain's function configs (BatchSetCdnDomainConfig)
// make the edge do, compiled once when the configs are applied. It is
// immutable and hangs off the domain's entry, so a handshake or a request
// sees one domain entry with the settings of one revision, never half of a
// change. nil: the domain has no configs and is served as without them.
type settings struct {
	configs *store.DomainConfigs // as stored, for the snapshot

	// redirectTo is the scheme plain HTTP ("https", https_force) or HTTPS
	// ("http", http_force) requests are redirected to, with redirectCode.
	redirectTo   string
	redirectCode int

	// versions are the TLS versions a handshake may use (https_tls_version),
	// nil: the listener's; h2Off takes h2 out of ALPN (https_option).
	versions []uint16
	h2Off    bool

	hsts        string // Strict-Transport-Security of HTTPS responses, "" none
	respHeaders []headerOp
	reqHeaders  []headerOp

	// cache is the domain's cache rules; nil means the cache's defaults.
	cache *cache.Rules
}

// cacheRules are the rules the HTTP cache applies to the domain.
func (s *settings) cacheRules() *cache.Rules {
	if s == nil {
		return nil
	}
	return s.cache
}

// headerOp is one set_resp_header or set_req_header.
type headerOp struct {
	op, name, value string
	duplicate       bool
}

// compilers say what each function does to a domain's settings. The API's
// catalogue (internal/cdn/config_functions.go) validated every argument and
// filled in the defaults, so these read values that are known good. A
// function the edge does not know is ignored: a newer API node may have
// stored it, and the edge serves what it does know.
var compilers = map[string]func(s *settings, c *store.FunctionConfig){
	"https_force": func(s *settings, c *store.FunctionConfig) {
		if c.Arg("enable") == "on" {
			s.redirectTo, s.redirectCode = "https", atoiOr(c.Arg("https_rewrite"), http.StatusMovedPermanently)
		}
	},
	"http_force": func(s *settings, c *store.FunctionConfig) {
		if c.Arg("enable") == "on" {
			s.redirectTo, s.redirectCode = "http", atoiOr(c.Arg("http_rewrite"), http.StatusMovedPermanently)
		}
	},
	"https_tls_version": func(s *settings, c *store.FunctionConfig) {
		s.versions = nil
		for _, v := range tlsVersionArgs {
			if c.Arg(v.arg) == "on" {
				s.versions = append(s.versions, v.version)
			}
		}
	},
	"HSTS": func(s *settings, c *store.FunctionConfig) {
		if c.Arg("enabled") != "on" {
			return
		}
		// RFC 6797 section 6.1.
		s.hsts = "max-age=" + c.Arg("https_hsts_max_age")
		if c.Arg("https_hsts_include_subdomains") == "on" {
			s.hsts += "; includeSubDomains"
		}
	},
	"https_option": func(s *settings, c *store.FunctionConfig) { s.h2Off = c.Arg("http2") == "off" },
	"set_resp_header": func(s *settings, c *store.FunctionConfig) {
		s.respHeaders = append(s.respHeaders, newHeaderOp(c))
	},
	"set_req_header": func(s *settings, c *store.FunctionConfig) {
		s.reqHeaders = append(s.reqHeaders, newHeaderOp(c))
	},
	"filetype_based_ttl_set": func(s *settings, c *store.FunctionConfig) {
		r := s.rules()
		r.TTL = append(r.TTL, ttlRule(c, cache.TTLRule{Extensions: fileTypes(c.Arg("file_type"))}))
	},
	"path_based_ttl_set": func(s *settings, c *store.FunctionConfig) {
		r := s.rules()
		r.TTL = append(r.TTL, ttlRule(c, cache.TTLRule{Path: c.Arg("path")}))
	},
	"filetype_force_ttl_code": func(s *settings, c *store.FunctionConfig) {
		r := s.rules()
		r.CodeTTL = append(r.CodeTTL, codeTTLs(c.Arg("code_string"), cache.CodeTTL{Extensions: fileTypes(c.Arg("file_type"))})...)
	},
	"path_force_ttl_code": func(s *settings, c *store.FunctionConfig) {
		r := s.rules()
		r.CodeTTL = append(r.CodeTTL, codeTTLs(c.Arg("code_string"), cache.CodeTTL{Path: c.Arg("path")})...)
	},
	"default_ttl_code": func(s *settings, c *store.FunctionConfig) {
		s.rules().DefaultCodeTTL = codeTTLs(c.Arg("default_ttl_code"), cache.CodeTTL{})
	},
	"set_hashkey_args": func(s *settings, c *store.FunctionConfig) {
		r := s.rules()
		r.KeepArgsSet, r.KeepArgs = true, nil
		if c.Arg("disable") != "on" { // on: the key keeps no parameter
			r.KeepArgs = argNames(c.Arg("hashkey_args"))
		}
	},
	"ali_remove_args": func(s *settings, c *store.FunctionConfig) {
		s.rules().RemoveArgs = argNames(c.Arg("ali_remove_args"))
	},
	"serving_stale_content": func(s *settings, c *store.FunctionConfig) {
		st := &cache.StaleRule{
			Window:      time.Duration(atoiOr(c.Arg("extend_expiration_time"), 3600)) * time.Second,
			OriginFirst: c.Arg("origin_first") == "on",
		}
		if codes := strings.ToLower(c.Arg("origin_error_status_code")); codes != "" && codes != "5xx" {
			st.Codes = strings.Split(codes, ",")
		}
		s.rules().Stale = st
	},
}

// rules returns the domain's cache rules, started when a cache function
// is compiled.
func (s *settings) rules() *cache.Rules {
	if s.cache == nil {
		s.cache = &cache.Rules{}
	}
	return s.cache
}

// ttlRule completes scope with a ttl function's lifetime, weight and
// flags. The API validated every value.
func ttlRule(c *store.FunctionConfig, scope cache.TTLRule) cache.TTLRule {
	scope.TTL = time.Duration(atoiOr(c.Arg("ttl"), 0)) * time.Second
	scope.Weight = atoiOr(c.Arg("weight"), 1)
	scope.OriginFirst = c.Arg("swift_origin_cache_high") == "on"
	scope.ForceRevalidate = c.Arg("force_revalidate") == "on"
	scope.IgnoreNoCache = c.Arg("swift_no_cache_low") == "on"
	scope.Follow = c.Arg("swift_follow_cachetime") == "on"
	return scope
}

// codeTTLs parses a code_string ("403=10,4xx=2") into pairs of scope.
func codeTTLs(codes string, scope cache.CodeTTL) []cache.CodeTTL {
	var out []cache.CodeTTL
	for _, pair := range strings.Split(codes, ",") {
		code, ttl, _ := strings.Cut(pair, "=")
		p := scope
		p.Code, p.TTL = strings.ToLower(code), time.Duration(atoiOr(ttl, 0))*time.Second
		out = append(out, p)
	}
	return out
}

// fileTypes are a file_type list as the cache compares them: lower case.
func fileTypes(v string) []string { return strings.Split(strings.ToLower(v), ",") }

// argNames are a parameter list, separated by spaces or commas.
func argNames(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })
}

// tlsVersionArgs are https_tls_version's arguments, lowest version first.
var tlsVersionArgs = []struct {
	arg     string
	version uint16
}{{"tls10", tls.VersionTLS10}, {"tls11", tls.VersionTLS11}, {"tls12", tls.VersionTLS12}, {"tls13", tls.VersionTLS13}}

func newHeaderOp(c *store.FunctionConfig) headerOp {
	return headerOp{op: c.Arg("header_operation_type"), name: http.CanonicalHeaderKey(c.Arg("key")), value: c.Arg("value"), duplicate: c.Arg("duplicate") == "on"}
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// compileSettings turns a domain's configs into settings; nil when there
// are none.
func compileSettings(c *store.DomainConfigs) *settings {
	if c == nil || len(c.Configs) == 0 {
		return nil
	}
	s := &settings{configs: c}
	for i := range c.Configs {
		if compile := compilers[c.Configs[i].Function]; compile != nil {
			compile(s, &c.Configs[i])
		}
	}
	return s
}

// apply performs the header operations on h: add (or, without duplicate,
// replace), delete, modify (only a header that is there), rewrite (set it
// whether or not it was there).
func applyHeaders(h http.Header, ops []headerOp) {
	for _, o := range ops {
		switch o.op {
		case "add":
			if o.duplicate {
				h.Add(o.name, o.value)
			} else {
				h.Set(o.name, o.value)
			}
		case "delete":
			h.Del(o.name)
		case "modify":
			if len(h.Values(o.name)) > 0 {
				h.Set(o.name, o.value)
			}
		case "rewrite":
			h.Set(o.name, o.value)
		}
	}
}

// redirect answers a request its domain's https_force or http_force sends
// to the other scheme, and reports whether it did. The Location keeps the
// path and query and drops the port: the other scheme's default port is
// where the domain is served.
func (s *settings) redirect(w http.ResponseWriter, r *http.Request) bool {
	if s == nil || s.redirectTo == "" || (s.redirectTo == "https") != (r.TLS == nil) {
		return false
	}
	host := r.Host
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	path := r.URL.RequestURI()
	if !strings.HasPrefix(path, "/") {
		path = "/" // OPTIONS *
	}
	w.Header().Set("Location", s.redirectTo+"://"+host+path)
	w.WriteHeader(s.redirectCode)
	return true
}

// modifyResponse applies the domain's response settings: its headers, and
// on HTTPS its HSTS (RFC 6797 section 7.2: never over plain HTTP).
func (s *settings) modifyResponse(h http.Header, overTLS bool) {
	if s == nil {
		return
	}
	applyHeaders(h, s.respHeaders)
	if overTLS && s.hsts != "" {
		h.Set("Strict-Transport-Security", s.hsts)
	}
}

// settingsWriter applies a domain's response settings to whatever is
// written: the HTTP cache's hits as well as its misses, so that an object
// stored from a plain HTTP fetch gets HSTS when served over HTTPS, and one
// stored from HTTPS never carries it over plain HTTP.
type settingsWriter struct {
	http.ResponseWriter
	s       *settings
	overTLS bool
	wrote   bool
}

func (w *settingsWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote = true
		w.s.modifyResponse(w.Header(), w.overTLS)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *settingsWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *settingsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// tlsVersion is the version a handshake for the domain is to use: the
// highest the client offers among those on, as a server that supports
// exactly those would pick; when there is none, the lowest one on, so that
// the handshake fails with protocol_version.
func (s *settings) tlsVersion(offered []uint16) uint16 {
	best := uint16(0)
	for _, v := range offered {
		for _, on := range s.versions {
			if v == on && v > best {
				best = v
			}
		}
	}
	if best == 0 {
		return s.versions[0]
	}
	return best
}
