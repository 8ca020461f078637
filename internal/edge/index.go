package edge

import (
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/cdnd/cdnd/internal/ascii"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
)

// certRef names a certificate record: a domain's certificate is the record
// (domain.AccountID, domain.HTTPS.CertName).
type certRef struct{ account, name string }

// certEntry is a certificate as the store holds it: compact, unparsed. It is
// immutable once in the index; new content under the same name makes a new
// entry, so the entry's identity doubles as the cache key that changes when
// the content does.
type certEntry struct {
	ref         certRef
	chain       compactChain
	key         keyring.Sealed
	fingerprint string

	// mu serialises the first parse, so that concurrent first handshakes
	// for the same certificate unseal and parse it once (a per-entry
	// singleflight: no global map, no contention between certificates).
	mu sync.Mutex
	// err remembers a parse or unseal failure. The content never changes
	// and neither does the keyring, so retrying could only fail again and
	// log again on every handshake.
	err error
}

// sameContent reports whether a new record carries what e already holds,
// so that rewriting a record without changing it keeps the parsed
// certificate cached.
func (e *certEntry) sameContent(c *store.Cert) bool {
	return e.chain.is(c.ChainPEM) && e.fingerprint == c.Fingerprint && reflect.DeepEqual(e.key, c.Key)
}

// domainEntry is what the edge needs of a domain. It is immutable once in
// the index (a change replaces it), so readers may keep it after unlocking.
type domainEntry struct {
	name    string
	online  bool
	cert    *certRef // nil: HTTPS off
	origins []originGroup
	// sources are the record's origins as stored, for the snapshot.
	sources []store.Source
	// settings are the domain's function configs, compiled; nil: none.
	settings *settings
	// created is when the domain's record was made: nothing the cache
	// holds from before is the domain's (purge.go).
	created time.Time
}

func newDomainEntry(d *store.Domain, s *settings) *domainEntry {
	e := &domainEntry{
		name:     ascii.Lower(d.Name),
		online:   d.Status == "online",
		origins:  buildOrigins(d.Sources),
		sources:  d.Sources,
		settings: s,
		created:  d.Created,
	}
	if d.HTTPS != nil {
		e.cert = &certRef{account: d.AccountID, name: d.HTTPS.CertName}
	}
	return e
}

// index maps names to records. Changes are applied in place under the
// write lock, one store revision at a time, so a reader (a handshake, a
// request) sees the state before a revision or after it, never half of it;
// a change costs only the records it touches, which matters at 100k domains
// where copying the maps per change would not do.
//
// A domain's configs are their own record: settings holds them compiled,
// by domain name, whether or not the domain's record is there yet (the two
// arrive in one revision, in either order), and every domain entry points
// at its name's settings, so that a handshake reads the domain and its
// settings in one lookup.
type index struct {
	mu       sync.RWMutex
	domains  map[string]*domainEntry // lower-cased name; wildcards as ".example.com"
	settings map[string]*settings    // by the domains' key
	certs    map[certRef]*certEntry
	// purges are the purge and prefetch tasks the store keeps, for the
	// snapshot; the HTTP cache holds what they mean (purge.go).
	purges map[purgeRef]*store.Purge
}

// purgeRef names a task record.
type purgeRef struct{ account, id string }

func newIndex() *index {
	return &index{domains: map[string]*domainEntry{}, settings: map[string]*settings{}, certs: map[certRef]*certEntry{}, purges: map[purgeRef]*store.Purge{}}
}

// lookupLocked finds the domain that serves name (already normalised).
// The exact record wins; only when there is none does the wildcard
// "." + (name minus its first label) apply, which covers exactly one label.
//
// An exact record shadows the wildcard even when it is stopped or has HTTPS
// off: its owner configured that name on purpose, and stopping it must stop
// it rather than silently route it through another domain's configuration.
func (ix *index) lookupLocked(name string) *domainEntry {
	if name == "" {
		return nil
	}
	if d, ok := ix.domains[name]; ok {
		return d
	}
	if w := store.WildcardOf(name); w != "" {
		return ix.domains[w]
	}
	return nil
}

// domain returns the domain serving host (normalised), or nil.
func (ix *index) domain(name string) *domainEntry {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.lookupLocked(name)
}

// certFor returns the certificate to serve for name, or nil when no online
// domain with HTTPS on and an existing certificate record serves it. Domain
// and certificate are read under one read lock: one consistent revision.
func (ix *index) certFor(name string) *certEntry {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	d := ix.lookupLocked(name)
	if d == nil || !d.online || d.cert == nil {
		return nil
	}
	return ix.certs[*d.cert]
}

// handshakeView returns the domain serving name and whether it serves a
// certificate, read under one lock: one revision.
func (ix *index) handshakeView(name string) (*domainEntry, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	d := ix.lookupLocked(name)
	if d == nil {
		return nil, false
	}
	return d, d.online && d.cert != nil && ix.certs[*d.cert] != nil
}

// setSettingsLocked installs the compiled configs of one domain and
// re-points its entry at them (a copy: entries are immutable).
func (ix *index) setSettingsLocked(c *store.DomainConfigs, deleted bool) {
	name := ascii.Lower(c.Domain)
	s := compileSettings(c)
	if deleted || s == nil {
		delete(ix.settings, name)
		s = nil
	} else {
		ix.settings[name] = s
	}
	if d := ix.domains[name]; d != nil {
		next := *d
		next.settings = s
		ix.domains[name] = &next
	}
}

