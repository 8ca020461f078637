package edge

import (
	"context"
	"errors"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

const (
	// retryMin and retryMax bound the backoff between attempts to reach the
	// store. The cap is short because the edge keeps serving what it has
	// meanwhile and should catch up as soon as the store is back.
	retryMin = 50 * time.Millisecond
	retryMax = time.Second
	// heartbeat re-reports while idle, well inside store.EdgeTTL, so that a
	// record lost with its lease (store unreachable for longer than the
	// TTL) comes back without waiting for the next change.
	heartbeat = store.EdgeTTL / 2
	// reportTimeout bounds one report, so a hung store cannot stall the
	// reporter forever. It is short: a report is one small write, and one
	// lost with an etcd leader waits here while every domain it would
	// settle reads configuring (and changes to them answer ServiceBusy).
	reportTimeout = time.Second
)

// Run feeds the index from the store until ctx ends, then returns nil.
//
// It loads everything served (store.LoadServed), then watches from that
// revision (store.WatchServed). When the history it needs was compacted it
// loads again; when the store is unreachable or the watch breaks it retries
// with backoff (capped at 1s), resuming from the last applied revision. The
// index keeps serving what it last had all along. Each applied revision is
// reported through the edge's lease by a separate reporter, which coalesces:
// at most one report in flight, always of the latest revision. With a
// snapshot, Run starts from it (snapshot.go) and a revision is reported
// only once the snapshot files hold it (snapshotwriter.go).
func (e *Edge) Run(ctx context.Context) error {
	if e.store == nil {
		return errors.New("edge: Config.Store is nil")
	}
	e.runCtx = ctx
	defer e.prefetches.wg.Wait()
	lease := e.store.RegisterEdge(e.id)
	reporterDone := make(chan struct{})
	go func() {
		defer close(reporterDone)
		e.reportLoop(ctx, lease)
	}()
	defer func() {
		<-reporterDone
		// Withdraw the edge's record so the API stops counting on it.
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		lease.Close(cctx)
		cancel()
	}()

	// The ACME answers follow a watch of their own: they are short-lived
	// and never part of the fail-static snapshot.
	challengesDone := make(chan struct{})
	go func() {
		defer close(challengesDone)
		e.challenges.mirror.Run(ctx)
	}()
	defer func() { <-challengesDone }()

	progressDone := make(chan struct{})
	go func() { defer close(progressDone); e.progressLoop(ctx) }()
	defer func() { <-progressDone }()
	loaded := false
	if e.snapshotPath != "" {
		files := e.startFromSnapshot()
		loaded = files != nil
		snapDone := make(chan struct{})
		go func() { defer close(snapDone); e.snapshotLoop(ctx, files) }()
		defer func() { <-snapDone }()
	}

	delay := retryMin
	start := time.Now()
	fromSnapshot := loaded
	for {
		if loaded && e.clusterID.Load() != 0 {
			// Resuming a snapshot: only from the cluster it was taken from.
			id, err := e.store.ClusterID(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				e.log.Warn("edge: the store is unreachable; serving what it has", "err", err, "retry", delay)
				if !sleep(ctx, delay) {
					return nil
				}
				delay = backoff(delay)
				continue
			}
			if fromSnapshot {
				// Operators read the start-up from the logs: say when the
				// snapshot stopped being all there was.
				e.log.Info("edge: the store answers; catching up from the snapshot", "revision", e.Applied(), "after", time.Since(start).Round(time.Millisecond))
				fromSnapshot = false
			}
			if id != e.clusterID.Load() {
				e.log.Warn("edge: the snapshot is of another etcd cluster; reloading")
				loaded = false
			}
		}
		if !loaded {
			s, err := e.store.LoadServed(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				e.log.Warn("edge: loading the store failed; retrying", "err", err, "retry", delay)
				if !sleep(ctx, delay) {
					return nil
				}
				delay = backoff(delay)
				continue
			}
			e.load(s)
			loaded, delay = true, retryMin
		}
		from := e.Applied()
		err := e.store.WatchServed(ctx, from, e.applyRevision)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, store.ErrCompacted) {
			e.log.Warn("edge: store history compacted; reloading", "from", from, "err", err)
			loaded = false
			continue
		}
		if e.Applied() > from {
			delay = retryMin // the watch made progress: not a persistent failure
		}
		e.log.Warn("edge: store watch interrupted; resuming", "from", e.Applied(), "err", err, "retry", delay)
		if !sleep(ctx, delay) {
			return nil
		}
		delay = backoff(delay)
	}
}

