package certs_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/certs/certstest"
)

func TestParseChainKeyTypes(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct{ keyType, alg string }{
		{"ecdsa", "ECDSA"},
		{"rsa", "RSA"},
		{"ed25519", "Ed25519"},
	} {
		t.Run(tc.keyType, func(t *testing.T) {
			chainPEM, _ := certstest.Issue(t, tc.keyType, now.Add(-time.Hour), now.Add(time.Hour), "www.example.com", "example.com")
			c, err := certs.ParseChain(chainPEM)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Certs) != 2 || len(c.DER) != 2 {
				t.Fatalf("got %d certs, %d DER; want 2, 2", len(c.Certs), len(c.DER))
			}
			if c.Leaf != c.Certs[0] {
				t.Error("Leaf is not Certs[0]")
			}
			for i := range c.Certs {
				if !bytes.Equal(c.DER[i], c.Certs[i].Raw) {
					t.Errorf("DER[%d] is not Certs[%d].Raw", i, i)
				}
			}
			if got := c.Leaf.Subject.CommonName; got != "www.example.com" {
				t.Errorf("leaf CN = %q", got)
			}
			if got := c.Certs[1].Subject.CommonName; got != "cdnd test CA" {
				t.Errorf("second cert CN = %q, want the CA", got)
			}
			if got := certs.KeyAlgorithm(c.Leaf); got != tc.alg {
				t.Errorf("KeyAlgorithm = %q, want %q", got, tc.alg)
			}
			if !bytes.Equal(certs.EncodeChain(c), chainPEM) {
				t.Error("EncodeChain of canonical input is not the input")
			}
		})
	}
}

func TestParseChainOrder(t *testing.T) {
	root, inter, leaf := hierarchy(t, "a")
	otherRoot, otherInter, otherLeaf := hierarchy(t, "b")
	selfSigned := issue(t, leafTemplate("self.example", "self.example"), nil)

	r, i, l := root.cert, inter.cert, leaf.cert
	or, oi, ol := otherRoot.cert, otherInter.cert, otherLeaf.cert
	s := selfSigned.cert
	for _, tc := range []struct {
		name     string
		in, want []*x509.Certificate
	}{
		{"in order", []*x509.Certificate{l, i, r}, []*x509.Certificate{l, i, r}},
		{"reversed", []*x509.Certificate{r, i, l}, []*x509.Certificate{l, i, r}},
		{"intermediate first", []*x509.Certificate{i, l, r}, []*x509.Certificate{l, i, r}},
		{"root first", []*x509.Certificate{r, l, i}, []*x509.Certificate{l, i, r}},
		{"leaf only", []*x509.Certificate{l}, []*x509.Certificate{l}},
		{"missing intermediate keeps leaf first", []*x509.Certificate{r, l}, []*x509.Certificate{l, r}},
		{"duplicates dropped", []*x509.Certificate{l, i, l, i, r, r}, []*x509.Certificate{l, i, r}},
		{"unrelated CA goes last", []*x509.Certificate{oi, r, i, l}, []*x509.Certificate{l, i, r, oi}},
		{"unrelated CAs keep input order", []*x509.Certificate{or, i, oi, l}, []*x509.Certificate{l, i, or, oi}},
		{"first of two leaves wins", []*x509.Certificate{s, i, l}, []*x509.Certificate{s, i, l}},
		{"leaf with chain before other leaf", []*x509.Certificate{i, l, ol}, []*x509.Certificate{l, i, ol}},
		{"self-signed leaf only", []*x509.Certificate{s}, []*x509.Certificate{s}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := certs.ParseChain(pemOf(tc.in...))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := cns(c.Certs), cns(tc.want); got != want {
				t.Fatalf("order = %s, want %s", got, want)
			}
			if c.Leaf != c.Certs[0] {
				t.Error("Leaf is not Certs[0]")
			}
			again, err := certs.ParseChain(certs.EncodeChain(c))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := cns(again.Certs), cns(tc.want); got != want {
				t.Fatalf("reparsed order = %s, want %s (ordering must be idempotent)", got, want)
			}
		})
	}
}

func cns(certs []*x509.Certificate) string {
	var names []string
	for _, c := range certs {
		names = append(names, c.Subject.CommonName)
	}
	return strings.Join(names, " | ")
}

