package acme

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 120 * time.Second, true},
		{" 5 ", 5 * time.Second, true},
		{"0", 0, true},
		{"-3", 0, true},
		{"99999999999999999999", 0, false},
		{"999999999999", maxRetryAfter, true},
		{"Mon, 07 Dec 2026 12:01:00 GMT", time.Minute, true},
		{"Mon, 07 Dec 2026 11:00:00 GMT", 0, true},
		{"", 0, false},
		{"soon", 0, false},
		{"12s", 0, false},
		{"1e3", 0, false},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseRetryAfter: a CA's header never yields a negative pause or one
// beyond maxRetryAfter.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "Mon, 07 Dec 2026 12:01:00 GMT", "-1", "9223372036854775807", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if ok && (d < 0 || d > maxRetryAfter) {
			t.Fatalf("%q: %v", v, d)
		}
	})
}

func TestLifetimeRenewalIsTwoThirdsLessJitter(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.Add(90 * 24 * time.Hour)
	ideal := nb.Add(60 * 24 * time.Hour)
	seen := map[time.Time]bool{}
	for range 50 {
		at := lifetimeRenewal(nb, na)
		if at.After(ideal) || at.Before(ideal.Add(-90*24*time.Hour/20)) {
			t.Fatalf("renewal at %v, want within a twentieth of the lifetime before %v", at, ideal)
		}
		seen[at] = true
	}
	if len(seen) < 40 {
		t.Fatalf("only %d distinct renewal times of 50: no jitter", len(seen))
	}
}
