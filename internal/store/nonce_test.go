package store

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func claim(t *testing.T, s *Store, ak, nonce string, want bool) {
	t.Helper()
	got, err := s.ClaimNonce(t.Context(), ak, nonce, 15*time.Minute)
	if err != nil {
		t.Fatalf("ClaimNonce(%s, %s): %v", ak, nonce, err)
	}
	if got != want {
		t.Fatalf("ClaimNonce(%s, %s) = %v, want %v", ak, nonce, got, want)
	}
}

func TestClaimNonce(t *testing.T) {
	st := newStore(t)
	claim(t, st, "AK1", "n-1", true)
	claim(t, st, "AK1", "n-1", false) // replay
	claim(t, st, "AK2", "n-1", true)  // same nonce, other key
	claim(t, st, "AK1", "n-2", true)  // same key, other nonce

	// The claim is in etcd, not in this process: a second store with its own
	// client and lease cache (another API node, or this one restarted) sees it.
	other := openExternal(t)
	claim(t, other, "AK1", "n-1", false)
	claim(t, other, "AK2", "n-1", false)
	claim(t, other, "AK1", "n-3", true)
	claim(t, st, "AK1", "n-3", false)
}

func TestClaimNonceConcurrent(t *testing.T) {
	st := newStore(t)
	other := openExternal(t)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		s := st
		if i%2 == 1 {
			s = other
		}
		wg.Go(func() {
			ok, err := s.ClaimNonce(t.Context(), "AK", "same", 15*time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of 8 concurrent claims of one nonce succeeded, want exactly 1", n)
	}
}

// The lease a nonce is attached to lasts at least the asked window, even when
// it is a shared lease reused later in its bucket.
func TestClaimNonceLeaseCoversTTL(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	for _, ttl := range []time.Duration{15 * time.Minute, 30 * time.Second, 0} {
		ak := "AK-" + ttl.String()
		claim2, err := st.ClaimNonce(ctx, ak, "n", ttl)
		if err != nil || !claim2 {
			t.Fatalf("ClaimNonce ttl %v = %v, %v", ttl, claim2, err)
		}
		resp, err := st.cli.Get(ctx, st.abs(Key(noncesDir+ak+"/")), clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
			t.Fatalf("ttl %v: nonce records %v, want one with a lease", ttl, resp.Kvs)
		}
		lr, err := st.cli.TimeToLive(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
		if err != nil {
			t.Fatal(err)
		}
		if lr.TTL < int64(ttl/time.Second) {
			t.Errorf("ttl %v: nonce lease has %d s left, less than asked", ttl, lr.TTL)
		}
		// Reused for up to a bucket after its grant, it must still cover ttl then.
		if lr.GrantedTTL < int64((ttl+nonceBucket)/time.Second) {
			t.Errorf("ttl %v: nonce lease granted for %d s, less than ttl + the %v reuse bucket", ttl, lr.GrantedTTL, nonceBucket)
		}
	}
}

// A lease that vanished (expired while etcd was away) is replaced.
func TestClaimNonceAfterLeaseLost(t *testing.T) {
	st := openExternal(t) // own lease cache: revoking it touches no other test
	ctx := t.Context()
	claim(t, st, "AK", "n-1", true)
	lost := st.nonces.id
	if _, err := st.cli.Revoke(ctx, lost); err != nil {
		t.Fatal(err)
	}
	claim(t, st, "AK", "n-2", true)
	claim(t, st, "AK", "n-2", false)
	if st.nonces.id == lost {
		t.Error("the lost lease is still cached")
	}
}
