package acme

import (
	"container/heap"
	"time"
)

// dueQueue holds the domains in the order they next need work, so that a
// scheduling pass costs what is due, not every free certificate: with
// 100,000 of them a pass over all on every record change would make a bulk
// issuance quadratic.
//
// It is a min-heap with lazy deletion: a domain's time changes by pushing
// a new entry, and an entry that no longer matches the domain's current
// time (at) is dropped when it comes up; compaction bounds the stale ones.
type dueQueue struct {
	entries dueHeap
	at      map[string]time.Time // the current due time of each queued domain
}

type dueEntry struct {
	at     time.Time
	domain string
}

func newDueQueue() *dueQueue { return &dueQueue{at: map[string]time.Time{}} }

// set makes domain due at at; ok false removes it (it needs no work by
// itself).
func (q *dueQueue) set(domain string, at time.Time, ok bool) {
	if !ok {
		delete(q.at, domain)
		return
	}
	if cur, queued := q.at[domain]; queued && cur.Equal(at) {
		return
	}
	q.at[domain] = at
	heap.Push(&q.entries, dueEntry{at, domain})
	if len(q.entries) > 2*len(q.at)+1024 {
		q.compact()
	}
}

// peek returns the earliest current entry, dropping stale ones.
func (q *dueQueue) peek() (dueEntry, bool) {
	for len(q.entries) > 0 {
		e := q.entries[0]
		if at, ok := q.at[e.domain]; ok && at.Equal(e.at) {
			return e, true
		}
		heap.Pop(&q.entries)
	}
	return dueEntry{}, false
}

// take removes the earliest entry, which peek returned; the domain is
// queued again by set.
func (q *dueQueue) take() {
	e := heap.Pop(&q.entries).(dueEntry)
	delete(q.at, e.domain)
}

func (q *dueQueue) compact() {
	q.entries = q.entries[:0]
	for d, at := range q.at {
		q.entries = append(q.entries, dueEntry{at, d})
	}
	heap.Init(&q.entries)
}

type dueHeap []dueEntry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
