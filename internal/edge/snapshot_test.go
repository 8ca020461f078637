package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cdnd/cdnd/internal/atomicfile"
	"github.com/cdnd/cdnd/internal/store"
)

// unreachableStore is a store whose cluster does not answer: a control
// plane that is down.
func unreachableStore(t *testing.T) *store.Store {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	st, err := store.Open(context.Background(), store.Config{Endpoints: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func snapshotAt(path string) envOption {
	return withConfig(func(cfg *Config) { cfg.SnapshotPath = path })
}

func (q *snapshotQueue) durableRevision() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.durable
}

// waitReported waits until the edge has reported rev to the store.
func (en *env) waitReported(rev int64, within time.Duration) {
	en.t.Helper()
	eventually(en.t, within, func() error {
		if got := en.reported(); got < rev {
			return fmt.Errorf("reported %d < %d", got, rev)
		}
		return nil
	})
}

// waitDurable waits until the edge's snapshot files hold rev.
func (en *env) waitDurable(rev int64) {
	en.t.Helper()
	eventually(en.t, 5*time.Second, func() error {
		if got := en.edge.snap.durableRevision(); got < rev {
			return fmt.Errorf("durable %d < %d", got, rev)
		}
		return nil
	})
}

// reported is the revision the edge last reported to the store (0: none).
func (en *env) reported() int64 {
	en.t.Helper()
	edges, err := en.st.Edges(context.Background())
	if err != nil {
		en.t.Fatal(err)
	}
	for _, e := range edges {
		if e.EdgeID == en.id {
			return e.Applied
		}
	}
	return 0
}

// certIn is the fingerprint of the certificate record (acct, name) in s.
func certIn(s *store.Served, name string) string {
	for _, c := range s.Certs {
		if c.AccountID == acct && c.Name == name {
			return c.Fingerprint
		}
	}
	return ""
}

// copySnapshot copies the snapshot files at path, as they are on disk this
// instant, elsewhere: what a crash at this instant would leave behind.
func copySnapshot(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(path))
	for _, p := range [][2]string{{path, dst}, {journalPath(path), journalPath(dst)}} {
		raw, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p[1], raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestServesSnapshotWithoutStore: an edge writes what it serves to its
// snapshot (keys still sealed, in the base and in the journal, files only
// its own user reads); restarted while the store is unreachable, it serves
// the snapshot; it never wrote a key in the clear.
func TestServesSnapshotWithoutStore(t *testing.T) {
	st := testStoreFor(t)
	path := filepath.Join(t.TempDir(), "snapshot")
	c := issue(t, "snap.example.com", "*.snap.example.com")
	putCertAndDomains(t, st, c, "c", domain("snap.example.com", "c"), domain(".snap.example.com", "c"))
	en := startEdge(t, st, snapshotAt(path))
	other := issue(t, "other.snap.example.com")
	en.waitDurable(putCertAndDomains(t, st, other, "other", domain("other.snap.example.com", "other")))
	en.stop()

	for _, p := range []string{path, journalPath(path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "PRIVATE KEY") {
			t.Fatalf("%s holds a key in the clear", p)
		}
	}
	s, err := ReadSnapshot(path)
	if err != nil || len(s.Domains) != 3 || len(s.Certs) != 2 || s.Revision == 0 || s.ClusterID == 0 {
		t.Fatalf("snapshot: %+v, %v", s, err)
	}

	down := startEdge(t, unreachableStore(t), snapshotAt(path))
	for name, fp := range map[string]string{"snap.example.com": c.fp, "www.snap.example.com": c.fp, "other.snap.example.com": other.fp} {
		if got, err := down.handshake(name, false); err != nil || got != fp {
			t.Fatalf("%s from the snapshot: %s, %v", name, short(got), err)
		}
	}
}

// TestSnapshotCatchesUp: an edge that starts from a snapshot with the store
// reachable applies what changed since, from the snapshot's revision.
func TestSnapshotCatchesUp(t *testing.T) {
	st := testStoreFor(t)
	path := filepath.Join(t.TempDir(), "snapshot")
	c1 := issue(t, "up.example.com")
	rev := putCertAndDomains(t, st, c1, "c", domain("up.example.com", "c"))
	en := startEdge(t, st, snapshotAt(path))
	en.waitDurable(rev)
	en.stop()

	c2 := issue(t, "up.example.com")
	rev = putCertAndDomains(t, st, c2, "c", domain("up.example.com", "c"))
	again := startEdge(t, st, snapshotAt(path))
	again.waitApplied(rev)
	if fp, err := again.handshake("up.example.com", false); err != nil || fp != c2.fp {
		t.Fatalf("caught up: %s, %v", short(fp), err)
	}
	// The log says when the store answered, after the snapshot served.
	logs := again.log.String()
	served, answered := strings.Index(logs, "serving the snapshot until the store answers"), strings.Index(logs, "the store answers; catching up from the snapshot")
	if served < 0 || answered < served {
		t.Fatalf("start-up log:\n%s", logs)
	}
}

// TestAcknowledgedIsOnDisk: once the store has the edge's acknowledgement
// of a certificate change, the snapshot files already hold it, so an edge
// that crashed then (its files copied as they are, no clean stop) and
// restarts while the store is down serves the new certificate, never the
// one the API replaced.
func TestAcknowledgedIsOnDisk(t *testing.T) {
	st := testStoreFor(t)
	path := filepath.Join(t.TempDir(), "snapshot")
	c1 := issue(t, "ack.example.com")
	putCertAndDomains(t, st, c1, "c", domain("ack.example.com", "c"))
	en := startEdge(t, st, snapshotAt(path))

	c2 := issue(t, "ack.example.com")
	rev := putCertAndDomains(t, st, c2, "c")
	en.waitReported(rev, 5*time.Second)
	crashed := copySnapshot(t, path)

	s, err := ReadSnapshot(crashed)
	if err != nil || s.Revision < rev || certIn(s, "c") != c2.fp {
		t.Fatalf("acknowledged %d, the files hold revision %d with %s (%v)", rev, s.Revision, short(certIn(s, "c")), err)
	}
	down := startEdge(t, unreachableStore(t), snapshotAt(crashed))
	if fp, err := down.handshake("ack.example.com", false); err != nil || fp != c2.fp {
		t.Fatalf("restarted after the crash: %s, %v; want the new certificate %s", short(fp), err, short(c2.fp))
	}
}

// TestSnapshotTornJournal: a journal whose last record is torn (a crash
// mid-append) or followed by garbage gives its whole records and no more;
// an edge starts from that prefix, and one that resumes the journal cuts
// the tail off, so what it appends next is read back.
func TestSnapshotTornJournal(t *testing.T) {
	st := testStoreFor(t)
	path := filepath.Join(t.TempDir(), "snapshot")
	c1 := issue(t, "torn.example.com")
	rev0 := putCertAndDomains(t, st, c1, "c", domain("torn.example.com", "c"))
	en := startEdge(t, st, snapshotAt(path))
	en.waitDurable(rev0) // the base: the revisions below go to the journal
	c2, c3 := issue(t, "torn.example.com"), issue(t, "torn.example.com")
	rev1 := putCertAndDomains(t, st, c2, "c")
	en.waitDurable(rev1)
	rev2 := putCertAndDomains(t, st, c3, "c")
	en.waitDurable(rev2)
	en.stop()

	jpath := journalPath(path)
	whole, err := os.ReadFile(jpath)
	if err != nil {
		t.Fatal(err)
	}
	check := func(journal []byte, wantRev int64, wantFP string) {
		t.Helper()
		if err := os.WriteFile(jpath, journal, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := ReadSnapshot(path)
		if err != nil || s.Revision != wantRev || certIn(s, "c") != wantFP {
			t.Fatalf("read revision %d with %s (%v), want %d with %s", s.Revision, short(certIn(s, "c")), err, wantRev, short(wantFP))
		}
	}
	check(append(whole, "\x10\x00\x00\x00garbage after the last record"...), rev2, c3.fp)
	check(whole[:len(whole)-5], rev1, c2.fp)

	down := startEdge(t, unreachableStore(t), snapshotAt(path))
	if fp, err := down.handshake("torn.example.com", false); err != nil || fp != c2.fp {
		t.Fatalf("from the torn journal: %s, %v; want %s", short(fp), err, short(c2.fp))
	}
	if n := strings.Count(down.log.String(), "journal is damaged"); n != 1 {
		t.Fatalf("%d warnings about the damaged journal, want 1:\n%s", n, down.log)
	}
	down.stop()

	up := startEdge(t, st, snapshotAt(path))
	c4 := issue(t, "torn.example.com")
	rev3 := putCertAndDomains(t, st, c4, "c")
	up.waitDurable(rev3)
	s, err := ReadSnapshot(path)
	if err != nil || s.Revision < rev3 || certIn(s, "c") != c4.fp {
		t.Fatalf("after resuming the torn journal: revision %d with %s (%v), want %d with %s", s.Revision, short(certIn(s, "c")), err, rev3, short(c4.fp))
	}
}

// testBase writes a base of one domain bound to one certificate at
// revision rev of cluster 7, and returns the certificate record.
func testBase(t *testing.T, path string, rev int64) store.Cert {
	t.Helper()
	c := issue(t, "base.example.com").record(t, acct, "c")
	s := &store.Served{Revision: rev, ClusterID: 7, Domains: []store.Domain{domain("base.example.com", "c")}, Certs: []store.Cert{c}}
	if _, err := writeBase(path, s); err != nil {
		t.Fatal(err)
	}
	return c
}

// writeJournal writes a journal with header h and records.
func writeJournal(t testing.TB, path string, h journalHeader, records ...journalRecord) {
	t.Helper()
	j, err := createJournal(path, h)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	if _, err := j.append(records); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotJournalOfAnotherBase: a journal is replayed only onto the
// base its header names: not onto a newer base (a crash after writing a
// base, before starting its journal), nor a base of another cluster.
func TestSnapshotJournalOfAnotherBase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snapshot")
	c1 := testBase(t, path, 10)
	c2 := issue(t, "base.example.com").record(t, acct, "c")
	rec := journalRecord{Revision: 11, Changes: []store.Change{{Cert: &c2}}}
	for _, tc := range []struct {
		header  journalHeader
		wantRev int64
		wantFP  string
	}{
		{journalHeader{ClusterID: 7, BaseRevision: 10}, 11, c2.Fingerprint},
		{journalHeader{ClusterID: 7, BaseRevision: 9}, 10, c1.Fingerprint},
		{journalHeader{ClusterID: 8, BaseRevision: 10}, 10, c1.Fingerprint},
	} {
		writeJournal(t, journalPath(path), tc.header, rec)
		s, err := ReadSnapshot(path)
		if err != nil || s.Revision != tc.wantRev || certIn(s, "c") != tc.wantFP {
			t.Errorf("journal of %+v: revision %d with %s (%v), want %d with %s", tc.header, s.Revision, short(certIn(s, "c")), err, tc.wantRev, short(tc.wantFP))
		}
	}
}

// TestJournalPrefixAtEveryLength: a journal cut at any byte (a crash at
// any point of an append) reads as its whole records before the cut.
func TestJournalPrefixAtEveryLength(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snapshot.journal")
	h := journalHeader{ClusterID: 7, BaseRevision: 10}
	var records []journalRecord
	for rev := int64(11); rev <= 14; rev++ {
		d := domain(fmt.Sprintf("d%d.example.com", rev), "")
		records = append(records, journalRecord{Revision: rev, Changes: []store.Change{{Domain: &d}}})
	}
	writeJournal(t, path, h, records...)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// ends[0] is where the header ends, ends[i] where the i-th record does.
	frameLen := func(v any) int64 {
		p, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return frameHeaderLen + int64(len(p))
	}
	ends := []int64{int64(len(journalMagic)) + frameLen(h)}
	for i := range records {
		ends = append(ends, ends[i]+frameLen(&records[i]))
	}
	if ends[len(ends)-1] != int64(len(whole)) {
		t.Fatalf("journal of %d bytes, want %d", len(whole), ends[len(ends)-1])
	}
	for cut := int64(0); cut <= int64(len(whole)); cut++ {
		var got []int64
		prefix, last, err := readJournal(bytes.NewReader(whole[:cut]), cut, h, func(r *journalRecord) { got = append(got, r.Revision) })
		if cut < ends[0] {
			if !errors.Is(err, errOtherBase) || prefix != 0 || got != nil {
				t.Fatalf("cut at %d, in the header: prefix %d, records %v, err %v; want none of it", cut, prefix, got, err)
			}
			continue
		}
		n := 0 // records wholly before the cut
		for n+1 < len(ends) && ends[n+1] <= cut {
			n++
		}
		if prefix != ends[n] || len(got) != n || last != h.BaseRevision+int64(n) || (err == nil) != (prefix == cut) {
			t.Fatalf("cut at %d: prefix %d, records %v, last %d, err %v; want the %d records up to byte %d", cut, prefix, got, last, err, n, ends[n])
		}
	}

	// A damaged record in the middle ends the journal there, though whole
	// records follow it.
	damaged := bytes.Clone(whole)
	damaged[ends[1]+frameHeaderLen+3] ^= 0x20
	var got []int64
	prefix, _, err := readJournal(bytes.NewReader(damaged), int64(len(damaged)), h, func(r *journalRecord) { got = append(got, r.Revision) })
	if prefix != ends[1] || len(got) != 1 || err == nil {
		t.Fatalf("second record damaged: prefix %d, records %v, err %v; want the first record only", prefix, got, err)
	}
}

// TestSnapshotCompaction: a journal that outgrows its base is folded into
// a new base (paced), leaving a journal with nothing to replay; the state
// is the same.
func TestSnapshotCompaction(t *testing.T) {
	st := testStoreFor(t)
	path := filepath.Join(t.TempDir(), "snapshot")
	c := issue(t, "compact.example.com")
	rev := putCertAndDomains(t, st, c, "c", domain("compact.example.com", "c"))
	en := startEdge(t, st, snapshotAt(path), withEdge(func(e *Edge) { e.journalFloor = 0 }))
	en.waitDurable(rev)
	first, _, err := readBase(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 6 { // each record is most of the base's size
		c = issue(t, "compact.example.com")
		rev = putCertAndDomains(t, st, c, "c")
		en.waitDurable(rev)
	}
	eventually(t, 5*time.Second, func() error {
		base, baseSize, err := readBase(path)
		if err != nil {
			return err
		}
		if base.Revision == first.Revision {
			return fmt.Errorf("still the first base, at %d", base.Revision)
		}
		fi, err := os.Stat(journalPath(path))
		if err != nil {
			return err
		}
		if fi.Size() > baseSize {
			return fmt.Errorf("journal of %d bytes, base %d", fi.Size(), baseSize)
		}
		return nil
	})
	s, err := ReadSnapshot(path)
	if err != nil || s.Revision < rev || certIn(s, "c") != c.fp || len(s.Domains) != 1 {
		t.Fatalf("after compaction: %+v, %v", s, err)
	}
}

// TestReportsOnlyDurable: with a snapshot, the edge reports the revision
// its files hold, not beyond, however far it has applied; and it reports
// as soon as that moves.
func TestReportsOnlyDurable(t *testing.T) {
	st := testStoreFor(t)
	e := New(Config{Store: st, Keyring: testKR, EdgeID: "durable", Logger: slog.New(slog.DiscardHandler), SnapshotPath: filepath.Join(t.TempDir(), "snapshot")})
	en := &env{t: t, st: st, edge: e, id: "durable"}
	// The writer lags: applied 20, durable 10.
	e.install(newIndex(), 20, 1)
	e.snap.publish(10, e.snap.loadEpoch())
	ctx, cancel := context.WithCancel(context.Background())
	lease := st.RegisterEdge(en.id)
	done := make(chan struct{})
	go func() { defer close(done); e.reportLoop(ctx, lease) }()
	t.Cleanup(func() { cancel(); <-done; lease.Close(context.Background()) })

	eventually(t, 5*time.Second, func() error {
		if got := en.reported(); got != 10 {
			return fmt.Errorf("reported %d, want 10", got)
		}
		return nil
	})
	time.Sleep(100 * time.Millisecond)
	if got := en.reported(); got != 10 {
		t.Fatalf("reported %d with 10 durable", got)
	}
	e.snap.publish(20, e.snap.loadEpoch())
	eventually(t, time.Second, func() error { // well inside the heartbeat
		if got := en.reported(); got != 20 {
			return fmt.Errorf("reported %d, want 20", got)
		}
		return nil
	})
}

// TestIdleEdgeAcknowledges: revisions that change nothing served (progress
// notifications) are durable at once, so an idle edge with a snapshot
// still reports the store's revision.
func TestIdleEdgeAcknowledges(t *testing.T) {
	st := testStoreFor(t)
	en := startEdge(t, st, snapshotAt(filepath.Join(t.TempDir(), "snapshot")))
	rev := commit(t, st.Txn().Put(store.MetaKey("idle"), "not served"))
	en.waitReported(rev, 3*progressInterval)
}

// FuzzReadSnapshot: whatever the journal holds, reading never fails (the
// base is good) and never goes below the base; a good journal followed by
// anything reads at least as far as the good records.
func FuzzReadSnapshot(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "snapshot")
	c := issue(f, "fuzz.example.com").record(f, acct, "c")
	if _, err := writeBase(path, &store.Served{Revision: 10, ClusterID: 7, Certs: []store.Cert{c}}); err != nil {
		f.Fatal(err)
	}
	d := domain("fuzz.example.com", "c")
	writeJournal(f, journalPath(path), journalHeader{ClusterID: 7, BaseRevision: 10},
		journalRecord{Revision: 11, Changes: []store.Change{{Domain: &d}}},
		journalRecord{Revision: 12, Changes: []store.Change{{Cert: &c, Deleted: true}}})
	good, err := os.ReadFile(journalPath(path))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(good, 1, 0, 0, 0, 0, 0, 0, 0, '{'))
	f.Add([]byte(journalMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, journal []byte) {
		if err := os.WriteFile(journalPath(path), journal, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := ReadSnapshot(path)
		if err != nil {
			t.Fatalf("a good base with a bad journal: %v", err)
		}
		if s.Revision < 10 {
			t.Fatalf("revision %d below the base's", s.Revision)
		}
		if strings.HasPrefix(string(journal), string(good)) && s.Revision < 12 {
			t.Fatalf("revision %d: the good records were not all read", s.Revision)
		}
	})
}

// TestSnapshotMetrics: the durable revision and the snapshot writes, by
// kind, are exported.
func TestSnapshotMetrics(t *testing.T) {
	st := testStoreFor(t)
	reg := prometheus.NewRegistry()
	c := issue(t, "metrics.example.com")
	putCertAndDomains(t, st, c, "c", domain("metrics.example.com", "c"))
	en := startEdge(t, st, snapshotAt(filepath.Join(t.TempDir(), "snapshot")), withConfig(func(cfg *Config) { cfg.Metrics = reg }))
	rev := putCertAndDomains(t, st, issue(t, "metrics.example.com"), "c")
	en.waitDurable(rev)
	if got := metricValue(t, reg, "cdnd_edge_snapshot_durable_revision", ""); got < float64(rev) {
		t.Errorf("cdnd_edge_snapshot_durable_revision = %v, want ≥ %d", got, rev)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	writes := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() == "cdnd_edge_snapshot_write_seconds" {
			for _, m := range mf.GetMetric() {
				writes[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	if writes["base"] < 1 || writes["journal"] < 1 {
		t.Errorf("snapshot writes by kind: %v, want a base and a journal append at least", writes)
	}
}

// failSyncs makes every fsync of the snapshot files fail while the returned
// flag is set, as on a full or broken disk.
func failSyncs(t *testing.T) *atomic.Bool {
	var failing atomic.Bool
	real := atomicfile.Sync
	atomicfile.Sync = func(f *os.File) error {
		if failing.Load() {
			return errors.New("injected: no space left on device")
		}
		return real(f)
	}
	// Registered before any edge starts, so it runs after they stopped.
	t.Cleanup(func() { atomicfile.Sync = real })
	return &failing
}

// TestSnapshotWriteFailure: an edge that cannot write its snapshot removes
// it (a restart must not serve the older state it holds) and goes on
// acknowledging what it applies, so that one bad disk does not keep the
// fleet's domains "configuring"; once writes work again, so does the
// snapshot.
func TestSnapshotWriteFailure(t *testing.T) {
	failing := failSyncs(t)
	st := testStoreFor(t)
	path := filepath.Join(t.TempDir(), "snapshot")
	c1 := issue(t, "disk.example.com")
	rev1 := putCertAndDomains(t, st, c1, "c", domain("disk.example.com", "c"))
	en := startEdge(t, st, snapshotAt(path))
	en.waitDurable(rev1)

	failing.Store(true)
	c2 := issue(t, "disk.example.com")
	rev2 := putCertAndDomains(t, st, c2, "c")
	en.waitReported(rev2, 5*time.Second)
	if _, err := ReadSnapshot(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the stale snapshot is still there: %v", err)
	}
	if logged := en.log.String(); !strings.Contains(logged, "snapshot removed") || strings.Contains(logged, "PRIVATE KEY") {
		t.Fatalf("log:\n%s", logged)
	}

	failing.Store(false)
	c3 := issue(t, "disk.example.com")
	rev3 := putCertAndDomains(t, st, c3, "c")
	en.waitDurable(rev3)
	s, err := ReadSnapshot(path)
	if err != nil || certIn(s, "c") != c3.fp {
		t.Fatalf("after the disk recovered: %v, serving %s", err, short(certIn(s, "c")))
	}
}

// TestSnapshotCannotBeRemoved: when the old snapshot can be neither
// replaced nor removed (here: a non-empty directory in its place), a
// restart would serve it, so the edge acknowledges nothing it holds beyond
// it, while it serves what it applied.
func TestSnapshotCannotBeRemoved(t *testing.T) {
	st := testStoreFor(t)
	path := filepath.Join(t.TempDir(), "snapshot")
	if err := os.MkdirAll(filepath.Join(path, "in-the-way"), 0o700); err != nil {
		t.Fatal(err)
	}
	c := issue(t, "stuck.example.com")
	rev := putCertAndDomains(t, st, c, "c", domain("stuck.example.com", "c"))
	en := startEdge(t, st, snapshotAt(path))
	en.waitApplied(rev)
	if fp, err := en.handshake("stuck.example.com", false); err != nil || fp != c.fp {
		t.Fatalf("serving: %s, %v", short(fp), err)
	}
	time.Sleep(300 * time.Millisecond) // reports are prompt: one would be in by now
	if got := en.reported(); got >= rev {
		t.Fatalf("reported %d with no snapshot written and a stale one in place", got)
	}
	if !strings.Contains(en.log.String(), "cannot be removed") {
		t.Fatalf("log:\n%s", en.log.String())
	}
}
