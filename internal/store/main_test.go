package store

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// testStore is the one embedded etcd every test of this package shares; each
// test isolates itself under its own prefix (newStore).
var testStore *Store

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		return m.Run() // a fuzz worker runs only the fuzz function
	}
	dir, err := os.MkdirTemp("", "cdnd-store-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := Open(ctx, Config{DataDir: dir, Logger: slog.New(etcdLog), clientListener: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	testStore = st
	return m.Run()
}

// etcdLog records what the embedded member logs (through Config.Logger)
// and passes errors on to stderr.
var etcdLog = &recorder{next: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})}

type recorder struct {
	next slog.Handler
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(ctx context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Level.String()+" "+rec.Message)
	r.mu.Unlock()
	if r.next.Enabled(ctx, rec.Level) {
		return r.next.Handle(ctx, rec)
	}
	return nil
}

// count returns how many recorded messages contain s.
func (r *recorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// newStore returns the shared store under a prefix of the test's own.
func newStore(t *testing.T) *Store {
	t.Helper()
	return testStore.WithPrefix(prefix(t))
}

// openExternal opens a second Store, with its own client and lease cache,
// over the shared embedded etcd (as a second API node would), under the
// test's prefix. Open's context ends as soon as Open returns: the store must
// not depend on it.
func openExternal(t *testing.T) *Store {
	t.Helper()
	addr := testStore.etcd.Clients[0].Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	s, err := Open(ctx, Config{Endpoints: []string{"http://" + addr}, Prefix: prefix(t)})
	cancel()
	if err != nil {
		t.Fatalf("open external store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// commit commits t and fails the test on error.
func commit(tb testing.TB, t *Txn) int64 {
	tb.Helper()
	rev, err := t.Commit(tb.Context())
	if err != nil {
		tb.Fatalf("commit: %v", err)
	}
	return rev
}

// prefix is the test's own key prefix; "#n" on repeats (go test -count=n).
// (storetest, which the other packages use, imports this package.)
func prefix(t *testing.T) string {
	prefixMu.Lock()
	defer prefixMu.Unlock()
	if p, ok := prefixes[t]; ok {
		return p
	}
	runs[t.Name()]++
	p := "/t-" + t.Name()
	if n := runs[t.Name()]; n > 1 {
		p = fmt.Sprintf("%s#%d", p, n)
	}
	prefixes[t] = p
	return p
}

var (
	prefixMu sync.Mutex
	prefixes = map[*testing.T]string{}
	runs     = map[string]int{}
)
