package cache

import (
	"math"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// memTier keeps entries in memory, at most max bytes of them (entry.size),
// evicting the least recently used first. Safe for concurrent use.
type memTier struct {
	mu    sync.Mutex
	lru   *simplelru.LRU[string, *entry]
	bytes int64
	max   int64
	// added and gone are told of every entry that enters or leaves the
	// tier, under mu (for the Vary index).
	added, gone func(key string, vary []string)
}

func newMemTier(max int64, added, gone func(string, []string)) *memTier {
	m := &memTier{max: max, added: added, gone: gone}
	// The LRU's own bound is by count; ours is by bytes, enforced in put.
	m.lru, _ = simplelru.NewLRU[string, *entry](math.MaxInt32, func(_ string, e *entry) {
		m.bytes -= e.size()
		m.gone(e.key, e.vary)
	})
	return m
}

func (m *memTier) get(id string) *entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, _ := m.lru.Get(id)
	return e
}

// put stores e, replacing the entry of the same id, and evicts down to the
// bound. An entry larger than the whole tier is not kept.
func (m *memTier) put(e *entry) {
	size := e.size()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lru.Remove(e.id())
	if size > m.max {
		return
	}
	m.lru.Add(e.id(), e)
	m.bytes += size
	m.added(e.key, e.vary)
	for m.bytes > m.max {
		m.lru.RemoveOldest()
	}
}

// remove drops the entry id, if held.
func (m *memTier) remove(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lru.Remove(id)
}

// sweep removes every entry keep refuses (purge.go).
func (m *memTier) sweep(keep func(key string, fetched time.Time) bool) {
	m.mu.Lock()
	ids := m.lru.Keys()
	m.mu.Unlock()
	for _, id := range ids {
		m.mu.Lock()
		if e, ok := m.lru.Peek(id); ok && !keep(e.key, e.fetched) {
			m.lru.Remove(id)
		}
		m.mu.Unlock()
	}
}

func (m *memTier) used() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}