// load installs a full load of the store. Only a new snapshot base can
// record it (snapshotwriter.go); the lock keeps the writer from labelling
// one load's records with another's revision or cluster.
func (e *Edge) load(s *store.Served) {
	e.loading.Lock()
	defer e.loading.Unlock()
	otherCluster := e.install(e.idx.build(s), s.Revision, s.ClusterID)
	e.snap.loaded(s.Revision, otherCluster)
}

// install makes next the index, as of revision rev of cluster, and reports
// whether that cluster is another than the one before.
func (e *Edge) install(next *index, rev int64, cluster uint64) (otherCluster bool) {
	otherCluster = e.clusterID.Swap(cluster) != cluster
	gone, n := e.idx.adopt(next)
	e.cache.drop(gone)
	e.installPurges(next)
	e.setApplied(rev, n)
	if !e.ready.Swap(true) {
		e.log.Info("edge: ready", "revision", rev, "domains", n, "certs", len(next.certs))
	}
	return otherCluster
}

// applyRevision applies one revision's changes at once (WatchServed passes
// a certificate and the domain bound to it in the same call), then hands
// them to the snapshot writer (it keeps the slice: WatchServed allows it).
func (e *Edge) applyRevision(rev int64, changes []store.Change) error {
	if rev <= e.Applied() {
		return nil // already applied (a watch resumed at or before it)
	}
	gone, n := e.idx.apply(changes)
	e.cache.drop(gone)
	e.applyPurges(changes)
	e.setApplied(rev, n)
	e.snap.applied(rev, changes)
	return nil
}

// setApplied publishes rev once the index holds it. Without a snapshot it
// wakes the reporter; with one, the reporter may report rev only once it
// is durable, and snapshotQueue.durableChanged wakes it then.
func (e *Edge) setApplied(rev int64, domains int) {
	e.domains.Store(int64(domains))
	e.applied.Store(rev)
	e.metrics.applied.Set(float64(rev))
	e.metrics.domains.Set(float64(domains))
	if e.snap == nil {
		e.wakeReporter()
	}
}

func (e *Edge) wakeReporter() {
	select {
	case e.reportNow <- struct{}{}:
	default: // a report is already due; it will carry the latest revision
	}
}

// reportLoop reports the acknowledged revision (acknowledged: the applied
// one, as far as the snapshot holds it) whenever it changes (promptly: the
// API waits on it to leave "configuring") and on a heartbeat. Signals
// that arrive while a report is in flight collapse into one, so a stream
// of changes costs one store write per report round trip, not per change.
func (e *Edge) reportLoop(ctx context.Context, lease *store.EdgeLease) {
	t := time.NewTimer(heartbeat)
	defer t.Stop()
	delay := retryMin
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.reportNow:
		case <-t.C:
		}
		if !e.Ready() {
			t.Reset(heartbeat)
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, reportTimeout)
		err := lease.Report(rctx, store.Edge{
			Applied:  e.acknowledged(),
			Domains:  int(e.domains.Load()),
			Reported: time.Now().UTC(),
		})
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !failing {
				e.log.Warn("edge: reporting the applied revision failed; retrying", "err", err)
			}
			failing = true
			t.Reset(delay)
			delay = backoff(delay)
			continue
		}
		if failing {
			e.log.Info("edge: reporting the applied revision works again", "applied", e.acknowledged())
		}
		failing, delay = false, retryMin
		t.Reset(heartbeat)
	}
}

func backoff(d time.Duration) time.Duration { return min(2*d, retryMax) }

// sleep waits d or until ctx ends; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// progressInterval is how often an idle edge asks how far the store has
// come, so that the revision it reports (and its lag) stays current.
const progressInterval = 2 * time.Second

func (e *Edge) progressLoop(ctx context.Context) {
	for sleep(ctx, progressInterval) {
		_ = e.store.RequestProgress(ctx) // best effort: a watch may be reconnecting
	}
}
