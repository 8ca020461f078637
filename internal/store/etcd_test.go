package store

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// The embedded member listens nowhere: no local process, and no origin a
// tenant points at loopback, can reach the store around the API.
func TestEmbeddedMemberHasNoListener(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Open(ctx, Config{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n := len(st.etcd.Peers) + len(st.etcd.Clients); n != 0 {
		for _, p := range st.etcd.Peers {
			t.Errorf("peer listener on %s", p.Addr())
		}
		for _, c := range st.etcd.Clients {
			t.Errorf("client listener on %s", c.Addr())
		}
	}
	if _, err := st.Revision(ctx); err != nil {
		t.Fatalf("the in-process client: %v", err)
	}
}
