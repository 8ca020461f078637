package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/certs/certstest"
)

// debianGocode is where Debian's golang-*-dev packages put Go sources.
const debianGocode = "/usr/share/gocode"

// buildAliyungo builds clients/aliyungo against Debian's aliyungo sources in
// GOPATH mode (they have no go.mod; their own imports are the standard
// library) and returns the binary.
func buildAliyungo(t *testing.T) string {
	t.Helper()
	src := filepath.Join(debianGocode, "src/github.com/denverdino/aliyungo/cdn/client.go")
	if _, err := os.Stat(src); err != nil {
		requireClient(t, "github.com/denverdino/aliyungo (Debian golang-github-denverdino-aliyungo-dev)", err)
	}
	goTool, err := exec.LookPath("go")
	requireClient(t, "the go command", err)
	dir := t.TempDir()
	bin := filepath.Join(dir, "aliyungo")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(clientsDir, "aliyungo")
	cmd.Env = append(os.Environ(), "GO111MODULE=off", "GOFLAGS=", "GOPATH="+filepath.Join(dir, "gopath")+string(os.PathListSeparator)+debianGocode)
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the aliyungo client: %v\n%s", err, b)
	}
	t.Logf("built the aliyungo client in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// TestClientsAliyungo: github.com/denverdino/aliyungo, as packaged by
// Debian, sets a certificate with SetDomainServerCertificate Version
// 2014-11-11 over GET, as the legacy Terraform resource does. Its errors are
// *common.Error with the HTTP status and the body's Code.
func TestClientsAliyungo(t *testing.T) {
	t.Parallel()
	bin := buildAliyungo(t)
	a := newAccount(t)
	dir := t.TempDir()
	domain := uniqueDomain("aliyungo.example")
	a.addDomain(t, domain)
	chain, key := certstest.Valid(t, domain)
	env := map[string]string{
		"CDND_ENDPOINT_URL":      "http://" + srv.APIAddr.String(),
		"CDND_ACCESS_KEY_ID":     a.AccessKeyID,
		"CDND_ACCESS_KEY_SECRET": a.Secret,
		"CDND_DOMAIN":            domain,
		"CDND_MISSING_DOMAIN":    uniqueDomain("missing.aliyungo.example"),
		"CDND_CERT_NAME":         "aliyungo-2014",
		"CDND_CERT":              writeTemp(t, dir, "cert.pem", chain),
		"CDND_KEY":               writeTemp(t, dir, "key.pem", key),
	}
	var out struct {
		Client                                         string
		Set, Info, NotFound, WrongSecret, LegacyDetail clientCall
	}
	runClient(t, env, &out, bin)
	t.Log(out.Client)

	var set struct{ RequestId string }
	out.Set.ok(t, "SetDomainServerCertificate 2014-11-11", &set)
	if set.RequestId == "" {
		t.Fatalf("SetDomainServerCertificate: %s", out.Set.Body)
	}
	var info certInfoBody
	out.Info.ok(t, "DescribeDomainCertificateInfo", &info)
	info.want(t, "DescribeDomainCertificateInfo", domain, "aliyungo-2014")

	for _, tc := range []struct {
		what   string
		call   clientCall
		code   string
		status int
	}{
		{"unknown domain", out.NotFound, "InvalidDomain.NotFound", 404},
		{"wrong secret", out.WrongSecret, "SignatureDoesNotMatch", 400},
	} {
		if e := tc.call.failed(t, tc.what, tc.code); e.Type != "*common.Error" || e.StatusCode != tc.status || e.RequestID == "" || e.Message == "" {
			t.Fatalf("%s: %+v", tc.what, e)
		}
	}
	a.confirmServed(t, domain, "aliyungo-2014", chain)

	// The legacy Terraform resource reads a domain back with aliyungo's
	// typed DescribeCdnDomainDetail, Version 2014-11-11. cdnd may not serve
	// that version of the action (a known gap: InvalidAction.NotFound); when
	// it does, the answer must be what aliyungo decodes.
	if !out.LegacyDetail.OK {
		out.LegacyDetail.failed(t, "DescribeCdnDomainDetail 2014-11-11", "InvalidAction.NotFound")
		t.Logf("not served by cdnd: DescribeCdnDomainDetail 2014-11-11 (%s)", out.LegacyDetail.Error.Message)
		return
	}
	var detail struct {
		GetDomainDetailModel struct {
			DomainName, DomainStatus, ServerCertificateStatus, CertificateName, ServerCertificate string
			Sources                                                                               struct{ Source []string }
		}
	}
	out.LegacyDetail.ok(t, "DescribeCdnDomainDetail 2014-11-11", &detail)
	if m := detail.GetDomainDetailModel; m.DomainName != domain || m.DomainStatus != "online" || m.ServerCertificateStatus != "on" ||
		m.CertificateName != "aliyungo-2014" || m.ServerCertificate != string(chain) || len(m.Sources.Source) != 1 || m.Sources.Source[0] != "127.0.0.1" {
		t.Fatalf("DescribeCdnDomainDetail 2014-11-11: %s", out.LegacyDetail.Body)
	}
}
