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
	sources, err := parseSources(r.Get("Sources"))
	if errors.As(err, new(errSourceType)) {
		return nil, errSourceTypeMalformed
	}
	if err != nil {
		return nil, errSourcesMalformed
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
		_, err = s.st.Txn().
			Unchanged(store.AccountKey(acct.AccountID), acctRev).
			Unchanged(store.DomainKey(name), 0).
			Put(store.AccountKey(acct.AccountID), acct).
			Put(store.DomainKey(name), d).
			Put(store.OwnerKey(acct.AccountID, name), struct{}{}).
			Commit(ctx)
		return err
	})
}

// newDomainID is numeric like Alibaba's DomainId, below 2^53 for JavaScript.
func newDomainID() int64 {
	v, err := rand.Int(rand.Reader, big.NewInt(1<<53-100_000_000))
	if err != nil {
		panic("cdn: crypto/rand failed: " + err.Error())
	}
	return v.Int64() + 100_000_000
}
