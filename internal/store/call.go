package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNonceUsed: the call's SignatureNonce was claimed already (a replay);
// its commit wrote nothing.
var ErrNonceUsed = errors.New("store: signature nonce already used")

// CallRecord is a write call's bookkeeping: the claim of its nonce and its
// audit record. Under the context of BeginCall the call's change carries
// both in its own transaction, so a change never commits without its audit
// record, a replay never commits at all, and a call costs one commit rather
// than three.
type CallRecord struct {
	AccessKeyID, Nonce string
	NonceTTL           time.Duration
	// Record is kept at RecordKey for Retention (sharing leases as
	// PutRetained does).
	RecordKey Key
	Record    any
	Retention time.Duration
}

// Call is the bookkeeping of one write call in flight. Safe for concurrent
// use: of concurrent commits, one carries it.
type Call struct {
	s        *Store
	nonceKey string
	rec      CallRecord

	mu        sync.Mutex
	inFlight  bool
	committed bool
	replayed  bool
}

type callKey struct{}

// BeginCall returns a context under which the first transaction committed
// (Txn.Commit) also claims rec's nonce and writes its record.
func (s *Store) BeginCall(ctx context.Context, rec CallRecord) (context.Context, *Call) {
	c := &Call{s: s, nonceKey: s.nonceKey(rec.AccessKeyID, rec.Nonce), rec: rec}
	return context.WithValue(ctx, callKey{}, c), c
}

// Committed reports whether a transaction of the call carried its
// bookkeeping.
func (c *Call) Committed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.committed
}

// Replayed reports whether a commit of the call found its nonce used.
func (c *Call) Replayed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.replayed
}

// Finish claims the nonce and writes record in one transaction, for a call
// that committed nothing of its own (it failed, or changed nothing). It
// returns ErrNonceUsed for a replay.
func (c *Call) Finish(ctx context.Context, record any) error {
	c.rec.Record = record
	_, err := c.s.Txn().Commit(context.WithValue(ctx, callKey{}, c))
	return err
}

// callOf hands the bookkeeping of ctx's call to one commit; nil if there
// is none, it is done, or another commit carries it now.
func callOf(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.committed || c.replayed || c.inFlight {
		return nil
	}
	c.inFlight = true
	return c
}

// ops are the bookkeeping's condition and writes.
func (c *Call) ops(ctx context.Context, staleNonce, staleRecord clientv3.LeaseID) (clientv3.Cmp, []clientv3.Op, clientv3.LeaseID, clientv3.LeaseID, error) {
	b, err := json.Marshal(c.rec.Record)
	if err != nil {
		return clientv3.Cmp{}, nil, 0, 0, fmt.Errorf("store: encode %s: %w", c.rec.RecordKey, err)
	}
	nonceLease, err := c.s.nonces.lease(ctx, c.rec.NonceTTL, staleNonce)
	if err != nil {
		return clientv3.Cmp{}, nil, 0, 0, err
	}
	recordLease, err := c.s.retained.lease(ctx, c.rec.Retention, staleRecord)
	if err != nil {
		return clientv3.Cmp{}, nil, 0, 0, err
	}
	return clientv3.Compare(clientv3.CreateRevision(c.nonceKey), "=", 0),
		[]clientv3.Op{
			clientv3.OpPut(c.nonceKey, "", clientv3.WithLease(nonceLease)),
			clientv3.OpPut(c.s.abs(c.rec.RecordKey), string(b), clientv3.WithLease(recordLease)),
		}, nonceLease, recordLease, nil
}

// commitWith commits t's conditions and writes together with c's
// bookkeeping. A failed commit tells a used nonce (ErrNonceUsed) from a
// changed record (ErrConflict) by reading the nonce in the else branch: one
// round trip either way.
func (t *Txn) commitWith(ctx context.Context, c *Call) (rev int64, err error) {
	defer func() {
		c.mu.Lock()
		c.inFlight = false
		c.committed = err == nil
		c.replayed = errors.Is(err, ErrNonceUsed)
		c.mu.Unlock()
	}()
	var staleNonce, staleRecord clientv3.LeaseID
	for attempt := 0; attempt < 2; attempt++ {
		cmp, ops, nonceLease, recordLease, err := c.ops(ctx, staleNonce, staleRecord)
		if err != nil {
			return 0, err
		}
		resp, err := t.s.cli.Txn(lead(ctx)).
			If(append(t.cmps, cmp)...).
			Then(append(t.ops, ops...)...).
			Else(clientv3.OpGet(c.nonceKey, clientv3.WithCountOnly())).
			Commit()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			// One of the shared leases expired while etcd was away:
			// take fresh ones.
			staleNonce, staleRecord = nonceLease, recordLease
			continue
		}
		if err != nil {
			return 0, wrap(err)
		}
		if resp.Succeeded {
			return resp.Header.Revision, nil
		}
		if r := resp.Responses[0].GetResponseRange(); r != nil && r.Count > 0 {
			return 0, ErrNonceUsed
		}
		return 0, ErrConflict
	}
	return 0, errors.New("store: retention lease keeps expiring")
}

// nonceKey is where the claim of (accessKeyID, nonce) lives: the nonce
// hashed, so that its length never decides the key's.
func (s *Store) nonceKey(accessKeyID, nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return s.abs(Key(noncesDir + accessKeyID + "/" + hex.EncodeToString(sum[:16])))
}
