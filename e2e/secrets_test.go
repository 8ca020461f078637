package e2e

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
	"github.com/cdnd/cdnd/internal/certs/certstest"
)

// canaries returns distinctive substrings of a secret: a few slices of a PEM
// body, so that a copy in any framing (PEM, JSON-escaped, URL-encoded
// newlines) is still found.
func canaries(secret string) []string {
	var body strings.Builder
	for _, line := range strings.Split(secret, "\n") {
		if !strings.HasPrefix(line, "-----") {
			body.WriteString(strings.TrimSpace(line))
		}
	}
	b := body.String()
	if len(b) < 40 {
		return []string{secret}
	}
	return []string{b[:40], b[len(b)/2 : len(b)/2+40], b[len(b)-40:]}
}

// TestSecretsNeverLeak sets a certificate whose private key is a canary and
// then looks for the key, the root AccessKey secret and the master key in
// everything cdnd lets out: the data directory, every response of the read
// actions, the log and the metrics.
func TestSecretsNeverLeak(t *testing.T) {
	a := newAccount(t)
	name := uniqueDomain("canary.example")
	a.addDomain(t, name)
	chain, key := certstest.Valid(t, name)
	if err := a.setCert(name, "canary", string(chain), string(key)); err != nil {
		t.Fatal(err)
	}
	waitServed(t, name, pemFingerprint(t, chain))
	// Failing calls that carry the key must not echo it either.
	a.waitStatus(t, name, "online")
	wantAPIError(t, a.setCert(name, "canary", otherChain(t, name), string(key)), "Certificate.MissMatch", 400)
	bad := cdn.CreateSetDomainServerCertificateRequest()
	bad.DomainName, bad.ServerCertificateStatus, bad.CertName = name, "on", "canary2"
	bad.ServerCertificate, bad.PrivateKey = string(chain), string(key)
	wrong := sdkClient(t, a.AccessKeyID, "not-the-secret")
	_, err := wrong.SetDomainServerCertificate(bad)
	wantAPIError(t, err, "SignatureDoesNotMatch", 400)
	if strings.Contains(err.Error(), canaries(string(key))[0]) {
		t.Fatal("SignatureDoesNotMatch echoed the private key")
	}

	var everything bytes.Buffer
	info := a.certInfo(t, name)
	everything.WriteString(info.ServerCertificate + info.CertName)
	for _, path := range []string{"/metrics", "/readyz", "/healthz"} {
		resp, err := http.Get("http://" + srv.AdminAddr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		everything.Write(b)
	}
	everything.WriteString(logs.String())
	secrets := map[string][]string{
		"private key":      canaries(string(key)),
		"root secret":      {rootAccessKeySecret},
		"account secret":   {a.Secret},
		"master key (b64)": {masterKey},
	}
	for what, needles := range secrets {
		for _, n := range needles {
			if bytes.Contains(everything.Bytes(), []byte(n)) {
				t.Errorf("%s found in responses, logs or metrics", what)
			}
		}
	}
	// The data directory: etcd's WAL and database, and every file beside.
	files := 0
	err = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for what, needles := range secrets {
			for _, n := range needles {
				if bytes.Contains(b, []byte(n)) {
					t.Errorf("%s found in %s", what, path)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 2 {
		t.Fatalf("walked only %d files in the data directory", files)
	}
	// The canary was really stored: the edge serves it (checked above), so
	// the sealed copy round-trips.
}

func otherChain(t *testing.T, name string) string {
	c, _ := certstest.Valid(t, name)
	return string(c)
}
