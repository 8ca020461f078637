package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
	"github.com/cdnd/cdnd/internal/certs/certstest"
)

// TestSetCertificateServedByEdge is the README's worked example: add a
// domain, set a certificate, see it served; replace it, see the new one;
// turn HTTPS off, see the handshake refused.
func TestSetCertificateServedByEdge(t *testing.T) {
	a := newAccount(t)
	name := uniqueDomain("example.com")
	a.addDomain(t, name)

	if info := a.certInfo(t, name); info.ServerCertificateStatus != "off" || info.DomainName != name {
		t.Fatalf("HTTP-only domain: %+v", info)
	}
	waitServed(t, name, "")

	chain, key := certstest.Valid(t, name)
	if err := a.setCert(name, "first", string(chain), string(key)); err != nil {
		t.Fatal(err)
	}
	waitServed(t, name, pemFingerprint(t, chain))
	info := a.certInfo(t, name)
	if info.ServerCertificateStatus != "on" || info.CertName != "first" || info.CertType != "upload" ||
		info.CertDomainName != name || info.CertId == "" || !strings.Contains(info.ServerCertificate, "BEGIN CERTIFICATE") ||
		strings.Contains(info.ServerCertificate, "PRIVATE KEY") {
		t.Fatalf("CertInfo: %+v", info)
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", info.CertExpireTime); err != nil {
		t.Fatalf("CertExpireTime %q: %v", info.CertExpireTime, err)
	}

	chain2, key2 := certstest.Valid(t, name)
	if err := a.setCert(name, "second", string(chain2), string(key2)); err != nil {
		t.Fatal(err)
	}
	waitServed(t, name, pemFingerprint(t, chain2))

	off := cdn.CreateSetDomainServerCertificateRequest()
	off.DomainName, off.ServerCertificateStatus = name, "off"
	if _, err := a.cdn.SetDomainServerCertificate(off); err != nil {
		t.Fatal(err)
	}
	waitServed(t, name, "")
	if info := a.certInfo(t, name); info.ServerCertificateStatus != "off" {
		t.Fatalf("after off: %+v", info)
	}

	// The certificate stays in the repository: cas binds it again by name.
	a.waitStatus(t, name, "online")
	cas := cdn.CreateSetDomainServerCertificateRequest()
	cas.DomainName, cas.ServerCertificateStatus, cas.CertType, cas.CertName = name, "on", "cas", "second"
	if _, err := a.cdn.SetDomainServerCertificate(cas); err != nil {
		t.Fatal(err)
	}
	waitServed(t, name, pemFingerprint(t, chain2))
	if info := a.certInfo(t, name); info.CertType != "cas" || info.CertName != "second" {
		t.Fatalf("after cas: %+v", info)
	}
}

// TestForceSetOverwritesEveryBoundDomain: a name bound to two domains
// switches both when overwritten with ForceSet=1.
func TestForceSetOverwritesEveryBoundDomain(t *testing.T) {
	a := newAccount(t)
	d1, d2 := uniqueDomain("force.example"), uniqueDomain("force.example")
	a.addDomain(t, d1)
	a.addDomain(t, d2)
	chain, key := certstest.Valid(t, d1, d2)
	if err := a.setCert(d1, "shared", string(chain), string(key)); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, d1, "online")
	// Same name, same content: binding it again is not a duplicate.
	if err := a.setCert(d2, "shared", string(chain), string(key)); err != nil {
		t.Fatal(err)
	}
	waitServed(t, d2, pemFingerprint(t, chain))

	chain2, key2 := certstest.Valid(t, d1, d2)
	a.waitStatus(t, d1, "online")
	wantAPIError(t, a.setCert(d1, "shared", string(chain2), string(key2)), "Certificate.Duplicated", 400)
	req := cdn.CreateSetDomainServerCertificateRequest()
	req.DomainName, req.ServerCertificateStatus, req.CertName, req.ForceSet = d1, "on", "shared", "1"
	req.ServerCertificate, req.PrivateKey = string(chain2), string(key2)
	if _, err := a.cdn.SetDomainServerCertificate(req); err != nil {
		t.Fatal(err)
	}
	waitServed(t, d1, pemFingerprint(t, chain2))
	waitServed(t, d2, pemFingerprint(t, chain2))
}

