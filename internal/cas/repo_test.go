package cas_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/certs/certstest"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
)

const acct = "1234567890123456"

type pemPair struct{ chain, key string }

func newPEM(t *testing.T, names ...string) pemPair {
	t.Helper()
	c, k := certstest.Valid(t, names...)
	return pemPair{string(c), string(k)}
}

func parse(t *testing.T, p pemPair) *cas.Pair {
	t.Helper()
	pair, err := cas.ParsePair(p.chain, p.key, time.Now())
	if err != nil {
		t.Fatalf("ParsePair: %v", err)
	}
	return pair
}

// upload stages p under name and commits it alone.
func upload(t *testing.T, r *cas.Repo, st *store.Store, account, name string, p pemPair, overwrite bool) (store.Cert, error) {
	t.Helper()
	s, err := r.StageUpload(t.Context(), account, name, parse(t, p), overwrite)
	if err != nil {
		return store.Cert{}, err
	}
	txn := st.Txn()
	s.AddTo(txn)
	if _, err := txn.Commit(t.Context()); err != nil {
		return store.Cert{}, err
	}
	return s.Cert, nil
}

func mustUpload(t *testing.T, r *cas.Repo, st *store.Store, account, name string, p pemPair, overwrite bool) store.Cert {
	t.Helper()
	c, err := upload(t, r, st, account, name, p, overwrite)
	if err != nil {
		t.Fatalf("upload %s/%s: %v", account, name, err)
	}
	return c
}

func fingerprint(t *testing.T, p pemPair) string {
	t.Helper()
	return certs.Fingerprint(parse(t, p).Chain.Leaf)
}

// fpOwner returns the name the content index gives for fp, "" if none.
func fpOwner(t *testing.T, st *store.Store, account, fp string) string {
	t.Helper()
	var rec struct {
		Name string `json:"name"`
	}
	_, err := st.Get(t.Context(), store.CertFingerprintKey(account, fp), &rec)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return rec.Name
}

func TestUploadNewCertificate(t *testing.T) {
	r, st, _ := newRepo(t)
	ctx := t.Context()
	p := newPEM(t, "www.example.com", "example.com")
	before := time.Now().UTC()

	s, err := r.StageUpload(ctx, acct, "site", parse(t, p), false)
	if err != nil {
		t.Fatal(err)
	}
	// Staging writes nothing.
	if _, _, err := r.Get(ctx, acct, "site"); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("Get before commit = %v, want ErrNotFound", err)
	}
	txn := st.Txn()
	s.AddTo(txn)
	rev, err := txn.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}

	c, crev, err := r.Get(ctx, acct, "site")
	if err != nil || crev != rev {
		t.Fatalf("Get = rev %d, %v; want %d", crev, err, rev)
	}
	leaf := parse(t, p).Chain.Leaf
	sum := sha256.Sum256(leaf.Raw)
	switch {
	case c.AccountID != acct || c.Name != "site":
		t.Errorf("cert is %s/%s", c.AccountID, c.Name)
	case c.CertID < 10_000_000 || c.CertID >= 1<<53:
		t.Errorf("CertID %d is out of range", c.CertID)
	case c.CertID != s.Cert.CertID:
		t.Errorf("stored CertID %d, staged %d", c.CertID, s.Cert.CertID)
	case c.Fingerprint != hex.EncodeToString(sum[:]):
		t.Errorf("fingerprint %s", c.Fingerprint)
	case c.CommonName != "www.example.com" || strings.Join(c.Names, ",") != "www.example.com,example.com":
		t.Errorf("names %q %v", c.CommonName, c.Names)
	case !c.NotAfter.Equal(leaf.NotAfter) || !c.NotBefore.Equal(leaf.NotBefore):
		t.Errorf("validity %v - %v", c.NotBefore, c.NotAfter)
	case c.Created.Before(before.Add(-time.Second)) || !c.Updated.Equal(c.Created):
		t.Errorf("created %v updated %v", c.Created, c.Updated)
	case c.ChainPEM != string(certs.EncodeChain(parse(t, p).Chain)):
		t.Errorf("chain is not stored canonically")
	}
	if owner := fpOwner(t, st, acct, c.Fingerprint); owner != "site" {
		t.Errorf("content index names %q, want site", owner)
	}
	var idRec struct {
		Account string `json:"account"`
		Name    string `json:"name"`
	}
	if _, err := st.Get(ctx, store.CertIDKey(strconv.FormatInt(c.CertID, 10)), &idRec); err != nil || idRec.Account != acct || idRec.Name != "site" {
		t.Errorf("CertId index = %+v, %v", idRec, err)
	}
}

