package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// RawKV is one record as stored, for mirrors that decode it themselves.
// Value is nil for a deletion.
type RawKV struct {
	Key   Key
	Value []byte
}

// Mirror keeps an in-memory copy of everything under a prefix current: it
// loads the prefix, then applies each later revision in order, reloading
// after a compaction and resuming after a broken watch. Readers that must
// see their own writes wait for the revision the write returned.
type Mirror struct {
	s      *Store
	prefix Key
	// apply receives the whole prefix (reset) or one revision's changes.
	apply func(reset bool, kvs []RawKV)

	mu      sync.Mutex
	applied chan struct{} // closed and replaced whenever rev moves
	rev     int64
	ready   chan struct{}
}

// NewMirror returns a mirror of prefix; apply is called from one goroutine
// at a time, never concurrently.
func (s *Store) NewMirror(prefix Key, apply func(reset bool, kvs []RawKV)) *Mirror {
	return &Mirror{s: s, prefix: prefix, apply: apply, applied: make(chan struct{}), ready: make(chan struct{})}
}

// mirrorRetryMin is the first pause after the watch breaks; it doubles to a
// second while the failure persists.
const mirrorRetryMin = 50 * time.Millisecond

// Run keeps the mirror current until ctx ends.
func (m *Mirror) Run(ctx context.Context) {
	backoff := mirrorRetryMin
	var rev int64
	for ctx.Err() == nil {
		var err error
		if rev == 0 {
			rev, err = m.load(ctx)
		}
		if err == nil {
			from := rev
			err = m.watch(ctx, &rev)
			if rev > from {
				// The watch made progress: this is a new failure, not
				// the same one persisting.
				backoff = mirrorRetryMin
			}
		}
		if errors.Is(err, ErrCompacted) {
			rev = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		m.s.log.Warn("store: mirror interrupted; resuming", "prefix", string(m.prefix), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (m *Mirror) load(ctx context.Context) (int64, error) {
	resp, err := m.s.cli.Get(ctx, m.s.abs(m.prefix), clientv3.WithPrefix())
	if err != nil {
		return 0, wrap(err)
	}
	kvs := make([]RawKV, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		kvs[i] = RawKV{Key: Key(strings.TrimPrefix(string(kv.Key), m.s.prefix)), Value: kv.Value}
	}
	m.apply(true, kvs)
	m.advance(resp.Header.Revision)
	select {
	case <-m.ready:
	default:
		close(m.ready)
	}
	return resp.Header.Revision, nil
}

func (m *Mirror) watch(ctx context.Context, rev *int64) error {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range m.s.cli.Watch(ctx, m.s.abs(m.prefix), clientv3.WithPrefix(), clientv3.WithRev(*rev+1), clientv3.WithProgressNotify()) {
		if resp.CompactRevision != 0 {
			return fmt.Errorf("%w: at %d", ErrCompacted, resp.CompactRevision)
		}
		if err := resp.Err(); err != nil {
			return wrap(err)
		}
		// The header's revision is the store's, not the batch's: a watcher
		// catching up from far behind gets its events in batches of at most
		// 1000 revisions, each under the current header. Only the events'
		// own revisions, and a progress notification's header (sent when
		// no event is pending), say how far the mirror really is.
		switch {
		case len(resp.Events) > 0:
			kvs := make([]RawKV, len(resp.Events))
			for i, ev := range resp.Events {
				kvs[i].Key = Key(strings.TrimPrefix(string(ev.Kv.Key), m.s.prefix))
				if ev.Type == clientv3.EventTypePut {
					kvs[i].Value = ev.Kv.Value
				}
			}
			m.apply(false, kvs)
			*rev = resp.Events[len(resp.Events)-1].Kv.ModRevision
		case resp.IsProgressNotify():
			*rev = max(*rev, resp.Header.Revision)
		}
		m.advance(*rev)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: watch closed", ErrUnavailable)
}

// advance publishes that everything up to rev is applied.
func (m *Mirror) advance(rev int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rev > m.rev {
		m.rev = rev
		close(m.applied)
		m.applied = make(chan struct{})
	}
}

// WaitFor blocks until the mirror has applied rev (a revision a write
// returned), so that a caller reads its own writes.
func (m *Mirror) WaitFor(ctx context.Context, rev int64) error {
	for {
		m.mu.Lock()
		cur, ch := m.rev, m.applied
		m.mu.Unlock()
		if cur >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Progress returns the revision the mirror has applied and a channel
// closed when it applies a later one, for callers that wait on something
// other than a revision.
func (m *Mirror) Progress() (int64, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rev, m.applied
}

// Ready is closed once the first load is applied.
func (m *Mirror) Ready() <-chan struct{} { return m.ready }
