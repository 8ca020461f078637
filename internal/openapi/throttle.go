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
// long until it would.
func (t *throttle) allow(account string, a *Action, now time.Time) (bool, time.Duration) {
	if a.Rate <= 0 {
		return true, 0
	}
	k := throttleKey{account, a.Name}
	l, ok := t.limiters.Get(k)
	if !ok {
		burst := int(a.Rate)
		if burst < 1 {
			burst = 1
		}
		l = rate.NewLimiter(rate.Limit(a.Rate), burst)
		if prev, ok, _ := t.limiters.PeekOrAdd(k, l); ok {
			l = prev
		}
	}
	r := l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
