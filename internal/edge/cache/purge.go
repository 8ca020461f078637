package cache

import (
	"maps"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"time"
)

// PurgeKind is what a purge rule matches.
type PurgeKind int

const (
	// PurgeExact matches one primary key (Key.String), every variant.
	PurgeExact PurgeKind = iota
	// PurgeIgnoreParams matches a path whatever the query.
	PurgeIgnoreParams
	// PurgeDirectory matches every key under a path prefix.
	PurgeDirectory
	// PurgeRegex matches every path (without the query) that Regex matches
	// in full.
	PurgeRegex
)

// PurgeRule is one object path of a purge. Go's regexp runs in time
// linear in its input, so a tenant's pattern cannot make a lookup slow;
// its size is the caller's to bound.
type PurgeRule struct {
	Kind PurgeKind
	// Key is the primary key (PurgeExact), or the domain and escaped path
	// ("example.com/a/b", PurgeIgnoreParams and PurgeDirectory).
	Key   string
	Regex *regexp.Regexp // PurgeRegex, matched against the escaped path
}

// A purge does not scan the cache: it becomes a rule, and an entry fetched
// before a rule that matches it is treated as absent when it is looked up
// (and then removed). A domain's rules are immutable, replaced whole by a
// purge, so a lookup holds the read lock only to find them; a change costs
// its domain's rules, never a copy of every domain's (a full load gives
// each of 100k domains a floor, and every domain change may renew one).
// A sweep in the background
// removes what the rules cover and forgets the rules older than every
// entry left, so that their number stays bounded by what the cache holds.
type purgeSet struct {
	// floor: every entry fetched before it is absent (Cache.PurgeBefore).
	floor   time.Time
	domains map[string]*domainPurges
}

type domainPurges struct {
	// floor: every entry of the domain fetched before it is absent
	// (Cache.PurgeDomainsBefore).
	floor time.Time
	exact map[string]time.Time // primary key → when purged
	paths map[string]time.Time // domain and path (any query) → when purged
	// dirs and regexes are in the order applied, so their times grow: a
	// lookup walks them from the newest and stops at the first rule older
	// than the entry.
	dirs    []timedPrefix
	regexes []timedRegex
}

type timedPrefix struct {
	prefix string
	at     time.Time
}

type timedRegex struct {
	re    *regexp.Regexp
	at    time.Time
	insts int // the size of its compiled program: what a match costs per byte
}

// regexBudget bounds what the Regex rules may cost one lookup (and one
// entry in a sweep), in program instructions times path bytes: Go's regexp
// is linear, but at about 20 ns per instruction and byte a tenant's
// pattern of 2,000 instructions against an 8 KiB path takes 300 ms, and
// every hit on an entry older than the rule would pay it. Past the budget
// the entry counts as purged without matching: dropping an object is
// always safe, it is fetched again. 32 Ki is under a millisecond, and
// ordinary patterns (tens of instructions, paths of a hundred bytes) stay
// far below it.
const regexBudget = 32 << 10

// programSize is the number of instructions of re's program.
func programSize(re *regexp.Regexp) int {
	parsed, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return regexBudget // cannot happen for a compiled pattern; counted as too dear
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return regexBudget
	}
	return len(prog.Inst)
}

// sweepEvery bounds how often purges start a sweep: a sweep walks every
// entry, which is fine once in a while and wasteful per purge.
const sweepEvery = time.Minute

// fetchSlack is how long a rule outlives the oldest entry, and how long a
// fetch may take and still be stored: a fetch under way while a sweep runs
// is not among the entries it sees, and the rule that covers it must still
// be there when it lands.
const fetchSlack = 5 * time.Minute

// purges holds the cache's purge rules.
type purges struct {
	rw  sync.RWMutex // guards set; its *domainPurges are never changed in place
	set purgeSet

	mu        sync.Mutex // guards the sweep's state
	sweeping  bool
	lastSweep time.Time
}

// covers reports whether the entry with primary key key, fetched at
// fetched, is purged.
func (p *purges) covers(key string, fetched time.Time) bool {
	slash := strings.IndexByte(key, '/')
	p.rw.RLock()
	floor := p.set.floor
	var d *domainPurges
	if slash >= 0 {
		d = p.set.domains[key[:slash]]
	}
	p.rw.RUnlock()
	if fetched.Before(floor) {
		return true
	}
	if d == nil {
		return false
	}
	if fetched.Before(d.floor) {
		return true
	}
	if at, ok := d.exact[key]; ok && fetched.Before(at) {
		return true
	}
	pathKey, _, _ := strings.Cut(key, "?")
	if at, ok := d.paths[pathKey]; ok && fetched.Before(at) {
		return true
	}
	for i := len(d.dirs) - 1; i >= 0 && fetched.Before(d.dirs[i].at); i-- {
		if strings.HasPrefix(key, d.dirs[i].prefix) {
			return true
		}
	}
	path := pathKey[slash:]
	spent := 0
	for i := len(d.regexes) - 1; i >= 0 && fetched.Before(d.regexes[i].at); i-- {
		if spent += d.regexes[i].insts * len(path); spent > regexBudget {
			return true
		}
		if d.regexes[i].re.MatchString(path) {
			return true
		}
	}
	return false
}

// update applies change to the set under the write lock. change replaces
// a domain's rules rather than changing them (lookups hold them unlocked).
func (p *purges) update(change func(s *purgeSet)) {
	p.rw.Lock()
	defer p.rw.Unlock()
	if p.set.domains == nil {
		p.set.domains = map[string]*domainPurges{}
	}
	change(&p.set)
}

