package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrCompacted: the history a watcher asked for is gone; load again.
var ErrCompacted = errors.New("store: revision compacted")

// Served is everything the edge serves, as of one revision.
type Served struct {
	Revision  int64
	ClusterID uint64
	Domains   []Domain
	Certs     []Cert
}

// Change is one served record changed at one revision. Exactly one of Domain
// and Cert is set; Deleted says the record is gone (then only its name, and
// for a certificate its account, are set).
type Change struct {
	Domain  *Domain
	Cert    *Cert
	Deleted bool
}

// LoadServed reads every domain and certificate in one consistent read.
func (s *Store) LoadServed(ctx context.Context) (*Served, error) {
	resp, err := s.cli.Get(lead(ctx), s.abs(servedDir), clientv3.WithPrefix())
	if err != nil {
		return nil, wrap(err)
	}
	out := &Served{Revision: resp.Header.Revision, ClusterID: resp.Header.ClusterId}
	for _, kv := range resp.Kvs {
		c := s.decodeServed(kv.Key, kv.Value, false)
		switch {
		case c.Deleted:
		case c.Domain != nil:
			out.Domains = append(out.Domains, *c.Domain)
		case c.Cert != nil:
			out.Certs = append(out.Certs, *c.Cert)
		}
	}
	return out, nil
}

// decodeServed turns a served key and value into a Change. The key names
// the record; the value cannot rename it. A value that does not decode is
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
	case "cert":
		c.Cert = &Cert{}
		v = c.Cert
	default:
		return c
	}
	if !deleted {
		if err := json.Unmarshal(value, v); err != nil {
			s.log.Error("store: a served record does not decode; it is not served", "key", rel, "err", err)
			c.Deleted = true
		}
	}
	if c.Domain != nil {
		c.Domain.Name = name
	} else {
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