func TestParseChainKeyIdentifiersPickTheIssuer(t *testing.T) {
	// Two intermediates with the same name but different keys (a re-keyed
	// CA): only the one whose key identifier the leaf names is its issuer.
	root := issue(t, caTemplate("rekey root"), nil)
	oldInter := issue(t, caTemplate("rekey intermediate"), &root)
	newInter := issue(t, caTemplate("rekey intermediate"), &root)
	leaf := issue(t, leafTemplate("rekey.example", "rekey.example"), &newInter)
	if bytes.Equal(oldInter.cert.SubjectKeyId, newInter.cert.SubjectKeyId) {
		t.Fatal("test setup: intermediates share a key id")
	}
	c, err := certs.ParseChain(pemOf(root.cert, oldInter.cert, newInter.cert, leaf.cert))
	if err != nil {
		t.Fatal(err)
	}
	want := []*x509.Certificate{leaf.cert, newInter.cert, root.cert, oldInter.cert}
	for i := range want {
		if !c.Certs[i].Equal(want[i]) {
			t.Fatalf("certificate %d is not the expected one (the wrong intermediate followed the leaf?)", i)
		}
	}
}

func TestParseChainCrossSignedCycle(t *testing.T) {
	// Two CA certificates with the same name and key identifiers each
	// look like the other's issuer; a leaf below them must still lead.
	a := issue(t, caTemplate("cycle"), nil)
	bTmpl := caTemplate("cycle")
	bTmpl.SubjectKeyId = a.cert.SubjectKeyId
	b := issue(t, bTmpl, &a)
	leaf := issue(t, leafTemplate("leaf.example", "leaf.example"), &a)
	c, err := certs.ParseChain(pemOf(b.cert, a.cert, leaf.cert))
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf.Subject.CommonName != "leaf.example" || len(c.Certs) != 3 {
		t.Fatalf("order = %s", cns(c.Certs))
	}

	// Without the leaf, every certificate issued another: input order
	// decides, and re-parsing keeps it.
	for _, in := range [][]*x509.Certificate{{a.cert, b.cert}, {b.cert, a.cert}} {
		c, err := certs.ParseChain(pemOf(in...))
		if err != nil {
			t.Fatal(err)
		}
		if !c.Leaf.Equal(in[0]) || !c.Certs[1].Equal(in[1]) {
			t.Fatal("cycle without a leaf was reordered")
		}
	}
}

// messy variants of canonical PEM that users paste and that must parse to
// exactly the same chain.
var messy = []struct {
	name string
	f    func([]byte) []byte
}{
	{"CRLF", func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }},
	{"CR only", func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r")) }},
	{"BOM", func(b []byte) []byte { return append([]byte("\uFEFF"), b...) }},
	{"BOM and CRLF", func(b []byte) []byte {
		return append([]byte("\uFEFF"), bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))...)
	}},
	{"surrounding whitespace", func(b []byte) []byte { return append(append([]byte("\n \t\n"), b...), "\n\n  \t\r\n"...) }},
	{"blank lines between blocks", func(b []byte) []byte {
		return bytes.ReplaceAll(b, []byte("-----\n-----BEGIN"), []byte("-----\n\n\r\n  \n-----BEGIN"))
	}},
	{"indented", func(b []byte) []byte {
		return bytes.ReplaceAll(b, []byte("\n"), []byte("\n    "))
	}},
	{"trailing spaces on lines", func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte(" \t\n")) }},
	{"no final newline", func(b []byte) []byte { return bytes.TrimRight(b, "\n") }},
	{"concatenated files with BOMs", func(b []byte) []byte {
		b = bytes.ReplaceAll(b, []byte("-----\n-----BEGIN"), []byte("-----\n\uFEFF-----BEGIN"))
		return append([]byte("\uFEFF"), b...)
	}},
	{"short base64 lines", func(b []byte) []byte {
		var out []byte
		for _, line := range bytes.SplitAfter(b, []byte("\n")) {
			if len(line) > 40 && !bytes.HasPrefix(line, []byte("-----")) {
				out = append(out, line[:40]...)
				out = append(out, '\n')
				line = line[40:]
			}
			out = append(out, line...)
		}
		return out
	}},
}

func TestParseChainLeniency(t *testing.T) {
	chainPEM, _ := certstest.Valid(t, "lenient.example")
	want, err := certs.ParseChain(chainPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range messy {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.f(bytes.Clone(chainPEM))
			if bytes.Equal(in, chainPEM) {
				t.Fatal("variant did not change the input")
			}
			c, err := certs.ParseChain(in)
			if err != nil {
				t.Fatalf("ParseChain: %v", err)
			}
			if !equalDER(c.DER, want.DER) {
				t.Fatal("different chain than from canonical input")
			}
			if !bytes.Equal(certs.EncodeChain(c), chainPEM) {
				t.Fatal("EncodeChain is not the canonical PEM")
			}
		})
	}
}

