package store

import (
	"context"
	"strings"
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

// CoverKey is the guard record of one wildcard's reach: every domain added
// as that wildcard, or as a name it covers, rewrites it in the same
// transaction, so two adds that could overlap conflict in etcd and the
// later one re-reads what the earlier one committed.
func CoverKey(wildcard string) Key { return Key(coversDir + wildcard) }

// CoverKeyOf is the guard record that domain name (a wildcard or an exact
// name) joins, or false for a name no wildcard covers. Deleting the domain
// deletes it too, so that guards do not outlive the domains: a delete is a
// change the guard must show, and the next add under the wildcard writes
// it again.
func CoverKeyOf(name string) (Key, bool) {
	wildcard := name
	if !strings.HasPrefix(name, ".") {
		wildcard = WildcardOf(name)
	}
	if wildcard == "" {
		return "", false
	}
	return CoverKey(wildcard), true
}

const coversDir = "covers/"

// DomainsCoveredBy lists the domains (not wildcards) that wildcard covers.
// It reads every domain name: adding a wildcard is rare, and the domains a
// wildcard covers share a suffix, not a key prefix.
func (s *Store) DomainsCoveredBy(ctx context.Context, wildcard string) ([]Versioned[Domain], error) {
	names, err := s.Keys(ctx, Key(domainsDir))
	if err != nil {
		return nil, err
	}
	var covered []string
	for _, n := range names {
		if n != wildcard && WildcardOf(n) == wildcard {
			covered = append(covered, n)
		}
	}
	if len(covered) == 0 {
		return nil, nil
	}
	return s.GetDomains(ctx, covered)
}