// apply applies one revision's changes at once and returns the certificate
// entries it replaced or removed, whose parsed forms the caller drops from
// the cache.
func (ix *index) apply(changes []store.Change) (gone []*certEntry, domains int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, c := range changes {
		switch {
		case c.Domain != nil:
			name := ascii.Lower(c.Domain.Name)
			if c.Deleted {
				delete(ix.domains, name)
				continue
			}
			ix.domains[name] = newDomainEntry(c.Domain, ix.settings[name])
		case c.Configs != nil:
			ix.setSettingsLocked(c.Configs, c.Deleted)
		case c.Purge != nil:
			ref := purgeRef{c.Purge.AccountID, c.Purge.TaskID}
			if c.Deleted {
				delete(ix.purges, ref)
			} else {
				ix.purges[ref] = c.Purge
			}
		case c.Cert != nil:
			ref := certRef{account: c.Cert.AccountID, name: c.Cert.Name}
			old := ix.certs[ref]
			if c.Deleted {
				if old != nil {
					delete(ix.certs, ref)
					gone = append(gone, old)
				}
				continue
			}
			if old != nil && old.sameContent(c.Cert) {
				continue
			}
			ix.certs[ref] = newCertEntry(c.Cert)
			if old != nil {
				gone = append(gone, old)
			}
		}
	}
	return gone, len(ix.domains)
}

// build makes the index of a full load. Entries whose content ix already
// holds are carried over, so that a reload (after compaction) keeps the
// cache warm. Only the goroutine that applies changes calls build, apply
// and adopt, so reading ix's maps here without the lock races with nothing
// but readers.
func (ix *index) build(s *store.Served) *index {
	next := &index{domains: make(map[string]*domainEntry, len(s.Domains)), settings: make(map[string]*settings, len(s.Configs)), certs: make(map[certRef]*certEntry, len(s.Certs)), purges: make(map[purgeRef]*store.Purge, len(s.Purges))}
	for i := range s.Purges {
		p := &s.Purges[i]
		next.purges[purgeRef{p.AccountID, p.TaskID}] = p
	}
	for i := range s.Configs {
		next.setSettingsLocked(&s.Configs[i], false)
	}
	for i := range s.Domains {
		name := ascii.Lower(s.Domains[i].Name)
		next.domains[name] = newDomainEntry(&s.Domains[i], next.settings[name])
	}
	for i := range s.Certs {
		c := &s.Certs[i]
		ref := certRef{account: c.AccountID, name: c.Name}
		if old := ix.certs[ref]; old != nil && old.sameContent(c) {
			next.certs[ref] = old
			continue
		}
		next.certs[ref] = newCertEntry(c)
	}
	return next
}

// adopt installs next's records at once, under the lock, and returns the
// certificate entries ix held that next does not.
func (ix *index) adopt(next *index) (gone []*certEntry, domains int) {
	for ref, old := range ix.certs {
		if next.certs[ref] != old {
			gone = append(gone, old)
		}
	}
	ix.mu.Lock()
	ix.domains, ix.settings, ix.certs, ix.purges = next.domains, next.settings, next.certs, next.purges
	ix.mu.Unlock()
	return gone, len(next.domains)
}

func newCertEntry(c *store.Cert) *certEntry {
	return &certEntry{
		ref:         certRef{account: c.AccountID, name: c.Name},
		chain:       newCompactChain(c.ChainPEM),
		key:         c.Key,
		fingerprint: c.Fingerprint,
	}
}

// normalizeName turns an SNI name or a Host (without port) into the form
// the index is keyed by: lower case, one trailing dot stripped. It reports
// false for names that can never match: empty, too long, not ASCII (names
// are stored in their ASCII form, IDNs as punycode), or starting with a dot
// (which would otherwise hit a wildcard record by its literal key).
func normalizeName(s string) (string, bool) {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 || s[0] == '.' || !ascii.Is(s) {
		return "", false
	}
	// ASCII folding only (RFC 4343): Unicode folding would let the Kelvin
	// sign U+212A match a "k". Lower returns s itself, without allocating,
	// when it is already lower case: the common case on the handshake path.
	return ascii.Lower(s), true
}

// records rebuilds, from the index, the records it was fed: what a
// snapshot needs to feed it again (without its revision).
func (ix *index) records() *store.Served {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	domains := make([]store.Domain, 0, len(ix.domains))
	for _, d := range ix.domains {
		rec := store.Domain{Name: d.name, Status: "offline", Sources: d.sources, Created: d.created}
		if d.online {
			rec.Status = "online"
		}
		if d.cert != nil {
			rec.AccountID, rec.HTTPS = d.cert.account, &store.Binding{CertName: d.cert.name}
		}
		domains = append(domains, rec)
	}
	configs := make([]store.DomainConfigs, 0, len(ix.settings))
	for _, s := range ix.settings {
		configs = append(configs, *s.configs)
	}
	certs := make([]store.Cert, 0, len(ix.certs))
	for _, c := range ix.certs {
		certs = append(certs, store.Cert{AccountID: c.ref.account, Name: c.ref.name, ChainPEM: c.chain.String(), Key: c.key, Fingerprint: c.fingerprint})
	}
	purges := make([]store.Purge, 0, len(ix.purges))
	for _, p := range ix.purges {
		purges = append(purges, *p)
	}
	return &store.Served{Domains: domains, Configs: configs, Certs: certs, Purges: purges}
}
