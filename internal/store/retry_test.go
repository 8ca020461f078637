package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestRetryConflicts(t *testing.T) {
	errOther := errors.New("other")
	for _, tc := range []struct {
		name      string
		conflicts int   // attempts that conflict before the last answer
		wrapped   bool  // the conflicts come wrapped
		last      error // what the attempt after them returns
		wantCalls int
		want      error
	}{
		{"no conflict", 0, false, nil, 1, nil},
		{"other error is not retried", 0, false, errOther, 1, errOther},
		{"conflicts then success", 3, false, nil, 4, nil},
		{"wrapped conflicts are retried", 2, true, nil, 3, nil},
		{"bounded", 1000, false, nil, conflictAttempts, ErrConflict},
		// Exhausted contention is retryable for the client: the gateway
		// answers ErrUnavailable with 503, not 500.
		{"bounded is unavailable", 1000, false, nil, conflictAttempts, ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := RetryConflicts(t.Context(), func() error {
				calls++
				if calls <= tc.conflicts {
					if tc.wrapped {
						return fmt.Errorf("commit: %w", ErrConflict)
					}
					return ErrConflict
				}
				return tc.last
			})
			if calls != tc.wantCalls || !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("%d calls, %v; want %d calls, %v", calls, err, tc.wantCalls, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := RetryConflicts(ctx, func() error { calls++; cancel(); return ErrConflict })
	if calls != 1 || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %d calls, %v", calls, err)
	}
}
