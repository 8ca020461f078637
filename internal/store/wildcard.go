package store

import (
	"context"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// WildcardOf is the name of the wildcard domain that would cover name: name
// minus its first label, with the leading dot ("a.example.com" →
// ".example.com"). Empty when name has a single label or an empty one. A
// wildcard domain covers exactly one label, as Alibaba's do ("*.example.com"
// in a certificate likewise, RFC 6125 section 6.4.3): the edge and the API
// both match through this function, so what the API refuses as a conflict is
// exactly what the edge would route to either record.
func WildcardOf(name string) string {
	i := strings.IndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return ""
	}
	return name[i:]
}

// CoverKey is the guard record of one wildcard's reach. Adding the wildcard
// rewrites it; adding a name the wildcard covers holds it unchanged. So a
// name added while the wildcard is being added (or the other way round)
// fails on the guard, reads again and sees the other; names under one
// zone, which never conflict with each other, do not contend for it.
func CoverKey(wildcard string) Key { return Key(coversDir + wildcard) }

// CoverMarkerKey records that name, a name wildcard covers, exists: the
// wildcard's add holds every marker under CoverMarkersPrefix unchanged
// since it listed the names (Txn.NoneChangedUnder), which is how it sees a
// name added meanwhile without that add touching the guard.
func CoverMarkerKey(wildcard, name string) Key { return Key(coversDir + wildcard + "/" + name) }

// CoverMarkersPrefix is where the markers of wildcard's names are.
func CoverMarkersPrefix(wildcard string) Key { return Key(coversDir + wildcard + "/") }

// CoverKeyOf is the guard record that domain name (a wildcard or an exact
// name) concerns, the wildcard that covers it (name itself for a
// wildcard), and false for a name no wildcard covers.
func CoverKeyOf(name string) (key Key, wildcard string, ok bool) {
	wildcard = name
	if !strings.HasPrefix(name, ".") {
		wildcard = WildcardOf(name)
	}
	if wildcard == "" {
		return "", "", false
	}
	return CoverKey(wildcard), wildcard, true
}

const coversDir = "covers/"

// DomainsCoveredBy lists the domains (not wildcards) that wildcard covers,
// and the revision it read the names at. It reads every domain name:
// adding a wildcard is rare, and the domains a wildcard covers share a
// suffix, not a key prefix (names added before markers existed have none).
func (s *Store) DomainsCoveredBy(ctx context.Context, wildcard string) ([]Versioned[Domain], int64, error) {
	p := s.abs(Key(domainsDir))
	resp, err := s.cli.Get(lead(ctx), p, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, 0, wrap(err)
	}
	var covered []string
	for _, kv := range resp.Kvs {
		n := strings.TrimPrefix(string(kv.Key), p)
		if n != wildcard && WildcardOf(n) == wildcard {
			covered = append(covered, n)
		}
	}
	if len(covered) == 0 {
		return nil, resp.Header.Revision, nil
	}
	domains, err := s.GetDomains(ctx, covered)
	return domains, resp.Header.Revision, err
}
