package iam_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
)

var (
	accountIDShape = regexp.MustCompile(`^[1-9][0-9]{15}$`)
	keyIDShape     = regexp.MustCompile(`^LTAI[A-Za-z0-9]{20}$`)
	secretShape    = regexp.MustCompile(`^[A-Za-z0-9]{30}$`)
)

func createAccount(t *testing.T, d *iam.Directory) iam.Credentials {
	t.Helper()
	c, err := d.CreateAccount(t.Context())
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	return c
}

func lookup(t *testing.T, d *iam.Directory, id string) (iam.Principal, string) {
	t.Helper()
	p, secret, err := d.Lookup(t.Context(), id, "")
	if err != nil {
		t.Fatalf("Lookup(%s): %v", id, err)
	}
	return p, string(secret)
}

func TestCreateAccountThenLookup(t *testing.T) {
	d, _ := newDirectory(t)
	c := createAccount(t, d)
	if !accountIDShape.MatchString(c.AccountID) || !keyIDShape.MatchString(c.AccessKeyID) || !secretShape.MatchString(c.AccessKeySecret) {
		t.Errorf("credentials %q / %q / (secret of %d chars) do not look like Alibaba's", c.AccountID, c.AccessKeyID, len(c.AccessKeySecret))
	}
	p, secret := lookup(t, d, c.AccessKeyID)
	if want := (iam.Principal{AccountID: c.AccountID, AccessKeyID: c.AccessKeyID, Type: "Account"}); p != want {
		t.Errorf("Lookup principal = %+v, want %+v", p, want)
	}
	if secret != c.AccessKeySecret {
		t.Error("Lookup returned another secret than CreateAccount")
	}
	a, err := d.Account(t.Context(), c.AccountID)
	if err != nil || a.AccountID != c.AccountID || a.DomainQuota != iam.DefaultDomainQuota || a.Created.IsZero() {
		t.Errorf("Account = %+v, %v", a, err)
	}

	c2 := createAccount(t, d)
	if c2.AccountID == c.AccountID || c2.AccessKeyID == c.AccessKeyID || c2.AccessKeySecret == c.AccessKeySecret {
		t.Error("two accounts share an id, key id or secret")
	}
	if p, _ := lookup(t, d, c2.AccessKeyID); p.AccountID != c2.AccountID {
		t.Errorf("second key maps to %s, want %s", p.AccountID, c2.AccountID)
	}
}

func TestLookupUnknownKey(t *testing.T) {
	d, _ := newDirectory(t)
	createAccount(t, d)
	for _, id := range []string{"LTAI00000000000000000000", "", "../accounts"} {
		if _, secret, err := d.Lookup(t.Context(), id, ""); !errors.Is(err, iam.ErrUnknownKey) || secret != nil {
			t.Errorf("Lookup(%q) = %v, %v; want ErrUnknownKey", id, secret, err)
		}
	}
}

