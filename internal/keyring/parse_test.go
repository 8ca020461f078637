package keyring_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/cdnd/cdnd/internal/keyring"
)

func TestParseKeys(t *testing.T) {
	k1, line1, err := keyring.Generate()
	if err != nil {
		t.Fatal(err)
	}
	k2, line2, err := keyring.Generate()
	if err != nil {
		t.Fatal(err)
	}
	text := "\uFEFF# cdnd master keys; the first is current\r\n\n  " + line1 + "  \r\n# retired next month\n\t" + line2 + "\n\n"
	ring, err := keyring.ParseKeys([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if ring.CurrentID() != keyring.KeyID(k1) {
		t.Fatal("first key is not current")
	}
	s, err := mustNew(t, k2).Seal([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ring.Open(s, nil); err != nil || string(got) != "x" {
		t.Fatalf("second key is not usable for opening: %q, %v", got, err)
	}
	if !ring.NeedsRotation(s) {
		t.Fatal("data under the second key does not need rotation")
	}
}

func TestParseKeysBadInput(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(key(7))
	for _, tc := range []struct {
		name, text string
		secret     string // must not appear in the error
	}{
		{"empty", "", ""},
		{"only comments and blank lines", "# nothing\n\n   \n#", ""},
		{"not base64", good + "\nthis-is-not-base64!\n", good},
		{"URL-safe base64", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))},
		{"unpadded", strings.TrimRight(base64.StdEncoding.EncodeToString(key(8)[:31]), "="), ""},
		{"31 bytes", base64.StdEncoding.EncodeToString(key(8)[:31]), base64.StdEncoding.EncodeToString(key(8)[:31])},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(key(8), 8)), base64.StdEncoding.EncodeToString(append(key(8), 8))},
		{"16 bytes", base64.StdEncoding.EncodeToString(key(8)[:16]), base64.StdEncoding.EncodeToString(key(8)[:16])},
		{"hex instead of base64", strings.Repeat("ab", 32), strings.Repeat("ab", 32)},
		{"good key then a truncated one", good + "\n" + good[:20] + "\n", good},
		{"trailing comment on the key line", good + " # current", good},
		{"two keys on one line", good + " " + good, good},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring, err := keyring.ParseKeys([]byte(tc.text))
			if !errors.Is(err, keyring.ErrBadKey) || ring != nil {
				t.Fatalf("ParseKeys = %v, %v; want ErrBadKey", ring, err)
			}
			for _, line := range strings.Split(tc.text, "\n") {
				for _, field := range strings.Fields(line) {
					if len(field) >= 8 && strings.Contains(err.Error(), field[:8]) {
						t.Fatalf("error %q contains input %q", err, field[:8])
					}
				}
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret[:8]) {
				t.Fatalf("error %q contains key material", err)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	k, line, err := keyring.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if len(k) != 32 {
		t.Fatalf("key is %d bytes", len(k))
	}
	decoded, err := base64.StdEncoding.DecodeString(line)
	if err != nil || !bytes.Equal(decoded, k) {
		t.Fatalf("line %q is not the std base64 of the key", line)
	}
	k2, _, _ := keyring.Generate()
	if bytes.Equal(k, k2) {
		t.Fatal("two generated keys are equal")
	}
}

// TestErrorsNeverContainKeys drives every failing path with real key
// material around and checks the messages.
func TestErrorsNeverContainKeys(t *testing.T) {
	k, line, err := keyring.Generate()
	if err != nil {
		t.Fatal(err)
	}
	ring := mustNew(t, k)
	s, err := ring.Seal([]byte("the plaintext secret"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	_, e := keyring.ParseKeys([]byte(line + "\n" + line[:30]))
	errs = append(errs, e)
	_, e = keyring.ParseKeys([]byte(line + "!"))
	errs = append(errs, e)
	_, e = keyring.New(k[:31])
	errs = append(errs, e)
	_, e = keyring.New(k, k[:5])
	errs = append(errs, e)
	_, e = ring.Open(s, []byte("other"))
	errs = append(errs, e)
	_, e = ring.Open(keyring.Sealed{KeyID: "0011223344556677", Nonce: s.Nonce, Data: s.Data}, []byte("aad"))
	errs = append(errs, e)
	forbidden := []string{line[:12], line[12:24], line[24:40], string(k), "plaintext secret"}
	for i, e := range errs {
		if e == nil {
			t.Fatalf("case %d did not fail", i)
		}
		for _, f := range forbidden {
			if strings.Contains(e.Error(), f) {
				t.Errorf("case %d: error %q contains secret material", i, e)
			}
		}
	}
}
