package edge

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// TestRestart: a new edge over the same store is not Ready and serves
// nothing until it has loaded; once Ready it serves what the store holds,
// including what changed while no edge ran.
func TestRestart(t *testing.T) {
	st := testStoreFor(t)
	c1 := issue(t, "r.example.com")
	putCertAndDomains(t, st, c1, "c", domain("r.example.com", "c"))
	en := startEdge(t, st)
	if fp, err := en.handshake("r.example.com", false); err != nil || fp != c1.fp {
		t.Fatalf("first edge: %s, %v", short(fp), err)
	}
	en.stop()

	c2 := issue(t, "r.example.com", "r2.example.com")
	rev := putCertAndDomains(t, st, c2, "c", domain("r2.example.com", "c"))

	cold := New(Config{Store: st, Keyring: testKR, EdgeID: "cold", Logger: slog.New(slog.DiscardHandler)})
	if cold.Ready() {
		t.Fatal("an edge that has not loaded is Ready")
	}
	if cold.certificate("r.example.com") != nil {
		t.Fatal("an edge that has not loaded serves a certificate")
	}
	rec := httptest.NewRecorder()
	cold.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "http://r.example.com/", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("not-ready proxy answered %d, want 503", rec.Code)
	}

	en2 := startEdge(t, st) // returns as soon as Ready
	if got := en2.edge.Applied(); got < rev {
		t.Fatalf("Ready at revision %d, before the last commit %d", got, rev)
	}
	for _, name := range []string{"r.example.com", "r2.example.com"} {
		if fp, err := en2.handshake(name, false); err != nil || fp != c2.fp {
			t.Fatalf("restarted edge, %s: %s, %v; want %s", name, short(fp), err, short(c2.fp))
		}
	}
}

// TestReportsApplied: the edge reports the revision it applied (and how
// many domains it holds) through its lease; the record goes away when the
// edge stops.
func TestReportsApplied(t *testing.T) {
	st := testStoreFor(t)
	en := startEdge(t, st)
	const n = 30
	var rev int64
	for i := 0; i < n; i++ {
		d := domain(fmt.Sprintf("d%d.example.net", i), "")
		rev = commit(t, st.Txn().Put(store.DomainKey(d.Name), d))
	}
	ctx := context.Background()
	findEdge := func() (*store.Edge, error) {
		edges, err := st.Edges(ctx)
		if err != nil {
			return nil, err
		}
		for i := range edges {
			if edges[i].EdgeID == en.id {
				return &edges[i], nil
			}
		}
		return nil, nil
	}
	eventually(t, 5*time.Second, func() error {
		e, err := findEdge()
		switch {
		case err != nil:
			return err
		case e == nil:
			return fmt.Errorf("edge %q not listed", en.id)
		case e.Applied < rev || e.Domains != n:
			return fmt.Errorf("reported applied %d with %d domains, want ≥ %d with %d", e.Applied, e.Domains, rev, n)
		case e.Reported.IsZero():
			return fmt.Errorf("report has no time")
		}
		return nil
	})

	en.stop()
	eventually(t, 5*time.Second, func() error {
		e, err := findEdge()
		if err != nil {
			return err
		}
		if e != nil {
			return fmt.Errorf("stopped edge still listed: %+v", *e)
		}
		return nil
	})
}

// TestOneRevisionAtOnce: a certificate replaced together with a new domain
// bound to it, in one transaction, is seen whole: any handshake that finds
// the new domain also gets the new certificate.
func TestOneRevisionAtOnce(t *testing.T) {
	st := testStoreFor(t)
	old := issue(t, "one.example.com")
	putCertAndDomains(t, st, old, "c", domain("one.example.com", "c"))
	en := startEdge(t, st)
	next := issue(t, "one.example.com", "two.example.com")
	rev := putCertAndDomains(t, st, next, "c", domain("two.example.com", "c"))
	deadline := time.Now().Add(5 * time.Second)
	for en.edge.Applied() < rev {
		if time.Now().After(deadline) {
			t.Fatalf("revision %d not applied within 5s", rev)
		}
		// Before the revision: "two" is unknown. After: "two" is served
		// with the new certificate. Never "two" with the old one.
		if fp, err := en.handshake("two.example.com", true); err == nil && fp != next.fp {
			t.Fatalf("new domain served with the old certificate")
		}
	}
	if fp, err := en.handshake("one.example.com", false); err != nil || fp != next.fp {
		t.Fatalf("after the revision: %s, %v", short(fp), err)
	}
}
