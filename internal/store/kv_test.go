package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type rec struct {
	N int    `json:"n"`
	S string `json:"s"`
}

func TestGetNotFound(t *testing.T) {
	st := newStore(t)
	var v rec
	rev, err := st.Get(t.Context(), Key("x/missing"), &v)
	if !errors.Is(err, ErrNotFound) || rev != 0 {
		t.Fatalf("Get missing = %d, %v; want 0, ErrNotFound", rev, err)
	}
	if _, err := st.Get(t.Context(), DomainKey("nowhere.example.com"), &Domain{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing domain: %v, want ErrNotFound", err)
	}
}

func TestTxnCommitAndGet(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	rev := commit(t, st.Txn().Put("x/a", rec{1, "one"}).Put("x/b", rec{2, "two"}))
	for k, want := range map[Key]rec{"x/a": {1, "one"}, "x/b": {2, "two"}} {
		var got rec
		r, err := st.Get(ctx, k, &got)
		if err != nil {
			t.Fatalf("Get %s: %v", k, err)
		}
		if got != want || r != rev {
			t.Errorf("Get %s = %+v at %d; want %+v at %d (the commit's revision)", k, got, r, want, rev)
		}
	}
	cur, err := st.Revision(ctx)
	if err != nil || cur < rev {
		t.Fatalf("Revision = %d, %v; want >= %d", cur, err, rev)
	}

	// Unchanged at the current revision holds; a delete and a put commit together.
	rev2 := commit(t, st.Txn().Unchanged("x/a", rev).Delete("x/a").Put("x/b", rec{3, "three"}))
	if _, err := st.Get(ctx, "x/a", &rec{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("x/a after delete: %v, want ErrNotFound", err)
	}
	var b rec
	if r, _ := st.Get(ctx, "x/b", &b); b.N != 3 || r != rev2 {
		t.Errorf("x/b = %+v at %d, want N=3 at %d", b, r, rev2)
	}
	// Unchanged(k, 0) on a missing key holds.
	commit(t, st.Txn().Unchanged("x/new", 0).Put("x/new", rec{}))
}

func TestTxnFailedConditionWritesNothing(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	rev := commit(t, st.Txn().Put("x/a", rec{1, "a"}).Put("x/c", rec{3, "c"}))

	cases := []struct {
		name string
		txn  *Txn
	}{
		{"stale revision", st.Txn().Unchanged("x/a", rev+1000)},
		{"must not exist but does", st.Txn().Unchanged("x/a", 0)},
		{"must exist but does not", st.Txn().Unchanged("x/missing", rev)},
		{"one of two conditions fails", st.Txn().Unchanged("x/c", rev).Unchanged("x/a", rev-1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.txn.Put("x/a", rec{9, "changed"}).Put("x/b", rec{2, "b"}).Delete("x/c").Commit(ctx)
			if !errors.Is(err, ErrConflict) {
				t.Fatalf("Commit = %v, want ErrConflict", err)
			}
			var a, cc rec
			if r, err := st.Get(ctx, "x/a", &a); err != nil || a != (rec{1, "a"}) || r != rev {
				t.Errorf("x/a = %+v at %d (%v); want unchanged at %d", a, r, err, rev)
			}
			if _, err := st.Get(ctx, "x/b", &rec{}); !errors.Is(err, ErrNotFound) {
				t.Errorf("x/b was written by a failed transaction (%v)", err)
			}
			if _, err := st.Get(ctx, "x/c", &cc); err != nil {
				t.Errorf("x/c was deleted by a failed transaction (%v)", err)
			}
		})
	}
}

func TestTxnEncodeErrorWritesNothing(t *testing.T) {
	st := newStore(t)
	_, err := st.Txn().Put("x/ok", rec{1, "ok"}).Put("x/bad", map[string]any{"f": func() {}}).Commit(t.Context())
	if err == nil || errors.Is(err, ErrConflict) {
		t.Fatalf("Commit of an unencodable value = %v, want an encode error", err)
	}
	if !strings.Contains(err.Error(), "x/bad") {
		t.Errorf("error %q does not name the key", err)
	}
	if _, err := st.Get(t.Context(), "x/ok", &rec{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("x/ok was written by a transaction that failed to encode (%v)", err)
	}
}

func TestListOrderAndDecoding(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	revs := map[string]int64{}
	for i, k := range []string{"m", "b", "z", "a/1", "a"} {
		revs[k] = commit(t, st.Txn().Put(Key("list/"+k), rec{i, k}))
	}
	commit(t, st.Txn().Put("listing", rec{S: "sibling, not under list/"}))

	got, err := List[rec](ctx, st, "list/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "a/1", "b", "m", "z"} // key order
	if len(got) != len(want) {
		t.Fatalf("List returned %d records, want %d: %+v", len(got), len(want), got)
	}
	for i, k := range want {
		if got[i].Value.S != k || got[i].Revision != revs[k] {
			t.Errorf("List[%d] = %+v, want %q at revision %d", i, got[i], k, revs[k])
		}
	}
	if n, err := st.Count(ctx, "list/"); err != nil || n != 5 {
		t.Errorf("Count(list/) = %d, %v; want 5", n, err)
	}
	if empty, err := List[rec](ctx, st, "nothing/"); err != nil || len(empty) != 0 {
		t.Errorf("List of an empty prefix = %v, %v", empty, err)
	}

	// A record that does not decode is an error naming the key, not a skip.
	if _, err := st.cli.Put(ctx, st.abs("list/broken"), "{not json"); err != nil {
		t.Fatal(err)
	}
	if _, err := List[rec](ctx, st, "list/"); err == nil || !strings.Contains(err.Error(), "list/broken") {
		t.Errorf("List over a broken record = %v, want a decode error naming it", err)
	}
	if _, err := st.Get(ctx, "list/broken", &rec{}); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a broken record = %v, want a decode error", err)
	}
}

// Two installations (prefixes) on one etcd do not see each other.
func TestPrefixesAreIsolated(t *testing.T) {
	a := testStore.WithPrefix(prefix(t) + "-a")
	b := testStore.WithPrefix(prefix(t) + "-b")
	ctx := t.Context()
	r0, err := b.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bCalls := make(chan int64, 10)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.WatchServed(wctx, r0, func(rev int64, changes []Change) error {
			for _, c := range changes {
				if c.Domain == nil || c.Domain.Name != "b.example.com" {
					t.Errorf("b's watch saw a change that is not b's: %+v", c)
				}
			}
			bCalls <- rev
			return nil
		})
	}()

	dom := Domain{Name: "shared.example.com", AccountID: "acct-a"}
	commit(t, a.Txn().
		Put(DomainKey(dom.Name), dom).
		Put(CertKey("acct-a", "c"), Cert{AccountID: "acct-a", Name: "c"}).
		Put(AccountKey("acct-a"), Account{AccountID: "acct-a"}).
		Put(OwnerKey("acct-a", dom.Name), struct{}{}))
	la := a.RegisterEdge("edge-a")
	if err := la.Report(ctx, Edge{Applied: 1}); err != nil {
		t.Fatal(err)
	}
	defer la.Close(ctx)
	if ok, err := a.ClaimNonce(ctx, "AK", "nonce", time.Minute); !ok || err != nil {
		t.Fatalf("a.ClaimNonce = %v, %v", ok, err)
	}

	if _, err := b.Get(ctx, DomainKey(dom.Name), &Domain{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("b sees a's domain (%v)", err)
	}
	if s, err := b.LoadServed(ctx); err != nil || len(s.Domains)+len(s.Certs) != 0 {
		t.Errorf("b.LoadServed = %+v, %v; want empty", s, err)
	}
	if n, _ := b.Count(ctx, "accounts/"); n != 0 {
		t.Errorf("b counts %d accounts", n)
	}
	if n, _ := b.CountDomains(ctx, "acct-a"); n != 0 {
		t.Errorf("b counts %d domains of a's account", n)
	}
	if e, err := b.Edges(ctx); err != nil || len(e) != 0 {
		t.Errorf("b.Edges = %+v, %v; want none", e, err)
	}
	if ok, err := b.ClaimNonce(ctx, "AK", "nonce", time.Minute); !ok || err != nil {
		t.Errorf("b.ClaimNonce of a nonce a claimed = %v, %v; want true", ok, err)
	}

	// b's own write of the same name leaves a's alone, and b's watch sees only it.
	bRev := commit(t, b.Txn().Put(DomainKey("b.example.com"), Domain{Name: "b.example.com"}))
	select {
	case rev := <-bCalls:
		if rev != bRev {
			t.Errorf("b's first watch call is at %d, want %d (b's own write)", rev, bRev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b's watch delivered nothing")
	}
	var got Domain
	if _, err := a.Get(ctx, DomainKey(dom.Name), &got); err != nil || got.AccountID != "acct-a" {
		t.Errorf("a's domain = %+v, %v", got, err)
	}
	cancel()
	<-done
}

// Ordinary fast requests are not worth a warning in the operator's log.
// (Requests through v3client skip the gRPC interceptors; those through the
// member's client listener, as here, do not.)
func TestEtcdDoesNotWarnAboutFastRequests(t *testing.T) {
	st := openExternal(t)
	before := etcdLog.count("request stats")
	for i := range 20 {
		commit(t, st.Txn().Put(Key(fmt.Sprintf("x/%d", i)), rec{N: i}))
		if _, err := st.Get(t.Context(), Key(fmt.Sprintf("x/%d", i)), &rec{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := etcdLog.count("request stats") - before; n > 0 {
		t.Errorf("etcd logged %d \"request stats\" warnings for 40 fast requests: "+
			"embed.NewConfig leaves WarningUnaryRequestDuration at 0, so every request counts as expensive", n)
	}
}

func TestPageWalksAPrefixWithAFilter(t *testing.T) {
	st := newStore(t)
	for i := range 25 {
		commit(t, st.Txn().Put(Key(fmt.Sprintf("p/%02d", i)), rec{i, ""}))
	}
	commit(t, st.Txn().Put("q/00", rec{}))
	var got []int
	after := ""
	for pages := 0; ; pages++ {
		page, next, err := Page(t.Context(), st, "p/", after, 4, func(r rec) bool { return r.N%2 == 0 })
		if err != nil || pages > 10 {
			t.Fatal(err, pages)
		}
		for _, r := range page {
			got = append(got, r.Value.N)
		}
		if next == "" {
			break
		}
		after = next
	}
	if fmt.Sprint(got) != "[0 2 4 6 8 10 12 14 16 18 20 22 24]" {
		t.Fatalf("pages gave %v", got)
	}
}

// NoneChangedUnder holds over an empty range and over keys written at or
// before its revision, and fails once a key under the prefix is written
// after it; keys beside the prefix do not count.
func TestNoneChangedUnder(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	rev, err := st.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, st.Txn().NoneChangedUnder("m/", rev).Put("m-beside", rec{}))
	rev = commit(t, st.Txn().NoneChangedUnder("m/", rev).Put("m/a", rec{}))
	commit(t, st.Txn().NoneChangedUnder("m/", rev).Put("other", rec{}))
	commit(t, st.Txn().Put("m/b", rec{}))
	if _, err := st.Txn().NoneChangedUnder("m/", rev).Put("other", rec{N: 1}).Commit(ctx); !errors.Is(err, ErrConflict) {
		t.Fatalf("a key written under the prefix after rev: %v, want ErrConflict", err)
	}
}
