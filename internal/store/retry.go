package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Optimistic writes: a call reads what it changes, commits guarded by the
// revisions it read (Txn.Unchanged), and on ErrConflict reads again. These
// bound how long that goes on when many writers contend for one record.
const (
	conflictAttempts = 20
	conflictWaitMin  = time.Millisecond
	conflictWaitMax  = 50 * time.Millisecond
)

// RetryConflicts runs attempt until it returns anything but ErrConflict
// (matched with errors.Is, so a wrapped conflict counts), at most 20 times,
// waiting a jittered, doubling pause between attempts so that writers that
// collided once do not collide again in lock step. It returns the last
// error, or ctx's when ctx ends first; a conflict still there after the
// last attempt is ErrUnavailable as well (nothing was written, and the
// client may try again: 503, not an internal error). The pause starts afresh on every
// call. Safe for concurrent use; attempt must read everything it depends on
// itself, every time.
func RetryConflicts(ctx context.Context, attempt func() error) error {
	wait := conflictWaitMin
	for n := 1; ; n++ {
		err := attempt()
		if !errors.Is(err, ErrConflict) {
			return err
		}
		if n == conflictAttempts {
			// Still contended: nothing was written, and the caller may
			// try again later, which is what ErrUnavailable tells the
			// client (503) rather than an internal error.
			return fmt.Errorf("%w: %w after %d attempts", ErrUnavailable, err, n)
		}
		t := time.NewTimer(wait/2 + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, conflictWaitMax)
	}
}
