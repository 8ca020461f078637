package store

import (
	"errors"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A call's tasks and the day's usage commit in one transaction with the
// call's nonce and audit record; the tasks are served records (in a load
// and in the watch, named by their key), kept under a lease of at least
// PurgeRetention, and a task id is never written twice.
func TestPurgeRecords(t *testing.T) {
	st := newStore(t)
	now := time.Now().UTC()
	p := Purge{AccountID: "1", TaskID: NewTaskID(now), Domain: "a.example", Type: PurgeFile, Paths: []string{"http://a.example/x"}, Created: now}
	ctx, call := st.BeginCall(t.Context(), callRecord("purge1"))
	rev, err := st.Txn().PutPurge(p).PutRefreshUsage("1", now, RefreshUsage{URLs: 1}).Commit(ctx)
	if err != nil || !call.Committed() {
		t.Fatalf("commit: %v", err)
	}
	var r rec
	if got, err := st.Get(t.Context(), callRecord("purge1").RecordKey, &r); err != nil || got != rev {
		t.Fatalf("the audit record at %d (%v), the tasks at %d", got, err, rev)
	}

	s, err := st.LoadServed(t.Context())
	if err != nil || len(s.Purges) != 1 || s.Purges[0].TaskID != p.TaskID || s.Purges[0].AccountID != "1" || s.Purges[0].Paths[0] != p.Paths[0] {
		t.Fatalf("load: %+v, %v", s, err)
	}
	got, err := st.GetPurges(t.Context(), "1", []string{p.TaskID, "12345"})
	if err != nil || len(got) != 1 || got[0].Revision != rev {
		t.Fatalf("GetPurges: %+v, %v", got, err)
	}
	if other, err := st.GetPurges(t.Context(), "2", []string{p.TaskID}); err != nil || len(other) != 0 {
		t.Fatalf("another account's GetPurges: %+v, %v", other, err)
	}
	u, urev, err := st.GetRefreshUsage(t.Context(), "1", now)
	if err != nil || u.URLs != 1 || urev != rev {
		t.Fatalf("usage %+v at %d, %v", u, urev, err)
	}

	resp, err := st.cli.Get(t.Context(), st.abs(PurgeKey("1", p.TaskID)))
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("the task's key: %+v, %v", resp, err)
	}
	ttl, err := st.cli.TimeToLive(t.Context(), clientv3.LeaseID(resp.Kvs[0].Lease))
	if err != nil || time.Duration(ttl.TTL)*time.Second < PurgeRetention-time.Minute {
		t.Fatalf("the task's lease: %+v, %v", ttl, err)
	}

	if _, err := st.Txn().PutPurge(p).Commit(t.Context()); !errors.Is(err, ErrConflict) {
		t.Fatalf("the same task id again: %v", err)
	}
}

// Task ids grow with time; an account's tasks list oldest first, also
// when a later id has more digits (its key sorts first as text).
func TestTasksListOldestFirst(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		a, _ := strconv.ParseInt(NewTaskID(t0.Add(time.Duration(i)*time.Millisecond)), 10, 64)
		b, _ := strconv.ParseInt(NewTaskID(t0.Add(time.Duration(i+1)*time.Millisecond)), 10, 64)
		if a >= b || b >= 1<<53 {
			t.Fatalf("%d then %d", a, b)
		}
	}
	st := newStore(t)
	for _, p := range []Purge{{TaskID: "999", Created: t0}, {TaskID: "1000", Created: t0.Add(time.Second)}} {
		p.AccountID, p.Domain, p.Type = "1", "a.example", PurgeFile
		commit(t, st.Txn().PutPurge(p))
	}
	got, err := st.ListPurges(t.Context(), "1")
	if err != nil || len(got) != 2 || got[0].Value.TaskID != "999" || got[1].Value.TaskID != "1000" {
		t.Fatalf("ListPurges: %+v, %v", got, err)
	}
}
