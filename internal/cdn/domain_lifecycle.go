package cdn

import (
	"context"

	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// updateDomain applies change to the caller's domain once the edges have
// applied its previous change, and commits it only if nothing else changed
// the domain meanwhile. change reports whether it changed anything; an
// unchanged domain is not written (Start on an online domain is a no-op).
func (s *Service) updateDomain(ctx context.Context, r *openapi.Request, change func(d *store.Domain) (bool, error)) error {
	return store.RetryConflicts(ctx, func() error {
		d, rev, err := s.loadDomain(ctx, account(r), r.Get("DomainName"))
		if err != nil {
			return err
		}
		if err := s.awaitSettled(ctx, rev); err != nil {
			return err
		}
		changed, err := change(&d)
		if err != nil || !changed {
			return err
		}
		d.Modified = s.now().UTC()
		_, err = s.st.Txn().Unchanged(store.DomainKey(d.Name), rev).Put(store.DomainKey(d.Name), d).Commit(ctx)
		return err
	})
}

func setStatus(to string) func(d *store.Domain) (bool, error) {
	return func(d *store.Domain) (bool, error) {
		if d.Status == to {
			return false, nil
		}
		d.Status = to
		return true, nil
	}
}

func (s *Service) startDomain(ctx context.Context, r *openapi.Request) (any, error) {
	return nil, s.updateDomain(ctx, r, setStatus(statusOnline))
}

func (s *Service) stopDomain(ctx context.Context, r *openapi.Request) (any, error) {
	return nil, s.updateDomain(ctx, r, setStatus(statusOffline))
}

// deleteDomain removes the domain and its configs; its certificate stays in
// the account's repository, as on Alibaba Cloud. The configs go in the same
// transaction: a name added again, by any account, starts without them.
// So does a wildcard's guard, or a name's marker (store.CoverKeyOf):
// otherwise every name ever added would leave a record behind, and a
// tenant adding and deleting names could grow the store without bound.
func (s *Service) deleteDomain(ctx context.Context, r *openapi.Request) (any, error) {
	return nil, store.RetryConflicts(ctx, func() error {
		d, rev, err := s.loadDomain(ctx, account(r), r.Get("DomainName"))
		if err != nil {
			return err
		}
		if err := s.awaitSettled(ctx, rev); err != nil {
			return err
		}
		t := s.st.Txn().
			Unchanged(store.DomainKey(d.Name), rev).
			Delete(store.DomainKey(d.Name)).
			Delete(store.OwnerKey(d.AccountID, d.Name)).
			Delete(store.DomainConfigsKey(d.Name)).
			Delete(store.FreeCertKey(d.Name)) // its free certificate renews no more
		switch guard, wildcard, ok := store.CoverKeyOf(d.Name); {
		case ok && wildcard == d.Name:
			t.Delete(guard)
		case ok:
			t.Delete(store.CoverMarkerKey(wildcard, d.Name))
		}
		_, err = t.Commit(ctx)
		return err
	})
}
