package acme

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mholt/acmez/v3/acme"

	"github.com/cdnd/cdnd/internal/store"
)

func TestClassifyMapsFailuresToAlibabaStatuses(t *testing.T) {
	expired, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	live := context.Background()
	problem := func(typ string) error {
		return fmt.Errorf("attempt 1: %w", acme.Problem{Type: typ, Detail: "the detail", Subproblems: []acme.Subproblem{{Problem: acme.Problem{Type: "sub", Detail: "more"}}}})
	}
	for _, tc := range []struct {
		name   string
		err    error
		status string
		detail string
	}{
		{"token phase timed out", phaseError(expired, phaseToken, errors.New("store: unavailable")), store.FreeGetTokenTimeout, "unavailable"},
		{"check phase timed out", phaseError(expired, phaseCheck, context.DeadlineExceeded), store.FreeCheckTokenTimeout, "deadline"},
		{"cert phase timed out", phaseError(expired, phaseCert, context.DeadlineExceeded), store.FreeGetCertTimeout, "deadline"},
		{"rejected identifier", phaseError(live, phaseToken, problem(acme.ProblemTypeRejectedIdentifier)), store.FreeDomainInvalid, acme.ProblemTypeRejectedIdentifier + ": the detail; sub: more"},
		{"unsupported identifier", phaseError(live, phaseToken, problem(acme.ProblemTypeUnsupportedIdentifier)), store.FreeDomainInvalid, "the detail"},
		{"CAA forbids", phaseError(live, phaseCheck, problem(acme.ProblemTypeCAA)), store.FreeDomainInvalid, "the detail"},
		{"validation failed", phaseError(live, phaseCheck, problem("urn:ietf:params:acme:error:unauthorized")), store.FreeFailed, "unauthorized: the detail"},
		{"rate limited", phaseError(live, phaseToken, problem("urn:ietf:params:acme:error:rateLimited")), store.FreeFailed, "rateLimited"},
		{"deadline in a live phase", phaseError(live, phaseCert, context.DeadlineExceeded), store.FreeFailed, "deadline"},
		{"plain error", errors.New("boom"), store.FreeFailed, "boom"},
		{"a huge problem is cut", acme.Problem{Type: "urn:ietf:params:acme:error:malformed", Detail: strings.Repeat("é", 100_000)}, store.FreeFailed, "..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, detail := classify(tc.err)
			if status != tc.status {
				t.Fatalf("status %q, want %q", status, tc.status)
			}
			if !strings.Contains(detail, tc.detail) {
				t.Fatalf("detail %q lacks %q", detail, tc.detail)
			}
			if len(detail) > maxProblem || !utf8.ValidString(detail) {
				t.Fatalf("detail of %d bytes (valid UTF-8: %v), want at most %d", len(detail), utf8.ValidString(detail), maxProblem)
			}
		})
	}
}

func TestDueAt(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	for _, tc := range []struct {
		fc   store.FreeCert
		at   time.Time
		ever bool
	}{
		{store.FreeCert{Status: store.FreeChecking}, time.Time{}, true},
		{store.FreeCert{Status: store.FreeApplying}, time.Time{}, true},
		{store.FreeCert{Status: store.FreeUnsupportWildcard}, time.Time{}, false},
		{store.FreeCert{Status: store.FreeFailed, NextAttempt: later}, later, true},
		{store.FreeCert{Status: store.FreeCnameError, NextAttempt: later}, later, true},
		{store.FreeCert{Status: store.FreeSuccess, RenewAt: later.Add(time.Hour)}, later.Add(time.Hour), true},
		{store.FreeCert{Status: store.FreeSuccess, RenewAt: later.Add(time.Hour), ARICheck: later}, later, true},
	} {
		at, ever := dueAt(tc.fc)
		if !at.Equal(tc.at) || ever != tc.ever {
			t.Errorf("%s: due %v %v, want %v %v", tc.fc.Status, at, ever, tc.at, tc.ever)
		}
	}
}

func TestBackoffDoublesToTheCapWithJitter(t *testing.T) {
	m := New(Config{RetryMin: time.Minute, RetryMax: 10 * time.Minute})
	for n, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 4: 8 * time.Minute, 5: 10 * time.Minute, 50: 10 * time.Minute} {
		for range 20 {
			if got := m.backoff(n); got > want || got < want-want/10 {
				t.Fatalf("backoff(%d) = %v, want within a tenth below %v", n, got, want)
			}
		}
	}
}

