package store

import (
	"context"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// AwaitApplied returns once every live edge has applied rev (at once when no
// edge is registered). An edge whose lease runs out is no longer waited for.
//
// It reads the edges' records once, which settles most calls, and
// otherwise follows the one watch of the reports that the store keeps for
// all callers (reportsView). A watch per call, as this was first written,
// put a watch creation and cancellation per call on the client's one
// stream, and a watch that starts behind the store waits for etcd's
// catch-up pass over unsynced watchers: with 64 callers the edges' own
// watch queued behind them and the API answered ServiceBusy for changes
// the edges had applied long before.
func (s *Store) AwaitApplied(ctx context.Context, rev int64) error {
	ctx = lead(ctx)
	resp, err := s.cli.Get(ctx, s.abs(Key(edgesDir)), clientv3.WithPrefix())
	if err != nil {
		return wrap(err)
	}
	// The view must have seen at least what the read saw, so that no edge
	// registered before this call is missed.
	var seenByRead int64
	behind := false
	for _, kv := range resp.Kvs {
		var e Edge
		if decode(kv.Key, kv.Value, &e) == nil && e.Applied < rev {
			behind = true
		}
		seenByRead = max(seenByRead, kv.ModRevision)
	}
	if !behind {
		return nil
	}
	v := s.reportsView()
	for {
		seen, changed := v.mirror.Progress()
		if seen >= seenByRead && v.appliedBy(rev) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// reportsView is every live edge's applied revision, mirrored from the
// edges' records.
type reportsView struct {
	mirror *Mirror

	mu      sync.Mutex
	applied map[Key]int64
}

func (s *Store) reportsView() *reportsView {
	s.reportsOnce.Do(func() {
		v := &reportsView{applied: map[Key]int64{}}
		v.mirror = s.NewMirror(Key(edgesDir), v.apply)
		go v.mirror.Run(s.background)
		s.reports = v
	})
	return s.reports
}

func (v *reportsView) apply(reset bool, kvs []RawKV) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if reset {
		clear(v.applied)
	}
	for _, kv := range kvs {
		var e Edge
		if kv.Value == nil || decode([]byte(kv.Key), kv.Value, &e) != nil {
			delete(v.applied, kv.Key)
			continue
		}
		v.applied[kv.Key] = e.Applied
	}
}

// appliedBy reports whether every edge the view knows has applied rev.
func (v *reportsView) appliedBy(rev int64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, a := range v.applied {
		if a < rev {
			return false
		}
	}
	return true
}
