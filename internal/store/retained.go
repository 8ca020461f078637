package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// auditDir holds the audit trail: audit/{time}/{requestId}, so that keys
// sort by time and a time range is a key range.
const auditDir = "audit/"

// auditTimeLayout sorts lexically in time order.
const auditTimeLayout = "20060102T150405.000000000Z"

// AuditKey is where the audit record of a call made at t lives.
func AuditKey(t time.Time, requestID string) Key {
	return Key(auditDir + t.UTC().Format(auditTimeLayout) + "/" + requestID)
}

// PutRetained writes v at k for ttl (at most a minute more), sharing one
// lease among all records written within a minute, so that an audit record
// costs one write, not two.
func (s *Store) PutRetained(ctx context.Context, k Key, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", k, err)
	}
	var stale clientv3.LeaseID
	for attempt := 0; attempt < 2; attempt++ {
		lease, err := s.retained.lease(ctx, ttl, stale)
		if err != nil {
			return err
		}
		_, err = s.cli.Put(lead(ctx), s.abs(k), string(b), clientv3.WithLease(lease))
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			stale = lease
			continue
		}
		return wrap(err)
	}
	return errors.New("store: retention lease keeps expiring")
}

// AuditRange decodes the audit records between from and to (inclusive),
// oldest first, calling keep on each until it returns false.
func AuditRange[T any](ctx context.Context, s *Store, from, to time.Time, keep func(T) bool) error {
	start := s.abs(Key(auditDir + from.UTC().Format(auditTimeLayout)))
	// Every key of the instant to ("…/requestId") sorts below "…\xff".
	end := s.abs(Key(auditDir+to.UTC().Format(auditTimeLayout))) + "\xff"
	const page = 500
	for {
		resp, err := s.cli.Get(lead(ctx), start, clientv3.WithRange(end), clientv3.WithLimit(page))
		if err != nil {
			return wrap(err)
		}
		for _, kv := range resp.Kvs {
			var v T
			if err := decode(kv.Key, kv.Value, &v); err != nil {
				return err
			}
			if !keep(v) {
				return nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