func TestUploadSameNameSameContent(t *testing.T) {
	r, st, _ := newRepo(t)
	ctx := t.Context()
	p := newPEM(t, "www.example.com")
	first := mustUpload(t, r, st, acct, "site", p, false)
	_, rev0, _ := r.Get(ctx, acct, "site")

	// The same content again, even pasted differently (CRLF, chain
	// reversed), is no conflict and no new certificate.
	leafEnd := strings.Index(p.chain, "-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----\n")
	variants := []pemPair{
		p,
		{strings.ReplaceAll(p.chain, "\n", "\r\n"), p.key},
		{p.chain[leafEnd:] + p.chain[:leafEnd], p.key},
	}
	for i, v := range variants {
		for _, overwrite := range []bool{false, true} {
			again, err := upload(t, r, st, acct, "site", v, overwrite)
			if err != nil {
				t.Fatalf("variant %d overwrite %v: %v", i, overwrite, err)
			}
			if again.CertID != first.CertID || !again.Created.Equal(first.Created) {
				t.Errorf("variant %d: CertID %d (created %v), want the first %d", i, again.CertID, again.Created, first.CertID)
			}
		}
	}
	if _, rev, _ := r.Get(ctx, acct, "site"); rev != rev0 {
		t.Errorf("re-uploading the same content rewrote the record (rev %d -> %d)", rev0, rev)
	}
	if n, _ := st.Count(ctx, store.CertIDKey("")); n != 1 {
		t.Errorf("%d CertIds allocated, want 1", n)
	}
}

func TestUploadSameNameOtherContent(t *testing.T) {
	r, st, kr := newRepo(t)
	ctx := t.Context()
	p1, p2 := newPEM(t, "www.example.com"), newPEM(t, "www.example.com")
	first := mustUpload(t, r, st, acct, "site", p1, false)

	if _, err := upload(t, r, st, acct, "site", p2, false); !errors.Is(err, cas.ErrNameTaken) {
		t.Fatalf("other content under a taken name = %v, want ErrNameTaken", err)
	}
	if c, _, _ := r.Get(ctx, acct, "site"); c.Fingerprint != first.Fingerprint {
		t.Fatal("a refused upload changed the certificate")
	}

	second := mustUpload(t, r, st, acct, "site", p2, true)
	c, _, err := r.Get(ctx, acct, "site")
	if err != nil {
		t.Fatal(err)
	}
	if c.CertID != first.CertID || !c.Created.Equal(first.Created) {
		t.Errorf("overwrite changed CertID %d -> %d or Created", first.CertID, c.CertID)
	}
	if c.Fingerprint != fingerprint(t, p2) || c.Fingerprint != second.Fingerprint || c.Updated.Before(first.Updated) {
		t.Errorf("overwrite stored %+v", c)
	}
	// The content index moved with the content.
	if owner := fpOwner(t, st, acct, first.Fingerprint); owner != "" {
		t.Errorf("the old content is still indexed (to %q)", owner)
	}
	if owner := fpOwner(t, st, acct, c.Fingerprint); owner != "site" {
		t.Errorf("the new content is indexed to %q, want site", owner)
	}
	// The stored key is the new one.
	keyPEM, err := kr.Open(c.Key, store.CertKeyAAD(acct, "site"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := certs.ParseKey(keyPEM)
	if err != nil || !certs.KeyMatches(parse(t, p2).Chain.Leaf, k) {
		t.Errorf("stored key does not match the new certificate (%v)", err)
	}
	if n, _ := st.Count(ctx, store.CertIDKey("")); n != 1 {
		t.Errorf("%d CertIds allocated, want 1", n)
	}
	// The old content, no longer stored, may go under another name.
	mustUpload(t, r, st, acct, "old", p1, false)
}

func TestUploadOtherNameSameContent(t *testing.T) {
	r, st, _ := newRepo(t)
	p := newPEM(t, "www.example.com")
	mustUpload(t, r, st, acct, "site", p, false)
	if _, err := upload(t, r, st, acct, "copy", p, false); !errors.Is(err, cas.ErrContentExists) {
		t.Fatalf("same content under another name = %v, want ErrContentExists", err)
	}
	if _, _, err := r.Get(t.Context(), acct, "copy"); !errors.Is(err, cas.ErrNotFound) {
		t.Errorf("the refused copy exists (%v)", err)
	}
	// Another account may hold the same content.
	mustUpload(t, r, st, "6543210987654321", "site", p, false)
}

// Once a name is overwritten, the content index must still know every other
// name that holds the content it had.
func TestContentIndexSurvivesOverwrite(t *testing.T) {
	r, st, _ := newRepo(t)
	x, y := newPEM(t, "x.example.com"), newPEM(t, "y.example.com")
	mustUpload(t, r, st, acct, "a", x, false)
	mustUpload(t, r, st, acct, "b", x, true) // forced: x is now under a and b
	mustUpload(t, r, st, acct, "a", y, true) // a moves on; b still holds x
	if _, err := upload(t, r, st, acct, "c", x, false); !errors.Is(err, cas.ErrContentExists) {
		t.Fatalf("x under a third name while b holds it = %v, want ErrContentExists", err)
	}
}

func TestStageBind(t *testing.T) {
	r, st, _ := newRepo(t)
	ctx := t.Context()
	if _, err := r.StageBind(ctx, acct, "missing"); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("StageBind(missing) = %v, want cas.ErrNotFound", err)
	}
	if _, _, err := r.Get(ctx, acct, "missing"); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want cas.ErrNotFound", err)
	}
	p := newPEM(t, "www.example.com")
	stored := mustUpload(t, r, st, acct, "site", p, false)
	// Another account's certificate of the same name is not ours.
	if _, err := r.StageBind(ctx, "6543210987654321", "site"); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("StageBind of another account's name = %v, want ErrNotFound", err)
	}

	bindDomain := func(s *cas.Staged, domain string) (int64, error) {
		txn := st.Txn()
		s.AddTo(txn)
		d := store.Domain{Name: domain, AccountID: acct, HTTPS: &store.Binding{CertName: s.Cert.Name, CertType: "cas"}}
		return txn.Put(store.DomainKey(domain), d).Commit(ctx)
	}
	s, err := r.StageBind(ctx, acct, "site")
	if err != nil {
		t.Fatal(err)
	}
	if s.Cert.CertID != stored.CertID || s.Cert.Fingerprint != stored.Fingerprint {
		t.Errorf("staged bind of %+v", s.Cert)
	}
	if _, err := bindDomain(s, "www.example.com"); err != nil {
		t.Fatal(err)
	}

	// The certificate changes between staging and commit: the binding fails
	// and the domain is not written.
	s, err = r.StageBind(ctx, acct, "site")
	if err != nil {
		t.Fatal(err)
	}
	mustUpload(t, r, st, acct, "site", newPEM(t, "www.example.com"), true)
	if _, err := bindDomain(s, "api.example.com"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("bind after the certificate changed = %v, want store.ErrConflict", err)
	}
	if _, err := st.Get(ctx, store.DomainKey("api.example.com"), &store.Domain{}); !errors.Is(err, store.ErrNotFound) {
		t.Error("the failed binding wrote its domain")
	}
}

