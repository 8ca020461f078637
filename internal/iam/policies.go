package iam

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/iam/policy"
	"github.com/cdnd/cdnd/internal/store"
)

// Policy types: Custom policies are the account's; System policies are
// built in.
const (
	PolicyCustom = "Custom"
	PolicySystem = "System"
)

// maxPolicyVersions is RAM's limit of versions kept per policy.
const maxPolicyVersions = 5

// CreatePolicy stores a custom policy; its document becomes version v1.
func (d *Directory) CreatePolicy(ctx context.Context, account, name, description, document string) (store.Policy, error) {
	if !validName(name, 128) {
		return store.Policy{}, ErrInvalidName
	}
	if _, err := policy.Parse(document); err != nil {
		return store.Policy{}, errors.Join(ErrPolicyDocument, err)
	}
	if _, ok := systemPolicies[name]; ok {
		return store.Policy{}, ErrPolicyExists
	}
	now := time.Now().UTC()
	p := store.Policy{Name: name, Description: description, DefaultVersion: "v1",
		Versions: []store.PolicyVersion{{VersionID: "v1", Document: document, Created: now}}, Created: now, Updated: now}
	rev, err := d.st.Txn().Unchanged(store.PolicyKey(account, name), 0).Put(store.PolicyKey(account, name), p).Commit(ctx)
	if errors.Is(err, store.ErrConflict) {
		return p, ErrPolicyExists
	}
	if err != nil {
		return p, err
	}
	return p, d.settle(ctx, rev)
}

// CreatePolicyVersion adds a version to a custom policy, the default one if
// asked. The oldest non-default version goes when the limit is reached.
func (d *Directory) CreatePolicyVersion(ctx context.Context, account, name, document string, setDefault bool) (store.PolicyVersion, error) {
	if _, err := policy.Parse(document); err != nil {
		return store.PolicyVersion{}, errors.Join(ErrPolicyDocument, err)
	}
	p, rev, err := d.CustomPolicy(ctx, account, name)
	if err != nil {
		return store.PolicyVersion{}, err
	}
	last, _ := strconv.Atoi(strings.TrimPrefix(p.Versions[len(p.Versions)-1].VersionID, "v"))
	v := store.PolicyVersion{VersionID: "v" + strconv.Itoa(last+1), Document: document, Created: time.Now().UTC()}
	if len(p.Versions) >= maxPolicyVersions {
		for i, old := range p.Versions {
			if old.VersionID != p.DefaultVersion {
				p.Versions = append(p.Versions[:i:i], p.Versions[i+1:]...)
				break
			}
		}
	}
	p.Versions = append(p.Versions, v)
	if setDefault {
		p.DefaultVersion = v.VersionID
	}
	p.Updated = v.Created
	crev, err := d.st.Txn().Unchanged(store.PolicyKey(account, name), rev).Put(store.PolicyKey(account, name), p).Commit(ctx)
	if err != nil {
		return v, err
	}
	return v, d.settle(ctx, crev)
}

// CustomPolicy reads a custom policy.
func (d *Directory) CustomPolicy(ctx context.Context, account, name string) (store.Policy, int64, error) {
	var p store.Policy
	rev, err := d.st.Get(ctx, store.PolicyKey(account, name), &p)
	if errors.Is(err, store.ErrNotFound) {
		return p, 0, ErrPolicyNotFound
	}
	return p, rev, err
}

// GetPolicy reads a policy of either type.
func (d *Directory) GetPolicy(ctx context.Context, account, name, policyType string) (store.Policy, error) {
	switch policyType {
	case PolicySystem:
		sp, ok := systemPolicies[name]
		if !ok {
			return store.Policy{}, ErrPolicyNotFound
		}
		return sp.record, nil
	case PolicyCustom, "":
		p, _, err := d.CustomPolicy(ctx, account, name)
		return p, err
	}
	return store.Policy{}, ErrPolicyType
}

// DeletePolicy removes a custom policy that nothing is attached to.
func (d *Directory) DeletePolicy(ctx context.Context, account, name string) error {
	_, rev, err := d.CustomPolicy(ctx, account, name)
	if err != nil {
		return err
	}
	if d.cache.attachedAnywhere(account, PolicyCustom, name) {
		return ErrPolicyInUse
	}
	crev, err := d.st.Txn().Unchanged(store.PolicyKey(account, name), rev).Delete(store.PolicyKey(account, name)).Commit(ctx)
	if err != nil {
		return err
	}
	return d.settle(ctx, crev)
}

// AttachedPolicy is a policy attached to a user or role.
type AttachedPolicy struct {
	store.Policy
	Type     string
	Attached time.Time
}

// Attach attaches a policy to a user or a role (kind "user" or "role").
func (d *Directory) Attach(ctx context.Context, account, kind, name, policyType, policyName string) error {
	if err := d.principalExists(ctx, account, kind, name); err != nil {
		return err
	}
	if _, err := d.GetPolicy(ctx, account, policyName, policyType); err != nil {
		return err
	}
	k := store.AttachmentKey(account, kind, name, policyType, policyName)
	t := d.st.Txn().Unchanged(k, 0).Put(k, store.Attachment{Attached: time.Now().UTC()})
	if policyType == PolicyCustom {
		// The policy must still exist when the attachment lands.
		_, prev, err := d.CustomPolicy(ctx, account, policyName)
		if err != nil {
			return err
		}
		t.Unchanged(store.PolicyKey(account, policyName), prev)
	}
	rev, err := t.Commit(ctx)
	if errors.Is(err, store.ErrConflict) {
		return ErrAlreadyAttached
	}
	if err != nil {
		return err
	}
	return d.settle(ctx, rev)
}

// Detach removes an attachment.
func (d *Directory) Detach(ctx context.Context, account, kind, name, policyType, policyName string) error {
	if err := d.principalExists(ctx, account, kind, name); err != nil {
		return err
	}
	k := store.AttachmentKey(account, kind, name, policyType, policyName)
	var a store.Attachment
	rev, err := d.st.Get(ctx, k, &a)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotAttached
	}
	if err != nil {
		return err
	}
	crev, err := d.st.Txn().Unchanged(k, rev).Delete(k).Commit(ctx)
	if err != nil {
		return err
	}
	return d.settle(ctx, crev)
}

// Attached lists the policies attached to a user or role.
func (d *Directory) Attached(ctx context.Context, account, kind, name string) ([]AttachedPolicy, error) {
	if err := d.principalExists(ctx, account, kind, name); err != nil {
		return nil, err
	}
	prefix := store.AttachmentsPrefix(account, kind, name)
	vs, err := store.ListKeyed[store.Attachment](ctx, d.st, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]AttachedPolicy, 0, len(vs))
	for _, v := range vs {
		policyType, policyName, _ := strings.Cut(string(v.Key[len(prefix):]), "/")
		p, err := d.GetPolicy(ctx, account, policyName, policyType)
		if errors.Is(err, ErrPolicyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, AttachedPolicy{Policy: p, Type: policyType, Attached: v.Value.Attached})
	}
	return out, nil
}

func (d *Directory) principalExists(ctx context.Context, account, kind, name string) error {
	if kind == "role" {
		_, _, err := d.Role(ctx, account, name)
		return err
	}
	_, _, err := d.User(ctx, account, name)
	return err
}
