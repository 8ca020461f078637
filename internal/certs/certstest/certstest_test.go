package certstest_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/certs/certstest"
)

func parseAll(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func TestIssue(t *testing.T) {
	notBefore := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	notAfter := notBefore.Add(48 * time.Hour)
	for _, keyType := range []string{"ecdsa", "rsa", "ed25519"} {
		t.Run(keyType, func(t *testing.T) {
			chainPEM, keyPEM := certstest.Issue(t, keyType, notBefore, notAfter, "www.example.com", "*.example.com", "127.0.0.1")
			certs := parseAll(t, chainPEM)
			if len(certs) != 2 {
				t.Fatalf("chain has %d certificates, want 2", len(certs))
			}
			leaf, ca := certs[0], certs[1]
			if ca.Subject.CommonName != "cdnd test CA" || len(ca.Subject.Organization) != 1 || ca.Subject.Organization[0] != "cdnd test" || !ca.IsCA {
				t.Errorf("CA subject = %v, IsCA = %v", ca.Subject, ca.IsCA)
			}
			if leaf.Subject.CommonName != "www.example.com" {
				t.Errorf("leaf CN = %q", leaf.Subject.CommonName)
			}
			if len(leaf.DNSNames) != 2 || leaf.DNSNames[0] != "www.example.com" || leaf.DNSNames[1] != "*.example.com" {
				t.Errorf("DNS SANs = %q", leaf.DNSNames)
			}
			if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
				t.Errorf("IP SANs = %v", leaf.IPAddresses)
			}
			if !leaf.NotBefore.Equal(notBefore) || !leaf.NotAfter.Equal(notAfter) {
				t.Errorf("validity = %v .. %v", leaf.NotBefore, leaf.NotAfter)
			}
			if leaf.KeyUsage != x509.KeyUsageDigitalSignature || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
				t.Errorf("key usage = %v / %v", leaf.KeyUsage, leaf.ExtKeyUsage)
			}
			roots := x509.NewCertPool()
			roots.AddCert(ca)
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "a.example.com", CurrentTime: notBefore.Add(time.Hour)}); err != nil {
				t.Errorf("leaf does not verify against the CA: %v", err)
			}
			if !bytes.HasPrefix(keyPEM, []byte("-----BEGIN PRIVATE KEY-----\n")) {
				t.Errorf("key is not PKCS#8 PEM")
			}
			if _, err := tls.X509KeyPair(chainPEM, keyPEM); err != nil {
				t.Errorf("chain and key are not a pair: %v", err)
			}
		})
	}
}

func TestValidServesTLS(t *testing.T) {
	chainPEM, keyPEM := certstest.Valid(t, "edge.example")
	pair, err := tls.X509KeyPair(chainPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(chainPEM)
	clientConn, serverConn := net.Pipe()
	defer clientConn.Close()
	defer serverConn.Close()
	errc := make(chan error, 1)
	go func() {
		errc <- tls.Server(serverConn, &tls.Config{Certificates: []tls.Certificate{pair}}).Handshake()
	}()
	client := tls.Client(clientConn, &tls.Config{RootCAs: roots, ServerName: "edge.example"})
	if err := client.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if got := client.ConnectionState().PeerCertificates[0].Subject.CommonName; got != "edge.example" {
		t.Errorf("served CN = %q", got)
	}
}

func TestRSAKeysDistinctWithinATest(t *testing.T) {
	now := time.Now()
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		_, keyPEM := certstest.Issue(t, "rsa", now, now.Add(time.Hour), "rsa.example")
		if seen[string(keyPEM)] {
			t.Fatalf("RSA key %d repeats an earlier key of the same test", i)
		}
		seen[string(keyPEM)] = true
	}
}

func TestEncryptedKey(t *testing.T) {
	b, rest := pem.Decode(certstest.EncryptedKey(t))
	if b == nil || len(rest) != 0 {
		t.Fatal("not one PEM block")
	}
	if b.Type != "RSA PRIVATE KEY" || b.Headers["Proc-Type"] != "4,ENCRYPTED" || b.Headers["DEK-Info"] == "" {
		t.Errorf("type %q, headers %v", b.Type, b.Headers)
	}
	if _, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		t.Error("encrypted bytes parse as a plain key")
	}
}

// fatalTB records Fatalf instead of failing the real test.
type fatalTB struct {
	testing.TB
	fatal bool
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(string, ...any) {
	f.fatal = true
	runtime.Goexit()
}

func TestIssueUnknownKeyTypeFails(t *testing.T) {
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		certstest.Issue(tb, "dsa", time.Now(), time.Now().Add(time.Hour), "x.example")
	}()
	<-done
	if !tb.fatal {
		t.Fatal("Issue with an unknown key type did not fail the test")
	}
}
