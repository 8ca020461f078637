package audit

import (
	"context"
	"sync"
	"time"

	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// Calls refused before their caller was authenticated cost the caller
// nothing to repeat, so they are not kept one record each: a tally counts
// them per (source address, code, account of a known key) over a window and
// keeps one record per such triple, carrying the first call's details and a
// Count. Sources beyond tallyMaxKeys in one window share one record per code
// (SourceIP "other"), so the records a window leaves are bounded whatever the
// number of addresses an attacker has.
const (
	// TallyWindow is how long refusals are counted before their records
	// are written.
	TallyWindow = time.Minute
	// tallyMaxKeys bounds the distinct triples counted in one window.
	tallyMaxKeys = 32
	// tallyRetention caps how long tallies are kept: at tallyMaxKeys plus
	// one per code a minute, a week of them is well under 200 MB even when
	// every window is full.
	tallyRetention = 7 * 24 * time.Hour
	// OtherSources names the shared record of sources beyond tallyMaxKeys.
	OtherSources = "other"
	// flushBudget bounds writing one window's records.
	flushBudget = 10 * time.Second
)

type tallyKey struct{ source, code, account string }

// tally is the window being counted. Safe for concurrent use.
type tally struct {
	mu    sync.Mutex
	open  map[tallyKey]*openapi.AuditEvent
	timer *time.Timer
}

// Tally counts a refused call of an unauthenticated caller; it implements
// openapi.Auditor. It reports whether e is the first of its kind in the
// window: the caller logs that one only, and the count is logged when the
// window is written. It never blocks on the store.
func (t *Trail) Tally(e openapi.AuditEvent) bool {
	t.tally.mu.Lock()
	defer t.tally.mu.Unlock()
	k := tallyKey{e.SourceIP, e.Code, e.AccountID}
	if b, ok := t.tally.open[k]; ok {
		b.Count++
		b.Last = e.Time
		return false
	}
	if len(t.tally.open) >= tallyMaxKeys {
		k = tallyKey{OtherSources, e.Code, ""}
		if b, ok := t.tally.open[k]; ok {
			b.Count++
			b.Last = e.Time
			return false
		}
		e = openapi.AuditEvent{Time: e.Time, RequestID: e.RequestID, SourceIP: OtherSources, Action: e.Action, Code: e.Code, Status: e.Status}
	}
	if t.tally.open == nil {
		t.tally.open = map[tallyKey]*openapi.AuditEvent{}
	}
	e.Count, e.Last = 1, e.Time
	t.tally.open[k] = &e
	if t.tally.timer == nil {
		t.tally.timer = time.AfterFunc(TallyWindow, func() { t.Flush(context.Background()) })
	}
	return true
}

// Flush writes the window's tallies now (at shutdown, or when the window
// ends) and starts a new window.
func (t *Trail) Flush(ctx context.Context) {
	t.tally.mu.Lock()
	open := t.tally.open
	t.tally.open = nil
	if t.tally.timer != nil {
		t.tally.timer.Stop()
		t.tally.timer = nil
	}
	t.tally.mu.Unlock()
	if len(open) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, flushBudget)
	defer cancel()
	retention := min(t.retention, tallyRetention)
	for _, e := range open {
		if e.Count > 1 {
			t.log.Info("api calls refused", "source_ip", e.SourceIP, "code", e.Code, "account_id", e.AccountID,
				"count", e.Count, "first", e.Time, "last", e.Last)
		}
		if err := t.st.PutRetained(ctx, store.AuditKey(e.Time, e.RequestID), e, retention); err != nil {
			t.log.Error("audit tally lost", "source_ip", e.SourceIP, "code", e.Code, "count", e.Count, "err", err)
		}
	}
}

// pending is a copy of the window being counted, for queries that must see
// refusals before their window is written.
func (t *Trail) pending() []openapi.AuditEvent {
	t.tally.mu.Lock()
	defer t.tally.mu.Unlock()
	out := make([]openapi.AuditEvent, 0, len(t.tally.open))
	for _, e := range t.tally.open {
		out = append(out, *e)
	}
	return out
}
