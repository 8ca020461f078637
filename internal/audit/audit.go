// Package audit keeps the trail of who changed what: every write through
// the API and every refused call, in etcd, for a retention period. It never
// holds a secret: the gateway hands it no parameter values, and clips what
// callers supplied (see openapi.AuditEvent).
package audit

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/ascii"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// DefaultRetention is how long records are kept unless configured.
const DefaultRetention = 30 * 24 * time.Hour

// Trail writes and reads audit records.
type Trail struct {
	st        *store.Store
	retention time.Duration
	log       *slog.Logger
	tally     tally
}

// New returns the trail over st, keeping records for retention. Call Flush
// before closing st: refusals still being counted are written then.
func New(st *store.Store, retention time.Duration, log *slog.Logger) *Trail {
	if retention <= 0 {
		retention = DefaultRetention
	}
	if log == nil {
		log = slog.Default()
	}
	return &Trail{st: st, retention: retention, log: log}
}

// Record keeps one event; it implements openapi.Auditor.
func (t *Trail) Record(ctx context.Context, e openapi.AuditEvent) error {
	return t.st.PutRetained(ctx, store.AuditKey(e.Time, e.RequestID), e, t.retention)
}

// Filter selects records; empty fields match everything.
type Filter struct {
	AccountID string
	// Domain matches records whose resources name this domain.
	Domain string
	Action string
	From   time.Time
	To     time.Time
	// Limit bounds the answer (default 1000).
	Limit int
}

// Query returns matching records, oldest first, including this node's
// refusals of the window still being counted.
func (t *Trail) Query(ctx context.Context, f Filter) ([]openapi.AuditEvent, error) {
	if f.To.IsZero() {
		f.To = time.Now()
	}
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	out := []openapi.AuditEvent{}
	err := store.AuditRange(ctx, t.st, f.From, f.To, func(e openapi.AuditEvent) bool {
		if f.matches(e) {
			out = append(out, e)
		}
		return len(out) < f.Limit
	})
	if err != nil {
		return nil, err
	}
	for _, e := range t.pending() {
		if f.matches(e) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b openapi.AuditEvent) int { return a.Time.Compare(b.Time) })
	return out[:min(len(out), f.Limit)], nil
}

func (f Filter) matches(e openapi.AuditEvent) bool {
	if e.Time.Before(f.From) || e.Time.After(f.To) {
		return false
	}
	if (f.AccountID != "" && e.AccountID != f.AccountID) || (f.Action != "" && !strings.EqualFold(e.Action, f.Action)) {
		return false
	}
	if f.Domain == "" {
		return true
	}
	for _, r := range e.Resources {
		if strings.HasSuffix(r, ":domain/"+ascii.Lower(f.Domain)) {
			return true
		}
	}
	return false
}
