package store

import (
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
