package store

import (
	"fmt"
	"slices"
	"testing"
)

func TestAccountDomains(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	const acct, other = "1000000000000001", "1000000000000002"
	const n = 230 // three reads of GetDomains: 100, 100, 30

	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("d%03d.example.com", i))
	}
	// etcd bounds a transaction to 128 operations: write 50 domains at a time.
	for start := 0; start < n; start += 50 {
		txn := st.Txn()
		for _, name := range names[start:min(start+50, n)] {
			txn.Put(DomainKey(name), Domain{Name: name, AccountID: acct, Status: "online"}).Put(OwnerKey(acct, name), struct{}{})
		}
		commit(t, txn)
	}
	txn := st.Txn()
	for i := range 5 {
		name := fmt.Sprintf("o%d.example.org", i)
		txn.Put(DomainKey(name), Domain{Name: name, AccountID: other}).Put(OwnerKey(other, name), struct{}{})
	}
	commit(t, txn)

	for account, want := range map[string]int64{acct: n, other: 5, "1000000000000003": 0} {
		if got, err := st.CountDomains(ctx, account); err != nil || got != want {
			t.Errorf("CountDomains(%s) = %d, %v; want %d", account, got, err, want)
		}
	}
	got, err := st.DomainsOf(ctx, acct)
	if err != nil || !slices.Equal(got, names) { // names are in name order
		t.Fatalf("DomainsOf = %d names (%v), want the %d in name order", len(got), err, n)
	}
	if got, _ := st.DomainsOf(ctx, other); len(got) != 5 || got[0] != "o0.example.org" {
		t.Errorf("DomainsOf(other) = %v", got)
	}

	// Ask for every domain in reverse, with missing names mixed in.
	var ask []string
	for i := n - 1; i >= 0; i-- {
		ask = append(ask, names[i])
		if i%40 == 0 {
			ask = append(ask, fmt.Sprintf("missing%d.example.com", i))
		}
	}
	ds, err := st.GetDomains(ctx, ask)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != n {
		t.Fatalf("GetDomains returned %d domains, want %d", len(ds), n)
	}
	for i, d := range ds {
		if want := names[n-1-i]; d.Value.Name != want || d.Value.AccountID != acct || d.Revision == 0 {
			t.Fatalf("GetDomains[%d] = %+v, want %s", i, d, want)
		}
	}
	if ds, err := st.GetDomains(ctx, nil); err != nil || len(ds) != 0 {
		t.Errorf("GetDomains(nil) = %v, %v", ds, err)
	}
}
