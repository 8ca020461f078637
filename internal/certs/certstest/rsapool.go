package certstest

import (
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"
)

// A 2048-bit RSA key takes tens of milliseconds to generate; a test suite
// issuing hundreds of RSA certificates would spend most of its time there.
// Keys are therefore generated on first need and reused across tests, while
// each testing.TB gets distinct keys (its first RSA leaf pool key 0, its
// second pool key 1, ...), so that a test pairing one RSA leaf with
// another's key sees a real mismatch.

var rsaPool struct {
	sync.Mutex
	keys []*rsa.PrivateKey
	next map[testing.TB]int
}

// rsaKey returns the next pool key for t, generating it if needed.
func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaPool.Lock()
	defer rsaPool.Unlock()
	if rsaPool.next == nil {
		rsaPool.next = make(map[testing.TB]int)
	}
	n, seen := rsaPool.next[t]
	if !seen {
		t.Cleanup(func() {
			rsaPool.Lock()
			delete(rsaPool.next, t)
			rsaPool.Unlock()
		})
	}
	rsaPool.next[t] = n + 1
	for len(rsaPool.keys) <= n {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatalf("certstest: generate RSA key: %v", err)
		}
		rsaPool.keys = append(rsaPool.keys, key)
	}
	return rsaPool.keys[n]
}
