package edge

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// unreachableStore is a store whose cluster does not answer: a control
// plane that is down.
func unreachableStore(t *testing.T) *store.Store {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	st, err := store.Open(context.Background(), store.Config{Endpoints: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestServesSnapshotWithoutStore: an edge writes what it serves to its
// snapshot (keys still sealed); restarted while the store is unreachable,
// it serves the snapshot; it never wrote a key in the clear.
func TestServesSnapshotWithoutStore(t *testing.T) {
	st := testStoreFor(t)
	path := filepath.Join(t.TempDir(), "snapshot.json.gz")
	c := issue(t, "snap.example.com", "*.snap.example.com")
	putCertAndDomains(t, st, c, "c", domain("snap.example.com", "c"), domain(".snap.example.com", "c"))
	en := startEdge(t, st, withConfig(func(cfg *Config) { cfg.SnapshotPath = path }))
	eventually(t, 5*time.Second, func() error { _, err := os.Stat(path); return err })
	en.stop() // writes a last snapshot

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "PRIVATE KEY") {
		t.Fatal("the snapshot holds a key in the clear")
	}
	s, err := en.edge.readSnapshot()
	if err != nil || len(s.Domains) != 2 || len(s.Certs) != 1 || s.Revision == 0 || s.ClusterID == 0 {
		t.Fatalf("snapshot: %+v, %v", s, err)
	}

	down := startEdge(t, unreachableStore(t), withConfig(func(cfg *Config) { cfg.SnapshotPath = path }))
	for _, name := range []string{"snap.example.com", "www.snap.example.com"} {
		if fp, err := down.handshake(name, false); err != nil || fp != c.fp {
			t.Fatalf("%s from the snapshot: %s, %v", name, short(fp), err)
		}
	}
}

// TestSnapshotCatchesUp: an edge that starts from a snapshot with the store
// reachable applies what changed since, from the snapshot's revision.
func TestSnapshotCatchesUp(t *testing.T) {
	st := testStoreFor(t)
	path := filepath.Join(t.TempDir(), "snapshot.json.gz")
	c1 := issue(t, "up.example.com")
	putCertAndDomains(t, st, c1, "c", domain("up.example.com", "c"))
	en := startEdge(t, st, withConfig(func(cfg *Config) { cfg.SnapshotPath = path }))
	eventually(t, 5*time.Second, func() error { _, err := os.Stat(path); return err })
	en.stop()

	c2 := issue(t, "up.example.com")
	rev := putCertAndDomains(t, st, c2, "c", domain("up.example.com", "c"))
	again := startEdge(t, st, withConfig(func(cfg *Config) { cfg.SnapshotPath = path }))
	again.waitApplied(rev)
	if fp, err := again.handshake("up.example.com", false); err != nil || fp != c2.fp {
		t.Fatalf("caught up: %s, %v", short(fp), err)
	}
}
