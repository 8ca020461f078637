package audit

import (
	"context"
	"errors"
	"time"

	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// Begin makes e, and the claim of the call's nonce, ride on the action's
// own commit; it implements openapi.Auditor.
func (t *Trail) Begin(ctx context.Context, e openapi.AuditEvent, nonce string, ttl time.Duration) (context.Context, openapi.WriteCall) {
	ctx, c := t.st.BeginCall(ctx, store.CallRecord{
		AccessKeyID: e.AccessKeyID, Nonce: nonce, NonceTTL: ttl,
		RecordKey: store.AuditKey(e.Time, e.RequestID), Record: e, Retention: t.retention,
	})
	return ctx, writeCall{c}
}

type writeCall struct{ c *store.Call }

func (w writeCall) Committed() bool { return w.c.Committed() }
func (w writeCall) Replayed() bool  { return w.c.Replayed() }

func (w writeCall) Finish(ctx context.Context, e openapi.AuditEvent) (bool, error) {
	err := w.c.Finish(ctx, e)
	if errors.Is(err, store.ErrNonceUsed) {
		return false, nil
	}
	return err == nil, err
}
