package keyring

import (
	"bytes"
	"errors"
	"testing"
)

// Run with: go test -run=^$ -fuzz=FuzzOpen -fuzztime=10s ./internal/keyring/

// genuine is a seal made by this package, with what it must open to.
type genuine struct {
	s         Sealed
	aad       []byte
	plaintext []byte
}

// fuzzRing returns a fixed keyring and seals made with fixed nonces, so that
// every fuzz worker process (and every later run reading the cached corpus)
// agrees on which inputs are genuine.
func fuzzRing(t testing.TB) (*Keyring, []genuine) {
	current, older := bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, KeySize)
	k, err := New(current, older)
	if err != nil {
		t.Fatal(err)
	}
	var out []genuine
	for i, kid := range []string{KeyID(current), KeyID(older)} {
		for j, pt := range [][]byte{nil, []byte("secret"), bytes.Repeat([]byte("-----BEGIN PRIVATE KEY-----"), 10)} {
			nonce := bytes.Repeat([]byte{byte(16*i + j)}, 12)
			aad := []byte("cert/1/name")
			out = append(out, genuine{k.sealWithNonce(kid, nonce, pt, aad), aad, pt})
		}
	}
	return k, out
}

func FuzzOpen(f *testing.F) {
	k, seals := fuzzRing(f)
	for _, g := range seals {
		f.Add(g.s.KeyID, g.s.Nonce, g.s.Data, g.aad)
	}
	f.Add("", []byte(nil), []byte(nil), []byte(nil))
	f.Add(KeyID(bytes.Repeat([]byte{3}, KeySize)), make([]byte, 12), make([]byte, 16), []byte("x"))

	f.Fuzz(func(t *testing.T, kid string, nonce, data, aad []byte) {
		s := Sealed{KeyID: kid, Nonce: nonce, Data: data}
		plaintext, err := k.Open(s, aad)
		if err != nil {
			if plaintext != nil {
				t.Fatal("plaintext returned with an error")
			}
			_, held := k.aeads[kid]
			if held && !errors.Is(err, ErrOpen) || !held && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("error %v for held=%v", err, held)
			}
			return
		}
		for _, g := range seals {
			if g.s.KeyID == kid && bytes.Equal(g.s.Nonce, nonce) && bytes.Equal(g.s.Data, data) && bytes.Equal(g.aad, aad) {
				if !bytes.Equal(plaintext, g.plaintext) {
					t.Fatalf("genuine seal opened to %q, want %q", plaintext, g.plaintext)
				}
				return
			}
		}
		t.Fatalf("Open accepted data that Seal did not produce: %+v aad %q", s, aad)
	})
}

// TestSealWithNonceIsSeal pins that the deterministic seals FuzzOpen relies
// on are what Seal produces apart from the nonce.
func TestSealWithNonceIsSeal(t *testing.T) {
	k, _ := fuzzRing(t)
	s, err := k.Seal([]byte("p"), []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	again := k.sealWithNonce(s.KeyID, s.Nonce, []byte("p"), []byte("a"))
	if again.KeyID != s.KeyID || !bytes.Equal(again.Data, s.Data) {
		t.Fatal("sealWithNonce differs from Seal")
	}
}