func TestPickMovesToTheNextChallengeOnRetry(t *testing.T) {
	m := New(Config{})
	authz := acme.Authorization{Challenges: []acme.Challenge{{Type: "dns-01"}, {Type: TLSALPN01}, {Type: HTTP01}}}
	for attempt, want := range []string{HTTP01, TLSALPN01, HTTP01} {
		if c, ok := m.pick(authz, attempt); !ok || c.Type != want {
			t.Errorf("attempt %d: %q, want %q", attempt, c.Type, want)
		}
	}
	if _, ok := m.pick(acme.Authorization{Challenges: []acme.Challenge{{Type: "dns-01"}}}, 0); ok {
		t.Error("picked a challenge the edges cannot answer")
	}
}

func TestDueQueueOrdersAndForgets(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	q := newDueQueue()
	q.set("c", t0.Add(3*time.Hour), true)
	q.set("a", t0.Add(time.Hour), true)
	q.set("b", t0.Add(2*time.Hour), true)
	q.set("a", t0.Add(4*time.Hour), true) // moved later: its old entry is stale
	q.set("b", time.Time{}, false)        // needs no work any more
	var order []string
	for {
		e, ok := q.peek()
		if !ok {
			break
		}
		q.take()
		order = append(order, e.domain)
	}
	if got := strings.Join(order, ","); got != "c,a" {
		t.Errorf("order %s, want c,a", got)
	}
	for i := range 10_000 { // one domain moved many times stays one entry's worth
		q.set("x", t0.Add(time.Duration(i)*time.Second), true)
	}
	if len(q.entries) > 2*len(q.at)+1024 {
		t.Errorf("%d entries for %d domains: stale entries not compacted", len(q.entries), len(q.at))
	}
}

// BenchmarkScheduleNothingDue: a pass with 100,000 issued certificates of
// which none is due costs what is due, not what is held.
func BenchmarkScheduleNothingDue(b *testing.B) {
	m := &Manager{cfg: Config{Workers: 16, LockTTL: time.Minute}, now: time.Now,
		certs: map[string]store.FreeCert{}, inflight: map[string]bool{}, lockedUntil: map[string]time.Time{},
		queue: newFairQueue(), wake: make(chan struct{}, 1)}
	later := time.Now().Add(24 * time.Hour)
	var kvs []store.RawKV
	for i := range 100_000 {
		fc, _ := json.Marshal(store.FreeCert{Domain: fmt.Sprint(i), Status: store.FreeSuccess, RenewAt: later.Add(time.Duration(i) * time.Second)})
		kvs = append(kvs, store.RawKV{Key: store.FreeCertKey(fmt.Sprintf("d%d.example.com", i)), Value: fc})
	}
	m.apply(true, kvs)
	var wg sync.WaitGroup
	b.ResetTimer()
	for range b.N {
		m.schedule(b.Context(), nil, &wg)
	}
}

// A tenant with a thousand certificates due takes turns with another whose
// one certificate came due later, and has the queue to itself again after.
func TestFairQueueTakesTurnsAcrossAccounts(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f := newFairQueue()
	for i := range 1000 {
		f.set(fmt.Sprintf("a%d.example", i), "A", t0.Add(time.Duration(i)*time.Millisecond), true)
	}
	f.set("b.example", "B", t0.Add(2*time.Second), true)
	f.set("later.example", "C", t0.Add(time.Hour), true)
	now := t0.Add(3 * time.Second)
	var order []string
	for {
		d, ok, wake := f.next(now)
		if !ok {
			if !wake.Equal(t0.Add(time.Hour)) {
				t.Errorf("next wake %v, want C's certificate's time", wake)
			}
			break
		}
		order = append(order, d)
	}
	if len(order) != 1001 {
		t.Fatalf("%d taken, want the 1001 due", len(order))
	}
	if i := slices.Index(order, "b.example"); i < 0 || i > 1 {
		t.Errorf("B's certificate taken %d-th, want among the first two", i+1)
	}
	var a []string
	for _, d := range order {
		if strings.HasPrefix(d, "a") {
			a = append(a, d)
		}
	}
	for i := 1; i < len(a); i++ { // A's own in due order
		var x, y int
		fmt.Sscanf(a[i-1], "a%d.example", &x)
		fmt.Sscanf(a[i], "a%d.example", &y)
		if x > y {
			t.Fatalf("A's certificates out of due order: %s before %s", a[i-1], a[i])
		}
	}
	// Moved to another account, or removed, a domain is queued once.
	f.set("x.example", "A", t0, true)
	f.set("x.example", "B", t0, true)
	f.set("y.example", "A", t0, true)
	f.set("y.example", "", time.Time{}, false)
	var got []string
	for d, ok, _ := f.next(now); ok; d, ok, _ = f.next(now) {
		got = append(got, d)
	}
	if strings.Join(got, ",") != "x.example" {
		t.Errorf("after moves: %v, want only x.example", got)
	}
}
