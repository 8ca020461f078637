package edge

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/cdnd/cdnd/internal/ascii"
	"github.com/cdnd/cdnd/internal/edge/cache"
	"github.com/cdnd/cdnd/internal/objectpath"
	"github.com/cdnd/cdnd/internal/store"
)

// purgeHorizon is how long back the store's purge records are complete,
// as far as the edge can tell: they are kept store.PurgeRetention after
// the API node's clock created them, and an hour is left for the clocks
// of API nodes and edges to disagree. An entry fetched before that may
// have been purged by a record that is gone, so a full load drops it
// (install): an edge away for longer than the records are kept drops its
// cache, both tiers, rather than serve something purged in its absence.
const purgeHorizon = store.PurgeRetention - time.Hour

// prefetchConcurrency bounds the fetches an edge runs for prefetch tasks
// at once, so that a task of a hundred URLs does not hit the origin with a
// hundred requests together.
const prefetchConcurrency = 4

// prefetcher runs prefetch tasks through the edge's own handler.
type prefetcher struct {
	slots chan struct{}
	wg    sync.WaitGroup
}

// installPurges applies the purges of a full load to the HTTP cache: those
// the edge had not applied yet, as of now, and the horizon below which
// nothing cached can be trusted. Prefetches of a load are not run: they
// were for the edges of their time.
func (e *Edge) installPurges(next *index) {
	if e.httpCache == nil {
		return
	}
	e.httpCache.PurgeBefore(e.now().Add(-purgeHorizon))
	floors := make(map[string]time.Time, len(next.domains))
	for name, d := range next.domains {
		floors[name] = d.created
	}
	e.httpCache.PurgeDomainsBefore(floors)
	seen := make(map[purgeRef]bool, len(next.purges))
	for ref, p := range next.purges {
		seen[ref] = true
		if !e.purgesSeen[ref] {
			e.purge(p)
		}
	}
	e.purgesSeen = seen
}

// applyPurges applies one revision's purges to the HTTP cache and starts
// its prefetches, before the revision is reported applied: a task is
// complete once every edge reports its revision.
func (e *Edge) applyPurges(changes []store.Change) {
	var floors map[string]time.Time
	for _, c := range changes {
		if c.Domain != nil && e.httpCache != nil {
			// A domain deleted leaves nothing cached behind for whoever
			// adds the name next; one added starts with nothing cached
			// before it was.
			name := ascii.Lower(c.Domain.Name)
			if c.Deleted {
				e.httpCache.Purge(name, []cache.PurgeRule{{Kind: cache.PurgeDirectory, Key: name + "/"}})
			} else if !c.Domain.Created.IsZero() {
				if floors == nil {
					floors = map[string]time.Time{}
				}
				floors[name] = c.Domain.Created
			}
		}
		if c.Purge == nil {
			continue
		}
		ref := purgeRef{c.Purge.AccountID, c.Purge.TaskID}
		if c.Deleted {
			delete(e.purgesSeen, ref)
			continue
		}
		if e.purgesSeen[ref] || e.httpCache == nil {
			continue
		}
		e.purgesSeen[ref] = true
		if c.Purge.Type == store.PurgePreload {
			e.prefetch(c.Purge)
		} else {
			e.purge(c.Purge)
		}
	}
	if floors != nil {
		e.httpCache.PurgeDomainsBefore(floors)
	}
}

// purge turns a task's paths into the cache's rules. A path that does
// not parse (the API refused it already) or names another domain than the
// task's is skipped.
func (e *Edge) purge(p *store.Purge) {
	typ, kind := objectpath.File, cache.PurgeExact
	switch p.Type {
	case store.PurgeDirectory:
		typ, kind = objectpath.Directory, cache.PurgeDirectory
	case store.PurgeRegex:
		typ, kind = objectpath.Regex, cache.PurgeRegex
	case store.PurgeIgnoreParams:
		typ, kind = objectpath.IgnoreParams, cache.PurgeIgnoreParams
	case store.PurgePreload:
		return
	}
	d := e.idx.domain(p.Domain)
	if d == nil {
		return // no domain, nothing served, nothing cached
	}
	rules := make([]cache.PurgeRule, 0, len(p.Paths))
	for _, raw := range p.Paths {
		o, err := objectpath.Parse(typ, raw)
		if err != nil || o.Host != p.Domain {
			continue
		}
		r := cache.PurgeRule{Kind: kind, Key: d.name + o.Path, Regex: o.Regex}
		if kind == cache.PurgeExact {
			r.Key = cache.KeyFor(d.name, &url.URL{RawPath: o.Path, Path: unescaped(o.Path), RawQuery: o.Query}, d.settings.cacheRules()).String()
		}
		rules = append(rules, r)
	}
	e.httpCache.Purge(d.name, rules)
}

// unescaped is the decoded form of an escaped path, for url.URL.Path.
func unescaped(p string) string {
	if u, err := url.PathUnescape(p); err == nil {
		return u
	}
	return p
}

// prefetch fetches each path of a task through the edge's own handler,
// as a visitor's request would, in the background.
func (e *Edge) prefetch(p *store.Purge) {
	// Alibaba's prefetches ask for gzip unless WithHeader says otherwise
	// (https://www.alibabacloud.com/help/en/cdn/developer-reference/api-cdn-2018-05-10-pushobjectcache).
	header := http.Header{"Accept-Encoding": {"gzip"}}
	if p.Header != "" {
		var h map[string]string
		if json.Unmarshal([]byte(p.Header), &h) == nil {
			for k, v := range h {
				header.Set(k, v)
			}
		}
	}
	e.prefetches.wg.Add(1)
	go func() {
		defer e.prefetches.wg.Done()
		for _, raw := range p.Paths {
			o, err := objectpath.Parse(objectpath.Preload, raw)
			if err != nil || o.Host != p.Domain {
				continue
			}
			select {
			case e.prefetches.slots <- struct{}{}:
			case <-e.runCtx.Done():
				return
			}
			e.fetchOne(o, header)
			<-e.prefetches.slots
		}
	}()
}

// fetchOne requests one object through the edge's handler and discards
// the answer: the cache keeps it, if it may.
func (e *Edge) fetchOne(o objectpath.Object, header http.Header) {
	ctx, cancel := context.WithTimeout(e.runCtx, time.Minute)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+o.Host+o.Path, nil)
	if err != nil {
		return
	}
	r.URL.RawQuery = o.Query
	r.RemoteAddr = "127.0.0.1:0"
	r.RequestURI = r.URL.RequestURI()
	for k, v := range header {
		r.Header[k] = v
	}
	defer func() {
		// The cache ends a response whose origin copy failed this way;
		// it ends only this fetch.
		if v := recover(); v != nil && v != http.ErrAbortHandler { //nolint:errorlint // a sentinel compared as the server does
			panic(v)
		}
	}()
	e.proxy.ServeHTTP(discardWriter{header: http.Header{}}, r)
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}
