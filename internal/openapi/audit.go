package openapi

import (
	"context"
	"time"
)

// AuditEvent is what the audit trail keeps of a call: who, from where, what
// on which resources, and the outcome. Never a parameter value: secrets
// travel in parameters.
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
}

// Auditor keeps audit events.
type Auditor interface {
	Record(ctx context.Context, e AuditEvent) error
}

// refusals are the answers that refuse a caller rather than a request:
// they are audited whatever the action.
var refusals = map[string]bool{
	ErrSignatureDoesNotMatch.Code:  true,
	ErrIncompleteSignature.Code:    true,
	ErrAccessKeyNotFound.Code:      true,
	ErrAccessKeyInactive.Code:      true,
	ErrSecurityTokenMalformed.Code: true,
	ErrSecurityTokenExpired.Code:   true,
	ErrSecurityTokenMismatch.Code:  true,
	ErrNonceUsed.Code:              true,
	ErrTimestampExpired.Code:       true,
	ErrNoPermission.Code:           true,
	ErrThrottlingUser.Code:         true,
}

// audit records writes and refused calls.
func (g *Gateway) audit(ctx context.Context, e AuditEvent, a *Action) {
	if g.cfg.Auditor == nil || (a != nil && a.ReadOnly && !refusals[e.Code]) || (a == nil && !refusals[e.Code]) {
		return
	}
	if err := g.cfg.Auditor.Record(ctx, e); err != nil {
		g.cfg.Logger.Error("audit record lost", "request_id", e.RequestID, "action", e.Action, "err", err)
	}
}