// Purge makes every entry of domain that a rule matches, fetched before
// now, absent from now on; a fetch under way counts as fetched before.
// Safe for concurrent use.
func (c *Cache) Purge(domain string, rules []PurgeRule) {
	c.purges.update(func(s *purgeSet) {
		// Read under the writers' lock, so that the times of a domain's
		// rules grow in the order they are appended, as lookups assume.
		at := c.now()
		d := s.domains[domain].clone()
		for _, r := range rules {
			switch r.Kind {
			case PurgeExact:
				set(&d.exact, r.Key, at)
			case PurgeIgnoreParams:
				set(&d.paths, r.Key, at)
			case PurgeDirectory:
				d.dirs = append(d.dirs, timedPrefix{r.Key, at})
			case PurgeRegex:
				d.regexes = append(d.regexes, timedRegex{r.Regex, at, programSize(r.Regex)})
			}
		}
		s.domains[domain] = d
	})
	c.sweepSoon()
}

// PurgeDomainsBefore makes every entry of each domain fetched before its
// time absent: a domain deleted and added again (by another account,
// maybe) starts with nothing its earlier self cached. One call for all
// domains, so that a full load of many domains copies the rules once.
// Safe for concurrent use.
func (c *Cache) PurgeDomainsBefore(floors map[string]time.Time) {
	if len(floors) == 0 {
		return
	}
	c.purges.update(func(s *purgeSet) {
		for domain, t := range floors {
			if old := s.domains[domain]; old != nil && !t.After(old.floor) {
				continue
			}
			d := s.domains[domain].clone()
			d.floor = t
			s.domains[domain] = d
		}
	})
	c.sweepSoon()
}

// clone is a copy of d (an empty set for nil) that a writer may change.
// Its maps are made only when d has some: a full load gives every domain
// a floor, and most domains never have a purge.
func (d *domainPurges) clone() *domainPurges {
	if d == nil {
		return &domainPurges{}
	}
	return &domainPurges{floor: d.floor, exact: maps.Clone(d.exact), paths: maps.Clone(d.paths),
		dirs: slices.Clone(d.dirs), regexes: slices.Clone(d.regexes)}
}

// set records key → at in *m, making the map if need be.
func set(m *map[string]time.Time, key string, at time.Time) {
	if *m == nil {
		*m = map[string]time.Time{}
	}
	(*m)[key] = at
}

// PurgeBefore makes every entry fetched before t absent, in both tiers,
// and starts removing them. Safe for concurrent use.
func (c *Cache) PurgeBefore(t time.Time) {
	c.purges.update(func(s *purgeSet) { s.floor = maxTime(s.floor, t) })
	c.purges.mu.Lock()
	c.purges.lastSweep = time.Time{}
	c.purges.mu.Unlock()
	c.sweepSoon()
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// sweepSoon starts a sweep unless one runs or one ran within sweepEvery.
func (c *Cache) sweepSoon() {
	p := &c.purges
	p.mu.Lock()
	if p.sweeping || time.Since(p.lastSweep) < sweepEvery {
		p.mu.Unlock()
		return
	}
	p.sweeping = true
	p.mu.Unlock()
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		c.sweep()
	}()
}

// sweep removes the entries the rules cover from both tiers, then forgets
// every rule older than the oldest entry left: no entry can be fetched
// before a rule from then on (entries are fetched after c.now() moves
// past it), so the rule could never match again.
func (c *Cache) sweep() {
	start := time.Now()
	oldest := c.now().Add(-fetchSlack)
	keep := func(key string, fetched time.Time) bool {
		if c.purges.covers(key, fetched) {
			return false
		}
		if fetched.Before(oldest) {
			oldest = fetched
		}
		return true
	}
	c.mem.sweep(keep)
	if c.disk != nil {
		c.disk.sweep(keep)
	}
	c.purges.update(func(s *purgeSet) {
		for name, d := range s.domains {
			if next := d.since(oldest); next != nil {
				s.domains[name] = next
			} else {
				delete(s.domains, name)
			}
		}
	})
	c.purges.mu.Lock()
	c.purges.sweeping, c.purges.lastSweep = false, start
	c.purges.mu.Unlock()
}

// admitToDisk says whether a queued disk write is still wanted: not if a
// purge covers the entry, nor if it waited in the queue for longer than a
// sweep lets a rule outlive the entries it saw (the entry was in neither
// tier then, and the rule that covers it may be gone).
func (c *Cache) admitToDisk(e *entry) bool {
	return c.now().Sub(e.fetched) <= fetchSlack && !c.purges.covers(e.key, e.fetched)
}

// since is d without the rules older than t; nil when none is left.
func (d *domainPurges) since(t time.Time) *domainPurges {
	n := &domainPurges{}
	if !d.floor.Before(t) {
		n.floor = d.floor
	}
	for k, at := range d.exact {
		if !at.Before(t) {
			set(&n.exact, k, at)
		}
	}
	for k, at := range d.paths {
		if !at.Before(t) {
			set(&n.paths, k, at)
		}
	}
	for _, r := range d.dirs {
		if !r.at.Before(t) {
			n.dirs = append(n.dirs, r)
		}
	}
	for _, r := range d.regexes {
		if !r.at.Before(t) {
			n.regexes = append(n.regexes, r)
		}
	}
	if n.floor.IsZero() && len(n.exact)+len(n.paths)+len(n.dirs)+len(n.regexes) == 0 {
		return nil
	}
	return n
}

// PurgeRules counts the rules the cache holds, for tests and metrics.
func (c *Cache) PurgeRules() int {
	c.purges.rw.RLock()
	defer c.purges.rw.RUnlock()
	n := 0
	for _, d := range c.purges.set.domains {
		n += len(d.exact) + len(d.paths) + len(d.dirs) + len(d.regexes)
	}
	return n
}
