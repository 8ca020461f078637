package store

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
)

// A logger made by With may keep spare capacity in its fields; concurrent
// writes must not append into that shared array (go test -race sees it).
func TestEtcdLoggerWithIsSafeForConcurrentWrites(t *testing.T) {
	log := newEtcdLogger(slog.New(slog.DiscardHandler), new(atomic.Bool)).
		With(zap.String("a", "1"), zap.String("b", "2"), zap.String("c", "3")).With(zap.String("d", "4"))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				log.Warn("concurrent", zap.Int("writer", i))
			}
		}()
	}
	wg.Wait()
}

// A fresh member cannot tell its storage schema before its first election
// and says so at every first start; only that cause is dropped.
func TestFreshMemberSchemaNoiseIsDropped(t *testing.T) {
	rec := &recorder{next: slog.DiscardHandler}
	log := newEtcdLogger(slog.New(rec), new(atomic.Bool))
	log.Warn("Failed to detect schema version", zap.Error(errors.New("missing term information")))
	log.Error("failed to update storage version", zap.String("cluster-version", "3.6.0"),
		zap.Error(errors.New("cannot detect storage schema version: missing term information")))
	if n := rec.count("version"); n != 0 {
		t.Fatalf("%d fresh-member lines logged", n)
	}
	log.Error("failed to update storage version", zap.Error(errors.New("disk I/O error")))
	if n := rec.count("failed to update storage version"); n != 1 {
		t.Fatalf("the same message for another cause logged %d times, want 1", n)
	}
}
