package cdn

import (
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/cdnd/cdnd/internal/store"
)

// The domain configuration functions cdnd serves, with their arguments as
// Alibaba Cloud CDN names them ("Parameters for configuring features for
// domain names", https://www.alibabacloud.com/help/en/cdn/developer-reference/parameters-for-configuring-features-for-domain-names).
// This table is the whole of what the API accepts: a function is added by
// adding its row here (and teaching the edge what it means); nothing else
// in the API names a function.
var functions = map[string]function{
	"https_force": {
		args: []argSpec{
			{name: "enable", required: true, valid: onOff},
			{name: "https_rewrite", def: "301", valid: redirectCode},
		},
		// An HTTP domain redirects one way or the other, not both (the
		// console's "force redirect" is one choice of three).
		replaces: []string{"http_force"},
	},
	"http_force": {
		args: []argSpec{
			{name: "enable", required: true, valid: onOff},
			{name: "http_rewrite", def: "301", valid: redirectCode},
		},
		replaces: []string{"https_force"},
	},
	"https_tls_version": {
		args: []argSpec{
			{name: "tls10", def: "on", valid: onOff},
			{name: "tls11", def: "on", valid: onOff},
			{name: "tls12", def: "on", valid: onOff},
			{name: "tls13", def: "on", valid: onOff},
		},
		check: someTLSVersionOn,
	},
	"HSTS": {
		args: []argSpec{
			{name: "enabled", required: true, valid: onOff},
			// Seconds (RFC 6797 section 6.1.1); Alibaba suggests 5184000
			// (60 days) and caps it at two years.
			{name: "https_hsts_max_age", def: "5184000", valid: intIn(0, 63072000)},
			{name: "https_hsts_include_subdomains", def: "off", valid: onOff},
		},
	},
	"https_option": {
		args: []argSpec{
			{name: "http2", required: true, valid: onOff},
		},
	},
	"set_resp_header": headerFunction,
	"set_req_header":  headerFunction,

	// Cache rules ("Cache settings" in Alibaba's user guide). A rule for
	// the same file types, or the same directory, replaces the earlier one.
	"filetype_based_ttl_set": ttlFunction("file_type", fileTypes),
	"path_based_ttl_set":     ttlFunction("path", directory),
	"filetype_force_ttl_code": {
		args: []argSpec{{name: "file_type", required: true, valid: fileTypes}, {name: "code_string", required: true, valid: codeString}},
		key:  "file_type",
	},
	"path_force_ttl_code": {
		args: []argSpec{{name: "path", required: true, valid: directory}, {name: "code_string", required: true, valid: codeString}},
		key:  "path",
	},
	"default_ttl_code": {
		args: []argSpec{{name: "default_ttl_code", required: true, valid: codeString}},
	},
	// Which query parameters the cache key keeps: only the listed ones
	// (set_hashkey_args; disable=on keeps none), or all but the listed
	// (ali_remove_args). A domain has one of the two.
	"set_hashkey_args": {
		args: []argSpec{
			{name: "hashkey_args", valid: argNames},
			{name: "disable", def: "off", valid: onOff},
		},
		replaces: []string{"ali_remove_args"},
	},
	"ali_remove_args": {
		args:     []argSpec{{name: "ali_remove_args", required: true, valid: argNames}},
		replaces: []string{"set_hashkey_args"},
	},
	// Serving a stale object when the origin fails ("Serve stale content"
	// in the user guide): which of the origin's answers count as failing
	// (default: any 5xx, which covers an unreachable or timed-out origin),
	// how long past expiry an object may be served (default an hour), and
	// whether the origin's own stale-if-error wins (origin_first).
	"serving_stale_content": {
		args: []argSpec{
			{name: "origin_error_status_code", def: "5xx", valid: statusList},
			{name: "extend_expiration_time", def: "3600", valid: intIn(1, maxTTL)},
			{name: "origin_first", def: "off", valid: onOff},
		},
	},
}

// ttlFunction is filetype_based_ttl_set or path_based_ttl_set: what the
// rule covers (scope, validated by valid), for how long objects are fresh,
// its weight among the rules that cover one request, whether the origin's
// own lifetime wins (swift_origin_cache_high), whether the origin's
// no-store and no-cache are ignored (swift_no_cache_low), whether
// visitors are told the rule's lifetime (swift_follow_cachetime), and
// whether every use is validated first (force_revalidate).
func ttlFunction(scope string, valid func(string) bool) function {
	return function{
		args: []argSpec{
			{name: "ttl", required: true, valid: intIn(0, maxTTL)},
			{name: scope, required: true, valid: valid},
			{name: "weight", def: "1", valid: intIn(1, 99)},
			{name: "swift_origin_cache_high", def: "off", valid: onOff},
			{name: "swift_no_cache_low", def: "off", valid: onOff},
			{name: "swift_follow_cachetime", def: "off", valid: onOff},
			{name: "force_revalidate", def: "off", valid: onOff},
		},
		key: scope,
	}
}

