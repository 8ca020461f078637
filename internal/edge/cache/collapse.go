package cache

import "sync"

// flights collapses concurrent misses: the first request for a key leads
// (fetches from the origin), the others wait on its flight and then look
// the key up again. Safe for concurrent use.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one fetch in progress.
type flight struct {
	done chan struct{}
	once sync.Once
	// pass: the response is not stored, so waiting followers go to the
	// origin themselves at once (set before done is closed).
	pass bool
	// entry, when set, answers the followers (stale: as a stale response).
	entry *entry
	stale bool
}

// join returns the key's flight, and whether the caller leads it.
func (fs *flights) join(key string) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		return f, false
	}
	if fs.m == nil {
		fs.m = map[string]*flight{}
	}
	f := &flight{done: make(chan struct{})}
	fs.m[key] = f
	return f, true
}

// land ends the key's flight f: followers wake, and the next request
// starts a new flight. Only the first call counts, so a leader may land
// early (once it knows the response will not be stored) and again at the
// end.
func (fs *flights) land(key string, f *flight, pass bool) {
	if f == nil {
		return
	}
	f.once.Do(func() {
		fs.mu.Lock()
		if fs.m[key] == f {
			delete(fs.m, key)
		}
		fs.mu.Unlock()
		f.pass = pass
		close(f.done)
	})
}
