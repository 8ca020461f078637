package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	// ErrNotFound: no record at that key.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a record a transaction depended on changed under it; read
	// again and retry.
	ErrConflict = errors.New("store: concurrent change")
	// ErrUnavailable: etcd did not answer (no quorum, unreachable, or the
	// call ran out of time). For a write the outcome is unknown: a proposal
	// that timed out may still commit. Retry only what is idempotent or
	// guarded by a compare.
	ErrUnavailable = errors.New("store: unavailable")
)

// wrap turns etcd's transport errors into ErrUnavailable so that callers can
// answer 503 without knowing gRPC.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, rpctypes.ErrNoLeader) ||
		errors.Is(err, rpctypes.ErrTimeout) || errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail) ||
		errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost) || errors.Is(err, rpctypes.ErrStopped) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if s, ok := status.FromError(err); ok && (s.Code() == codes.Unavailable || s.Code() == codes.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	// clientv3 hands etcd's own errors over as rpctypes.EtcdError, which is
	// no gRPC status: "leader changed" and "unhealthy cluster" are as
	// temporary as "no leader".
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) && (ee.Code() == codes.Unavailable || ee.Code() == codes.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

func decode(key, value []byte, v any) error {
	if err := json.Unmarshal(value, v); err != nil {
		return fmt.Errorf("store: decode %s: %w", key, err)
	}
	return nil
}

// Get reads the record at k into v and returns its modification revision.
func (s *Store) Get(ctx context.Context, k Key, v any) (int64, error) {
	resp, err := s.cli.Get(lead(ctx), s.abs(k))
	if err != nil {
		return 0, wrap(err)
	}
	if len(resp.Kvs) == 0 {
		return 0, ErrNotFound
	}
	if err := decode(resp.Kvs[0].Key, resp.Kvs[0].Value, v); err != nil {
		return 0, err
	}
	return resp.Kvs[0].ModRevision, nil
}

// Count returns how many records live under prefix.
func (s *Store) Count(ctx context.Context, prefix Key) (int64, error) {
	resp, err := s.cli.Get(lead(ctx), s.abs(prefix), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, wrap(err)
	}
	return resp.Count, nil
}

// Versioned is a record with the revision it was last modified at.
type Versioned[T any] struct {
	Value    T
	Revision int64
}

// List decodes every record under prefix, in key order.
func List[T any](ctx context.Context, s *Store, prefix Key) ([]Versioned[T], error) {
	resp, err := s.cli.Get(lead(ctx), s.abs(prefix), clientv3.WithPrefix())
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]Versioned[T], 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var v T
		if err := decode(kv.Key, kv.Value, &v); err != nil {
			return nil, err
		}
		out = append(out, Versioned[T]{Value: v, Revision: kv.ModRevision})
	}
	return out, nil
}

// Txn collects conditions and writes that commit together or not at all.
type Txn struct {
	s    *Store
	cmps []clientv3.Cmp
	ops  []clientv3.Op
	err  error
	// leased are writes under a shared lease (PutPurge,
	// PutRefreshMinute), which Commit takes.
	leased []leasedPut
}

// leasedPut is a write that expires with a lease of pool's, of ttl.
type leasedPut struct {
	op   clientv3.Op
	pool *nonceLeases
	ttl  time.Duration
}

// putLeased writes v at k under a lease of pool that lives at least ttl.
// Its value is JSON without HTML escaping: a URL's "&" stays one byte, not
// six, so that what the API bounded is what etcd gets.
func (t *Txn) putLeased(k Key, v any, pool *nonceLeases, ttl time.Duration) *Txn {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil && t.err == nil {
		t.err = fmt.Errorf("store: encode %s: %w", k, err)
	}
	t.leased = append(t.leased, leasedPut{clientv3.OpPut(t.s.abs(k), strings.TrimSuffix(b.String(), "\n")), pool, ttl})
	return t
}

// Txn starts a transaction.
func (s *Store) Txn() *Txn { return &Txn{s: s} }

// Unchanged makes the transaction depend on k still being at revision rev;
// rev 0 means k must not exist.
func (t *Txn) Unchanged(k Key, rev int64) *Txn {
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(t.s.abs(k)), "=", rev))
	return t
}

// NoneChangedUnder holds every key under prefix unchanged since rev: the
// commit fails if one was written (created or changed) after it. An empty
// range holds.
func (t *Txn) NoneChangedUnder(prefix Key, rev int64) *Txn {
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(t.s.abs(prefix)).WithPrefix(), "<", rev+1))
	return t
}

// Put writes v as JSON at k.
func (t *Txn) Put(k Key, v any) *Txn {
	b, err := json.Marshal(v)
	if err != nil && t.err == nil {
		t.err = fmt.Errorf("store: encode %s: %w", k, err)
	}
	t.ops = append(t.ops, clientv3.OpPut(t.s.abs(k), string(b)))
	return t
}

// Delete removes k.
func (t *Txn) Delete(k Key) *Txn {
	t.ops = append(t.ops, clientv3.OpDelete(t.s.abs(k)))
	return t
}

// Commit applies the writes if every condition holds and returns the
// revision they are visible at. ErrConflict means nothing was written. Under
// a context of BeginCall, the call's bookkeeping commits with them (then
// ErrNonceUsed also means nothing was written).
func (t *Txn) Commit(ctx context.Context) (int64, error) {
	if t.err != nil {
		return 0, t.err
	}
	for _, l := range t.leased {
		lease, err := l.pool.lease(ctx, l.ttl, 0)
		if err != nil {
			return 0, err
		}
		t.ops = append(t.ops, clientv3.OpPut(string(l.op.KeyBytes()), string(l.op.ValueBytes()), clientv3.WithLease(lease)))
	}
	t.leased = nil
	if c := callOf(ctx); c != nil {
		return t.commitWith(ctx, c)
	}
	resp, err := t.s.cli.Txn(lead(ctx)).If(t.cmps...).Then(t.ops...).Commit()
	if err != nil {
		return 0, wrap(err)
	}
	if !resp.Succeeded {
		return 0, ErrConflict
	}
	return resp.Header.Revision, nil
}

// PutExpiring writes v at k under a lease of ttl: etcd deletes it then, on
// every node, even if this process is gone.
func (s *Store) PutExpiring(ctx context.Context, k Key, v any, ttl time.Duration) (int64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("store: encode %s: %w", k, err)
	}
	lease, err := s.cli.Grant(ctx, int64((ttl+time.Second-1)/time.Second))
	if err != nil {
		return 0, wrap(err)
	}
	resp, err := s.cli.Put(lead(ctx), s.abs(k), string(b), clientv3.WithLease(lease.ID))
	if err != nil {
		return 0, wrap(err)
	}
	return resp.Header.Revision, nil
}

// Keyed is a record with its key and the revision that last wrote it.
type Keyed[T any] struct {
	Key      Key
	Value    T
	Revision int64
}

// ListKeyed decodes every record under prefix with its key, in key order.
func ListKeyed[T any](ctx context.Context, s *Store, prefix Key) ([]Keyed[T], error) {
	resp, err := s.cli.Get(lead(ctx), s.abs(prefix), clientv3.WithPrefix())
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]Keyed[T], 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var v T
		if err := decode(kv.Key, kv.Value, &v); err != nil {
			return nil, err
		}
		out = append(out, Keyed[T]{Key: Key(strings.TrimPrefix(string(kv.Key), s.prefix)), Value: v, Revision: kv.ModRevision})
	}
	return out, nil
}
