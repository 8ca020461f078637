package store

import (
	"context"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// CountDomains returns how many domains an account owns.
func (s *Store) CountDomains(ctx context.Context, account string) (int64, error) {
	return s.Count(ctx, ownersPrefix(account))
}

// DomainsOf lists the names of an account's domains, in name order.
func (s *Store) DomainsOf(ctx context.Context, account string) ([]string, error) {
	return s.Keys(ctx, ownersPrefix(account))
}

// GetDomains reads the named domains, a hundred per read; names that do not
// exist are skipped.
func (s *Store) GetDomains(ctx context.Context, names []string) ([]Versioned[Domain], error) {
	ops := make([]clientv3.Op, len(names))
	for i, n := range names {
		ops[i] = clientv3.OpGet(s.abs(DomainKey(n)))
	}
	out := make([]Versioned[Domain], 0, len(names))
	// etcd bounds the operations in one transaction (128 by default).
	for start := 0; start < len(ops); start += 100 {
		end := min(start+100, len(ops))
		resp, err := s.cli.Txn(lead(ctx)).Then(ops[start:end]...).Commit()
		if err != nil {
			return nil, wrap(err)
		}
		for _, r := range resp.Responses {
			for _, kv := range r.GetResponseRange().Kvs {
				var d Domain
				if err := decode(kv.Key, kv.Value, &d); err != nil {
					return nil, err
				}
				out = append(out, Versioned[Domain]{Value: d, Revision: kv.ModRevision})
			}
		}
	}
	return out, nil
}

// Keys lists the last path element of every key under prefix (an index's
// entries), in key order.
func (s *Store) Keys(ctx context.Context, prefix Key) ([]string, error) {
	p := s.abs(prefix)
	resp, err := s.cli.Get(lead(ctx), p, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]string, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		out[i] = strings.TrimPrefix(string(kv.Key), p)
	}
	return out, nil
}
