package cdn

import (
	"context"
	"errors"

	"github.com/cdnd/cdnd/internal/store"
)

// Domain modes, set by the operator. A domain in safe or protected mode
// refuses certificate changes through the API: the state Alibaba Cloud puts a
// domain in while it is under attack or review.
const (
	ModeNormal    = "normal"
	ModeSafe      = "safe"
	ModeProtected = "protected"
)

var (
	// ErrNoSuchDomain: the operator named a domain that does not exist.
	ErrNoSuchDomain = errors.New("cdn: no such domain")
	// ErrBadMode: not one of the modes above.
	ErrBadMode = errors.New("cdn: mode must be normal, safe or protected")
)

// SetMode puts a domain in a mode. It is an operator action: no account
// owns the decision.
func (s *Service) SetMode(ctx context.Context, domain, mode string) error {
	if mode != ModeNormal && mode != ModeSafe && mode != ModeProtected {
		return ErrBadMode
	}
	name, ok := normalizeDomain(domain)
	if !ok {
		return ErrNoSuchDomain
	}
	return store.RetryConflicts(ctx, func() error {
		var d store.Domain
		rev, err := s.st.Get(ctx, store.DomainKey(name), &d)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoSuchDomain
		}
		if err != nil || d.Mode == mode {
			return err
		}
		d.Mode = mode
		_, err = s.st.Txn().Unchanged(store.DomainKey(name), rev).Put(store.DomainKey(name), d).Commit(ctx)
		return err
	})
}
