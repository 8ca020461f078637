package cdn

import (
	"context"
	"errors"
	"time"

	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// Errors every per-domain action can raise, as CDN's error code list gives
// them (https://api.aliyun.com/document/Cdn/2018-05-10/errorCode).
var (
	errDomainNotFound  = openapi.NewError(404, "InvalidDomain.NotFound", "The domain provided does not belong to you.")
	errDomainMalformed = openapi.NewError(400, "InvalidDomainName.Malformed", "Specified DomainName is malformed.")
	errServiceBusy     = openapi.NewError(403, "ServiceBusy", "The specified Domain is configuring, please retry later.")
)

// Domain statuses on the wire. A record stores what the domain should be
// (online or offline); it is reported as configuring until every live edge
// has applied the revision that made it so.
const (
	statusOnline      = "online"
	statusOffline     = "offline"
	statusConfiguring = "configuring"
)

// loadDomain reads the domain the caller's account owns. Unknown and foreign
// domains look the same: InvalidDomain.NotFound, as on Alibaba Cloud.
func (s *Service) loadDomain(ctx context.Context, accountID, name string) (store.Domain, int64, error) {
	name, ok := normalizeDomain(name)
	if !ok {
		return store.Domain{}, 0, errDomainNotFound
	}
	var d store.Domain
	rev, err := s.st.Get(ctx, store.DomainKey(name), &d)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.AccountID != accountID) {
		return d, 0, errDomainNotFound
	}
	return d, rev, err
}

// applied is the revision every live edge has applied.
func (s *Service) applied(ctx context.Context) (int64, error) { return s.st.AppliedByEveryEdge(ctx) }

// servedRevision is the last revision that changed what the edges serve
// for d, written at rev: its own record's or its certificate's (ForceSet
// replaces a bound certificate's content without touching the domains
// bound to it).
func (s *Service) servedRevision(ctx context.Context, d store.Domain, rev int64) (int64, error) {
	if d.HTTPS == nil {
		return rev, nil
	}
	_, certRev, err := s.certs.Get(ctx, d.AccountID, d.HTTPS.CertName)
	if err != nil && !errors.Is(err, cas.ErrNotFound) {
		return 0, err
	}
	return max(rev, certRev), nil
}

// status is what the API reports for a domain last written at rev.
func status(d store.Domain, rev, applied int64) string {
	if rev > applied {
		return statusConfiguring
	}
	return d.Status
}

// awaitSettled waits, up to busyWait, for the edges to apply rev, and
// answers ServiceBusy if they do not: a domain that is configuring takes no
// further change. It follows the edges' reports (store.AwaitApplied), so it
// returns the moment the last edge reports.
func (s *Service) awaitSettled(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithTimeout(ctx, s.busyWait)
	defer cancel()
	err := s.st.AwaitApplied(wctx, rev)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return errServiceBusy
	}
	return err
}

// formatTime is the ISO form most CDN responses use.
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// certRevisions maps each of an account's certificates to the revision that
// last changed it, for listing many domains' status in one read.
func (s *Service) certRevisions(ctx context.Context, accountID string) (map[string]int64, error) {
	vs, err := store.List[store.Cert](ctx, s.st, store.CertsPrefix(accountID))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(vs))
	for _, v := range vs {
		out[v.Value.Name] = v.Revision
	}
	return out, nil
}
