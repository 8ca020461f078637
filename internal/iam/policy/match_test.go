package policy

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cdnd/cdnd/internal/ascii"
)

// check matches s against pattern both ways the package can, the raw
// wildcard loop and the compiled pattern, and fails the test if they
// disagree. fold expects a lower-case pattern.
func check(t *testing.T, pattern, s string, fold bool) bool {
	t.Helper()
	raw := wildcard(pattern, s, fold)
	p := compile(pattern)
	compiled := p.match(s)
	if fold {
		compiled = p.matchFold(s)
	}
	if raw != compiled {
		t.Fatalf("pattern %q, %q, fold %v: wildcard says %v, compiled pattern says %v", pattern, s, fold, raw, compiled)
	}
	return raw
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything:at/all", true},
		{"**", "", true},
		{"a", "a", true},
		{"a", "A", false},
		{"a", "ab", false},
		{"ab", "a", false},
		{"a*", "a", true},
		{"*a", "ba", true},
		{"*a", "ab", false},
		{"a*b", "ab", true},
		{"a*b", "axxb", true},
		{"a*b", "axxbc", false},
		{"a*b*c", "abbbcbc", true},
		{"a*b*c", "acb", false},
		{"*a*a*a*a*b", strings.Repeat("a", 50), false},
		{"*a*a*a*a*b", strings.Repeat("a", 50) + "b", true},
		{"?", "x", false}, // '?' is literal
		{"?", "?", true},
		{"a?c", "abc", false},
		{"acs:cdn:*:123456:domain/*.a.example", "acs:cdn:*:123456:domain/x.a.example", true},
		{"acs:cdn:*:123456:domain/*.a.example", "acs:cdn:cn-hangzhou:123456:domain/x.y.a.example", true},
		{"acs:cdn:*:123456:domain/*.a.example", "acs:cdn:*:123456:domain/b.example", false},
		{"acs:cdn:*:123456:domain/*.a.example", "acs:cdn:*:123456:domain/a.example", false},
		{"acs:cdn:*:123456:domain/*.a.example", "acs:cdn:*:123456:domain/X.A.EXAMPLE", false},
		{"acs:cdn:*:*:*", "acs:cdn:*:123456:domain/x", true},
		{"acs:cdn:*", "acs:cdn:", true},
		{"acs:cdn:*", "acs:cdn", false},
		{"ab*ba", "aba", false}, // prefix and suffix overlap
		{"ab*ba", "abba", true},
		{"a*b*a", "aba", true},
		{"a*x*a", "aa", false},
		{"*x*", "abc", false},
		{"*x*", "abxc", true},
	} {
		if got := check(t, tc.pattern, tc.s, false); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestMatchFold(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"cdn:setdomainservercertificate", "cdn:SetDomainServerCertificate", true},
		{"cdn:set*", "CDN:SETDOMAIN", true},
		{"cdn:describe*", "cdn:SetDomain", false},
		{"cdn:*config*", "cdn:DescribeCdnDomainConfigs", true},
		{"é", "É", false},      // ASCII folding only
		{"k", "\u212a", false}, // the Kelvin sign is not 'k' here
		{"cdn:*-x", "CDN:A-X", true},
	} {
		if got := check(t, tc.pattern, tc.s, true); got != tc.want {
			t.Errorf("matchFold(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
	if got := ascii.Lower("Cdn:Set*É"); got != "cdn:set*É" {
		t.Errorf("ascii.Lower = %q", got)
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	s := "acs:cdn:*:123456:domain/x.a.example"
	resource, action := compile("acs:cdn:*:*:domain/*.a.example"), compile("cdn:set*")
	var ok bool
	n := testing.AllocsPerRun(100, func() {
		ok = wildcard("acs:cdn:*:*:domain/*.a.example", s, false) && wildcard("cdn:set*", "cdn:SetDomainServerCertificate", true) &&
			resource.match(s) && action.matchFold("CDN:SetDomainServerCertificate")
	})
	if !ok {
		t.Error("no match")
	}
	if n != 0 {
		t.Errorf("allocations = %v, want 0", n)
	}
}

// reference is the obvious, slow definition of a RAM pattern: every '*'
// becomes (?s:.*) and everything else is literal. (?s) because '*' also
// matches newlines.
func reference(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`(?s)\A` + strings.Join(parts, ".*") + `\z`)
}

func FuzzMatch(f *testing.F) {
	f.Add("acs:cdn:*:123456:domain/*.a.example", "acs:cdn:*:123456:domain/x.a.example")
	f.Add("*a*a*b", "aaaaab")
	f.Add("a*b*c", "acb")
	f.Add("Cdn:Set*", "cdn:setX")
	f.Add("?*", "x")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		// regexp works on runes and rejects invalid UTF-8 in patterns;
		// on valid UTF-8 the byte-wise and rune-wise answers agree,
		// since a literal never starts in the middle of a rune.
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return
		}
		if got, want := check(t, pattern, s, false), reference(pattern).MatchString(s); got != want {
			t.Fatalf("match(%q, %q) = %v, reference says %v", pattern, s, got, want)
		}
		lp, ls := ascii.Lower(pattern), ascii.Lower(s)
		if got, want := check(t, lp, s, true), reference(lp).MatchString(ls); got != want {
			t.Fatalf("matchFold(%q, %q) = %v, reference says %v", lp, s, got, want)
		}
	})
}
