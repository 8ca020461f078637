package openapi

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// throttle enforces each action's per-account rate. Limiters are keyed by
// (account, action), so all of an account's AccessKeys share one budget, as
// Alibaba meters by UID. The cache is bounded: an evicted limiter was idle
// and a fresh one starts full, which is what it would have refilled to.
type throttle struct {
	limiters *lru.Cache[throttleKey, *rate.Limiter]
}

type throttleKey struct{ account, action string }

func newThrottle(size int) *throttle {
	c, err := lru.New[throttleKey, *rate.Limiter](size)
	if err != nil {
		panic(err) // only for size <= 0
	}
	return &throttle{limiters: c}
}

// allow reports whether the call may run now; when it may not, it says how
// long until it would. share is this node's part of the account's budget
// (1 on a single node, 1/n with n API nodes behind a balancer).
func (t *throttle) allow(account string, a *Action, now time.Time, share float64) (bool, time.Duration) {
	if a.Rate <= 0 {
		return true, 0
	}
	limit := rate.Limit(a.Rate * share)
	burst := max(1, int(a.Rate*share))
	k := throttleKey{account, a.Name}
	l, ok := t.limiters.Get(k)
	if !ok {
		l = rate.NewLimiter(limit, burst)
		if prev, ok, _ := t.limiters.PeekOrAdd(k, l); ok {
			l = prev
		}
	}
	if l.Limit() != limit {
		l.SetLimitAt(now, limit)
		l.SetBurstAt(now, burst)
	}
	r := l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
