package iam

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
)

var (
	// ErrUnknownKey: no such AccessKeyId.
	ErrUnknownKey = errors.New("iam: access key not found")
	// ErrInactiveKey: the key exists but is disabled.
	ErrInactiveKey = errors.New("iam: access key is disabled")
	// ErrUnknownAccount: no such account.
	ErrUnknownAccount = errors.New("iam: account not found")
)

// DefaultDomainQuota is Alibaba's default number of domains per account.
const DefaultDomainQuota = 50

// Directory reads and writes accounts and AccessKeys.
type Directory struct {
	st *store.Store
	kr *keyring.Keyring
	directoryRuntime
}

// New returns a Directory over st, sealing secrets with kr.
func New(st *store.Store, kr *keyring.Keyring) *Directory {
	d := &Directory{st: st, kr: kr}
	d.cache = newAuthzCache()
	d.mirror = st.NewMirror(store.RAMPrefix(), d.cache.apply)
	return d
}

// secretAAD binds a sealed secret to its key's record: a sealed secret
// copied onto another AccessKey does not open.
func secretAAD(accessKeyID string) []byte { return []byte("accesskey/" + accessKeyID) }

// Lookup returns the principal an AccessKey (with its SecurityToken, for
// temporary credentials) stands for, and its secret. The key is read from
// the store on every call, so disabling or deleting it holds from the next
// call on, on every node.
func (d *Directory) Lookup(ctx context.Context, accessKeyID, securityToken string) (Principal, []byte, error) {
	if strings.HasPrefix(accessKeyID, "STS.") {
		return d.lookupSTS(ctx, accessKeyID, securityToken)
	}
	if securityToken != "" {
		if tokenKeyID(securityToken) == "" {
			return Principal{}, nil, ErrTokenMalformed
		}
		return Principal{}, nil, ErrTokenMismatch
	}
	var k store.AccessKey
	if _, err := d.st.Get(ctx, store.AccessKeyKey(accessKeyID), &k); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Principal{}, nil, ErrUnknownKey
		}
		return Principal{}, nil, err
	}
	p := Principal{AccountID: k.AccountID, AccessKeyID: accessKeyID, Type: TypeAccount}
	if k.UserName != "" {
		p.Type, p.Name = TypeSubUser, k.UserName
	}
	if k.Status != "Active" {
		// The principal comes back with the refusal, for the audit trail.
		return p, nil, ErrInactiveKey
	}
	secret, err := d.kr.Open(k.Secret, secretAAD(accessKeyID))
	if err != nil {
		return Principal{}, nil, fmt.Errorf("iam: open secret of %s: %w", accessKeyID, err)
	}
	return p, secret, nil
}

// Account returns an account's record.
func (d *Directory) Account(ctx context.Context, id string) (store.Account, error) {
	var a store.Account
	if _, err := d.st.Get(ctx, store.AccountKey(id), &a); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return a, ErrUnknownAccount
		}
		return a, err
	}
	return a, nil
}

// Credentials is an AccessKey pair as shown to its owner, once.
type Credentials struct {
	AccountID       string
	AccessKeyID     string
	AccessKeySecret string
}

// CreateAccount creates an account with one active AccessKey.
func (d *Directory) CreateAccount(ctx context.Context) (Credentials, error) {
	return d.createAccount(ctx, newAccessKeyID(), newAccessKeySecret(), false)
}

// createAccount creates an account and its key; with root, it records the
// account as the installation's root in the same transaction.
func (d *Directory) createAccount(ctx context.Context, accessKeyID, secret string, root bool) (Credentials, error) {
	now := time.Now().UTC()
	acct := store.Account{AccountID: newAccountID(), DomainQuota: DefaultDomainQuota, Created: now}
	key, err := d.sealKey(accessKeyID, acct.AccountID, secret, now)
	if err != nil {
		return Credentials{}, err
	}
	txn := d.st.Txn().
		Unchanged(store.AccountKey(acct.AccountID), 0).
		Unchanged(store.AccessKeyKey(accessKeyID), 0).
		Put(store.AccountKey(acct.AccountID), acct).
		Put(store.AccessKeyKey(accessKeyID), key).
		Put(store.UserKeyIndex(acct.AccountID, "", accessKeyID), struct{}{})
	if root {
		txn.Unchanged(rootMeta, 0).Put(rootMeta, rootRecord{AccountID: acct.AccountID})
	}
	if _, err = txn.Commit(ctx); err != nil {
		return Credentials{}, err
	}
	return Credentials{AccountID: acct.AccountID, AccessKeyID: accessKeyID, AccessKeySecret: secret}, nil
}

func (d *Directory) sealKey(accessKeyID, accountID, secret string, now time.Time) (store.AccessKey, error) {
	sealed, err := d.kr.Seal([]byte(secret), secretAAD(accessKeyID))
	if err != nil {
		return store.AccessKey{}, err
	}
	return store.AccessKey{AccessKeyID: accessKeyID, AccountID: accountID, Secret: sealed, Status: "Active", Created: now}, nil
}

// SetDomainQuota changes how many domains an account may have.
func (d *Directory) SetDomainQuota(ctx context.Context, accountID string, quota int) error {
	return store.RetryConflicts(ctx, func() error {
		var a store.Account
		rev, err := d.st.Get(ctx, store.AccountKey(accountID), &a)
		if errors.Is(err, store.ErrNotFound) {
			return ErrUnknownAccount
		}
		if err != nil {
			return err
		}
		a.DomainQuota = quota
		_, err = d.st.Txn().Unchanged(store.AccountKey(accountID), rev).Put(store.AccountKey(accountID), a).Commit(ctx)
		return err
	})
}
