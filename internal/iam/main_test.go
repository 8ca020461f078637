package iam_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/cdnd/cdnd/internal/store/storetest"

	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
)

// testStore is the one embedded etcd the package's tests share; each test
// works under its own prefix.
var testStore *store.Store

func TestMain(m *testing.M) { os.Exit(storetest.Run(m, &testStore, nil)) }

func newKeyring(t testing.TB, b byte, older ...[]byte) *keyring.Keyring {
	t.Helper()
	kr, err := keyring.New(bytes.Repeat([]byte{b}, 32), older...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// newDirectory returns a Directory under the test's own prefix, and its store.
func newDirectory(t *testing.T) (*iam.Directory, *store.Store) {
	t.Helper()
	st := testStore.WithPrefix(prefix(t))
	return iam.New(st, newKeyring(t, 1)), st
}

func keyBytes(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// prefix is the test's own key prefix.
func prefix(t *testing.T) string { return storetest.Prefix(t) }
