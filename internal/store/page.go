package store

import (
	"context"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Page decodes the records under prefix after the key after (relative to
// prefix; "" for the first page), in key order, keeping those keep accepts,
// until limit are kept or the prefix ends. next is the cursor of the
// following page, "" when there is none. It reads in batches, so a page of
// a large prefix costs what it scans, not the whole prefix.
func Page[T any](ctx context.Context, s *Store, prefix Key, after string, limit int, keep func(T) bool) (out []Keyed[T], next string, err error) {
	p := s.abs(prefix)
	start := p + after
	if after != "" {
		start += "\x00"
	}
	end := clientv3.GetPrefixRangeEnd(p)
	batch := int64(min(max(limit, 16), 500))
	for {
		resp, err := s.cli.Get(lead(ctx), start, clientv3.WithRange(end), clientv3.WithLimit(batch))
		if err != nil {
			return nil, "", wrap(err)
		}
		for i, kv := range resp.Kvs {
			var v T
			if err := decode(kv.Key, kv.Value, &v); err != nil {
				return nil, "", err
			}
			if keep != nil && !keep(v) {
				continue
			}
			rel := strings.TrimPrefix(string(kv.Key), p)
			out = append(out, Keyed[T]{Key: Key(rel), Value: v, Revision: kv.ModRevision})
			if len(out) == limit {
				if i < len(resp.Kvs)-1 || resp.More {
					return out, rel, nil
				}
				return out, "", nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, "", nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
