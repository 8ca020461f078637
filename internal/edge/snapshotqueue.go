package edge

import (
	"math"
	"sync"

	"github.com/cdnd/cdnd/internal/store"
)

// snapshotQueue hands what the watch applies to the snapshot writer. The
// watch must never wait for the disk, so it only appends here and wakes the
// writer; the writer takes everything pending at once and syncs it with one
// fsync.
type snapshotQueue struct {
	mu sync.Mutex
	// records are the applied revisions with changes the writer has not
	// taken yet, in order.
	records []journalRecord
	// upto is the last revision applied, with changes or not: once the
	// records up to it are on disk, it is durable.
	upto int64
	// rebase: a full load was installed since the writer last took.
	rebase bool
	// epoch counts full loads: a revision the writer made durable before a
	// load is not published after it (after a load from another cluster,
	// it would mean nothing).
	epoch uint64
	// durable is the last revision the snapshot files hold: what the edge
	// may acknowledge.
	durable int64
	// gone: writing the snapshot failed and its files were removed, so no
	// restart can serve an older state than the index: the edge may
	// acknowledge what it applied until the files hold all of it again.
	gone bool

	wake chan struct{} // capacity 1: signals coalesce
	// durableChanged is called (under mu) when durable moves.
	durableChanged func(rev int64)
}

// applied queues one applied revision. A nil queue (no snapshot) ignores it.
func (q *snapshotQueue) applied(rev int64, changes []store.Change) {
	if q == nil {
		return
	}
	q.mu.Lock()
	if len(changes) > 0 {
		q.records = append(q.records, journalRecord{Revision: rev, Changes: changes})
	}
	q.upto = rev
	q.mu.Unlock()
	q.signal()
}

// loaded notes a full load at rev (a nil queue ignores it): what is
// pending is in it, and only a new base records it. A load from another
// etcd cluster makes what the files hold (that cluster's revisions) mean
// nothing to this one: nothing is durable until the new base is.
func (q *snapshotQueue) loaded(rev int64, otherCluster bool) {
	if q == nil {
		return
	}
	q.mu.Lock()
	q.records, q.upto, q.rebase = nil, rev, true
	q.epoch++
	if otherCluster {
		q.setDurable(0)
	}
	q.mu.Unlock()
	q.signal()
}

// resumed notes that the index was started from files that hold rev.
func (q *snapshotQueue) resumed(rev int64) {
	q.mu.Lock()
	q.upto = rev
	q.setDurable(rev)
	q.mu.Unlock()
}

func (q *snapshotQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// snapshotBatch is what the writer took from the queue at once.
type snapshotBatch struct {
	records []journalRecord
	upto    int64
	rebase  bool
	epoch   uint64
}

func (q *snapshotQueue) take() snapshotBatch {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := snapshotBatch{records: q.records, upto: q.upto, rebase: q.rebase, epoch: q.epoch}
	q.records, q.rebase = nil, false
	return b
}

// publish records that the files hold rev, as of the load epoch.
func (q *snapshotQueue) publish(rev int64, epoch uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if epoch == q.epoch && rev > q.durable {
		q.setDurable(rev)
	}
	if q.gone && q.durable >= q.upto {
		q.gone = false
	}
}

// unsaved notes that the snapshot files are gone (snapshotWriter.failed).
func (q *snapshotQueue) unsaved() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.gone = true
	q.durableChanged(q.durable) // wakes the reporter
}

func (q *snapshotQueue) setDurable(rev int64) {
	q.durable = rev
	q.durableChanged(rev)
}

// ackLimit is how far the edge may acknowledge: what the files hold, or
// anything while they are gone.
func (q *snapshotQueue) ackLimit() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.gone {
		return math.MaxInt64
	}
	return q.durable
}

// loadEpoch is the current load epoch, for a base about to be read.
func (q *snapshotQueue) loadEpoch() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.epoch
}

// acknowledged is the revision the edge reports: what it applied, and with
// a snapshot only as far as the snapshot holds it, so that the store never
// counts on a revision this edge would lose in a crash (and then serve an
// older certificate from its snapshot).
func (e *Edge) acknowledged() int64 {
	rev := e.Applied()
	if e.snap != nil {
		rev = min(rev, e.snap.ackLimit())
	}
	return rev
}
