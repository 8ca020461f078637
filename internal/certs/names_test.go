package certs_test

import (
	"slices"
	"testing"

	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/certs/certstest"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		cn   string
		sans []string
		want []string
	}{
		{"SANs lower-cased and deduplicated in order", "ignored.example",
			[]string{"WWW.Example.com", "example.com", "www.example.COM", "*.Example.com"},
			[]string{"www.example.com", "example.com", "*.example.com"}},
		{"SANs win over a different CN", "cn.example", []string{"san.example"}, []string{"san.example"}},
		{"IDN A-labels kept as they are", "", []string{"XN--Bcher-kva.example"}, []string{"xn--bcher-kva.example"}},
		{"CN when there are no SANs", "Legacy.Example.COM", nil, []string{"legacy.example.com"}},
		{"wildcard CN", "*.legacy.example", nil, []string{"*.legacy.example"}},
		{"CN that is not a host name", "My Company Ltd", nil, nil},
		{"no CN, no SANs", "", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := issue(t, leafTemplate(tc.cn, tc.sans...), nil).cert
			got := certs.Names(leaf)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Names = %q, want %q", got, tc.want)
			}
		})
	}
	chainPEM, _ := certstest.Valid(t, "a.example", "b.example", "A.example")
	if got, want := certs.Names(mustLeaf(t, chainPEM)), []string{"a.example", "b.example"}; !slices.Equal(got, want) {
		t.Errorf("Names of certstest leaf = %q, want %q", got, want)
	}
	if certs.Names(nil) != nil {
		t.Error("Names(nil) is not nil")
	}
}

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		// Exact names.
		{"example.com", "example.com", true},
		{"example.com", "www.example.com", false},
		{"www.example.com", "example.com", false},
		{"example.com", "example.org", false},
		{"example.com", "xexample.com", false},
		// Case and trailing dot.
		{"Example.COM", "example.com", true},
		{"example.com", "EXAMPLE.com", true},
		{"example.com.", "example.com", true},
		{"example.com", "example.com.", true},
		{"example.com..", "example.com", false},
		// Case folding is ASCII only: the Kelvin sign is not "k".
		{"k.example", "\u212a.example", false},
		// Wildcards: exactly one whole label.
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "A.EXAMPLE.COM.", true},
		{"*.Example.Com", "www.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.b.example.com", false},
		{"*.example.com", "a.example.org", false},
		{"*.example.com", "aexample.com", false},
		{"*.example.com", "-.example.com", true},
		{"*.b.example.com", "a.b.example.com", true},
		{"*.b.example.com", "a.example.com", false},
		// Partial and misplaced wildcards cover nothing.
		{"w*.example.com", "www.example.com", false},
		{"*w.example.com", "www.example.com", false},
		{"a.*.example.com", "a.b.example.com", false},
		{"*", "localhost", false},
		{"*.", "localhost", false},
		{"**.example.com", "a.example.com", false},
		// CDN wildcard domains (".example.com") and the same in SAN form.
		{"*.example.com", ".example.com", true},
		{"*.EXAMPLE.com", ".example.COM.", true},
		{"*.example.com", "*.example.com", true},
		{"example.com", ".example.com", false},
		{"www.example.com", ".example.com", false},
		{"*.a.example.com", ".example.com", false},
		{"*.example.com", ".a.example.com", false},
		{"*.example.com", "*.a.example.com", false},
		{".example.com", "a.example.com", false},
		{".example.com", ".example.com", false},
		// IDNA: punycode names compare as plain strings.
		{"xn--bcher-kva.example", "xn--bcher-kva.example", true},
		{"XN--BCHER-KVA.example", "xn--bcher-kva.EXAMPLE.", true},
		{"*.xn--fiqs8s", "xn--55qx5d.xn--fiqs8s", true},
		{"*.xn--fiqs8s", ".xn--fiqs8s", true},
		{"xn--bcher-kva.example", "bücher.example", false},
		{"xn--*.example", "xn--bcher-kva.example", false},
		// Degenerate input.
		{"", "", false},
		{"example.com", "", false},
		{"", "example.com", false},
		{".", ".", false},
		{"a..example.com", "a..example.com", false},
		{"*.example.com", "..example.com", false},
		{"*.example.com", ".", false},
	} {
		if got := certs.Covers(tc.pattern, tc.host); got != tc.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tc.pattern, tc.host, got, tc.want)
		}
	}
}

func TestCoversAny(t *testing.T) {
	names := []string{"example.com", "*.example.com"}
	for host, want := range map[string]bool{
		"example.com":       true,
		"www.example.com":   true,
		".example.com":      true,
		"a.b.example.com":   false,
		"example.org":       false,
		".www.example.com":  false,
		"WWW.EXAMPLE.COM.":  true,
		"www.example.com..": false,
	} {
		if got := certs.CoversAny(names, host); got != want {
			t.Errorf("CoversAny(%q, %q) = %v, want %v", names, host, got, want)
		}
	}
	if certs.CoversAny(nil, "example.com") {
		t.Error("CoversAny(nil) is true")
	}
}
