package edge

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/cdnd/cdnd/internal/store"
)

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"example.com", "example.com", true},
		{"Example.COM.", "example.com", true},
		{"", "", false},
		{".", "", false},
		{".example.com", "", false}, // would hit the wildcard record by its key
		{strings.Repeat("a", 254), "", false},
		{"\u212aelvin.example.com", "", false}, // the Kelvin sign folds to "k" in Unicode, not in DNS
		{"b\u00fccher.example", "", false},
	} {
		got, ok := normalizeName(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("normalizeName(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// fuzzEdge is an edge without a store, loaded directly, with an exact and
// a wildcard domain on real certificates.
func fuzzEdge(t testing.TB) *Edge {
	e := New(Config{Keyring: testKR, Logger: slog.New(slog.DiscardHandler)})
	exact := issue(t, "a.example.com")
	wild := issue(t, "*.example.com")
	e.load(&store.Served{
		Revision: 1,
		Domains: []store.Domain{
			domain("a.example.com", "exact"),
			domain(".example.com", "wild"),
			domain("off.example.com", ""),
		},
		Certs: []store.Cert{exact.record(t, acct, "exact"), wild.record(t, acct, "wild")},
	})
	return e
}

// FuzzSNI: name normalisation and lookup never panic, and whatever is
// found is the exact record or the wildcard one label up.
func FuzzSNI(f *testing.F) {
	for _, s := range []string{"a.example.com", "B.example.com.", "", ".", "..", ".example.com",
		"x.y.example.com", "example.com", "a..example.com", "\x00.example.com", "ß.example.com",
		"İ.EXAMPLE.COM", strings.Repeat("a.", 130)} {
		f.Add(s)
	}
	e := fuzzEdge(f)
	f.Fuzz(func(t *testing.T, sni string) {
		name, ok := normalizeName(sni)
		if ok {
			if name == "" || name[0] == '.' || len(name) > 253*4 {
				t.Fatalf("normalizeName(%q) = %q", sni, name)
			}
			if strings.ContainsAny(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
				t.Fatalf("normalizeName(%q) = %q keeps upper case", sni, name)
			}
			if w := store.WildcardOf(name); w != "" && (w[0] != '.' || !strings.HasSuffix(name, w) || strings.Count(name, ".") != strings.Count(w, ".")) {
				t.Fatalf("store.WildcardOf(%q) = %q", name, w)
			}
			if d := e.idx.domain(name); d != nil && d.name != name && d.name != store.WildcardOf(name) {
				t.Fatalf("lookup(%q) found %q", name, d.name)
			}
		}
		cert := e.certificate(sni)
		if cert != nil && !ok {
			t.Fatalf("certificate for unnormalisable %q", sni)
		}
	})
}
