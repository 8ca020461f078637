package cdn

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"

	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// AddCdnDomain errors.
var (
	errCdnTypeMalformed    = openapi.NewError(400, "InvalidCdnType.Malformed", "Specified CdnType is malformed.")
	errSourcesMalformed    = openapi.NewError(400, "InvalidSources.Malformed", "Specified Sources is malformed.")
	errSourceTypeMalformed = openapi.NewError(400, "InvalidSourceType.Malformed", "Specified Source Type is malformed.")
	errScopeMalformed      = openapi.NewError(400, "InvalidScope.Malformed", "Specified Scope is malformed.")
	errDomainExists        = openapi.NewError(400, "DomainAlreadyExist", "This domain name is exist already")
	errDomainOverLimit     = openapi.NewError(403, "DomainOverLimit", "The Number of Domain is over the limit")
	errWildcardConflict    = openapi.NewError(400, "ExtensiveAndSpecificDomainConflict", "The wildcard domain and a specific domain it covers belong to different accounts.")
)

var (
	cdnTypes = map[string]bool{"web": true, "download": true, "video": true}
	scopes   = map[string]bool{"domestic": true, "overseas": true, "global": true}
)

func (s *Service) addDomain(ctx context.Context, r *openapi.Request) (any, error) {
	name, ok := normalizeDomain(r.Get("DomainName"))
	if !ok {
		return nil, errDomainMalformed
	}
	if !cdnTypes[r.Get("CdnType")] {
		return nil, errCdnTypeMalformed
	}
	scope := r.Get("Scope")
	if scope == "" {
		scope = "domestic"
	}
	if !scopes[scope] {
		return nil, errScopeMalformed
	}
	sources, err := s.readSources(ctx, r.Get("Sources"))
	if err != nil {
		return nil, err
	}
	if err := s.checkOwner(ctx, account(r), name); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	d := store.Domain{
		Name:            name,
		DomainID:        newDomainID(),
		AccountID:       account(r),
		CdnType:         r.Get("CdnType"),
		Scope:           scope,
		Sources:         sources,
		ResourceGroupID: r.Get("ResourceGroupId"),
		CheckURL:        r.Get("CheckUrl"),
		Status:          statusOnline,
		Mode:            ModeNormal,
		Created:         now,
		Modified:        now,
	}
	return nil, store.RetryConflicts(ctx, func() error {
		var existing store.Domain
		if _, err := s.st.Get(ctx, store.DomainKey(name), &existing); err == nil {
			return errDomainExists
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		cover, err := s.checkCover(ctx, d)
		if err != nil {
			return err
		}
		var acct store.Account
		acctRev, err := s.st.Get(ctx, store.AccountKey(d.AccountID), &acct)
		if err != nil {
			return err
		}
		n, err := s.st.CountDomains(ctx, acct.AccountID)
		if err != nil {
			return err
		}
		if n >= int64(acct.DomainQuota) {
			return errDomainOverLimit
		}
		// Rewriting the account record serialises adds of one account, so
		// two concurrent adds cannot both take the last unit of quota.
		t := s.st.Txn().
			Unchanged(store.AccountKey(acct.AccountID), acctRev).
			Unchanged(store.DomainKey(name), 0).
			Put(store.AccountKey(acct.AccountID), acct).
			Put(store.DomainKey(name), d).
			Put(store.OwnerKey(acct.AccountID, name), struct{}{})
		cover.guard(t)
		_, err = t.Commit(ctx)
		return err
	})
}

// coverGuard is what an add read about the wildcard reach it joins, to be
// held unchanged by its commit.
type coverGuard struct {
	key store.Key // the wildcard's guard record; "" when no wildcard covers the name
	rev int64
	// An exact name's add writes its marker and leaves the guard as read;
	// a wildcard's add rewrites the guard and holds the markers of its
	// names unchanged since it listed the domains (at namesRev).
	marker   store.Key
	wildcard string
	namesRev int64
}

func (g coverGuard) guard(t *store.Txn) {
	switch {
	case g.key == "":
	case g.marker != "":
		t.Unchanged(g.key, g.rev).Put(g.marker, struct{}{})
	default:
		t.Unchanged(g.key, g.rev).Put(g.key, struct{}{}).
			NoneChangedUnder(store.CoverMarkersPrefix(g.wildcard), g.namesRev)
	}
}

// checkCover refuses a domain that would share traffic with another
// account's: a wildcard (".example.com") and a name it covers
// ("x.example.com") route the same requests, and the exact name wins at the
// edge, so without this an account could take a name from under another's
// wildcard, or a wildcard could take the rest of another's zone. Within one
// account both may exist. A wildcard's add rewrites its guard record
// (store.CoverKey) and a name's add holds it unchanged, so a name and its
// wildcard added at once cannot both commit: the later one fails on the
// guard, or on the name's marker the wildcard holds, reads again and is
// refused. Names under one zone do not contend with each other.
func (s *Service) checkCover(ctx context.Context, d store.Domain) (coverGuard, error) {
	key, wildcard, ok := store.CoverKeyOf(d.Name)
	if !ok {
		return coverGuard{}, nil
	}
	g := coverGuard{key: key, wildcard: wildcard}
	var mark struct{}
	rev, err := s.st.Get(ctx, g.key, &mark)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return g, err
	}
	g.rev = rev
	// Read after the guard: whatever committed before it is seen here,
	// whatever commits after it changes the guard (or a marker).
	if wildcard != d.Name {
		g.marker = store.CoverMarkerKey(wildcard, d.Name)
		var w store.Domain
		_, err := s.st.Get(ctx, store.DomainKey(wildcard), &w)
		switch {
		case err == nil && w.AccountID != d.AccountID:
			return g, errWildcardConflict
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return g, err
		}
		return g, nil
	}
	covered, namesRev, err := s.st.DomainsCoveredBy(ctx, wildcard)
	if err != nil {
		return g, err
	}
	g.namesRev = namesRev
	for _, c := range covered {
		if c.Value.AccountID != d.AccountID {
			return g, errWildcardConflict
		}
	}
	return g, nil
}

// newDomainID is numeric like Alibaba's DomainId, below 2^53 for JavaScript.
func newDomainID() int64 {
	v, err := rand.Int(rand.Reader, big.NewInt(1<<53-100_000_000))
	if err != nil {
		panic("cdn: crypto/rand failed: " + err.Error())
	}
	return v.Int64() + 100_000_000
}