// An upload and the domain bound to it commit in one transaction.
func TestUploadWithBindingIsOneRevision(t *testing.T) {
	r, st, _ := newRepo(t)
	ctx := t.Context()
	s, err := r.StageUpload(ctx, acct, "site", parse(t, newPEM(t, "www.example.com")), false)
	if err != nil {
		t.Fatal(err)
	}
	txn := st.Txn()
	s.AddTo(txn)
	txn.Put(store.DomainKey("www.example.com"), store.Domain{Name: "www.example.com", HTTPS: &store.Binding{CertName: "site"}})
	rev, err := txn.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, crev, _ := r.Get(ctx, acct, "site")
	drev, _ := st.Get(ctx, store.DomainKey("www.example.com"), &store.Domain{})
	if crev != rev || drev != rev {
		t.Errorf("certificate at %d and domain at %d, want both at %d", crev, drev, rev)
	}
}

func TestKeyIsSealedAtRest(t *testing.T) {
	r, st, kr := newRepo(t)
	ctx := t.Context()
	p := newPEM(t, "www.example.com")
	mustUpload(t, r, st, acct, "site", p, false)

	var raw json.RawMessage
	if _, err := st.Get(ctx, store.CertKey(acct, "site"), &raw); err != nil {
		t.Fatal(err)
	}
	c, _, err := r.Get(ctx, acct, "site")
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := kr.Open(c.Key, store.CertKeyAAD(acct, "site"))
	if err != nil {
		t.Fatalf("the stored key does not open with its own record's aad: %v", err)
	}
	if strings.Contains(string(raw), "PRIVATE KEY") {
		t.Fatal("the stored record contains a PEM private key")
	}
	for _, l := range append(keyLines(p.key), keyLines(string(keyPEM))...) {
		if strings.Contains(string(raw), l) {
			t.Fatalf("the stored record contains key material %q", l)
		}
	}
	k, err := certs.ParseKey(keyPEM)
	if err != nil || !certs.KeyMatches(parse(t, p).Chain.Leaf, k) {
		t.Fatalf("opened key does not match the certificate (%v)", err)
	}
	// Bound to the record: another name's or account's aad does not open it.
	for _, aad := range [][]byte{
		store.CertKeyAAD(acct, "other"),
		store.CertKeyAAD("6543210987654321", "site"),
		nil,
	} {
		if _, err := kr.Open(c.Key, aad); !errors.Is(err, keyring.ErrOpen) {
			t.Errorf("Open with aad %q = %v, want keyring.ErrOpen", aad, err)
		}
	}
}

