package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrCompacted: the history a watcher asked for is gone; load again.
var ErrCompacted = errors.New("store: revision compacted")

// Served is everything the edge serves, as of one revision.
type Served struct {
	Revision  int64
	ClusterID uint64
	Domains   []Domain
	Configs   []DomainConfigs
	Certs     []Cert
	Purges    []Purge
}

// Change is one served record changed at one revision. Exactly one of
// Domain, Configs, Cert and Purge is set; Deleted says the record is gone
// (then only its name, and for a certificate or a purge its account, are
// set).
type Change struct {
	Domain  *Domain
	Configs *DomainConfigs
	Cert    *Cert
	Purge   *Purge
	Deleted bool
}

// servedPage is how many records LoadServed reads per request. At 100k
// domains the served set is hundreds of megabytes: read at once, the
// response, its decoded form and the edge's index would all be live
// together, and the decoding could not start before the last byte came.
// Pages are large because etcd counts the whole rest of the range on
// every limited read (mvcc treeIndex.Revisions): n records in pages of p
// cost n²/2p key visits, 2M at 200k records, ≈0.1 s.
const servedPage = 20000

// LoadServed reads every domain and certificate as of one revision, a page
// at a time: the next page is fetched while this one is decoded.
func (s *Store) LoadServed(ctx context.Context) (*Served, error) {
	ctx, cancel := context.WithCancel(lead(ctx))
	defer cancel()
	pages := make(chan *clientv3.GetResponse, 1)
	fetched := make(chan error, 1)
	go func() { fetched <- s.readServed(ctx, pages) }()
	var out *Served
	for resp := range pages {
		if out == nil {
			// Later pages are read at this revision; their headers carry
			// the store's current one.
			out = &Served{Revision: resp.Header.Revision, ClusterID: resp.Header.ClusterId}
		}
		for _, kv := range resp.Kvs {
			c := s.decodeServed(kv.Key, kv.Value, false)
			switch {
			case c.Deleted:
			case c.Domain != nil:
				out.Domains = append(out.Domains, *c.Domain)
			case c.Configs != nil:
				out.Configs = append(out.Configs, *c.Configs)
			case c.Cert != nil:
				out.Certs = append(out.Certs, *c.Cert)
			case c.Purge != nil:
				out.Purges = append(out.Purges, *c.Purge)
			}
		}
	}
	if err := <-fetched; err != nil {
		return nil, err
	}
	return out, nil
}

// readServed sends the served records to pages, servedPage at a time, all
// at the revision of the first page, then closes pages. The first page is
// sent even when empty: it carries the revision.
func (s *Store) readServed(ctx context.Context, pages chan<- *clientv3.GetResponse) error {
	defer close(pages)
	from, end := s.abs(servedDir), clientv3.GetPrefixRangeEnd(s.abs(servedDir))
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(servedPage)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.cli.Get(ctx, from, opts...)
		if err != nil {
			return wrap(err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		select {
		case pages <- resp:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// decodeServed turns a served key and value into a Change. The key names
// the record; the value cannot rename it. The records are decoded with
// encoding/json/v2 (its mirror module until Go 1.27 makes it standard):
// they are written by encoding/json, which v2 reads the same way for
// these types, and v2 decodes them about three times as fast, which is
// most of an edge's start-up at 100k domains. A value that does not decode is
// logged and treated as a deletion: the edge stops serving that record
// rather than stopping altogether, and never serves what it cannot read.
func (s *Store) decodeServed(key, value []byte, deleted bool) Change {
	rel := strings.TrimPrefix(string(key), s.prefix)
	kind, account, name := splitServed(rel)
	c := Change{Deleted: deleted}
	var v any
	switch kind {
	case "domain":
		c.Domain = &Domain{}
		v = c.Domain
	case "configs":
		c.Configs = &DomainConfigs{}
		v = c.Configs
	case "cert":
		c.Cert = &Cert{}
		v = c.Cert
	case "purge":
		c.Purge = &Purge{}
		v = c.Purge
	default:
		return c
	}
	if !deleted {
		if err := jsonv2.Unmarshal(value, v); err != nil {
			s.log.Error("store: a served record does not decode; it is not served", "key", rel, "err", err)
			c.Deleted = true
		}
	}
	switch {
	case c.Domain != nil:
		c.Domain.Name = name
	case c.Configs != nil:
		c.Configs.Domain = name
	case c.Purge != nil:
		c.Purge.AccountID, c.Purge.TaskID = account, name
	default:
		c.Cert.AccountID, c.Cert.Name = account, name
	}
	return c
}

// WatchServed calls apply once per revision after rev, in order, with every
// served change of that revision: a certificate and the domain bound to it in
// one transaction arrive in one call. It returns when ctx ends, when apply
// fails, with ErrCompacted when the history after rev is gone, or with
// ErrUnavailable when the watch breaks (the caller resumes from the last
// revision it applied).
func (s *Store) WatchServed(ctx context.Context, rev int64, apply func(rev int64, changes []Change) error) error {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := s.cli.Watch(ctx, s.abs(servedDir), clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithProgressNotify())
	last := rev // the last revision apply was called with
	for resp := range wch {
		if resp.CompactRevision != 0 {
			return fmt.Errorf("%w: at %d", ErrCompacted, resp.CompactRevision)
		}
		if err := resp.Err(); err != nil {
			return wrap(err)
		}
		var batch []Change
		batchRev := int64(0)
		for _, ev := range resp.Events {
			if batchRev != 0 && ev.Kv.ModRevision != batchRev {
				if err := apply(batchRev, batch); err != nil {
					return err
				}
				last = batchRev
				batch = nil // apply may keep the slice it was given
			}
			batchRev = ev.Kv.ModRevision
			batch = append(batch, s.decodeServed(ev.Kv.Key, ev.Kv.Value, ev.Type == clientv3.EventTypeDelete))
		}
		if batchRev != 0 {
			if err := apply(batchRev, batch); err != nil {
				return err
			}
			last = batchRev
		} else if resp.IsProgressNotify() && resp.Header.Revision > last {
			// Nothing served changed up to this revision: applied it is.
			if err := apply(resp.Header.Revision, nil); err != nil {
				return err
			}
			last = resp.Header.Revision
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: watch closed", ErrUnavailable)
}

// RequestProgress asks etcd to tell the served watch of this client how far
// the store has come, even when nothing served changed: an idle edge then
// reports the store's current revision, so its lag reads as zero.
func (s *Store) RequestProgress(ctx context.Context) error {
	return wrap(s.cli.RequestProgress(lead(ctx)))
}
