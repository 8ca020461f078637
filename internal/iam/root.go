package iam

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// rootMeta records which account is the installation's root account.
var rootMeta = store.MetaKey("root-account")

type rootRecord struct {
	AccountID string `json:"account"`
}

// EnsureRoot makes sure the installation's root account exists and returns
// it. With a key pair given (from the environment) that pair is the root
// account's key: created on first start and kept — its secret updated if the
// environment now says otherwise. Without one, the first start generates a
// pair and returns it with created=true so the caller can show it once;
// later starts return created=false and no secret.
func (d *Directory) EnsureRoot(ctx context.Context, accessKeyID, secret string) (creds Credentials, created bool, err error) {
	var root rootRecord
	_, err = d.st.Get(ctx, rootMeta, &root)
	if errors.Is(err, store.ErrNotFound) {
		id, s := accessKeyID, secret
		if id == "" {
			id, s = newAccessKeyID(), newAccessKeySecret()
		}
		// Account, key and root record in one transaction: no orphan
		// account when two nodes start at once or this one stops halfway.
		creds, err = d.createAccount(ctx, id, s, true)
		if !errors.Is(err, store.ErrConflict) {
			return creds, err == nil, err
		}
		// Another node created the root meanwhile: use it. (If there is
		// still no root, the conflict was the key id: it is another
		// account's.)
		if _, gerr := d.st.Get(ctx, rootMeta, &root); gerr != nil {
			if errors.Is(gerr, store.ErrNotFound) {
				return Credentials{}, false, fmt.Errorf("iam: AccessKey %s belongs to another account: %w", accessKeyID, err)
			}
			return Credentials{}, false, gerr
		}
	} else if err != nil {
		return creds, false, err
	}
	creds = Credentials{AccountID: root.AccountID}
	if accessKeyID == "" {
		return creds, false, nil
	}
	creds.AccessKeyID = accessKeyID
	return creds, false, d.putRootKey(ctx, root.AccountID, accessKeyID, secret)
}

// putRootKey installs or updates the environment's key on the root account.
func (d *Directory) putRootKey(ctx context.Context, accountID, accessKeyID, secret string) error {
	var k store.AccessKey
	rev, err := d.st.Get(ctx, store.AccessKeyKey(accessKeyID), &k)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	case k.AccountID != accountID:
		return fmt.Errorf("iam: AccessKey %s belongs to account %s, not to the root account", accessKeyID, k.AccountID)
	default:
		if current, err := d.kr.Open(k.Secret, secretAAD(accessKeyID)); err == nil && string(current) == secret && k.Status == "Active" && !d.kr.NeedsRotation(k.Secret) {
			return nil
		}
	}
	key, err := d.sealKey(accessKeyID, accountID, secret, time.Now().UTC())
	if err != nil {
		return err
	}
	_, err = d.st.Txn().Unchanged(store.AccessKeyKey(accessKeyID), rev).Put(store.AccessKeyKey(accessKeyID), key).
		Put(store.UserKeyIndex(accountID, "", accessKeyID), struct{}{}).Commit(ctx)
	return err
}
