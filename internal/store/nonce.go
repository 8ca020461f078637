package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// nonceBucket is how long one lease is shared among records that expire
// alike (nonces, audit records). Granting a lease per record would double
// the writes; sharing one per minute keeps every record for at least its
// time to live and at most a minute longer.
const nonceBucket = time.Minute

// nonceLeases hands out a lease shared by every record written within one
// bucket with the same time to live.
type nonceLeases struct {
	cli *clientv3.Client

	mu      sync.Mutex
	id      clientv3.LeaseID
	granted time.Time
	ttl     time.Duration
}

func (n *nonceLeases) lease(ctx context.Context, ttl time.Duration, stale clientv3.LeaseID) (clientv3.LeaseID, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.id != 0 && n.id != stale && n.ttl == ttl && time.Since(n.granted) < nonceBucket {
		return n.id, nil
	}
	resp, err := n.cli.Grant(ctx, int64((ttl+nonceBucket)/time.Second)+1)
	if err != nil {
		return 0, wrap(err)
	}
	n.id, n.granted, n.ttl = resp.ID, time.Now(), ttl
	return n.id, nil
}

// ClaimNonce records that accessKeyID used nonce, for at least ttl. It
// reports false when the pair was already claimed: a replayed request. The
// claim lives in etcd, so it holds across restarts and across API nodes.
func (s *Store) ClaimNonce(ctx context.Context, accessKeyID, nonce string, ttl time.Duration) (bool, error) {
	key := s.nonceKey(accessKeyID, nonce)
	var stale clientv3.LeaseID
	for attempt := 0; attempt < 2; attempt++ {
		lease, err := s.nonces.lease(ctx, ttl, stale)
		if err != nil {
			return false, err
		}
		resp, err := s.cli.Txn(lead(ctx)).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, "", clientv3.WithLease(lease))).
			Commit()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			stale = lease // expired while etcd was away: take a fresh one
			continue
		}
		if err != nil {
			return false, wrap(err)
		}
		return resp.Succeeded, nil
	}
	return false, errors.New("store: nonce lease keeps expiring")
}
