package certs_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/certs/certstest"
)

// leaked returns a piece of the base64 body of input found in msg, or "".
// Any 8 consecutive base64 characters (6 bytes of key) count: shorter runs
// occur by chance in plain words.
func leaked(msg, input string) string {
	const window = 8
	body := base64Body([]byte(input))
	for i := 0; i+window <= len(body); i++ {
		if strings.Contains(msg, body[i:i+window]) {
			return body[i : i+window]
		}
	}
	return ""
}

// longBase64Run returns the first run of 16 or more base64 characters in
// msg. Error messages are fixed words, line numbers and type names, so such
// a run can only be input echoed back.
func longBase64Run(msg string) string {
	run := 0
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=' {
			run++
			if run >= 16 {
				return msg[i+1-run : i+1]
			}
		} else {
			run = 0
		}
	}
	return ""
}

// truncatedDER keeps the first half of a key's base64 (whole quanta, so it
// still decodes) inside intact PEM armour.
func truncatedDER(keyPEM string) string {
	b := base64Body([]byte(keyPEM))
	return "-----BEGIN PRIVATE KEY-----\n" + b[:len(b)/8*4] + "\n-----END PRIVATE KEY-----\n"
}

func TestKeyErrorsDoNotLeakKeyMaterial(t *testing.T) {
	now := time.Now()
	chainPEM, ecKey := certstest.Valid(t, "leak.example")
	_, rsaKey := certstest.Issue(t, "rsa", now, now.Add(time.Hour), "leak.example")
	_, edKey := certstest.Issue(t, "ed25519", now, now.Add(time.Hour), "leak.example")

	var inputs []string
	for _, key := range [][]byte{ecKey, rsaKey, edKey} {
		s := string(key)
		lines := strings.Split(s, "\n")
		inputs = append(inputs,
			strings.Join(lines[:len(lines)-2], "\n"), // no END line
			truncatedDER(s),
			s+"trailing words\n",
			"leading words\n"+s,
			strings.Replace(s, "PRIVATE KEY", "RSA PRIVATE KEY", 2),        // wrong label
			strings.Replace(s, "PRIVATE KEY", "EC PRIVATE KEY", 2),         // wrong label
			strings.Replace(s, "PRIVATE KEY", "DSA PRIVATE KEY", 2),        // unsupported label
			strings.Replace(s, "PRIVATE KEY", "SECRET PRIVATE KEY", 2),     // unknown label
			strings.Replace(s, "\n", "\nProc-Type: 4,ENCRYPTED\n", 1),      // claims encryption
			strings.Replace(s, "-----\n", "-----\n"+lines[1][:10]+"\n", 1), // a short line
			string(chainPEM)+s[:len(s)/2],
		)
	}
	for _, name := range []string{"rsa1024-key.pem", "ec-key-p224.pem", "ec-key-secp256k1-pkcs8.pem", "dsa-key-pkcs8.pem", "x25519-key.pem", "rsa-pss-key.pem"} {
		inputs = append(inputs, string(readTestdata(t, name)))
	}
	inputs = append(inputs, string(certstest.EncryptedKey(t)))

	for i, in := range inputs {
		_, err := certs.ParseKey([]byte(in))
		if err == nil {
			t.Errorf("input %d: ParseKey succeeded", i)
			continue
		}
		msg := err.Error()
		if piece := leaked(msg, in); piece != "" {
			t.Errorf("input %d: error %q contains %q from the key", i, msg, piece)
		}
		if run := longBase64Run(msg); run != "" {
			t.Errorf("input %d: error %q contains base64-like %q", i, msg, run)
		}
	}
}

func TestChainErrorsDoNotLeakKeyMaterial(t *testing.T) {
	// A key pasted into the certificate field, in the ways it happens.
	chainPEM, keyPEM := certstest.Valid(t, "leak.example")
	asCert := bytes.ReplaceAll(keyPEM, []byte("PRIVATE KEY"), []byte("CERTIFICATE"))
	for i, in := range [][]byte{
		asCert,
		append(bytes.Clone(chainPEM), keyPEM...),
		append(bytes.Clone(keyPEM), chainPEM...),
		append(bytes.Clone(chainPEM), asCert...),
		append(bytes.Clone(chainPEM), keyPEM[:len(keyPEM)/2]...),
	} {
		_, err := certs.ParseChain(in)
		if err == nil {
			t.Errorf("input %d: ParseChain succeeded", i)
			continue
		}
		if piece := leaked(err.Error(), string(keyPEM)); piece != "" {
			t.Errorf("input %d: error %q contains %q from the key", i, err, piece)
		}
	}
}
