package e2e

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdnd/cdnd/internal/certs/certstest"
)

// TestClientsAcmeSh: acme.sh's Alibaba Cloud CDN deploy hook has no JSON
// parser. It signs with shell tools, POSTs SetCdnDomainSSLCertificate (the
// Signature in the URL, the rest in the form body) and decides success or
// failure by grepping the raw body for a compact "Message":"...". The
// script clients/acme_ali_cdn.sh reproduces that; see its header.
func TestClientsAcmeSh(t *testing.T) {
	t.Parallel()
	requireClient(t, "the acme.sh tools (sh, od, awk, openssl, curl, grep, base64)", toolsMissing("sh", "od", "awk", "openssl", "curl", "grep", "cut", "tr", "base64"))
	a := newAccount(t)
	dir := t.TempDir()
	domain := uniqueDomain("acmesh.example")
	a.addDomain(t, domain)
	chain, key := certstest.Valid(t, domain)
	env := map[string]string{
		"CDND_ENDPOINT_URL":      "http://" + srv.APIAddr.String() + "/",
		"CDND_ACCESS_KEY_ID":     a.AccessKeyID,
		"CDND_ACCESS_KEY_SECRET": a.Secret,
		"CDND_DOMAIN":            domain,
		"CDND_MISSING_DOMAIN":    uniqueDomain("missing.acmesh.example"),
		"CDND_FULLCHAIN":         writeTemp(t, dir, "fullchain.cer", chain),
		"CDND_KEY":               writeTemp(t, dir, "domain.key", key),
	}
	type step struct{ Message, Code, Raw string }
	var out struct{ Deploy, NotFound, WrongSecret step }
	runClient(t, env, &out, "sh", filepath.Join(clientsDir, "acme_ali_cdn.sh"))
	raw := func(s step) string {
		b, err := base64.StdEncoding.DecodeString(s.Raw)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// Success: a body without "Message", so acme.sh logs no error.
	if body := raw(out.Deploy); out.Deploy.Message != "" || out.Deploy.Code != "" || !strings.HasPrefix(body, `{"RequestId":"`) {
		t.Fatalf("deploy: acme.sh would fail with %q; body %s", out.Deploy.Message, body)
	}
	// Failure: acme.sh finds the compact "Message":"..." and logs it.
	for _, tc := range []struct {
		what        string
		s           step
		code, start string
	}{
		{"unknown domain", out.NotFound, "InvalidDomain.NotFound", "The domain provided does not belong to you."},
		{"wrong secret", out.WrongSecret, "SignatureDoesNotMatch", "Specified signature"},
	} {
		body := raw(tc.s)
		if !strings.Contains(body, `"Message":"`) || !strings.Contains(body, `"Code":"`+tc.code+`"`) {
			t.Fatalf("%s: acme.sh's grep finds no compact Message/Code in %s", tc.what, body)
		}
		if tc.s.Code != tc.code || !strings.HasPrefix(tc.s.Message, tc.start) {
			t.Fatalf("%s: acme.sh would log %q (Code %q), want %q... (%s); body %s", tc.what, tc.s.Message, tc.s.Code, tc.start, tc.code, body)
		}
	}
	// No CertName in acme.sh's call: cdnd names the certificate itself.
	a.confirmServed(t, domain, "cert-*", chain)
}
