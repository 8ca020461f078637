package cdn

import (
	"strconv"
	"strings"
)

// Validators of the cache functions' arguments. Lists are bounded so that
// what a tenant stores, and what the edge checks on every request, stays
// small.

// maxTTL is the longest lifetime a rule may give, in seconds: Alibaba's
// bound (about three years).
const maxTTL = 99999999

// maxListItems bounds a list argument (file types, parameter names, codes).
const maxListItems = 50

// fileTypes: extensions without the dot, comma-separated ("jpg,png").
func fileTypes(v string) bool {
	return listOf(v, ",", func(t string) bool { return len(t) <= 16 && isAlnum(t) })
}

// directory: an absolute path, as sent in a request line, at most 1024
// bytes; it covers the objects below it.
func directory(v string) bool {
	if len(v) > 1024 || !strings.HasPrefix(v, "/") || strings.Contains(v, "..") {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || c == '?' || c == '#' {
			return false
		}
	}
	return true
}

// codeString: "code=seconds" pairs, comma-separated, each code a status
// (100–599) or a class ("4xx"): "403=10,4xx=2".
func codeString(v string) bool {
	return listOf(v, ",", func(pair string) bool {
		code, ttl, ok := strings.Cut(pair, "=")
		return ok && statusOrClass(code) && intIn(0, maxTTL)(ttl)
	})
}

// statusList: status codes or classes, comma-separated ("502,4xx").
func statusList(v string) bool { return listOf(v, ",", statusOrClass) }

func statusOrClass(c string) bool {
	if len(c) != 3 || c[0] < '1' || c[0] > '5' {
		return false
	}
	if strings.EqualFold(c[1:], "xx") {
		return true
	}
	n, err := strconv.Atoi(c)
	return err == nil && n >= 100 && n <= 599
}

// argNames: query parameter names, separated by spaces (as Alibaba's pages
// write them) or commas.
func argNames(v string) bool {
	names := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })
	if len(names) > maxListItems {
		return false
	}
	for _, n := range names {
		if len(n) > 128 || !isToken(n) {
			return false
		}
	}
	return true
}

// listOf reports whether v is 1 to maxListItems items separated by sep,
// each valid.
func listOf(v, sep string, valid func(string) bool) bool {
	items := strings.Split(v, sep)
	if len(items) > maxListItems {
		return false
	}
	for _, it := range items {
		if !valid(it) {
			return false
		}
	}
	return true
}

func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// isToken: printable ASCII without separators of a query string.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '&' || c == '=' || c == '#' || c == '?' {
			return false
		}
	}
	return s != ""
}
