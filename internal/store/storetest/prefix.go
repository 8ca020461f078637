// Package storetest helps tests share one embedded etcd: each test keeps
// its records under a prefix of its own.
package storetest

import (
	"fmt"
	"sync"
	"testing"
)

var (
	mu       sync.Mutex
	prefixes = map[testing.TB]string{}
	runs     = map[string]int{}
)

// Prefix is the test's own key prefix: "/t-" + its name, plus "#n" when the
// test runs again in the same process (go test -count=n), so that a repeat
// never sees an earlier run's records.
func Prefix(t testing.TB) string {
	mu.Lock()
	defer mu.Unlock()
	if p, ok := prefixes[t]; ok {
		return p
	}
	runs[t.Name()]++
	p := "/t-" + t.Name()
	if n := runs[t.Name()]; n > 1 {
		p += fmt.Sprintf("#%d", n)
	}
	prefixes[t] = p
	return p
}
