package keyring_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cdnd/cdnd/internal/keyring"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func mustNew(t testing.TB, current []byte, older ...[]byte) *keyring.Keyring {
	t.Helper()
	k, err := keyring.New(current, older...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyID(t *testing.T) {
	// Computed independently: printf 'cdnd keyring id' ; printf '\x01%.0s' {1..32} | sha256sum | cut -c1-16
	if got, want := keyring.KeyID(key(1)), "e13e2958e560d362"; got != want {
		t.Errorf("KeyID = %s, want %s", got, want)
	}
	first, again, other := keyring.KeyID(key(1)), keyring.KeyID(bytes.Clone(key(1))), keyring.KeyID(key(2))
	if first != again || first == other {
		t.Error("KeyID is not a deterministic function of the key")
	}
	if got := mustNew(t, key(1), key(2)).CurrentID(); got != keyring.KeyID(key(1)) {
		t.Errorf("CurrentID = %s, want the first key's id", got)
	}
}

func TestRoundTrip(t *testing.T) {
	k := mustNew(t, key(1))
	for _, plaintext := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("secret"), 1000)} {
		aad := []byte("cert/1234/my-cert")
		s, err := k.Seal(plaintext, aad)
		if err != nil {
			t.Fatal(err)
		}
		if s.KeyID != k.CurrentID() || len(s.Nonce) != 12 || len(s.Data) != len(plaintext)+16 {
			t.Fatalf("sealed shape: kid %s, nonce %d bytes, data %d bytes", s.KeyID, len(s.Nonce), len(s.Data))
		}
		// A short plaintext turns up in random ciphertext by chance (one
		// byte in 17 about one run in 15): only a longer one proves a leak.
		if len(plaintext) >= 8 && bytes.Contains(s.Data, plaintext) {
			t.Fatal("plaintext visible in sealed data")
		}
		got, err := k.Open(s, aad)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plaintext) {
			t.Fatalf("Open = %q, want %q", got, plaintext)
		}
		if k.NeedsRotation(s) {
			t.Error("freshly sealed data needs rotation")
		}
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	k := mustNew(t, key(1))
	a, _ := k.Seal([]byte("same"), nil)
	b, _ := k.Seal([]byte("same"), nil)
	if bytes.Equal(a.Nonce, b.Nonce) || bytes.Equal(a.Data, b.Data) {
		t.Fatal("two seals of the same plaintext are identical")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	k := mustNew(t, key(1))
	s, err := k.Seal([]byte("secret"), []byte("ak/LTAI"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kid", "n", "d"} {
		if _, ok := fields[name]; !ok {
			t.Errorf("JSON %s has no %q field", raw, name)
		}
	}
	var back keyring.Sealed
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	got, err := k.Open(back, []byte("ak/LTAI"))
	if err != nil || string(got) != "secret" {
		t.Fatalf("Open after JSON = %q, %v", got, err)
	}
}

func TestOpenFailures(t *testing.T) {
	k := mustNew(t, key(1), key(2))
	aad := []byte("cert/1/a")
	s, err := k.Seal([]byte("private key"), aad)
	if err != nil {
		t.Fatal(err)
	}
	sealedWithOlder, err := mustNew(t, key(2)).Seal([]byte("private key"), aad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 1
		return b
	}
	for _, tc := range []struct {
		name string
		s    keyring.Sealed
		aad  []byte
		want error
	}{
		{"wrong aad", s, []byte("cert/1/b"), keyring.ErrOpen},
		{"aad prefix", s, []byte("cert/1/"), keyring.ErrOpen},
		{"aad longer", s, []byte("cert/1/aa"), keyring.ErrOpen},
		{"no aad", s, nil, keyring.ErrOpen},
		{"first data byte flipped", keyring.Sealed{KeyID: s.KeyID, Nonce: s.Nonce, Data: flip(s.Data, 0)}, aad, keyring.ErrOpen},
		{"tag byte flipped", keyring.Sealed{KeyID: s.KeyID, Nonce: s.Nonce, Data: flip(s.Data, len(s.Data)-1)}, aad, keyring.ErrOpen},
		{"nonce byte flipped", keyring.Sealed{KeyID: s.KeyID, Nonce: flip(s.Nonce, 5), Data: s.Data}, aad, keyring.ErrOpen},
		{"data truncated", keyring.Sealed{KeyID: s.KeyID, Nonce: s.Nonce, Data: s.Data[:len(s.Data)-1]}, aad, keyring.ErrOpen},
		{"data shorter than a tag", keyring.Sealed{KeyID: s.KeyID, Nonce: s.Nonce, Data: s.Data[:3]}, aad, keyring.ErrOpen},
		{"data empty", keyring.Sealed{KeyID: s.KeyID, Nonce: s.Nonce}, aad, keyring.ErrOpen},
		{"data extended", keyring.Sealed{KeyID: s.KeyID, Nonce: s.Nonce, Data: append(bytes.Clone(s.Data), 0)}, aad, keyring.ErrOpen},
		{"nonce short", keyring.Sealed{KeyID: s.KeyID, Nonce: s.Nonce[:11], Data: s.Data}, aad, keyring.ErrOpen},
		{"nonce long", keyring.Sealed{KeyID: s.KeyID, Nonce: append(bytes.Clone(s.Nonce), 0), Data: s.Data}, aad, keyring.ErrOpen},
		{"nonce missing", keyring.Sealed{KeyID: s.KeyID, Data: s.Data}, aad, keyring.ErrOpen},
		// Both keys are held, so only the id binding in the associated
		// data can catch a relabelled blob.
		{"relabelled with the older key's id", keyring.Sealed{KeyID: keyring.KeyID(key(2)), Nonce: s.Nonce, Data: s.Data}, aad, keyring.ErrOpen},
		{"older blob relabelled with the current id", keyring.Sealed{KeyID: k.CurrentID(), Nonce: sealedWithOlder.Nonce, Data: sealedWithOlder.Data}, aad, keyring.ErrOpen},
		{"unknown key id", keyring.Sealed{KeyID: keyring.KeyID(key(3)), Nonce: s.Nonce, Data: s.Data}, aad, keyring.ErrUnknownKey},
		{"empty key id", keyring.Sealed{Nonce: s.Nonce, Data: s.Data}, aad, keyring.ErrUnknownKey},
		{"zero value", keyring.Sealed{}, aad, keyring.ErrUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := k.Open(tc.s, tc.aad)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if got != nil {
				t.Fatal("plaintext returned with an error")
			}
		})
	}
	if got, err := k.Open(sealedWithOlder, aad); err != nil || string(got) != "private key" {
		t.Fatalf("untampered older blob: %q, %v", got, err)
	}
}

