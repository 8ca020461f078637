package cdn

import (
	"bytes"
	"context"
	"net"
	"os"
	"testing"

	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
	"github.com/cdnd/cdnd/internal/store/storetest"
)

// testStore is the one embedded etcd the package's tests share; each test
// works under its own prefix.
var testStore *store.Store

func TestMain(m *testing.M) { os.Exit(storetest.Run(m, &testStore, nil)) }

// newTestService returns a service over the test's own prefix; cfg's store
// and keyring are filled in.
func newTestService(t *testing.T, cfg Config) *Service {
	t.Helper()
	kr, err := keyring.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Keyring = testStore.WithPrefix(storetest.Prefix(t)), kr
	return New(cfg)
}

// resolverAt resolves every name at the DNS server addr.
func resolverAt(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}