func TestLookupInactiveKey(t *testing.T) {
	d, st := newDirectory(t)
	c := createAccount(t, d)
	var k store.AccessKey
	rev, err := st.Get(t.Context(), store.AccessKeyKey(c.AccessKeyID), &k)
	if err != nil {
		t.Fatal(err)
	}
	if k.Status != "Active" || k.AccountID != c.AccountID || k.AccessKeyID != c.AccessKeyID {
		t.Fatalf("stored key = %+v", k)
	}
	for _, status := range []string{"Inactive", ""} {
		k.Status = status
		rev, err = st.Txn().Unchanged(store.AccessKeyKey(c.AccessKeyID), rev).Put(store.AccessKeyKey(c.AccessKeyID), k).Commit(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, secret, err := d.Lookup(t.Context(), c.AccessKeyID, ""); !errors.Is(err, iam.ErrInactiveKey) || secret != nil {
			t.Errorf("status %q: Lookup = %v, %v; want ErrInactiveKey and no secret", status, secret, err)
		}
	}
}

func TestSecretIsSealedAtRest(t *testing.T) {
	d, st := newDirectory(t)
	c := createAccount(t, d)
	var raw json.RawMessage
	if _, err := st.Get(t.Context(), store.AccessKeyKey(c.AccessKeyID), &raw); err != nil {
		t.Fatal(err)
	}
	for _, form := range []string{
		c.AccessKeySecret,
		base64.StdEncoding.EncodeToString([]byte(c.AccessKeySecret)),
		base64.RawURLEncoding.EncodeToString([]byte(c.AccessKeySecret)),
	} {
		if strings.Contains(string(raw), form) {
			t.Fatalf("the stored AccessKey record contains the secret: %s", raw)
		}
	}
	var rec struct {
		Secret map[string]any `json:"secret"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Secret["kid"] == nil || rec.Secret["n"] == nil || rec.Secret["d"] == nil {
		t.Errorf("secret is not a sealed blob: %s", raw)
	}
	// The account record holds no secret either.
	var acct json.RawMessage
	if _, err := st.Get(t.Context(), store.AccountKey(c.AccountID), &acct); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(acct), c.AccessKeySecret) {
		t.Errorf("the account record contains the secret: %s", acct)
	}
}

// A sealed secret is bound to its key's record: copied onto another key, it
// does not open (and the failure names no secret).
func TestSealedSecretBoundToItsKey(t *testing.T) {
	d, st := newDirectory(t)
	a, b := createAccount(t, d), createAccount(t, d)
	var ka, kb store.AccessKey
	if _, err := st.Get(t.Context(), store.AccessKeyKey(a.AccessKeyID), &ka); err != nil {
		t.Fatal(err)
	}
	rev, err := st.Get(t.Context(), store.AccessKeyKey(b.AccessKeyID), &kb)
	if err != nil {
		t.Fatal(err)
	}
	kb.Secret = ka.Secret
	if _, err := st.Txn().Unchanged(store.AccessKeyKey(b.AccessKeyID), rev).Put(store.AccessKeyKey(b.AccessKeyID), kb).Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, secret, err := d.Lookup(t.Context(), b.AccessKeyID, "")
	if err == nil || secret != nil {
		t.Fatalf("Lookup of a key carrying another key's sealed secret = %q, %v; want an error", secret, err)
	}
	if !errors.Is(err, keyring.ErrOpen) || errors.Is(err, iam.ErrUnknownKey) || errors.Is(err, iam.ErrInactiveKey) {
		t.Errorf("error = %v, want keyring.ErrOpen", err)
	}
	if strings.Contains(err.Error(), a.AccessKeySecret) || strings.Contains(err.Error(), b.AccessKeySecret) {
		t.Errorf("error %q contains a secret", err)
	}
	if _, s := lookup(t, d, a.AccessKeyID); s != a.AccessKeySecret {
		t.Error("the original key no longer opens")
	}
}

// A directory whose keyring lacks the sealing key cannot open secrets.
func TestLookupWithAnotherKeyring(t *testing.T) {
	d, st := newDirectory(t)
	c := createAccount(t, d)
	other := iam.New(st, newKeyring(t, 2))
	if _, secret, err := other.Lookup(t.Context(), c.AccessKeyID, ""); !errors.Is(err, keyring.ErrUnknownKey) || secret != nil {
		t.Errorf("Lookup with a foreign keyring = %q, %v; want keyring.ErrUnknownKey", secret, err)
	}
	// After rotation (old key kept to open), it still works.
	rotated := iam.New(st, newKeyring(t, 2, keyBytes(1)))
	if _, s, err := rotated.Lookup(t.Context(), c.AccessKeyID, ""); err != nil || string(s) != c.AccessKeySecret {
		t.Errorf("Lookup after rotation = %v", err)
	}
}

func TestDomainQuota(t *testing.T) {
	d, _ := newDirectory(t)
	ctx := t.Context()
	if err := d.SetDomainQuota(ctx, "1000000000000000", 10); !errors.Is(err, iam.ErrUnknownAccount) {
		t.Errorf("SetDomainQuota(unknown) = %v, want ErrUnknownAccount", err)
	}
	if _, err := d.Account(ctx, "1000000000000000"); !errors.Is(err, iam.ErrUnknownAccount) {
		t.Errorf("Account(unknown) = %v, want ErrUnknownAccount", err)
	}
	c := createAccount(t, d)
	if err := d.SetDomainQuota(ctx, c.AccountID, 500); err != nil {
		t.Fatal(err)
	}
	a, err := d.Account(ctx, c.AccountID)
	if err != nil || a.DomainQuota != 500 || a.AccountID != c.AccountID || a.Created.IsZero() {
		t.Errorf("Account after SetDomainQuota = %+v, %v", a, err)
	}
	// The key still works: only the quota changed.
	if p, _ := lookup(t, d, c.AccessKeyID); p.AccountID != c.AccountID {
		t.Errorf("principal = %+v", p)
	}
}
