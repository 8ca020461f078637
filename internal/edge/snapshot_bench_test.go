package edge

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/cdnd/cdnd/internal/store"
)

// snapshotServed is n domains, each with a certificate record of its own
// and one origin, as a large installation holds them. The records cycle
// through a few hundred issued certificates (issuing 100k would dominate
// the benchmark); that is farther apart than any compressor's window, so
// the content is as good as distinct.
func snapshotServed(b *testing.B, n int) *store.Served {
	b.Helper()
	const issued = 256
	recs := make([]store.Cert, issued)
	for i := range recs {
		recs[i] = issue(b, "*.snap.bench").record(b, acct, "x")
	}
	s := &store.Served{Revision: 1, ClusterID: 42, Domains: make([]store.Domain, n), Certs: make([]store.Cert, n)}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("c%d", i)
		c := recs[i%issued]
		c.Name = name
		s.Certs[i] = c
		s.Domains[i] = domain(fmt.Sprintf("d%d.snap.bench", i), name, store.Source{Type: "ipaddr", Content: "192.0.2.1", Port: 443, Priority: "20", Weight: "10"})
	}
	return s
}

// BenchmarkSnapshotBase100k is writing a base of 100,000 domains from the
// index (records, encoding, fsync, rename) and reading it back (what an
// edge starts from, before installing it).
func BenchmarkSnapshotBase100k(b *testing.B) {
	e := New(Config{Keyring: testKR, Logger: slog.New(slog.DiscardHandler), SnapshotPath: filepath.Join(b.TempDir(), "snapshot")})
	e.load(snapshotServed(b, 100000))
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, _ := e.servedForBase()
			if _, err := writeBase(e.snapshotPath, s); err != nil {
				b.Fatal(err)
			}
		}
		fi, err := os.Stat(e.snapshotPath)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fi.Size())/1e6, "MB")
	})
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ReadSnapshot(e.snapshotPath); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkJournalAppend is recording one revision that replaces a
// certificate: framing, one write and its fsync, what stands between
// applying a change and acknowledging it.
func BenchmarkJournalAppend(b *testing.B) {
	path := filepath.Join(b.TempDir(), "snapshot.journal")
	j, err := createJournal(path, journalHeader{ClusterID: 42, BaseRevision: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer j.close()
	headerLen := j.size
	c := issue(b, "j.bench.test").record(b, acct, "c")
	d := domain("j.bench.test", "c")
	changes := []store.Change{{Cert: &c}, {Domain: &d}}
	rev := int64(1)
	b.ReportAllocs()
	for b.Loop() {
		rev++
		if _, err := j.append([]journalRecord{{Revision: rev, Changes: changes}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(j.size-headerLen)/float64(rev-1), "B/record")
}
