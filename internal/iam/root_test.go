package iam_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/store"
)

// accountsDir is the prefix all account records live under.
var accountsDir = store.AccountKey("")

func count(t *testing.T, st *store.Store, prefix store.Key) int64 {
	t.Helper()
	n, err := st.Count(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEnsureRootGenerated(t *testing.T) {
	d, st := newDirectory(t)
	ctx := t.Context()
	c, created, err := d.EnsureRoot(ctx, "", "")
	if err != nil || !created {
		t.Fatalf("first EnsureRoot = %v, %v; want created", created, err)
	}
	if !accountIDShape.MatchString(c.AccountID) || !keyIDShape.MatchString(c.AccessKeyID) || !secretShape.MatchString(c.AccessKeySecret) {
		t.Errorf("generated root credentials look wrong: %q %q (%d chars)", c.AccountID, c.AccessKeyID, len(c.AccessKeySecret))
	}
	p, secret := lookup(t, d, c.AccessKeyID)
	if p.AccountID != c.AccountID || secret != c.AccessKeySecret {
		t.Errorf("root key looks up as %+v", p)
	}

	again, created, err := d.EnsureRoot(ctx, "", "")
	if err != nil || created {
		t.Fatalf("second EnsureRoot = %v, %v; want not created", created, err)
	}
	if again.AccountID != c.AccountID || again.AccessKeySecret != "" || again.AccessKeyID != "" {
		t.Errorf("second EnsureRoot = %+v; want the same account and no key", again)
	}
	if n := count(t, st, accountsDir); n != 1 {
		t.Errorf("%d accounts after two EnsureRoot, want 1", n)
	}
}

func TestEnsureRootFromEnvironment(t *testing.T) {
	d, st := newDirectory(t)
	ctx := t.Context()
	const id = "LTAIenvironmentKey000001"
	c, created, err := d.EnsureRoot(ctx, id, "first-secret")
	if err != nil || !created {
		t.Fatalf("EnsureRoot(env) = %v, %v; want created", created, err)
	}
	if c.AccessKeyID != id || c.AccessKeySecret != "first-secret" {
		t.Errorf("EnsureRoot(env) = %+v", c)
	}
	if p, s := lookup(t, d, id); p.AccountID != c.AccountID || s != "first-secret" {
		t.Errorf("env key = %+v / %q", p, s)
	}

	// Same pair again: nothing changes.
	rev0, _ := st.Get(ctx, store.AccessKeyKey(id), &store.AccessKey{})
	c2, created, err := d.EnsureRoot(ctx, id, "first-secret")
	if err != nil || created || c2.AccountID != c.AccountID {
		t.Fatalf("EnsureRoot(same env) = %+v, %v, %v", c2, created, err)
	}
	if rev, _ := st.Get(ctx, store.AccessKeyKey(id), &store.AccessKey{}); rev != rev0 {
		t.Error("EnsureRoot with an unchanged pair rewrote the key")
	}

	// The environment now says another secret: the key is updated.
	if _, _, err := d.EnsureRoot(ctx, id, "second-secret"); err != nil {
		t.Fatal(err)
	}
	if p, s := lookup(t, d, id); p.AccountID != c.AccountID || s != "second-secret" {
		t.Errorf("after the secret changed: %+v / %q, want the new secret", p, s)
	}

	// A new env key id on an existing root is added to the root account.
	const id2 = "LTAIenvironmentKey000002"
	c3, created, err := d.EnsureRoot(ctx, id2, "third-secret")
	if err != nil || created || c3.AccountID != c.AccountID {
		t.Fatalf("EnsureRoot(new env key) = %+v, %v, %v", c3, created, err)
	}
	if p, s := lookup(t, d, id2); p.AccountID != c.AccountID || s != "third-secret" {
		t.Errorf("second env key = %+v / %q", p, s)
	}
	if n := count(t, st, accountsDir); n != 1 {
		t.Errorf("%d accounts, want 1", n)
	}
}

// A root created without environment keys takes one given later.
func TestEnsureRootEnvironmentAddedLater(t *testing.T) {
	d, _ := newDirectory(t)
	root, _, err := d.EnsureRoot(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.EnsureRoot(t.Context(), "LTAIlater00000000000000", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if p, s := lookup(t, d, "LTAIlater00000000000000"); p.AccountID != root.AccountID || s != "s3cret" {
		t.Errorf("later env key = %+v / %q", p, s)
	}
	if p, _ := lookup(t, d, root.AccessKeyID); p.AccountID != root.AccountID {
		t.Error("the generated root key is gone")
	}
}

// An env key id that belongs to another account is refused, and nothing
// changes: before the root exists and after.
func TestEnsureRootRefusesAnotherAccountsKey(t *testing.T) {
	d, st := newDirectory(t)
	ctx := t.Context()
	other := createAccount(t, d)

	_, created, err := d.EnsureRoot(ctx, other.AccessKeyID, "hijack")
	if err == nil || created {
		t.Fatalf("EnsureRoot with another account's key id (no root yet) = %v, %v; want an error", created, err)
	}
	if strings.Contains(err.Error(), "hijack") || strings.Contains(err.Error(), other.AccessKeySecret) {
		t.Errorf("error %q contains a secret", err)
	}
	if n := count(t, st, accountsDir); n != 1 {
		t.Errorf("%d accounts after a refused EnsureRoot, want 1", n)
	}

	root, _, err := d.EnsureRoot(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = d.EnsureRoot(ctx, other.AccessKeyID, "hijack")
	if err == nil {
		t.Fatal("EnsureRoot moved another account's key to the root account")
	}
	if strings.Contains(err.Error(), "hijack") || strings.Contains(err.Error(), other.AccessKeySecret) {
		t.Errorf("error %q contains a secret", err)
	}
	if p, s := lookup(t, d, other.AccessKeyID); p.AccountID != other.AccountID || s != other.AccessKeySecret || p.AccountID == root.AccountID {
		t.Errorf("the other account's key changed: %+v", p)
	}
}

// A key sealed under a retired master key is sealed again under the current
// one when the environment names it.
func TestEnsureRootResealsAfterRotation(t *testing.T) {
	_, st := newDirectory(t)
	ctx := t.Context()
	const id = "LTAIrotation000000000000"
	if _, _, err := iam.New(st, newKeyring(t, 1)).EnsureRoot(ctx, id, "secret"); err != nil {
		t.Fatal(err)
	}
	rotated := newKeyring(t, 2, keyBytes(1))
	d := iam.New(st, rotated)
	if _, _, err := d.EnsureRoot(ctx, id, "secret"); err != nil {
		t.Fatal(err)
	}
	var k store.AccessKey
	if _, err := st.Get(ctx, store.AccessKeyKey(id), &k); err != nil {
		t.Fatal(err)
	}
	if k.Secret.KeyID != rotated.CurrentID() {
		t.Errorf("root key still sealed with %s, want the current %s", k.Secret.KeyID, rotated.CurrentID())
	}
	// The retired key can go now.
	if _, s := lookup(t, iam.New(st, newKeyring(t, 2)), id); s != "secret" {
		t.Error("secret changed on re-seal")
	}
}

// Two API nodes starting at once against an empty store end up with one root
// account, and both start.
func TestEnsureRootConcurrentStart(t *testing.T) {
	kr := newKeyring(t, 1)
	for i := range 5 {
		st := testStore.WithPrefix(fmt.Sprintf("%s-%d", prefix(t), i))
		var wg sync.WaitGroup
		var creds [2]iam.Credentials
		var errs [2]error
		start := make(chan struct{})
		for n := range 2 {
			d := iam.New(st, kr)
			wg.Go(func() {
				<-start
				creds[n], _, errs[n] = d.EnsureRoot(t.Context(), "", "")
			})
		}
		close(start)
		wg.Wait()
		accounts, keys := count(t, st, accountsDir), count(t, st, store.AccessKeyKey(""))
		if errs[0] != nil || errs[1] != nil || creds[0].AccountID != creds[1].AccountID || accounts != 1 || keys != 1 {
			t.Fatalf("round %d: EnsureRoot twice at once: errors %v / %v, root accounts %s / %s, %d accounts and %d keys stored; "+
				"want both to succeed with one account and one key", i, errs[0], errs[1], creds[0].AccountID, creds[1].AccountID, accounts, keys)
		}
	}
}
