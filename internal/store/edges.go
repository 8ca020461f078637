package store

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// EdgeTTL is how long an edge stays listed after its last keep-alive.
const EdgeTTL = 10 * time.Second

// EdgeLease keeps one edge's record alive while the edge runs. An edge that
// stops (or loses the store) disappears with its lease, so the API never waits
// on an edge that is gone.
type EdgeLease struct {
	s   *Store
	id  string
	key Key

	mu    sync.Mutex
	lease clientv3.LeaseID
	stop  context.CancelFunc
}

// RegisterEdge returns the lease under which edge id reports.
func (s *Store) RegisterEdge(id string) *EdgeLease {
	return &EdgeLease{s: s, id: id, key: EdgeKey(id)}
}

// Report publishes what the edge has applied. It (re)grants the lease when
// there is none, e.g. after the store was unreachable long enough for it to
// expire.
func (l *EdgeLease) Report(ctx context.Context, e Edge) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.EdgeID, e.Reported = l.id, time.Now().UTC()
	for attempt := 0; ; attempt++ {
		if l.lease == 0 {
			if err := l.grant(ctx); err != nil {
				return err
			}
		}
		_, err := l.s.Txn().Put(l.key, e).commitWithLease(ctx, l.lease)
		// Only a lease etcd no longer knows is replaced; an unreachable
		// store keeps the lease for the next report.
		if !errors.Is(err, rpctypes.ErrLeaseNotFound) || attempt > 0 {
			return err
		}
		l.release()
	}
}

func (l *EdgeLease) grant(ctx context.Context) error {
	resp, err := l.s.cli.Grant(ctx, int64(EdgeTTL/time.Second))
	if err != nil {
		return wrap(err)
	}
	kctx, cancel := context.WithCancel(context.Background())
	ch, err := l.s.cli.KeepAlive(kctx, resp.ID)
	if err != nil {
		cancel()
		return wrap(err)
	}
	go func() {
		for range ch { // drain; the channel closes when the lease is lost
		}
	}()
	l.lease, l.stop = resp.ID, cancel
	return nil
}

func (l *EdgeLease) release() {
	if l.stop != nil {
		l.stop()
	}
	l.lease, l.stop = 0, nil
}

// Close withdraws the edge's record.
func (l *EdgeLease) Close(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lease != 0 {
		_, _ = l.s.cli.Revoke(ctx, l.lease)
	}
	l.release()
}

// AppliedByEveryEdge is the revision every live edge has applied; with no
// edge registered there is nothing to wait for (math.MaxInt64).
func (s *Store) AppliedByEveryEdge(ctx context.Context) (int64, error) {
	edges, err := s.Edges(ctx)
	if err != nil {
		return 0, err
	}
	applied := int64(math.MaxInt64)
	for _, e := range edges {
		applied = min(applied, e.Applied)
	}
	return applied, nil
}

// Edges lists the live edges.
func (s *Store) Edges(ctx context.Context) ([]Edge, error) {
	vs, err := List[Edge](ctx, s, Key(edgesDir))
	if err != nil {
		return nil, err
	}
	out := make([]Edge, len(vs))
	for i, v := range vs {
		out[i] = v.Value
	}
	return out, nil
}

func (t *Txn) commitWithLease(ctx context.Context, lease clientv3.LeaseID) (int64, error) {
	for i, op := range t.ops {
		if op.IsPut() {
			t.ops[i] = clientv3.OpPut(string(op.KeyBytes()), string(op.ValueBytes()), clientv3.WithLease(lease))
		}
	}
	return t.Commit(ctx)
}

// RegisterAPINode returns the lease under which an API node announces
// itself: the nodes share an account's throttling budget, each taking its
// part of it.
func (s *Store) RegisterAPINode(id string) *EdgeLease {
	return &EdgeLease{s: s, id: id, key: Key(apiNodesDir + id)}
}

// APINodes counts the live API nodes.
func (s *Store) APINodes(ctx context.Context) (int64, error) {
	return s.Count(ctx, Key(apiNodesDir))
}

const apiNodesDir = "apinodes/"