// headerFunction adds, changes or removes one header of the responses
// (set_resp_header) or of the requests to the origin (set_req_header).
var headerFunction = function{
	args: []argSpec{
		{name: "key", required: true, valid: headerName, header: true},
		{name: "value", valid: headerValue},
		{name: "header_operation_type", def: "add", valid: oneOf("add", "delete", "modify", "rewrite")},
		{name: "duplicate", def: "off", valid: onOff},
	},
	// Several headers per domain, one config per header name.
	key:   "key",
	check: valueUnlessDelete,
}

// function is one row of the catalogue.
type function struct {
	args []argSpec
	// key names the argument that tells several configs of the function on
	// one domain apart (compared case-insensitively); "" means the function
	// is configured once per domain and setting it again replaces it,
	// keeping its ConfigId.
	key string
	// replaces lists functions whose configs this one removes from the
	// domain.
	replaces []string
	// check enforces rules across arguments; nil: none.
	check func(args []store.FunctionArg) error
}

// argSpec is one argument of a function.
type argSpec struct {
	name     string
	required bool
	def      string // the value when absent (and not required)
	valid    func(string) bool
	// header: an invalid value is InvalidHeaderKey.ValueNotSupported
	// rather than InvalidArgValue.Malformed.
	header bool
}

// normalize validates one function's arguments and returns them complete,
// in the row's order, defaults filled in: what is stored and served.
func (f function) normalize(given []store.FunctionArg) ([]store.FunctionArg, error) {
	seen := make(map[string]string, len(given))
	for _, a := range given {
		if !slices.ContainsFunc(f.args, func(s argSpec) bool { return s.name == a.Name }) {
			return nil, errArgNameNotSupported.WithMessage("ArgName %s is not supported.", printable(a.Name))
		}
		if _, dup := seen[a.Name]; dup {
			return nil, errFunctionArgsMalformed
		}
		seen[a.Name] = a.Value
	}
	out := make([]store.FunctionArg, 0, len(f.args))
	for _, s := range f.args {
		v, ok := seen[s.name]
		switch {
		case !ok && s.required:
			return nil, errFunctionArgsMalformed.WithMessage("The specified FunctionArgs is invalid: %s is missing.", s.name)
		case v == "" && !s.required:
			v = s.def // absent or empty: the default
		case v == "" || !s.valid(v):
			if s.header {
				return nil, errHeaderKeyNotSupported
			}
			return nil, errArgValueMalformed.WithMessage("The specified ArgValue [%s] is invalid.", s.name)
		}
		out = append(out, store.FunctionArg{Name: s.name, Value: v})
	}
	if f.check != nil {
		if err := f.check(out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// identity is what tells f's configs on one domain apart: "" for a
// function configured once per domain.
func (f function) identity(c *store.FunctionConfig) string {
	if f.key == "" {
		return ""
	}
	return strings.ToLower(c.Arg(f.key))
}

// Validators of argument values.

func onOff(v string) bool { return v == "on" || v == "off" }

func oneOf(values ...string) func(string) bool {
	return func(v string) bool { return slices.Contains(values, v) }
}

// redirectCode: the permanent and temporary redirects (RFC 9110 section
// 15.4); 307 and 308 keep the method and body.
var redirectCode = oneOf("301", "302", "307", "308")

func intIn(lo, hi int64) func(string) bool {
	return func(v string) bool {
		n, err := strconv.ParseInt(v, 10, 64)
		return err == nil && n >= lo && n <= hi && strconv.FormatInt(n, 10) == v
	}
}

// unsettableHeaders frame or route the message (RFC 9110 section 7.6.1,
// RFC 9112 section 6): the edge owns them, a tenant does not.
var unsettableHeaders = map[string]bool{
	"Connection": true, "Content-Length": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Host": true,
}

// maxHeaderBytes bounds a header's name and value: what a tenant stores is
// bounded, and so is what the edge adds to every response.
const maxHeaderBytes = 1024

func headerName(v string) bool {
	return len(v) <= maxHeaderBytes && httpguts.ValidHeaderFieldName(v) && !unsettableHeaders[textproto.CanonicalMIMEHeaderKey(v)]
}

func headerValue(v string) bool {
	return len(v) <= maxHeaderBytes && httpguts.ValidHeaderFieldValue(v)
}

func argValue(args []store.FunctionArg, name string) string {
	c := store.FunctionConfig{Args: args}
	return c.Arg(name)
}

func someTLSVersionOn(args []store.FunctionArg) error {
	for _, a := range args {
		if a.Value == "on" {
			return nil
		}
	}
	return errArgValueMalformed.WithMessage("The specified ArgValue [tls13] is invalid: at least one TLS version must be on.")
}

func valueUnlessDelete(args []store.FunctionArg) error {
	if argValue(args, "header_operation_type") != "delete" && argValue(args, "value") == "" {
		return errArgValueMalformed.WithMessage("The specified ArgValue [value] is invalid.")
	}
	return nil
}

// printable bounds a name echoed in an error: at most 64 bytes, and only
// printable ASCII, so that a message never carries what a client did not
// mean to show or a terminal would interpret.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 64; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}
