package cdn

import (
	"context"
	"strings"

	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// modifyDomain changes a domain's origins or resource group. Like every
// change it reports configuring until the edges have applied it.
func (s *Service) modifyDomain(ctx context.Context, r *openapi.Request) (any, error) {
	var sources []store.Source
	if v := r.Get("Sources"); v != "" {
		var err error
		if sources, err = s.readSources(ctx, v); err != nil {
			return nil, err
		}
	}
	return nil, s.updateDomain(ctx, r, func(d *store.Domain) (bool, error) {
		changed := false
		if sources != nil {
			d.Sources, changed = sources, true
		}
		if r.Has("ResourceGroupId") && d.ResourceGroupID != r.Get("ResourceGroupId") {
			d.ResourceGroupID, changed = r.Get("ResourceGroupId"), true
		}
		return changed, nil
	})
}

// batchDomains applies one status to several domains in one transaction:
// all of them change, or none.
func (s *Service) batchDomains(ctx context.Context, r *openapi.Request, to string) error {
	names := strings.Split(r.Get("DomainNames"), ",")
	if len(names) > maxBatchDomains {
		return setSSLCertificateErrors[faultTooManyDomains]
	}
	return store.RetryConflicts(ctx, func() error {
		t := s.st.Txn()
		changed := 0
		// One wait for the whole batch, for its latest change: the edges
		// apply revisions in order.
		var latest int64
		for _, n := range names {
			d, rev, err := s.loadDomain(ctx, account(r), strings.TrimSpace(n))
			if err != nil {
				return err
			}
			latest = max(latest, rev)
			t.Unchanged(store.DomainKey(d.Name), rev)
			if d.Status != to {
				d.Status, d.Modified = to, s.now().UTC()
				t.Put(store.DomainKey(d.Name), d)
				changed++
			}
		}
		if err := s.awaitSettled(ctx, latest); err != nil {
			return err
		}
		if changed == 0 {
			return nil
		}
		_, err := t.Commit(ctx)
		return err
	})
}

func (s *Service) batchStartDomains(ctx context.Context, r *openapi.Request) (any, error) {
	return nil, s.batchDomains(ctx, r, statusOnline)
}

func (s *Service) batchStopDomains(ctx context.Context, r *openapi.Request) (any, error) {
	return nil, s.batchDomains(ctx, r, statusOffline)
}
