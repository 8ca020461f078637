package edge

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/cdnd/cdnd/internal/atomicfile"
	"github.com/cdnd/cdnd/internal/store"
)

// The fail-static snapshot is two files: the base (snapshotbase.go) at
// Config.SnapshotPath, the whole served set at one revision, and the
// journal (journal.go) next to it, the revisions applied since. An edge
// restarted while the store is unreachable serves base + journal, and one
// restarted with the store reachable resumes its watch from there.
// snapshotwriter.go keeps them up to date.

// journalPath is where the journal of the base at path is kept.
func journalPath(path string) string { return path + ".journal" }

// ReadSnapshot returns the state an edge with Config.SnapshotPath = path
// would start from: the base with the consistent prefix of its journal
// replayed. A damaged or foreign journal is not an error: the edge starts
// from what it can trust, and so does ReadSnapshot.
func ReadSnapshot(path string) (*store.Served, error) {
	saved, _, err := readSnapshot(path)
	if err != nil {
		return nil, err
	}
	s := saved.idx.records()
	s.Revision, s.ClusterID = saved.revision, saved.clusterID
	return s, nil
}

// savedState is what the snapshot files hold, read into an index.
type savedState struct {
	idx       *index
	revision  int64
	clusterID uint64
}

// snapshotFiles is what reading the snapshot learnt about its files, for
// the writer to continue them.
type snapshotFiles struct {
	base     journalHeader // the base, as its journal names it
	baseSize int64
	// journalLen is the journal's consistent prefix (0: no journal of this
	// base) and journalLast its last revision; journalErr says why the
	// journal was ignored or cut short.
	journalLen  int64
	journalLast int64
	journalErr  error
}

// readSnapshot reads the base at path into an index and replays its
// journal onto it, with the code that applies the store's watch.
func readSnapshot(path string) (*savedState, *snapshotFiles, error) {
	base, size, err := readBase(path)
	if err != nil {
		return nil, nil, err
	}
	saved := &savedState{idx: newIndex().build(base), revision: base.Revision, clusterID: base.ClusterID}
	files := &snapshotFiles{base: journalHeader{ClusterID: base.ClusterID, BaseRevision: base.Revision}, baseSize: size}
	f, err := os.Open(journalPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return saved, files, nil
	}
	if err != nil {
		files.journalErr = err
		return saved, files, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		files.journalErr = err
		return saved, files, nil
	}
	files.journalLen, files.journalLast, files.journalErr = readJournal(f, fi.Size(), files.base, func(rec *journalRecord) {
		saved.idx.apply(rec.Changes)
		saved.revision = rec.Revision
	})
	return saved, files, nil
}

// startFromSnapshot serves the snapshot, if there is one, before the store
// is reached: an edge restarted during a control-plane outage keeps serving.
// It returns the files for the writer to continue, nil when the index does
// not hold a snapshot.
func (e *Edge) startFromSnapshot() *snapshotFiles {
	saved, files, err := readSnapshot(e.snapshotPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		e.log.Warn("edge: ignoring an unreadable snapshot", "err", err)
		return nil
	}
	switch {
	case errors.Is(files.journalErr, errOtherBase):
		e.log.Warn("edge: ignoring a snapshot journal that does not extend its base", "path", journalPath(e.snapshotPath), "base", files.base.BaseRevision)
	case files.journalErr != nil:
		e.log.Warn("edge: the snapshot journal is damaged; serving its consistent prefix",
			"path", journalPath(e.snapshotPath), "revision", saved.revision, "err", files.journalErr)
	}
	e.install(saved.idx, saved.revision, saved.clusterID)
	// What was just read is on disk: durable already. This also wakes the
	// reporter, now that the edge is Ready.
	e.snap.resumed(saved.revision)
	e.log.Info("edge: serving the snapshot until the store answers", "revision", saved.revision, "domains", len(saved.idx.domains))
	return files
}

// replaceFile writes a snapshot file through write and puts it at path
// atomically (atomicfile.Replace); it holds sealed keys, hence 0600.
func replaceFile(path string, write func(*os.File) error) (*os.File, error) {
	return atomicfile.Replace(path, "."+filepath.Base(path)+"-*", write)
}
