package cdn

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// commitAdd commits what addDomain commits for d's wildcard reach (with
// the domain record), given what checkCover read.
func commitAdd(t *testing.T, s *Service, d store.Domain, g coverGuard) error {
	t.Helper()
	tx := s.st.Txn().Unchanged(store.DomainKey(d.Name), 0).Put(store.DomainKey(d.Name), d)
	g.guard(tx)
	_, err := tx.Commit(context.Background())
	return err
}

// Interleavings of adds under one zone, each read done before the other's
// commit (landed commits first): a name and another account's wildcard
// never both commit, and names under one zone (any accounts) do not
// conflict with each other.
func TestCoverInterleavings(t *testing.T) {
	s := newTestService(t, Config{})
	ctx := context.Background()
	type add struct{ name, account string }
	for _, tc := range []struct {
		what          string
		landed, later add
		laterCommit   error // what the later commit answers
		laterReread   error // what reading again then says of it
	}{
		{"two accounts' names under one zone (they used to contend for the guard)",
			add{"a.one.example", "A"}, add{"b.one.example", "B"}, nil, nil},
		{"another account's name lands under a wildcard being added",
			add{"x.two.example", "B"}, add{".two.example", "A"}, store.ErrConflict, errWildcardConflict},
		{"another account's wildcard lands over a name being added",
			add{".three.example", "A"}, add{"y.three.example", "B"}, store.ErrConflict, errWildcardConflict},
		{"one account: the wildcard read before its own name landed reads again, then may",
			add{"z.four.example", "A"}, add{".four.example", "A"}, store.ErrConflict, nil},
	} {
		t.Run(tc.what, func(t *testing.T) {
			run := fmt.Sprintf(".r%d", time.Now().UnixNano()) // new names on every -count run
			landed := store.Domain{Name: tc.landed.name + run, AccountID: tc.landed.account}
			later := store.Domain{Name: tc.later.name + run, AccountID: tc.later.account}
			gLater, err := s.checkCover(ctx, later)
			if err != nil {
				t.Fatal(err)
			}
			gLanded, err := s.checkCover(ctx, landed)
			if err != nil {
				t.Fatal(err)
			}
			if err := commitAdd(t, s, landed, gLanded); err != nil {
				t.Fatal(err)
			}
			if err := commitAdd(t, s, later, gLater); !errors.Is(err, tc.laterCommit) || (tc.laterCommit == nil && err != nil) {
				t.Fatalf("the later commit: %v, want %v", err, tc.laterCommit)
			}
			if tc.laterCommit == nil {
				return
			}
			if _, err := s.checkCover(ctx, later); !errors.Is(err, tc.laterReread) || (tc.laterReread == nil && err != nil) {
				t.Fatalf("read again: %v, want %v", err, tc.laterReread)
			}
		})
	}
}
