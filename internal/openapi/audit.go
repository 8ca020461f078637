package openapi

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// AuditEvent is what the audit trail keeps of a call: who, from where, what
// on which resources, and the outcome. Never a parameter value: secrets
// travel in parameters. Fields the caller supplied are clipped to
// maxAuditField bytes.
type AuditEvent struct {
	Time          time.Time
	RequestID     string
	AccountID     string
	PrincipalType string
	PrincipalName string
	AccessKeyID   string
	SourceIP      string
	Action        string
	Version       string
	Resources     []string
	Code          string // "OK" on success
	Status        int
	// Count, on a tally of refusals (see Auditor.Tally), is how many calls
	// the record stands for, and Last the time of the latest; the other
	// fields are the first call's.
	Count int       `json:",omitempty"`
	Last  time.Time `json:",omitzero"`
}

// Auditor keeps audit events.
type Auditor interface {
	// Record keeps one event: a write, or a refusal of an authenticated
	// caller.
	Record(ctx context.Context, e AuditEvent) error
	// Tally counts a call refused before its caller was authenticated, in
	// bounded memory and storage whatever the rate; it reports whether e is
	// the first of its kind in the current window (the gateway logs only
	// that one). It must not block.
	Tally(e AuditEvent) bool
	// Begin makes a write call's bookkeeping part of its change: under
	// the returned context, the action's own commit also claims the
	// call's nonce (for ttl, under e.AccessKeyID) and keeps e, so that a
	// change never lands without its record and a replay never lands.
	Begin(ctx context.Context, e AuditEvent, nonce string, ttl time.Duration) (context.Context, WriteCall)
}

// WriteCall is the bookkeeping of a write call in flight (Auditor.Begin).
type WriteCall interface {
	// Committed reports whether the action's commit carried it.
	Committed() bool
	// Replayed reports whether the action's commit found the nonce used.
	Replayed() bool
	// Finish claims the nonce and keeps e in one commit, for a call that
	// committed nothing itself; false means the nonce was used.
	Finish(ctx context.Context, e AuditEvent) (bool, error)
}

// audit records every write, and every RAM refusal (an authenticated
// caller trying what it may not, whatever the action); calls refused before
// their caller was authenticated are tallied. It reports whether the call
// should be logged on its own.
func (g *Gateway) audit(ctx context.Context, e AuditEvent, a *Action, authErr error) bool {
	if g.cfg.Auditor == nil {
		return true
	}
	denied := errors.Is(authErr, ErrNoPermission)
	if authErr != nil && !denied {
		return g.cfg.Auditor.Tally(e)
	}
	if a == nil || (a.ReadOnly && !denied) {
		return true
	}
	if err := g.cfg.Auditor.Record(ctx, e); err != nil {
		g.cfg.Logger.Error("audit record lost", "request_id", e.RequestID, "action", e.Action, "err", err)
	}
	return true
}

const (
	// maxAuditField bounds what the audit trail and the logs keep of a
	// field the caller supplied: an AccessKeyId is about 30 bytes, a
	// domain name at most 253.
	maxAuditField = 256
	// maxAuditResources bounds the resources of one record (a batch names
	// at most 50 domains).
	maxAuditResources = 64
)

// clip bounds a caller-supplied string for the audit trail and the logs,
// saying how long it was.
func clip(s string) string {
	if len(s) <= maxAuditField {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:maxAuditField-32], len(s))
}

// clipped is e with every caller-supplied field bounded.
func (e AuditEvent) clipped() AuditEvent {
	e.AccessKeyID, e.PrincipalName, e.Version = clip(e.AccessKeyID), clip(e.PrincipalName), clip(e.Version)
	if len(e.Resources) > maxAuditResources {
		e.Resources = append(e.Resources[:maxAuditResources:maxAuditResources], fmt.Sprintf("...(%d resources)", len(e.Resources)))
	}
	for i, r := range e.Resources {
		e.Resources[i] = clip(r)
	}
	return e
}
