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
	keys := make([]Key, len(names))
	for i, n := range names {
		keys[i] = DomainKey(n)
	}
	found, err := getMany[Domain](ctx, s, keys)
	if err != nil {
		return nil, err
	}
	out := make([]Versioned[Domain], 0, len(names))
	for _, k := range keys {
		if v, ok := found[k]; ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// getMany reads the records at keys, a hundred per transaction (etcd bounds
// the operations in one, 128 by default); keys without a record are absent
// from the answer.
func getMany[T any](ctx context.Context, s *Store, keys []Key) (map[Key]Versioned[T], error) {
	out := make(map[Key]Versioned[T], len(keys))
	for start := 0; start < len(keys); start += 100 {
		end := min(start+100, len(keys))
		ops := make([]clientv3.Op, 0, end-start)
		for _, k := range keys[start:end] {
			ops = append(ops, clientv3.OpGet(s.abs(k)))
		}
		resp, err := s.cli.Txn(lead(ctx)).Then(ops...).Commit()
		if err != nil {
			return nil, wrap(err)
		}
		for i, r := range resp.Responses {
			for _, kv := range r.GetResponseRange().Kvs {
				var v T
				if err := decode(kv.Key, kv.Value, &v); err != nil {
					return nil, err
				}
				out[keys[start+i]] = Versioned[T]{Value: v, Revision: kv.ModRevision}
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
