package cas_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/cdnd/cdnd/internal/store/storetest"

	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
)

// testStore is the one embedded etcd the package's tests share; each test
// works under its own prefix.
var testStore *store.Store

func TestMain(m *testing.M) { os.Exit(storetest.Run(m, &testStore, nil)) }

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
