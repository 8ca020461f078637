package iam

import (
	"context"
	"errors"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// maxKeysPerUser is RAM's limit of AccessKeys per user.
const maxKeysPerUser = 2

// CreateUser adds a RAM user to an account.
func (d *Directory) CreateUser(ctx context.Context, account string, u store.RAMUser) (store.RAMUser, error) {
	if !validName(u.UserName, 64) {
		return u, ErrInvalidName
	}
	now := time.Now().UTC()
	u.UserID, u.Created, u.Updated = randomString(digits, 16), now, now
	rev, err := d.st.Txn().Unchanged(store.RAMUserKey(account, u.UserName), 0).Put(store.RAMUserKey(account, u.UserName), u).Commit(ctx)
	if errors.Is(err, store.ErrConflict) {
		return u, ErrUserExists
	}
	if err != nil {
		return u, err
	}
	return u, d.settle(ctx, rev)
}

// User reads a RAM user.
func (d *Directory) User(ctx context.Context, account, name string) (store.RAMUser, int64, error) {
	var u store.RAMUser
	rev, err := d.st.Get(ctx, store.RAMUserKey(account, name), &u)
	if errors.Is(err, store.ErrNotFound) {
		return u, 0, ErrUserNotFound
	}
	return u, rev, err
}

// Users lists an account's RAM users in name order.
func (d *Directory) Users(ctx context.Context, account string) ([]store.RAMUser, error) {
	vs, err := store.List[store.RAMUser](ctx, d.st, store.RAMUsersPrefix(account))
	if err != nil {
		return nil, err
	}
	out := make([]store.RAMUser, len(vs))
	for i, v := range vs {
		out[i] = v.Value
	}
	return out, nil
}

// DeleteUser removes a user that has no AccessKeys and no policies left,
// as RAM requires.
func (d *Directory) DeleteUser(ctx context.Context, account, name string) error {
	_, rev, err := d.User(ctx, account, name)
	if err != nil {
		return err
	}
	keys, err := d.AccessKeys(ctx, account, name)
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		return ErrUserHasKeys
	}
	if n, err := d.st.Count(ctx, store.AttachmentsPrefix(account, "user", name)); err != nil || n > 0 {
		if err != nil {
			return err
		}
		return ErrUserHasPolicies
	}
	crev, err := d.st.Txn().Unchanged(store.RAMUserKey(account, name), rev).Delete(store.RAMUserKey(account, name)).Commit(ctx)
	if err != nil {
		return err
	}
	return d.settle(ctx, crev)
}

// CreateAccessKey gives a RAM user (or, with user "", the account itself) a
// new AccessKey; the secret is returned once.
func (d *Directory) CreateAccessKey(ctx context.Context, account, user string) (Credentials, store.AccessKey, error) {
	if user != "" {
		if _, _, err := d.User(ctx, account, user); err != nil {
			return Credentials{}, store.AccessKey{}, err
		}
		keys, err := d.AccessKeys(ctx, account, user)
		if err != nil {
			return Credentials{}, store.AccessKey{}, err
		}
		if len(keys) >= maxKeysPerUser {
			return Credentials{}, store.AccessKey{}, ErrKeyLimit
		}
	}
	id, secret := newAccessKeyID(), newAccessKeySecret()
	k, err := d.sealKey(id, account, secret, time.Now().UTC())
	if err != nil {
		return Credentials{}, k, err
	}
	k.UserName = user
	_, err = d.st.Txn().Unchanged(store.AccessKeyKey(id), 0).Put(store.AccessKeyKey(id), k).
		Put(store.UserKeyIndex(account, user, id), struct{}{}).Commit(ctx)
	return Credentials{AccountID: account, AccessKeyID: id, AccessKeySecret: secret}, k, err
}

// AccessKeys lists the keys of a RAM user ("" for the account's own).
func (d *Directory) AccessKeys(ctx context.Context, account, user string) ([]store.AccessKey, error) {
	ids, err := d.st.Keys(ctx, store.UserKeysPrefix(account, user))
	if err != nil {
		return nil, err
	}
	out := make([]store.AccessKey, 0, len(ids))
	for _, id := range ids {
		var k store.AccessKey
		if _, err := d.st.Get(ctx, store.AccessKeyKey(id), &k); err == nil {
			out = append(out, k)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return out, nil
}

// userKey reads one of a user's keys, refusing another user's.
func (d *Directory) userKey(ctx context.Context, account, user, id string) (store.AccessKey, int64, error) {
	var k store.AccessKey
	rev, err := d.st.Get(ctx, store.AccessKeyKey(id), &k)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (k.AccountID != account || k.UserName != user)) {
		return k, 0, ErrKeyNotFound
	}
	return k, rev, err
}

// UpdateAccessKey activates or disables a key. The gateway reads the key
// on every call, so the change holds from the next call on, on every node.
func (d *Directory) UpdateAccessKey(ctx context.Context, account, user, id, status string) error {
	if status != "Active" && status != "Inactive" {
		return ErrBadKeyStatus
	}
	k, rev, err := d.userKey(ctx, account, user, id)
	if err != nil {
		return err
	}
	k.Status = status
	_, err = d.st.Txn().Unchanged(store.AccessKeyKey(id), rev).Put(store.AccessKeyKey(id), k).Commit(ctx)
	return err
}

// DeleteAccessKey removes a key.
func (d *Directory) DeleteAccessKey(ctx context.Context, account, user, id string) error {
	_, rev, err := d.userKey(ctx, account, user, id)
	if err != nil {
		return err
	}
	_, err = d.st.Txn().Unchanged(store.AccessKeyKey(id), rev).Delete(store.AccessKeyKey(id)).
		Delete(store.UserKeyIndex(account, user, id)).Commit(ctx)
	return err
}
