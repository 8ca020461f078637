package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cdnd/cdnd/internal/keyring"
)

type applied struct {
	rev     int64
	changes []Change
}

// watchAsync runs WatchServed from rev in the background; every apply call
// arrives on the returned channel (with a copy of the changes). stop ends the
// watch and returns its error.
func watchAsync(t *testing.T, st *Store, rev int64) (calls <-chan applied, stop func() error) {
	t.Helper()
	ch := make(chan applied, 100)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- st.WatchServed(ctx, rev, func(rev int64, changes []Change) error {
			ch <- applied{rev, slices.Clone(changes)}
			return nil
		})
	}()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return ch, stop
}

func next(t *testing.T, calls <-chan applied) applied {
	t.Helper()
	select {
	case a := <-calls:
		return a
	case <-time.After(5 * time.Second):
		t.Fatal("no apply call within 5s")
		return applied{}
	}
}

func quiet(t *testing.T, calls <-chan applied, d time.Duration) {
	t.Helper()
	select {
	case a := <-calls:
		t.Fatalf("unexpected apply call at %d with %d changes: %+v", a.rev, len(a.changes), a.changes)
	case <-time.After(d):
	}
}

func testCert(account, name string) Cert {
	return Cert{AccountID: account, Name: name, CertID: 12345678, ChainPEM: "-----BEGIN CERTIFICATE-----\n...", Fingerprint: "ab" + name, Names: []string{"www.example.com"}}
}

func testDomain(name, account, cert string) Domain {
	d := Domain{Name: name, AccountID: account, Status: "online", Mode: "normal", Sources: []Source{{Type: "ipaddr", Content: "192.0.2.1", Port: 80}}}
	if cert != "" {
		d.HTTPS = &Binding{CertName: cert, CertType: "upload"}
	}
	return d
}

func TestWatchServedOneCallPerTransaction(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	r0, err := st.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	calls, stop := watchAsync(t, st, r0)

	cert := testCert("acct", "c1")
	dom := testDomain("www.example.com", "acct", "c1")
	rev1 := commit(t, st.Txn().
		Put(CertKey("acct", "c1"), cert).
		Put(DomainKey(dom.Name), dom).
		Put(AccountKey("acct"), Account{AccountID: "acct"})) // not served: not delivered
	a := next(t, calls)
	if a.rev != rev1 || len(a.changes) != 2 {
		t.Fatalf("apply(%d, %d changes), want one call at %d with the certificate and the domain", a.rev, len(a.changes), rev1)
	}
	var gotCert *Cert
	var gotDom *Domain
	for _, c := range a.changes {
		if c.Deleted || (c.Cert == nil) == (c.Domain == nil) {
			t.Fatalf("bad change %+v", c)
		}
		if c.Cert != nil {
			gotCert = c.Cert
		} else {
			gotDom = c.Domain
		}
	}
	if gotCert == nil || gotDom == nil {
		t.Fatalf("changes %+v: want one certificate and one domain", a.changes)
	}
	if gotCert.Fingerprint != cert.Fingerprint || gotCert.AccountID != "acct" || gotCert.Name != "c1" || gotCert.CertID != cert.CertID {
		t.Errorf("cert change = %+v", gotCert)
	}
	if gotDom.Name != dom.Name || gotDom.HTTPS == nil || gotDom.HTTPS.CertName != "c1" || len(gotDom.Sources) != 1 {
		t.Errorf("domain change = %+v", gotDom)
	}

	// A write outside served/ causes no call; the next served write does.
	commit(t, st.Txn().Put(AccountKey("acct2"), Account{}))
	quiet(t, calls, 100*time.Millisecond)

	// Deletes arrive as Deleted changes with the names set.
	rev2 := commit(t, st.Txn().Delete(CertKey("acct", "c1")).Delete(DomainKey(dom.Name)))
	a = next(t, calls)
	if a.rev != rev2 || len(a.changes) != 2 {
		t.Fatalf("apply(%d, %d changes), want one call at %d with two deletions", a.rev, len(a.changes), rev2)
	}
	for _, c := range a.changes {
		switch {
		case !c.Deleted:
			t.Errorf("change %+v is not a deletion", c)
		case c.Cert != nil && (c.Cert.AccountID != "acct" || c.Cert.Name != "c1"):
			t.Errorf("deleted cert = %+v, want acct/c1", c.Cert)
		case c.Domain != nil && c.Domain.Name != dom.Name:
			t.Errorf("deleted domain = %+v, want %s", c.Domain, dom.Name)
		}
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("WatchServed after cancel = %v, want context.Canceled", err)
	}
}