func TestUnknownKeyErrorNamesTheID(t *testing.T) {
	k := mustNew(t, key(1))
	id := keyring.KeyID(key(9))
	_, err := k.Open(keyring.Sealed{KeyID: id}, nil)
	if !strings.Contains(err.Error(), id) {
		t.Errorf("error %q does not name the key id %s", err, id)
	}
	_, err = k.Open(keyring.Sealed{KeyID: strings.Repeat("f", 10000)}, nil)
	if !errors.Is(err, keyring.ErrUnknownKey) || len(err.Error()) > 200 {
		t.Errorf("error for a huge id: %d bytes", len(err.Error()))
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKey := key(1), key(2)
	before := mustNew(t, oldKey)
	aad := []byte("ak/LTAIexample")
	s, err := before.Seal([]byte("access key secret"), aad)
	if err != nil {
		t.Fatal(err)
	}

	after := mustNew(t, newKey, oldKey)
	if !after.NeedsRotation(s) {
		t.Fatal("data sealed with the old key does not need rotation")
	}
	plaintext, err := after.Open(s, aad)
	if err != nil || string(plaintext) != "access key secret" {
		t.Fatalf("rotated keyring cannot open old data: %q, %v", plaintext, err)
	}
	resealed, err := after.Seal(plaintext, aad)
	if err != nil {
		t.Fatal(err)
	}
	if after.NeedsRotation(resealed) || resealed.KeyID != keyring.KeyID(newKey) {
		t.Fatal("re-sealed data is not under the new key")
	}

	// Once the old key is retired, old data is ErrUnknownKey and new data
	// still opens.
	retired := mustNew(t, newKey)
	if _, err := retired.Open(s, aad); !errors.Is(err, keyring.ErrUnknownKey) {
		t.Fatalf("retired key: err = %v, want ErrUnknownKey", err)
	}
	if _, err := retired.Open(resealed, aad); err != nil {
		t.Fatalf("re-sealed data after retiring the old key: %v", err)
	}
	// And the old keyring cannot open what the new key sealed.
	if _, err := before.Open(resealed, aad); !errors.Is(err, keyring.ErrUnknownKey) {
		t.Fatalf("old keyring on new data: err = %v, want ErrUnknownKey", err)
	}
}

func TestNewBadKeys(t *testing.T) {
	for _, tc := range []struct {
		name    string
		current []byte
		older   [][]byte
	}{
		{"nil current", nil, nil},
		{"empty current", []byte{}, nil},
		{"16-byte current (AES-128)", make([]byte, 16), nil},
		{"24-byte current (AES-192)", make([]byte, 24), nil},
		{"31-byte current", make([]byte, 31), nil},
		{"33-byte current", make([]byte, 33), nil},
		{"64-byte current", make([]byte, 64), nil},
		{"bad older", key(1), [][]byte{key(2), make([]byte, 31)}},
		{"nil older", key(1), [][]byte{nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := keyring.New(tc.current, tc.older...)
			if !errors.Is(err, keyring.ErrBadKey) || k != nil {
				t.Fatalf("New = %v, %v; want ErrBadKey", k, err)
			}
		})
	}
	if _, err := keyring.New(key(1), key(1), key(2), key(2)); err != nil {
		t.Errorf("repeated keys: %v", err)
	}
}
