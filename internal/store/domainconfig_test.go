package store

import (
	"errors"
	"testing"
)

func testConfigs(domain string, fns ...string) DomainConfigs {
	c := DomainConfigs{Domain: domain}
	for _, fn := range fns {
		c.Configs = append(c.Configs, FunctionConfig{ConfigID: c.NewConfigID(), Function: fn, Args: []FunctionArg{{"enable", "on"}}})
	}
	return c
}

// A batch over several domains is one transaction that also carries the
// call's nonce and audit record: one revision when it commits; nothing at
// all, bookkeeping included, when one domain changed under it.
func TestDomainConfigsBatchAllOrNothing(t *testing.T) {
	st := newStore(t)
	commit(t, st.Txn().PutDomainConfigs(testConfigs("b.example", "HSTS")))
	got, err := st.GetDomainConfigs(t.Context(), []string{"a.example", "b.example"})
	if err != nil || len(got) != 2 || got[0].Revision != 0 || got[1].Revision == 0 || got[1].Value.Domain != "b.example" {
		t.Fatalf("read: %+v, %v", got, err)
	}

	batch := func() *Txn {
		t := st.Txn()
		for _, v := range got {
			c := v.Value
			c.Configs = append(c.Configs, testConfigs(c.Domain, "https_force").Configs...)
			t.Unchanged(DomainConfigsKey(c.Domain), v.Revision).PutDomainConfigs(c)
		}
		return t
	}
	// b changes between the read and the commit: the batch writes nothing.
	commit(t, st.Txn().PutDomainConfigs(testConfigs("b.example", "http_force")))
	ctx, call := st.BeginCall(t.Context(), callRecord("batch1"))
	if _, err := batch().Commit(ctx); !errors.Is(err, ErrConflict) || call.Committed() {
		t.Fatalf("conflicting batch: %v", err)
	}
	if _, err := st.Get(t.Context(), DomainConfigsKey("a.example"), &DomainConfigs{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the failed batch wrote a's configs: %v", err)
	}
	if _, err := st.Get(t.Context(), callRecord("batch1").RecordKey, &rec{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the failed batch kept its audit record: %v", err)
	}

	got, _ = st.GetDomainConfigs(t.Context(), []string{"a.example", "b.example"})
	rev, err := batch().Commit(ctx)
	if err != nil || !call.Committed() {
		t.Fatalf("batch: %v", err)
	}
	after, _ := st.GetDomainConfigs(t.Context(), []string{"a.example", "b.example"})
	for _, v := range after {
		if v.Revision != rev {
			t.Fatalf("%s at %d, the batch committed at %d", v.Value.Domain, v.Revision, rev)
		}
	}
	if n := len(after[1].Value.Configs); n != 2 {
		t.Fatalf("b has %d configs, want 2", n)
	}
	if r, err := st.Get(t.Context(), callRecord("batch1").RecordKey, &rec{}); err != nil || r != rev {
		t.Fatalf("audit record at %d, %v; batch at %d", r, err, rev)
	}
}

// The configs are served: a full load carries them with their domain's
// name, the watch delivers them in the revision of the domain written with
// them, and removing the last config removes the record.
func TestDomainConfigsServed(t *testing.T) {
	st := newStore(t)
	start, _ := st.Revision(t.Context())
	calls, _ := watchAsync(t, st, start)
	d := testDomain("c.example", "acct", "")
	rev := commit(t, st.Txn().Put(DomainKey(d.Name), d).PutDomainConfigs(testConfigs(d.Name, "HSTS")))
	a := next(t, calls)
	if a.rev != rev || len(a.changes) != 2 || a.changes[1].Configs == nil || a.changes[1].Configs.Domain != "c.example" ||
		a.changes[1].Configs.Configs[0].Arg("enable") != "on" {
		t.Fatalf("watch: %+v", a)
	}
	s, err := st.LoadServed(t.Context())
	if err != nil || len(s.Configs) != 1 || s.Configs[0].Domain != "c.example" {
		t.Fatalf("load: %+v, %v", s, err)
	}
	commit(t, st.Txn().PutDomainConfigs(DomainConfigs{Domain: d.Name}))
	if a := next(t, calls); len(a.changes) != 1 || !a.changes[0].Deleted || a.changes[0].Configs.Domain != "c.example" {
		t.Fatalf("removal: %+v", a)
	}
}

func TestNewConfigIDUnique(t *testing.T) {
	var c DomainConfigs
	for range 1000 {
		id := c.NewConfigID()
		if c.Index(id) >= 0 || id < 1_000_000 || id >= 1<<53 {
			t.Fatalf("id %d", id)
		}
		c.Configs = append(c.Configs, FunctionConfig{ConfigID: id})
	}
}
