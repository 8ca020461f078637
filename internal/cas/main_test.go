package cas_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"github.com/cdnd/cdnd/internal/store/storetest"
	"os"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
)

// testStore is the one embedded etcd the package's tests share; each test
// works under its own prefix.
var testStore *store.Store

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		return m.Run() // a fuzz worker runs only the fuzz function: no etcd
	}
	dir, err := os.MkdirTemp("", "cdnd-cas-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	testStore = st
	return m.Run()
}

// newRepo returns a repository under the test's own prefix, its store and
// keyring.
func newRepo(t *testing.T) (*cas.Repo, *store.Store, *keyring.Keyring) {
	t.Helper()
	kr, err := keyring.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	st := testStore.WithPrefix(prefix(t))
	return cas.New(st, kr), st, kr
}

// prefix is the test's own key prefix.
func prefix(t *testing.T) string { return storetest.Prefix(t) }
