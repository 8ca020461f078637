package store

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// PurgeRetention is how long a purge record is kept: the three days of
// task history Alibaba Cloud CDN's DescribeRefreshTasks answers from
// (https://www.alibabacloud.com/help/en/cdn/developer-reference/api-cdn-2018-05-10-describerefreshtasks).
// An edge trusts what it cached for less than this (edge/purge.go).
const PurgeRetention = 72 * time.Hour

// Purge is one refresh (RefreshObjectCaches) or prefetch (PushObjectCache)
// task: the object paths of one call for one domain. It lives under
// served/ so that every edge applies it from the watch that carries the
// domains, and its revision, once an edge reports it applied, says that
// edge is done.
type Purge struct {
	// AccountID and TaskID name the record; the key decides them when it
	// is read back.
	AccountID string `json:"account"`
	TaskID    string `json:"id"`
	Domain    string `json:"domain"`
	// Type is file, directory, regex, ignoreParams or preload.
	Type string `json:"type"`
	// Paths are the object paths as the caller gave them (URLs).
	Paths   []string  `json:"paths"`
	Force   bool      `json:"force,omitempty"`
	Area    string    `json:"area,omitempty"`
	Header  string    `json:"header,omitempty"` // WithHeader of a prefetch
	Created time.Time `json:"created"`
}

// The task types of Purge.Type, in Alibaba's lower-case form
// (DescribeRefreshTaskById's ObjectType).
const (
	PurgeFile         = "file"
	PurgeDirectory    = "directory"
	PurgeRegex        = "regex"
	PurgeIgnoreParams = "ignoreParams"
	PurgePreload      = "preload"
)

// PurgeKey is where a task of an account lives.
func PurgeKey(account, taskID string) Key { return Key(purgesDir + account + "/" + taskID) }

// PurgesPrefix lists one account's tasks, in task id order (oldest first:
// ids grow with time, NewTaskID).
func PurgesPrefix(account string) Key { return Key(purgesDir + account + "/") }

// NewTaskID is a task id for a task created at t: decimal like Alibaba's,
// growing with time so that an account's tasks list in order, below 2^53
// so JavaScript clients read it exactly. Two calls in the same millisecond
// may draw the same id; PutPurge's compare refuses the second.
func NewTaskID(t time.Time) string {
	return strconv.FormatInt((t.UnixMilli()-taskEpoch)*1000+rand.Int64N(1000), 10)
}

// taskEpoch keeps task ids short: 2026-01-01T00:00:00Z.
const taskEpoch = 1767225600000

// PutPurge writes p (kept PurgeRetention), if no task has its id.
func (t *Txn) PutPurge(p Purge) *Txn {
	k := PurgeKey(p.AccountID, p.TaskID)
	b, err := json.Marshal(p)
	if err != nil && t.err == nil {
		t.err = err
	}
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.CreateRevision(t.s.abs(k)), "=", 0))
	t.purges = append(t.purges, clientv3.OpPut(t.s.abs(k), string(b)))
	return t
}

// GetPurges reads the named tasks of account with the revision each was
// written at; a task that does not exist (or is another account's) is left
// out.
func (s *Store) GetPurges(ctx context.Context, account string, ids []string) ([]Versioned[Purge], error) {
	keys := make([]Key, len(ids))
	for i, id := range ids {
		keys[i] = PurgeKey(account, id)
	}
	found, err := getMany[Purge](ctx, s, keys)
	if err != nil {
		return nil, err
	}
	var out []Versioned[Purge]
	for i, k := range keys {
		if v, ok := found[k]; ok && v.Revision != 0 {
			v.Value.AccountID, v.Value.TaskID = account, ids[i]
			out = append(out, v)
		}
	}
	return out, nil
}

// ListPurges reads every task of account, oldest first.
func (s *Store) ListPurges(ctx context.Context, account string) ([]Versioned[Purge], error) {
	keyed, err := s.cli.Get(lead(ctx), s.abs(PurgesPrefix(account)), clientv3.WithPrefix())
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]Versioned[Purge], 0, len(keyed.Kvs))
	for _, kv := range keyed.Kvs {
		var p Purge
		if err := decode(kv.Key, kv.Value, &p); err != nil {
			return nil, err
		}
		p.AccountID = account
		p.TaskID = string(kv.Key[len(s.abs(PurgesPrefix(account))):])
		out = append(out, Versioned[Purge]{Value: p, Revision: kv.ModRevision})
	}
	return out, nil
}

// RefreshUsage is what an account's tasks used of its daily quotas on one
// day (UTC), kept as long as its tasks.
type RefreshUsage struct {
	URLs         int `json:"urls,omitempty"`
	Directories  int `json:"dirs,omitempty"`
	Regex        int `json:"regex,omitempty"`
	IgnoreParams int `json:"ignoreParams,omitempty"`
	Preload      int `json:"preload,omitempty"`
}

// RefreshUsageKey is where an account's usage on the day of t lives.
func RefreshUsageKey(account string, t time.Time) Key {
	return Key(quotasDir + account + "/" + t.UTC().Format("20060102"))
}

// GetRefreshUsage reads an account's usage on the day of t with the
// revision it was written at (0 and nothing used when the day has none).
func (s *Store) GetRefreshUsage(ctx context.Context, account string, t time.Time) (RefreshUsage, int64, error) {
	var u RefreshUsage
	rev, err := s.Get(ctx, RefreshUsageKey(account, t), &u)
	if err == ErrNotFound {
		return RefreshUsage{}, 0, nil
	}
	return u, rev, err
}

// PutRefreshUsage writes an account's usage on the day of t, kept past the
// day's end under the purge lease.
func (t *Txn) PutRefreshUsage(account string, day time.Time, u RefreshUsage) *Txn {
	k := RefreshUsageKey(account, day)
	b, err := json.Marshal(u)
	if err != nil && t.err == nil {
		t.err = err
	}
	t.purges = append(t.purges, clientv3.OpPut(t.s.abs(k), string(b)))
	return t
}
