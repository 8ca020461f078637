package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// etcd sends a watcher that starts more than 1000 revisions behind its
// catch-up in batches whose header carries the store's current revision,
// not the last revision of the batch's events. A mirror that advanced by the
// header would let WaitFor return before the later batches were applied,
// and a watch restarted from there would skip them for good.
func TestMirrorCatchUpAdvancesByEvents(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	first := commit(t, st.Txn().Put(MetaKey("m/0"), 0))
	const puts = 1500
	var last int64
	for i := 1; i <= puts; i++ {
		last = commit(t, st.Txn().Put(MetaKey(fmt.Sprintf("m/%d", i)), i))
	}

	batches := make(chan []RawKV)
	release := make(chan struct{})
	m := st.NewMirror(Key(metaDir+"m/"), func(reset bool, kvs []RawKV) {
		batches <- kvs
		<-release // hold every batch after the first until the test looks
	})
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		rev := first
		_ = m.watch(wctx, &rev)
	}()
	got := len(<-batches)
	if got >= puts {
		t.Skipf("etcd sent all %d events in one batch; the catch-up split this test needs did not happen", got)
	}
	release <- struct{}{} // the first batch returns; the mirror advances
	<-batches             // ...and the second is being applied, held here

	waitCtx, waitCancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer waitCancel()
	if err := m.WaitFor(waitCtx, last); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor(%d) = %v with only %d of %d events applied; want it to wait", last, err, got, puts)
	}
	cancel()
	close(release)
	for {
		select {
		case <-batches:
		case <-done:
			return
		}
	}
}