// commitConcurrently commits staged uploads at once and returns their errors.
func commitConcurrently(t *testing.T, st *store.Store, staged ...*cas.Staged) []error {
	errs := make([]error, len(staged))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range staged {
		wg.Go(func() {
			txn := st.Txn()
			s.AddTo(txn)
			<-start
			_, errs[i] = txn.Commit(t.Context())
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func exactlyOne(t *testing.T, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Fatalf("both concurrent uploads committed (errors %v)", errs)
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("upload %d: %v, want store.ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no concurrent upload committed: %v", errs)
	}
	return winner
}

func TestConcurrentUploadsOfANewName(t *testing.T) {
	r, st, _ := newRepo(t)
	ctx := t.Context()
	p1, p2 := newPEM(t, "www.example.com"), newPEM(t, "www.example.com")
	s1, err := r.StageUpload(ctx, acct, "site", parse(t, p1), false)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := r.StageUpload(ctx, acct, "site", parse(t, p2), false)
	if err != nil {
		t.Fatal(err)
	}
	winner := exactlyOne(t, commitConcurrently(t, st, s1, s2))
	want, loser := []*cas.Staged{s1, s2}[winner], []*cas.Staged{s1, s2}[1-winner]
	c, _, err := r.Get(ctx, acct, "site")
	if err != nil || c.Fingerprint != want.Cert.Fingerprint || c.CertID != want.Cert.CertID {
		t.Fatalf("stored %+v, %v; want the winner's", c, err)
	}
	if owner := fpOwner(t, st, acct, loser.Cert.Fingerprint); owner != "" {
		t.Errorf("the loser's content is indexed to %q", owner)
	}
	if n, _ := st.Count(ctx, store.CertIDKey("")); n != 1 {
		t.Errorf("%d CertIds allocated, want 1", n)
	}
}

// The same content under two new names at once: one of them is refused, as
// it would be one after the other.
func TestConcurrentUploadsOfTheSameContent(t *testing.T) {
	r, st, _ := newRepo(t)
	ctx := t.Context()
	p := newPEM(t, "www.example.com")
	s1, err := r.StageUpload(ctx, acct, "one", parse(t, p), false)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := r.StageUpload(ctx, acct, "two", parse(t, p), false)
	if err != nil {
		t.Fatal(err)
	}
	exactlyOne(t, commitConcurrently(t, st, s1, s2))
}

// The same leaf with a fuller chain (the intermediate that was missing),
// uploaded with overwrite, replaces the chain the edge serves.
func TestOverwriteSameLeafNewChain(t *testing.T) {
	r, st, _ := newRepo(t)
	p := newPEM(t, "www.example.com")
	leafEnd := strings.Index(p.chain, "-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----\n")
	first := mustUpload(t, r, st, acct, "site", pemPair{p.chain[:leafEnd], p.key}, false)
	if n := strings.Count(first.ChainPEM, "BEGIN CERTIFICATE"); n != 1 {
		t.Fatalf("leaf-only upload stored %d certificates", n)
	}
	mustUpload(t, r, st, acct, "site", p, true)
	c, _, err := r.Get(t.Context(), acct, "site")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(c.ChainPEM, "BEGIN CERTIFICATE"); n != 2 {
		t.Errorf("after overwriting with leaf + CA, the stored chain has %d certificate(s), want 2", n)
	}
	if c.CertID != first.CertID {
		t.Errorf("CertID changed %d -> %d", first.CertID, c.CertID)
	}
	if owner := fpOwner(t, st, acct, c.Fingerprint); owner != "site" {
		t.Errorf("content index names %q", owner)
	}
}
