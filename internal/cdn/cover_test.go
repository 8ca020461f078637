package cdn

import (
	"context"
	"errors"
	"testing"

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
// commit: a name and another account's wildcard never both commit, and
// names under one zone (any accounts) do not conflict with each other.
func TestCoverInterleavings(t *testing.T) {
	s := newTestService(t, Config{})
	ctx := context.Background()
	read := func(name, account string) (store.Domain, coverGuard) {
		d := store.Domain{Name: name, AccountID: account}
		g, err := s.checkCover(ctx, d)
		if err != nil {
			t.Fatalf("checkCover %s: %v", name, err)
		}
		return d, g
	}

	// Two accounts' names under one zone, read before either commits:
	// both land (they used to contend for the zone's guard).
	a, ga := read("a.one.example", "A")
	b, gb := read("b.one.example", "B")
	if err := commitAdd(t, s, a, ga); err != nil {
		t.Fatal(err)
	}
	if err := commitAdd(t, s, b, gb); err != nil {
		t.Fatalf("a second name under the zone: %v, want it added", err)
	}

	// A wildcard read, then another account's name under it commits:
	// the wildcard's commit fails, and its next read refuses it.
	w, gw := read(".two.example", "A")
	n, gn := read("x.two.example", "B")
	if err := commitAdd(t, s, n, gn); err != nil {
		t.Fatal(err)
	}
	if err := commitAdd(t, s, w, gw); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("wildcard after a name landed under it: %v, want a conflict", err)
	}
	if _, err := s.checkCover(ctx, w); !errors.Is(err, errWildcardConflict) {
		t.Fatalf("wildcard read again: %v, want ExtensiveAndSpecificDomainConflict", err)
	}

	// A name read, then another account's wildcard over it commits: the
	// name's commit fails, and its next read refuses it.
	n, gn = read("y.three.example", "B")
	w, gw = read(".three.example", "A")
	if err := commitAdd(t, s, w, gw); err != nil {
		t.Fatal(err)
	}
	if err := commitAdd(t, s, n, gn); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("name after a wildcard landed over it: %v, want a conflict", err)
	}
	if _, err := s.checkCover(ctx, n); !errors.Is(err, errWildcardConflict) {
		t.Fatalf("name read again: %v, want ExtensiveAndSpecificDomainConflict", err)
	}

	// Within one account: a wildcard that read before a name under it
	// landed fails once (it cannot know whose the name is without reading
	// again), then reads no conflict.
	n, gn = read("z.four.example", "A")
	w, gw = read(".four.example", "A")
	if err := commitAdd(t, s, n, gn); err != nil {
		t.Fatal(err)
	}
	if err := commitAdd(t, s, w, gw); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("same account: %v, want a conflict first (it reads again)", err)
	}
	if _, err := s.checkCover(ctx, w); err != nil {
		t.Fatalf("same account read again: %v, want no conflict", err)
	}
}
