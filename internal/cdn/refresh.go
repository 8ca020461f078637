package cdn

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/cdnd/cdnd/internal/objectpath"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// Errors of the refresh and prefetch actions, as the RefreshObjectCaches
// and PushObjectCache pages list them
// (https://www.alibabacloud.com/help/en/cdn/developer-reference/api-cdn-2018-05-10-refreshobjectcaches,
// https://www.alibabacloud.com/help/en/cdn/developer-reference/api-cdn-2018-05-10-pushobjectcache).
var (
	errObjectPathMalformed = openapi.NewError(400, "InvalidObjectPath.Malformed", "Specified ObjectPath is malformed.")
	errObjectTypeMalformed = openapi.NewError(400, "InvalidObjectType.Malformed", "Specified ObjectType is malformed.")
	errRefreshQuota        = openapi.NewError(400, "QuotaExceeded.Refresh", "Your refresh quota has been exhausted.")
	// A prefetch past the day's quota: the answer Alibaba documents for it
	// (https://www.alibabacloud.com/help/en/cdn/user-guide/preload-queue-is-full).
	errPreloadQuota        = openapi.NewError(403, "PreloadQueueFull", "Preload queue is full, please try again later.")
	errSingleRequest       = openapi.NewError(400, "SingleRequest.OverLimit", "The number of URLs in a single request exceeds the limit.")
	errExtensiveDomain     = openapi.NewError(400, "InvalidExtensiveDomain.ValueNotSupported", "Wildcard domains are not supported here.")
	errAreaMalformed       = openapi.NewError(400, "InvalidArea.ValueNotSupported", "Specified Area is not supported.")
	errWithHeaderMalformed = openapi.NewError(400, "InvalidWithHeader.Malformed", "Specified WithHeader is malformed.")
)

// refreshKind is what one ObjectType costs and allows.
type refreshKind struct {
	typ   objectpath.Type
	store string // store.Purge.Type
	// perCall and perDay are Alibaba's defaults for an account
	// (RefreshObjectCaches, DescribeRefreshQuota pages): 1,000 URLs or 100
	// directories a call, 10,000 URLs, 100 directories, 20 regular
	// expressions and 100 IgnoreParams paths a day; prefetch 100 URLs a
	// call and 1,000 a day.
	perCall, perDay int
	used            func(u *store.RefreshUsage) *int
	quotaErr        *openapi.Error
}

var refreshKinds = map[string]refreshKind{
	"File":         {objectpath.File, store.PurgeFile, 1000, 10000, func(u *store.RefreshUsage) *int { return &u.URLs }, errRefreshQuota},
	"Directory":    {objectpath.Directory, store.PurgeDirectory, 100, 100, func(u *store.RefreshUsage) *int { return &u.Directories }, errRefreshQuota},
	"Regex":        {objectpath.Regex, store.PurgeRegex, 20, 20, func(u *store.RefreshUsage) *int { return &u.Regex }, errRefreshQuota},
	"IgnoreParams": {objectpath.IgnoreParams, store.PurgeIgnoreParams, 1000, 100, func(u *store.RefreshUsage) *int { return &u.IgnoreParams }, errRefreshQuota},
}

var preloadKind = refreshKind{objectpath.Preload, store.PurgePreload, 100, 1000, func(u *store.RefreshUsage) *int { return &u.Preload }, errPreloadQuota}

// maxRefreshDomains is how many domains one call may name.
const maxRefreshDomains = 10

// refreshBatch is one call's paths, validated, by domain in the order
// first named.
type refreshBatch struct {
	domains []string
	paths   map[string][]string
	n       int
}

// parseObjectPaths validates every path of an ObjectPath parameter (one a
// line, LF or CRLF) before anything is read or written.
func parseObjectPaths(raw string, k refreshKind) (*refreshBatch, error) {
	b := &refreshBatch{paths: map[string][]string{}}
	for _, line := range strings.Split(raw, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		o, err := objectpath.Parse(k.typ, line)
		if err == objectpath.ErrWildcard {
			return nil, errExtensiveDomain
		}
		if err != nil {
			return nil, errObjectPathMalformed
		}
		if _, ok := b.paths[o.Host]; !ok {
			b.domains = append(b.domains, o.Host)
		}
		if !slices.Contains(b.paths[o.Host], line) {
			b.paths[o.Host] = append(b.paths[o.Host], line)
			b.n++
		}
	}
	switch {
	case b.n == 0:
		return nil, errObjectPathMalformed
	case b.n > k.perCall || len(b.domains) > maxRefreshDomains:
		return nil, errSingleRequest
	}
	return b, nil
}