func equalDER(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestParseChainBadInput(t *testing.T) {
	chainPEM, keyPEM := certstest.Valid(t, "bad.example")
	leafPEM := chainPEM[:bytes.Index(chainPEM, []byte("-----END CERTIFICATE-----\n"))+len("-----END CERTIFICATE-----\n")]
	caPEM := chainPEM[len(leafPEM):]
	lines := strings.Split(string(leafPEM), "\n")
	truncatedBody := strings.Join(lines[:len(lines)/2], "\n") + "\n-----END CERTIFICATE-----\n"
	noEnd := strings.Join(lines[:len(lines)-2], "\n")
	x := func(parts ...string) []byte { return []byte(strings.Join(parts, "")) }

	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, certs.ErrNoCertificate},
		{"only whitespace", []byte(" \r\n\t\n"), certs.ErrNoCertificate},
		{"plain text", []byte("hello, world"), certs.ErrNoCertificate},
		{"key only", keyPEM, certs.ErrNoCertificate},
		{"base64 DER without PEM armour", []byte(base64Body(leafPEM)), certs.ErrNoCertificate},
		{"four-dash BEGIN as in the seed's example", bytes.Replace(leafPEM, []byte("-----BEGIN"), []byte("----BEGIN"), 1), certs.ErrNoCertificate},
		{"CRL only", []byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"), certs.ErrNoCertificate},

		{"text before", x("my cert:\n", string(chainPEM)), certs.ErrMalformedCert},
		{"garbage between blocks", x(string(leafPEM), "intermediate:\n", string(caPEM)), certs.ErrMalformedCert},
		{"garbage after", x(string(chainPEM), "--\n"), certs.ErrMalformedCert},
		{"NUL after", x(string(chainPEM), "\x00"), certs.ErrMalformedCert},
		{"truncated: no END line", []byte(noEnd), certs.ErrMalformedCert},
		{"truncated: half the base64", []byte(truncatedBody), certs.ErrMalformedCert},
		{"truncated block followed by a good one", x(noEnd, "\n", string(caPEM)), certs.ErrMalformedCert},
		{"END type differs", bytes.Replace(leafPEM, []byte("END CERTIFICATE"), []byte("END PRIVATE KEY"), 1), certs.ErrMalformedCert},
		{"bad base64", bytes.Replace(leafPEM, []byte("\nMI"), []byte("\n!!"), 1), certs.ErrMalformedCert},
		{"base64 of non-DER", []byte("-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n"), certs.ErrMalformedCert},
		{"empty certificate block", []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), certs.ErrMalformedCert},
		{"key mixed into chain", x(string(leafPEM), string(keyPEM), string(caPEM)), certs.ErrMalformedCert},
		{"key after chain", x(string(chainPEM), string(keyPEM)), certs.ErrMalformedCert},
		{"CSR mixed into chain", x(string(chainPEM), "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n"), certs.ErrMalformedCert},
		{"one-line PEM", bytes.ReplaceAll(leafPEM, []byte("\n"), []byte(" ")), certs.ErrMalformedCert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := certs.ParseChain(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if c != nil {
				t.Error("non-nil chain with an error")
			}
		})
	}
}

func TestParseChainTooLong(t *testing.T) {
	chainPEM, _ := certstest.Valid(t, "long.example")
	// 32 copies of leaf+CA: 64 blocks, which dedupe to 2.
	c, err := certs.ParseChain(bytes.Repeat(chainPEM, 32))
	if err != nil {
		t.Fatalf("64 blocks: %v", err)
	}
	if len(c.Certs) != 2 {
		t.Fatalf("64 blocks: %d certificates after dropping duplicates, want 2", len(c.Certs))
	}
	in := append(bytes.Repeat(chainPEM, 32), chainPEM[:bytes.Index(chainPEM, []byte("-----END"))+len("-----END CERTIFICATE-----\n")]...)
	if _, err := certs.ParseChain(in); !errors.Is(err, certs.ErrMalformedCert) {
		t.Fatalf("65 blocks: err = %v, want ErrMalformedCert", err)
	}
}