var errStop = errors.New("stop")

// Revisions written before the watch starts arrive one call each, in order,
// and apply's error ends the watch.
func TestWatchServedConsecutiveRevisions(t *testing.T) {
	st := newStore(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r0, err := st.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var revs []int64
	names := []string{"a.example.com", "b.example.com", "c.example.com", "d.example.com"}
	for _, n := range names {
		revs = append(revs, commit(t, st.Txn().Put(DomainKey(n), testDomain(n, "acct", ""))))
	}
	// The four revisions reach the watcher together (it catches up from
	// history); apply keeps the slices it is given and compares them only at
	// the end.
	var got []applied
	err = st.WatchServed(ctx, r0, func(rev int64, changes []Change) error {
		got = append(got, applied{rev, changes})
		if len(got) == len(names) {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("WatchServed = %v, want apply's error", err)
	}
	for i, a := range got {
		if a.rev != revs[i] {
			t.Errorf("call %d at revision %d, want %d", i, a.rev, revs[i])
		}
		if len(a.changes) != 1 || a.changes[0].Domain == nil || a.changes[0].Domain.Name != names[i] {
			t.Errorf("call %d (revision %d) carries %s, want [%s]", i, a.rev, describe(a.changes), names[i])
		}
	}
}

func describe(cs []Change) string {
	var names []string
	for _, c := range cs {
		if c.Domain != nil {
			names = append(names, c.Domain.Name)
		}
		if c.Cert != nil {
			names = append(names, c.Cert.AccountID+"/"+c.Cert.Name)
		}
	}
	return fmt.Sprint(names)
}

func TestWatchServedCompacted(t *testing.T) {
	st := newStore(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r0, err := st.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, st.Txn().Put(DomainKey("a.example.com"), testDomain("a.example.com", "acct", "")))
	rc := commit(t, st.Txn().Put(DomainKey("b.example.com"), testDomain("b.example.com", "acct", "")))
	// The store has no compaction method; the test reaches the client.
	if _, err := st.cli.Compact(ctx, rc, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	err = st.WatchServed(ctx, r0, func(rev int64, changes []Change) error {
		t.Errorf("apply(%d) called from a compacted revision", rev)
		return errStop
	})
	if !errors.Is(err, ErrCompacted) {
		t.Fatalf("WatchServed from compacted %d = %v, want ErrCompacted", r0, err)
	}
	// The compaction revision itself is kept: watching from just before it works.
	err = st.WatchServed(ctx, rc-1, func(rev int64, changes []Change) error {
		if rev != rc || len(changes) != 1 || changes[0].Domain.Name != "b.example.com" {
			t.Errorf("apply(%d, %s), want b.example.com at %d", rev, describe(changes), rc)
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("WatchServed from %d = %v", rc-1, err)
	}
}

// A progress notification reports a revision with no served change once; it
// must not repeat one already applied.
func TestWatchServedProgress(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	r0, err := st.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	calls, _ := watchAsync(t, st, r0)
	rev1 := commit(t, st.Txn().Put(DomainKey("a.example.com"), testDomain("a.example.com", "acct", "")))
	if a := next(t, calls); a.rev != rev1 {
		t.Fatalf("apply at %d, want %d", a.rev, rev1)
	}
	// WatchServed's stream is the one for require-leader contexts.
	progress := func() {
		t.Helper()
		if err := st.cli.RequestProgress(clientv3.WithRequireLeader(ctx)); err != nil {
			t.Fatal(err)
		}
	}

	// Nothing served changed up to rev2: the watcher learns it has applied it.
	rev2 := commit(t, st.Txn().Put(AccountKey("x"), Account{}))
	progress()
	a := next(t, calls)
	if a.rev < rev2 || len(a.changes) != 0 {
		t.Fatalf("after progress: apply(%d, %d changes), want apply(>= %d, none)", a.rev, len(a.changes), rev2)
	}
	last := a.rev
	// Nothing changed since: no call for a revision already applied.
	progress()
	select {
	case a := <-calls:
		if a.rev <= last {
			t.Fatalf("apply(%d, %d changes) repeats a revision already applied (last %d)", a.rev, len(a.changes), last)
		}
	case <-time.After(300 * time.Millisecond):
	}
}

// LoadServed reads domains and certificates at one revision: a certificate
// and its domain written in one transaction are both there or both not.
func TestLoadServedConsistent(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	rev := commit(t, st.Txn().
		Put(CertKey("acct", "c0"), testCert("acct", "c0")).
		Put(DomainKey("d0.example.com"), testDomain("d0.example.com", "acct", "c0")).
		Put(AccountKey("acct"), Account{AccountID: "acct"}))
	s, err := st.LoadServed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Revision < rev || len(s.Domains) != 1 || len(s.Certs) != 1 {
		t.Fatalf("LoadServed = rev %d, %d domains, %d certs; want >= %d, 1, 1", s.Revision, len(s.Domains), len(s.Certs), rev)
	}
	if d := s.Domains[0]; d.Name != "d0.example.com" || d.HTTPS == nil || d.HTTPS.CertName != "c0" {
		t.Errorf("domain = %+v", d)
	}
	if c := s.Certs[0]; c.AccountID != "acct" || c.Name != "c0" || c.Fingerprint != "abc0" {
		t.Errorf("cert = %+v", c)
	}

	const pairs = 40
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 1; i < pairs; i++ {
			name := fmt.Sprintf("c%d", i)
			dom := fmt.Sprintf("d%d.example.com", i)
			if _, err := st.Txn().Put(CertKey("acct", name), testCert("acct", name)).Put(DomainKey(dom), testDomain(dom, "acct", name)).Commit(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	last := int64(0)
	for loads := 0; ; loads++ {
		s, err := st.LoadServed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Domains) != len(s.Certs) {
			t.Fatalf("LoadServed at %d saw %d domains and %d certificates: half a transaction", s.Revision, len(s.Domains), len(s.Certs))
		}
		if s.Revision < last {
			t.Fatalf("LoadServed went back from %d to %d", last, s.Revision)
		}
		last = s.Revision
		if len(s.Domains) == pairs {
			break
		}
		select {
		case <-writerDone:
			if loads > 1000 {
				t.Fatal("writer finished but LoadServed does not see everything")
			}
		default:
		}
	}
	<-writerDone
}

// TestMalformedServedRecord: a record that does not decode is not served
// (seen as a deletion) and does not stop the load or the watch; the key, not
// the value, names a record.
func TestMalformedServedRecord(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	if _, err := st.Txn().Put(DomainKey("good.example"), testDomain("good.example", "a1", "")).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.cli.Put(ctx, st.abs(DomainKey("bad.example")), "{not json"); err != nil {
		t.Fatal(err)
	}
	renamed := testDomain("other-name.example", "a1", "")
	if _, err := st.Txn().Put(DomainKey("keyname.example"), renamed).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	served, err := st.LoadServed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range served.Domains {
		names = append(names, d.Name)
	}
	if !slices.Equal(names, []string{"good.example", "keyname.example"}) {
		t.Fatalf("loaded %v", names)
	}
	calls, _ := watchAsync(t, st, served.Revision)
	if _, err := st.cli.Put(ctx, st.abs(DomainKey("good.example")), "[]garbage"); err != nil {
		t.Fatal(err)
	}
	a := next(t, calls)
	if len(a.changes) != 1 || !a.changes[0].Deleted || a.changes[0].Domain.Name != "good.example" {
		t.Fatalf("malformed update: %+v", a.changes)
	}
	if _, err := st.Txn().Put(DomainKey("good.example"), testDomain("good.example", "a1", "")).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if a := next(t, calls); len(a.changes) != 1 || a.changes[0].Deleted {
		t.Fatalf("the watch did not go on: %+v", a.changes)
	}
}

// TestLoadServedPages: a served set larger than a page is read whole, in
// key order, at the first page's revision even while it changes.
func TestLoadServedPages(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	const n = 2*servedPage + 1
	for i := 0; i < n; i += 100 {
		txn := st.Txn()
		for j := i; j < min(i+100, n); j++ {
			name := fmt.Sprintf("d%05d.example.com", j)
			txn.Put(DomainKey(name), testDomain(name, "acct", ""))
		}
		commit(t, txn)
	}
	before := commit(t, st.Txn().Put(CertKey("acct", "c"), testCert("acct", "c")))

	// Changes made during the load (to a domain read early and to one
	// read late) must not show.
	go func() {
		for i := 0; i < 20 && ctx.Err() == nil; i++ {
			_, _ = st.Txn().Delete(DomainKey("d00000.example.com")).Put(DomainKey(fmt.Sprintf("d%05d.example.com", n-1)), testDomain("changed", "other", "")).Commit(ctx)
		}
	}()
	s, err := st.LoadServed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Certs) != 1 || s.Revision < before {
		t.Fatalf("LoadServed = rev %d (want >= %d), %d certs", s.Revision, before, len(s.Certs))
	}
	if len(s.Domains) == n {
		for i, d := range s.Domains {
			if want := fmt.Sprintf("d%05d.example.com", i); d.Name != want || d.AccountID != "acct" {
				t.Fatalf("domain %d = %s of %s; want %s of acct", i, d.Name, d.AccountID, want)
			}
		}
		return
	}
	// The load may have begun after a concurrent change: then it holds
	// the changed set, whole.
	if len(s.Domains) != n-1 || s.Domains[0].Name != "d00001.example.com" || s.Domains[n-2].AccountID != "other" {
		t.Fatalf("LoadServed at %d: %d domains, first %s, last of %s: a mix of revisions", s.Revision, len(s.Domains), s.Domains[0].Name, s.Domains[len(s.Domains)-1].AccountID)
	}
}

// TestServedDecodesWhatIsWritten: records are written with encoding/json
// and read back with encoding/json/v2; every field must survive.
func TestServedDecodesWhatIsWritten(t *testing.T) {
	st := newStore(t)
	at := time.Date(2026, 11, 26, 21, 0, 0, 123456789, time.UTC)
	dom := Domain{Name: "full.example.com", DomainID: 42, AccountID: "1234", CdnType: "web", Scope: "domestic",
		Sources:         []Source{{Type: "ipaddr", Content: "192.0.2.1", Port: 443, Priority: "20", Weight: "10"}, {Type: "domain", Content: "o.example", Port: 80, Priority: "30", Weight: "5"}},
		ResourceGroupID: "rg-1", CheckURL: "http://full.example.com/ok", Status: "online", Mode: "safe",
		Created: at, Modified: at.Add(time.Hour), HTTPS: &Binding{CertName: "c<&>\"é", CertType: "cas", Updated: at}}
	cert := Cert{AccountID: "1234", Name: "c<&>\"é", CertID: 987654321, ChainPEM: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		Key: keyring.Sealed{KeyID: "k1", Nonce: []byte{0, 1, 2, 255}, Data: []byte("sealed\x00bytes")}, Fingerprint: "ab12",
		CommonName: "full.example.com", Names: []string{"full.example.com", "*.full.example.com"}, Issuer: "CA \u2028",
		NotBefore: at, NotAfter: at.AddDate(1, 0, 0), Created: at, Updated: at}
	for _, rec := range []struct {
		key  Key
		v    any
		read func(Change) any
	}{
		{DomainKey(dom.Name), dom, func(c Change) any { return *c.Domain }},
		{CertKey(cert.AccountID, cert.Name), cert, func(c Change) any { return *c.Cert }},
	} {
		raw, err := json.Marshal(rec.v)
		if err != nil {
			t.Fatal(err)
		}
		c := st.decodeServed([]byte(st.abs(rec.key)), raw, false)
		if c.Deleted {
			t.Fatalf("%s does not decode", rec.key)
		}
		if got := rec.read(c); !reflect.DeepEqual(got, rec.v) {
			t.Errorf("%s:\n got %+v\nwant %+v", rec.key, got, rec.v)
		}
	}
}