// objectPathDomains names the domains of an ObjectPath for RAM, before
// the handler validates it: what does not parse names no domain (and the
// handler refuses it).
func objectPathDomains(typ objectpath.Type) func(r *openapi.Request) []string {
	return func(r *openapi.Request) []string {
		var out []string
		for _, line := range strings.Split(r.Get("ObjectPath"), "\n") {
			if o, err := objectpath.Parse(typ, line); err == nil {
				if arn := domainARN(account(r), o.Host); !slices.Contains(out, arn) {
					out = append(out, arn)
				}
			}
		}
		if len(out) == 0 {
			out = []string{domainARN(account(r), "*")}
		}
		return out
	}
}

// refreshResources: RAM resources of RefreshObjectCaches, whose paths are
// read by its ObjectType.
func refreshResources(r *openapi.Request) []string {
	k, ok := refreshKinds[refreshType(r)]
	if !ok {
		return []string{domainARN(account(r), "*")}
	}
	return objectPathDomains(k.typ)(r)
}

// refreshType is the call's ObjectType, File by default.
func refreshType(r *openapi.Request) string {
	if t := r.Get("ObjectType"); t != "" {
		return t
	}
	return "File"
}

// refreshObjectCaches writes one purge task per domain of the call, in one
// transaction with the day's usage: every edge applies them from its watch
// (edge/purge.go). Force is accepted (older SDKs lack it) and changes
// nothing: an edge purges what matches, changed at the origin or not.
func (s *Service) refreshObjectCaches(ctx context.Context, r *openapi.Request) (any, error) {
	k, ok := refreshKinds[refreshType(r)]
	if !ok {
		return nil, errObjectTypeMalformed
	}
	b, err := parseObjectPaths(r.Get("ObjectPath"), k)
	if err != nil {
		return nil, err
	}
	ids, err := s.writeTasks(ctx, r, b, k, store.Purge{Force: r.Get("Force") == "true"})
	if err != nil {
		return nil, err
	}
	return struct{ RefreshTaskId string }{strings.Join(ids, ",")}, nil
}

// pushObjectCache writes one prefetch task per domain of the call: every
// edge fetches its paths through its own cache. Area and L2Preload are
// accepted as Alibaba defines them; every edge of the fleet is one area.
func (s *Service) pushObjectCache(ctx context.Context, r *openapi.Request) (any, error) {
	switch r.Get("Area") {
	case "", "domestic", "overseas", "global":
	default:
		return nil, errAreaMalformed
	}
	if h := r.Get("WithHeader"); h != "" {
		var m map[string]string
		if len(h) > 4096 || json.Unmarshal([]byte(h), &m) != nil {
			return nil, errWithHeaderMalformed
		}
	}
	b, err := parseObjectPaths(r.Get("ObjectPath"), preloadKind)
	if err != nil {
		return nil, err
	}
	ids, err := s.writeTasks(ctx, r, b, preloadKind, store.Purge{Area: r.Get("Area"), Header: r.Get("WithHeader")})
	if err != nil {
		return nil, err
	}
	return struct{ PushTaskId string }{strings.Join(ids, ",")}, nil
}

// writeTasks checks that the caller owns every domain of b and has quota
// left, then writes a task per domain (like base) and the day's usage in
// one transaction, guarded by the domains' and the usage's revisions.
func (s *Service) writeTasks(ctx context.Context, r *openapi.Request, b *refreshBatch, k refreshKind, base store.Purge) ([]string, error) {
	var ids []string
	err := store.RetryConflicts(ctx, func() error {
		ids = ids[:0]
		now := s.now().UTC()
		t := s.st.Txn()
		names := make([]string, len(b.domains))
		for i, host := range b.domains {
			d, rev, err := s.loadDomain(ctx, account(r), host)
			if err != nil {
				return err
			}
			t.Unchanged(store.DomainKey(d.Name), rev)
			names[i] = d.Name
		}
		usage, rev, err := s.st.GetRefreshUsage(ctx, account(r), now)
		if err != nil {
			return err
		}
		used := k.used(&usage)
		if *used+b.n > k.perDay {
			return k.quotaErr
		}
		*used += b.n
		t.Unchanged(store.RefreshUsageKey(account(r), now), rev).PutRefreshUsage(account(r), now, usage)
		for i, host := range b.domains {
			p := base
			p.AccountID, p.TaskID, p.Domain, p.Type = account(r), store.NewTaskID(now), names[i], k.store
			p.Paths, p.Created = b.paths[host], now
			for slices.Contains(ids, p.TaskID) {
				p.TaskID = store.NewTaskID(now)
			}
			ids = append(ids, p.TaskID)
			t.PutPurge(p)
		}
		_, err = t.Commit(ctx)
		return err
	})
	return ids, err
}
