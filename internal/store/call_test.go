package store

import (
	"errors"
	"testing"
	"time"
)

func callRecord(nonce string) CallRecord {
	return CallRecord{AccessKeyID: "LTAIcall", Nonce: nonce, NonceTTL: time.Minute,
		RecordKey: AuditKey(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), "req-"+nonce), Record: rec{7, nonce}, Retention: time.Hour}
}

// A call's change, its nonce claim and its record commit in one
// transaction: one revision, all or nothing.
func TestCallCommitsWithTheChange(t *testing.T) {
	st := newStore(t)
	ctx, call := st.BeginCall(t.Context(), callRecord("n1"))
	before, _ := st.Revision(t.Context())
	rev, err := st.Txn().Put("x/a", rec{1, "one"}).Commit(ctx)
	if err != nil || rev != before+1 || !call.Committed() || call.Replayed() {
		t.Fatalf("commit: rev %d (before %d), %v, committed %v", rev, before, err, call.Committed())
	}
	var got rec
	if r, err := st.Get(t.Context(), callRecord("n1").RecordKey, &got); err != nil || r != rev || got.S != "n1" {
		t.Fatalf("record: %+v at %d, %v", got, r, err)
	}
	// A later commit of the same call carries nothing more.
	rev2, err := st.Txn().Put("x/b", rec{2, "two"}).Commit(ctx)
	if err != nil || rev2 != rev+1 {
		t.Fatalf("second commit: %d, %v", rev2, err)
	}
	if fresh, _ := st.ClaimNonce(t.Context(), "LTAIcall", "n1", time.Minute); fresh {
		t.Fatal("the call's commit did not claim its nonce")
	}
}

// A replay's change writes nothing and says why; a conflict leaves the
// bookkeeping for the retry.
func TestCallReplayAndConflict(t *testing.T) {
	st := newStore(t)
	if fresh, err := st.ClaimNonce(t.Context(), "LTAIcall", "used", time.Minute); !fresh || err != nil {
		t.Fatal(fresh, err)
	}
	ctx, call := st.BeginCall(t.Context(), callRecord("used"))
	if _, err := st.Txn().Put("x/replayed", rec{}).Commit(ctx); !errors.Is(err, ErrNonceUsed) || !call.Replayed() {
		t.Fatalf("replay: %v, replayed %v", err, call.Replayed())
	}
	if _, err := st.Get(t.Context(), "x/replayed", &rec{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a replay wrote its change: %v", err)
	}

	ctx, call = st.BeginCall(t.Context(), callRecord("n2"))
	commit(t, st.Txn().Put("x/c", rec{}))
	if _, err := st.Txn().Unchanged("x/c", 0).Put("x/c", rec{}).Commit(ctx); !errors.Is(err, ErrConflict) || call.Committed() || call.Replayed() {
		t.Fatalf("conflict: %v", err)
	}
	if _, err := st.Get(t.Context(), callRecord("n2").RecordKey, &rec{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a conflicting commit kept the record: %v", err)
	}
	if _, err := st.Txn().Put("x/d", rec{}).Commit(ctx); err != nil || !call.Committed() {
		t.Fatalf("retry: %v", err)
	}
}

// A call that commits nothing itself finishes with the claim and the
// record in one commit; a replayed one writes nothing.
func TestCallFinish(t *testing.T) {
	st := newStore(t)
	_, call := st.BeginCall(t.Context(), callRecord("n3"))
	before, _ := st.Revision(t.Context())
	if err := call.Finish(t.Context(), rec{9, "failed"}); err != nil {
		t.Fatal(err)
	}
	var got rec
	if r, err := st.Get(t.Context(), callRecord("n3").RecordKey, &got); err != nil || r != before+1 || got.N != 9 {
		t.Fatalf("record: %+v at %d (before %d), %v", got, r, before, err)
	}
	_, again := st.BeginCall(t.Context(), callRecord("n3"))
	if err := again.Finish(t.Context(), rec{}); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("finishing a replay: %v", err)
	}
}
