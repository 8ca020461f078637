package storetest

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// Run starts one embedded etcd in a temporary directory, sets *st to it,
// runs the package's tests and cleans up; TestMain returns its result to
// os.Exit. etcd takes about a second to start, so a package starts it once.
// Fuzz workers run only the fuzz function and get no etcd. logger may be
// nil.
func Run(m *testing.M, st **store.Store, logger *slog.Logger) int {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "cdnd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opened, err := store.Open(ctx, store.Config{DataDir: dir, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest: open embedded etcd:", err)
		return 1
	}
	defer opened.Close()
	*st = opened
	return m.Run()
}
