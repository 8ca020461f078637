package store

import "testing"

func TestWildcardOf(t *testing.T) {
	for in, want := range map[string]string{
		"a.example.com": ".example.com",
		"a.b.c":         ".b.c",
		"com":           "",
		"a.":            "",
		".a":            "",
		".example.com":  "", // a wildcard is covered by no other wildcard
	} {
		if got := WildcardOf(in); got != want {
			t.Errorf("WildcardOf(%q) = %q, want %q", in, got, want)
		}
	}
}
