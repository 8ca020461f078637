package store

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

// testStore is the one embedded etcd every test of this package shares; each
// test isolates itself under its own prefix (newStore).
var testStore *Store

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		return m.Run() // a fuzz worker runs only the fuzz function
	}
	dir, err := os.MkdirTemp("", "cdnd-store-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	testStore = st
	return m.Run()
}

// newStore returns the shared store under a prefix of the test's own.
func newStore(t *testing.T) *Store {
	t.Helper()
	return testStore.WithPrefix("/t-" + t.Name())
}

// openExternal opens a second Store, with its own client and lease cache,
// over the shared embedded etcd (as a second API node would), under the
// test's prefix. Open's context ends as soon as Open returns: the store must
// not depend on it.
func openExternal(t *testing.T) *Store {
	t.Helper()
	addr := testStore.etcd.Clients[0].Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	s, err := Open(ctx, Config{Endpoints: []string{"http://" + addr}, Prefix: "/t-" + t.Name()})
	cancel()
	if err != nil {
		t.Fatalf("open external store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// commit commits t and fails the test on error.
func commit(tb testing.TB, t *Txn) int64 {
	tb.Helper()
	rev, err := t.Commit(tb.Context())
	if err != nil {
		tb.Fatalf("commit: %v", err)
	}
	return rev
}
