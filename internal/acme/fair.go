package acme

import (
	"container/heap"
	"time"
)

// fairQueue is the free certificates' due work by account, and the order
// in which the accounts get a worker: among those with work due, the one
// served longest ago (round robin), each account's own work in due order.
// A tenant switching thousands of domains to free at once thus takes turns
// with every other tenant that has work due, and has every worker when
// nobody else has. Each operation costs a logarithm of what is queued.
type fairQueue struct {
	byAccount map[string]*dueQueue
	accountOf map[string]string // domain → the account it is queued under
	due       *dueQueue         // accounts (as "domains") at their earliest entry
	ready     turnHeap          // accounts with work due now, by last service
	inReady   map[string]bool
	served    map[string]uint64 // when each account last got a worker
	clock     uint64
}

func newFairQueue() *fairQueue {
	return &fairQueue{byAccount: map[string]*dueQueue{}, accountOf: map[string]string{}, due: newDueQueue(),
		inReady: map[string]bool{}, served: map[string]uint64{}}
}

// set makes account's domain due at at; ok false removes it.
func (f *fairQueue) set(domain, account string, at time.Time, ok bool) {
	if prev, queued := f.accountOf[domain]; queued && (prev != account || !ok) {
		f.byAccount[prev].set(domain, time.Time{}, false)
		delete(f.accountOf, domain)
		f.refresh(prev)
	}
	if !ok {
		return
	}
	q := f.byAccount[account]
	if q == nil {
		q = newDueQueue()
		f.byAccount[account] = q
	}
	q.set(domain, at, true)
	f.accountOf[domain] = account
	f.refresh(account)
}

// refresh files account under its earliest entry, or forgets an account
// with none.
func (f *fairQueue) refresh(account string) {
	e, ok := f.byAccount[account].peek()
	if !ok {
		delete(f.byAccount, account)
		delete(f.served, account)
		f.due.set(account, time.Time{}, false)
		return
	}
	f.due.set(account, e.at, true)
}

// next takes the domain to work on at now. With none due it returns false
// and when the earliest entry is due (zero with nothing queued).
func (f *fairQueue) next(now time.Time) (string, bool, time.Time) {
	for {
		e, ok := f.due.peek()
		if !ok || e.at.After(now) {
			break
		}
		f.due.take()
		if !f.inReady[e.domain] {
			f.inReady[e.domain] = true
			heap.Push(&f.ready, turn{f.served[e.domain], e.domain})
		}
	}
	for f.ready.Len() > 0 {
		t := heap.Pop(&f.ready).(turn)
		delete(f.inReady, t.account)
		q := f.byAccount[t.account]
		if q == nil {
			continue
		}
		e, ok := q.peek()
		if !ok {
			continue
		}
		if e.at.After(now) { // its due work changed meanwhile
			f.refresh(t.account)
			continue
		}
		q.take()
		delete(f.accountOf, e.domain)
		f.clock++
		f.served[t.account] = f.clock
		if n, ok := q.peek(); ok && !n.at.After(now) {
			f.inReady[t.account] = true
			heap.Push(&f.ready, turn{f.clock, t.account})
		} else {
			f.refresh(t.account)
		}
		return e.domain, true, time.Time{}
	}
	if e, ok := f.due.peek(); ok {
		return "", false, e.at
	}
	return "", false, time.Time{}
}

// turn is an account in the ready heap: served is when it last got a
// worker; the account name breaks ties, so that the order is stable.
type turn struct {
	served  uint64
	account string
}

type turnHeap []turn

func (h turnHeap) Len() int { return len(h) }
func (h turnHeap) Less(i, j int) bool {
	if h[i].served != h[j].served {
		return h[i].served < h[j].served
	}
	return h[i].account < h[j].account
}
func (h turnHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *turnHeap) Push(x any)   { *h = append(*h, x.(turn)) }
func (h *turnHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
