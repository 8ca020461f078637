package iam

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdnd/cdnd/internal/iam/policy"
	"github.com/cdnd/cdnd/internal/store"
)

// authzCache holds every account's custom policies (parsed) and who they are
// attached to, mirrored from the store, so that authorizing a call reads no
// store at all: RAM changes are rare and calls are many.
type authzCache struct {
	mu       sync.RWMutex
	policies map[string]*policy.Policy  // "account/name"
	attached map[string]map[string]bool // "account/kind/name" -> {"Custom/name", "System/name"}
}

func newAuthzCache() *authzCache {
	return &authzCache{policies: map[string]*policy.Policy{}, attached: map[string]map[string]bool{}}
}

// apply follows the mirror: keys are ram/{account}/policies/{name} and
// ram/{account}/attach/{kind}/{name}/{type}/{policy}.
func (c *authzCache) apply(reset bool, kvs []store.RawKV) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reset {
		c.policies, c.attached = map[string]*policy.Policy{}, map[string]map[string]bool{}
	}
	for _, kv := range kvs {
		parts := strings.SplitN(strings.TrimPrefix(string(kv.Key), string(store.RAMPrefix())), "/", 6)
		switch {
		case len(parts) == 3 && parts[1] == "policies":
			k := parts[0] + "/" + parts[2]
			delete(c.policies, k)
			var p store.Policy
			if kv.Value != nil && json.Unmarshal(kv.Value, &p) == nil {
				if parsed, err := policy.Parse(p.Document()); err == nil {
					c.policies[k] = parsed
				}
			}
		case len(parts) == 6 && parts[1] == "attach":
			owner := parts[0] + "/" + parts[2] + "/" + parts[3]
			pol := parts[4] + "/" + parts[5]
			if kv.Value == nil {
				delete(c.attached[owner], pol)
				continue
			}
			if c.attached[owner] == nil {
				c.attached[owner] = map[string]bool{}
			}
			c.attached[owner][pol] = true
		}
	}
}

// policiesOf returns the parsed policies attached to a user or role.
func (c *authzCache) policiesOf(account, kind, name string) []*policy.Policy {
	c.mu.RLock()
	defer c.mu.RUnlock()
	set := c.attached[account+"/"+kind+"/"+name]
	out := make([]*policy.Policy, 0, len(set))
	for pol := range set {
		policyType, policyName, _ := strings.Cut(pol, "/")
		if policyType == PolicySystem {
			if sp, ok := systemPolicies[policyName]; ok {
				out = append(out, sp.parsed)
			}
		} else if p := c.policies[account+"/"+policyName]; p != nil {
			out = append(out, p)
		}
	}
	return out
}

// attachedAnywhere reports whether a policy is attached to any user or role.
func (c *authzCache) attachedAnywhere(account, policyType, name string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for owner, set := range c.attached {
		if strings.HasPrefix(owner, account+"/") && set[policyType+"/"+name] {
			return true
		}
	}
	return false
}

// Run keeps the authorizer's view of policies current until ctx ends.
func (d *Directory) Run(ctx context.Context) {
	d.running.Store(true)
	d.mirror.Run(ctx)
}

// settle waits until the authorizer has seen a RAM change this node made,
// so that the caller's next call is judged by it.
func (d *Directory) settle(ctx context.Context, rev int64) error {
	if !d.running.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return d.mirror.WaitFor(ctx, rev)
}

// Authorize decides whether p may run action on every resource. The
// account itself may do everything in its account; a RAM user what its
// policies allow; an assumed role what the role's policies allow, narrowed
// by the session's inline policy. A refusal is a *Denied.
func (d *Directory) Authorize(ctx context.Context, p Principal, action string, resources []string, conditions map[string]string) error {
	if p.Type == TypeAccount {
		return nil
	}
	if d.running.Load() {
		select {
		case <-d.mirror.Ready():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var pols []*policy.Policy
	switch p.Type {
	case TypeSubUser:
		pols = d.cache.policiesOf(p.AccountID, "user", p.Name)
	case TypeAssumedRoleUser:
		pols = d.cache.policiesOf(p.AccountID, "role", p.role)
	default:
		return errors.New("iam: unknown principal type " + p.Type)
	}
	for _, r := range resources {
		req := policy.Request{Action: action, Resource: r, Context: conditions}
		decision := policy.Evaluate(pols, req)
		if p.session != nil && decision == policy.Allow {
			decision = policy.Evaluate([]*policy.Policy{p.session}, req)
		}
		if decision != policy.Allow {
			policyType := "AccountLevelIdentityBasedPolicy"
			if p.session != nil && decision == policy.ImplicitDeny {
				policyType = "AssumeRolePolicy"
			}
			return &Denied{Decision: decision.String(), Resource: r, PolicyType: policyType}
		}
	}
	return nil
}

// directoryRuntime is the part of Directory that follows the store.
type directoryRuntime struct {
	cache   *authzCache
	mirror  *store.Mirror
	running atomic.Bool
}
