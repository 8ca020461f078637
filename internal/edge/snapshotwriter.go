package edge

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// Base pacing. A base is the whole served set: at 100k domains writing one
// costs a noticeable share of a second of CPU, which must not be taken from
// handshakes over and over. Changes go to the journal; a base is rewritten
// only when the journal has outgrown it (and at least journalFloor, so that
// small sets do not rewrite constantly), at least snapshotDelay after the
// last and ten times as long after it as it took, so bases take at most a
// tenth of a core. A full load is written at once: no journal record can
// express it.
const (
	snapshotDelay       = time.Second
	defaultJournalFloor = 1 << 20
)

// snapshotWriter keeps the snapshot files; it runs alone in snapshotLoop.
type snapshotWriter struct {
	e *Edge
	q *snapshotQueue
	// journal extends the base on disk up to what is durable; nil when no
	// journal can (before the first base, after a full load or a failed
	// write): then only a new base saves what is applied.
	journal  *journal
	baseSize int64
	// baseDue is when to write a base; zero: none is needed.
	baseDue  time.Time
	lastBase time.Time
	lastTook time.Duration
	failing  bool // a write failed and none succeeded since: log once
}

// snapshotLoop keeps the snapshot files: it continues those the edge
// started from (files, nil if none), appends what is applied to the journal
// and writes a base when one is due. When ctx ends it saves what is pending
// and returns.
func (e *Edge) snapshotLoop(ctx context.Context, files *snapshotFiles) {
	w := &snapshotWriter{e: e, q: e.snap}
	if files != nil {
		w.resume(files)
	}
	defer w.dropJournal()
	timer := time.NewTimer(0) // armed below only while a base is due
	defer timer.Stop()
	for {
		var due <-chan time.Time
		if !w.baseDue.IsZero() {
			timer.Reset(time.Until(w.baseDue))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			w.step(true)
			return
		case <-w.q.wake:
		case <-due:
		}
		w.step(false)
	}
}

// resume continues the journal the edge started from, or starts one for
// its base.
func (w *snapshotWriter) resume(files *snapshotFiles) {
	path := journalPath(w.e.snapshotPath)
	var err error
	if files.journalLen > 0 {
		w.journal, err = openJournal(path, files.journalLen, files.journalLast)
	} else {
		w.journal, err = createJournal(path, files.base)
	}
	if err != nil {
		w.failed("opening the snapshot journal", err)
		return
	}
	w.baseSize = files.baseSize
}

// step saves what the queue holds: a base first if one is due (or, when
// stopping, if nothing else can save what is applied), then the journal.
func (w *snapshotWriter) step(stopping bool) {
	b := w.q.take()
	if b.rebase {
		w.dropJournal()
		w.baseDue = time.Now()
	}
	if !w.baseDue.IsZero() && (!time.Now().Before(w.baseDue) || stopping && w.journal == nil) {
		w.writeBase()
	}
	w.append(b)
}

// append writes the batch's records to the journal and publishes the batch
// as durable.
func (w *snapshotWriter) append(b snapshotBatch) {
	if w.journal == nil {
		return // the next base holds these records
	}
	start := time.Now()
	n, err := w.journal.append(b.records)
	if err != nil {
		w.dropJournal()
		w.failed("appending to the snapshot journal", err)
		return
	}
	if n > 0 {
		w.e.metrics.snapshotWrite.WithLabelValues("journal").Observe(time.Since(start).Seconds())
	}
	w.succeeded()
	w.q.publish(b.upto, b.epoch)
	if w.baseDue.IsZero() && w.journal.size > max(w.baseSize, w.e.journalFloor) {
		w.baseDue = w.paced()
	}
}

// writeBase writes what the index holds as a new base and starts its
// journal. Appends wait meanwhile (a third of a second at 100k domains),
// which is why bases are rare.
func (w *snapshotWriter) writeBase() {
	start := time.Now()
	s, epoch := w.e.servedForBase()
	size, err := writeBase(w.e.snapshotPath, s)
	var j *journal
	if err == nil {
		// The base is durable before the old journal goes: a crash in
		// between leaves the new base with a journal of the old one, which
		// is ignored, rather than the old base without its journal.
		j, err = createJournal(journalPath(w.e.snapshotPath), journalHeader{ClusterID: s.ClusterID, BaseRevision: s.Revision})
	}
	w.lastBase, w.lastTook = start, time.Since(start)
	w.dropJournal()
	if err != nil {
		w.failed("writing the snapshot base", err)
		return
	}
	w.e.metrics.snapshotWrite.WithLabelValues("base").Observe(w.lastTook.Seconds())
	w.succeeded()
	w.journal, w.baseSize, w.baseDue = j, size, time.Time{}
	w.q.publish(s.Revision, epoch)
}

// servedForBase is what the index serves and the revision, cluster and
// load epoch it is of. The lock keeps a full load from landing between the
// label and the records; revisions applied meanwhile may be in the records
// beyond the label, which is harmless: replaying a change onto a state that
// already has it changes nothing.
func (e *Edge) servedForBase() (*store.Served, uint64) {
	e.loading.Lock()
	defer e.loading.Unlock()
	rev, cluster, epoch := e.Applied(), e.clusterID.Load(), e.snap.loadEpoch()
	s := e.idx.records()
	s.Revision, s.ClusterID = rev, cluster
	return s, epoch
}

func (w *snapshotWriter) dropJournal() {
	if w.journal != nil {
		w.journal.close()
		w.journal = nil
	}
}

// failed logs a failed write (once until one succeeds) and schedules a
// base, the only way on once a journal may be torn.
//
// Until then the files on disk hold an older state than the index, which
// a restart would serve; holding back every acknowledgement meanwhile
// would keep every domain changed since "configuring" on the whole fleet,
// for as long as this one disk is full or broken. So the files are removed
// instead: a restart then has no snapshot (it loads the store, or serves
// nothing while the store is unreachable), and the edge may acknowledge
// what it applied. Only when they cannot be removed either does the edge
// keep acknowledging what they hold.
func (w *snapshotWriter) failed(what string, err error) {
	removeErr := removeSnapshot(w.e.snapshotPath)
	if !w.failing {
		if removeErr == nil {
			w.e.log.Warn("edge: "+what+" failed; snapshot removed, so a restart loads the store; writing a new one is retried", "path", w.e.snapshotPath, "err", err)
		} else {
			w.e.log.Error("edge: "+what+" failed, and the old snapshot cannot be removed; the edge acknowledges no further revision until a snapshot is written", "path", w.e.snapshotPath, "err", err, "remove_err", removeErr)
		}
	}
	if removeErr == nil {
		w.q.unsaved()
	}
	w.failing = true
	w.baseDue = w.paced()
}

// removeSnapshot removes the snapshot at path and its journal.
func removeSnapshot(path string) error {
	var errs []error
	for _, p := range []string{journalPath(path), path} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (w *snapshotWriter) succeeded() {
	if w.failing {
		w.e.log.Info("edge: writing the snapshot works again", "path", w.e.snapshotPath)
	}
	w.failing = false
}

// paced is when the next base may be written.
func (w *snapshotWriter) paced() time.Time {
	return w.lastBase.Add(max(snapshotDelay, 10*w.lastTook))
}
