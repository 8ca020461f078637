package iam

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// Session durations AssumeRole accepts, in seconds (RAM's limits).
const (
	minSession     = 900
	defaultSession = 3600
	maxSession     = 43200
)

// CreateRole stores a role with its trust policy: who may assume it.
func (d *Directory) CreateRole(ctx context.Context, account string, r store.Role) (store.Role, error) {
	if !validName(r.RoleName, 64) {
		return r, ErrInvalidName
	}
	if _, err := parseTrust(r.TrustPolicy); err != nil {
		return r, errors.Join(ErrPolicyDocument, err)
	}
	if r.MaxSessionDuration == 0 {
		r.MaxSessionDuration = defaultSession
	}
	if r.MaxSessionDuration < defaultSession || r.MaxSessionDuration > maxSession {
		return r, ErrDuration
	}
	now := time.Now().UTC()
	r.RoleID, r.Created, r.Updated = randomString(digits, 19), now, now
	rev, err := d.st.Txn().Unchanged(store.RoleKey(account, r.RoleName), 0).Put(store.RoleKey(account, r.RoleName), r).Commit(ctx)
	if errors.Is(err, store.ErrConflict) {
		return r, ErrRoleExists
	}
	if err != nil {
		return r, err
	}
	return r, d.settle(ctx, rev)
}

// Role reads a role.
func (d *Directory) Role(ctx context.Context, account, name string) (store.Role, int64, error) {
	var r store.Role
	rev, err := d.st.Get(ctx, store.RoleKey(account, name), &r)
	if errors.Is(err, store.ErrNotFound) {
		return r, 0, ErrRoleNotFound
	}
	return r, rev, err
}

// RoleARN is a role's Alibaba Resource Name.
func RoleARN(account, role string) string { return "acs:ram::" + account + ":role/" + role }

// trust is a role's trust policy: Allow statements of sts:AssumeRole naming
// RAM principals ("acs:ram::ACCOUNT:root" for the whole account, or a user's
// ARN).
type trust struct {
	Statement []struct {
		Effect    string
		Action    any
		Principal struct{ RAM any }
	}
}

func parseTrust(doc string) (*trust, error) {
	var t trust
	if err := json.Unmarshal([]byte(doc), &t); err != nil {
		return nil, err
	}
	if len(t.Statement) == 0 {
		return nil, errors.New("a trust policy needs a statement")
	}
	return &t, nil
}

// trusts reports whether the role's trust policy lets p assume it.
func (t *trust) trusts(p Principal) bool {
	account := "acs:ram::" + p.AccountID + ":root"
	user := "acs:ram::" + p.AccountID + ":user/" + p.Name
	for _, s := range t.Statement {
		if s.Effect != "Allow" || !containsString(s.Action, "sts:AssumeRole") {
			continue
		}
		if containsString(s.Principal.RAM, account) || (p.Type == TypeSubUser && containsString(s.Principal.RAM, user)) {
			return true
		}
	}
	return false
}

// containsString matches a JSON string-or-list against want.
func containsString(v any, want string) bool {
	switch t := v.(type) {
	case string:
		return t == want
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}