// TestSetDomainServerCertificateErrors drives every error the action can
// raise through the SDK and checks that none of them changed anything.
func TestSetDomainServerCertificateErrors(t *testing.T) {
	a := newAccount(t)
	other := newAccount(t)
	name := uniqueDomain("errors.example")
	a.addDomain(t, name)
	foreign := uniqueDomain("foreign.example")
	other.addDomain(t, foreign)
	stopped := uniqueDomain("stopped.example")
	a.addDomain(t, stopped)
	stop := cdn.CreateStopCdnDomainRequest()
	stop.DomainName = stopped
	if _, err := a.cdn.StopCdnDomain(stop); err != nil {
		t.Fatal(err)
	}
	safe, protected := uniqueDomain("safe.example"), uniqueDomain("protected.example")
	a.addDomain(t, safe)
	a.addDomain(t, protected)
	for d, mode := range map[string]string{safe: "safe", protected: "protected"} {
		if st := adminCall(t, http.MethodPut, "/admin/v1/domains/"+d+"/mode", map[string]string{"Mode": mode}, nil); st != 200 {
			t.Fatalf("set mode: %d", st)
		}
	}

	chain, key := certstest.Valid(t, name)
	if err := a.setCert(name, "current", string(chain), string(key)); err != nil {
		t.Fatal(err)
	}
	current := pemFingerprint(t, chain)
	waitServed(t, name, current)
	a.waitStatus(t, name, "online")
	before := a.certInfo(t, name)

	otherChain, otherKey := certstest.Valid(t, name)
	expiredChain, expiredKey := certstest.Issue(t, "ecdsa", time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour), name)
	rsaChain, _ := certstest.Issue(t, "rsa", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), name)
	encrypted := certstest.EncryptedKey(t)
	garbage := "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
	huge := strings.Repeat(string(chain), 64<<10/len(chain)+1)
	hugeKey := string(key) + strings.Repeat(" ", 16<<10)

	for _, tc := range []struct {
		name   string
		edit   func(r *cdn.SetDomainServerCertificateRequest)
		code   string
		status int
	}{
		{"status not on/off", func(r *cdn.SetDomainServerCertificateRequest) { r.ServerCertificateStatus = "yes" }, "InvalidServerCertificateStatus.ValueNotSupported", 400},
		{"missing status", func(r *cdn.SetDomainServerCertificateRequest) { r.ServerCertificateStatus = "" }, "MissingServerCertificateStatus", 400},
		{"missing domain", func(r *cdn.SetDomainServerCertificateRequest) { r.DomainName = "" }, "MissingDomainName", 400},
		{"bad cert type", func(r *cdn.SetDomainServerCertificateRequest) { r.CertType = "paid" }, "SetDomainCertificate.ParameterError", 400},
		{"missing certificate", func(r *cdn.SetDomainServerCertificateRequest) { r.ServerCertificate = "" }, "SSLPub.MissingParameter", 400},
		{"missing key", func(r *cdn.SetDomainServerCertificateRequest) { r.PrivateKey = "" }, "SSLPri.MissingParameter", 400},
		{"missing name", func(r *cdn.SetDomainServerCertificateRequest) { r.CertName = "" }, "CertName.MissingParameter", 404},
		{"name over 128", func(r *cdn.SetDomainServerCertificateRequest) { r.CertName = strings.Repeat("n", 129) }, "InvalidCertName.TooLong", 400},
		{"chain over 64 KB", func(r *cdn.SetDomainServerCertificateRequest) { r.ServerCertificate = huge }, "InvalidCertificate.TooLong", 400},
		{"key over 16 KB", func(r *cdn.SetDomainServerCertificateRequest) { r.PrivateKey = hugeKey }, "InvalidCertificate.TooLong", 400},
		{"certificate not PEM", func(r *cdn.SetDomainServerCertificateRequest) { r.ServerCertificate = "hello" }, "InvalidSSLPub", 400},
		{"certificate does not parse", func(r *cdn.SetDomainServerCertificateRequest) { r.ServerCertificate = garbage }, "Certificate.FormatError", 400},
		{"key not PEM", func(r *cdn.SetDomainServerCertificateRequest) { r.PrivateKey = "hello" }, "InvalidSSLPri", 400},
		{"both malformed", func(r *cdn.SetDomainServerCertificateRequest) { r.ServerCertificate, r.PrivateKey = "x", "y" }, "InvalidSSLPubOrInvalidSSLPri", 400},
		{"encrypted key", func(r *cdn.SetDomainServerCertificateRequest) { r.PrivateKey = string(encrypted) }, "Key.Malformed", 400},
		{"key of another certificate", func(r *cdn.SetDomainServerCertificateRequest) { r.PrivateKey = string(key) }, "Certificate.MissMatch", 400},
		{"rsa chain with ecdsa key", func(r *cdn.SetDomainServerCertificateRequest) { r.ServerCertificate = string(rsaChain) }, "Certificate.MissMatch", 400},
		{"expired", func(r *cdn.SetDomainServerCertificateRequest) {
			r.ServerCertificate, r.PrivateKey = string(expiredChain), string(expiredKey)
		}, "Certificate.Expired", 400},
		{"duplicate name", func(r *cdn.SetDomainServerCertificateRequest) { r.CertName = "current" }, "Certificate.Duplicated", 400},
		{"duplicate content", func(r *cdn.SetDomainServerCertificateRequest) {
			r.ServerCertificate, r.PrivateKey = string(chain), string(key)
		}, "CertificateContent.Duplicated", 400},
		{"unknown cas name", func(r *cdn.SetDomainServerCertificateRequest) {
			r.CertType, r.CertName, r.ServerCertificate, r.PrivateKey = "cas", "nope", "", ""
		}, "Certificate.NotFind", 400},
		{"unknown domain", func(r *cdn.SetDomainServerCertificateRequest) { r.DomainName = "unknown." + name }, "InvalidDomain.NotFound", 404},
		{"foreign domain", func(r *cdn.SetDomainServerCertificateRequest) { r.DomainName = foreign }, "IllegalOperationDomain", 400},
		{"domain offline", func(r *cdn.SetDomainServerCertificateRequest) { r.DomainName = stopped }, "InvalidDomain.notOnline", 400},
		{"safe mode", func(r *cdn.SetDomainServerCertificateRequest) { r.DomainName = safe }, "DomainInSafeMode", 400},
		{"protected mode", func(r *cdn.SetDomainServerCertificateRequest) { r.DomainName = protected }, "DomainInProtectedMode", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := cdn.CreateSetDomainServerCertificateRequest()
			req.DomainName, req.ServerCertificateStatus, req.CertType, req.CertName = name, "on", "upload", "other"
			req.ServerCertificate, req.PrivateKey = string(otherChain), string(otherKey)
			tc.edit(req)
			err := unthrottled(func() error { _, err := a.cdn.SetDomainServerCertificate(req); return err })
			wantAPIError(t, err, tc.code, tc.status)
			if after := a.certInfo(t, name); after != before {
				t.Fatalf("a refused call changed the domain:\nbefore %+v\nafter  %+v", before, after)
			}
			if got, err := handshake(name); err != nil || got != current {
				t.Fatalf("edge serves %q (%v) after a refused call", got, err)
			}
		})
	}
	if info := other.certInfo(t, foreign); info.ServerCertificateStatus != "off" {
		t.Fatalf("foreign domain changed: %+v", info)
	}
}
