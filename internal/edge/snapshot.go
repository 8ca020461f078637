package edge

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// Snapshot pacing. A snapshot is the whole served set: at 100k domains a
// write costs seconds of CPU, which a stream of changes must not take from
// handshakes. After changes, the next write waits snapshotDelay and at
// least ten times as long as the last write took, so snapshots take at
// most a tenth of a core: a small set is saved within a second, 100k
// domains every twenty seconds or so under a stream of changes.
const snapshotDelay = time.Second

// readSnapshot loads the last snapshot, if any.
func (e *Edge) readSnapshot() (*store.Served, error) {
	f, err := os.Open(e.snapshotPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("edge: snapshot %s: %w", e.snapshotPath, err)
	}
	var s store.Served
	if err := json.NewDecoder(zr).Decode(&s); err != nil {
		return nil, fmt.Errorf("edge: snapshot %s: %w", e.snapshotPath, err)
	}
	return &s, nil
}

// writeSnapshot saves what the index serves, atomically: a crash leaves the
// previous snapshot or the new one, never half of one. Private keys are
// written as the store holds them, sealed.
func (e *Edge) writeSnapshot() error {
	if !e.ready.Load() {
		return nil
	}
	rev := e.Applied()
	domains, certs := e.idx.records()
	tmp, err := os.CreateTemp(filepath.Dir(e.snapshotPath), ".snapshot-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	zw, _ := gzip.NewWriterLevel(tmp, gzip.BestSpeed) // the level is valid
	err = json.NewEncoder(zw).Encode(store.Served{Revision: rev, ClusterID: e.clusterID.Load(), Domains: domains, Certs: certs})
	err = errors.Join(err, zw.Close(), tmp.Sync(), tmp.Close())
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), e.snapshotPath)
}

// snapshotLoop writes a snapshot shortly after changes stop arriving, and a
// last one when the edge stops.
func (e *Edge) snapshotLoop(ctx context.Context) {
	var last time.Time
	var took time.Duration
	write := func() {
		start := time.Now()
		if err := e.writeSnapshot(); err != nil {
			e.log.Warn("edge: writing the snapshot failed", "path", e.snapshotPath, "err", err)
		}
		last, took = start, time.Since(start)
	}
	for {
		select {
		case <-ctx.Done():
			write()
			return
		case <-e.snapshotNow:
		}
		wait := max(snapshotDelay, time.Until(last.Add(10*took)))
		select {
		case <-ctx.Done():
			write()
			return
		case <-time.After(wait):
		}
		write()
	}
}

// startFromSnapshot serves the snapshot, if there is one, before the store
// is reached: an edge restarted during a control-plane outage keeps serving.
// It reports whether the index now holds it.
func (e *Edge) startFromSnapshot() bool {
	if e.snapshotPath == "" {
		return false
	}
	s, err := e.readSnapshot()
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		e.log.Warn("edge: ignoring an unreadable snapshot", "err", err)
		return false
	}
	e.load(s)
	// What was just read need not be written back.
	select {
	case <-e.snapshotNow:
	default:
	}
	e.log.Info("edge: serving the snapshot until the store answers", "revision", s.Revision, "domains", len(s.Domains))
	return true
}
