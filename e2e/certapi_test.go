package e2e

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
	"github.com/cdnd/cdnd/internal/certs/certstest"
)

// TestSetCdnDomainSSLCertificate: acme.sh's deploy call, cas binding by
// CertId, and the action's own codes.
func TestSetCdnDomainSSLCertificate(t *testing.T) {
	a := newAccount(t)
	name := uniqueDomain("ssl.example")
	a.addDomain(t, name)
	chain, key := certstest.Valid(t, name)
	set := func(edit func(r *cdn.SetCdnDomainSSLCertificateRequest)) error {
		req := cdn.CreateSetCdnDomainSSLCertificateRequest()
		req.DomainName, req.SSLProtocol, req.CertType = name, "on", "upload"
		req.SSLPub, req.SSLPri = string(chain), string(key)
		edit(req)
		return unthrottled(func() error { _, err := a.cdn.SetCdnDomainSSLCertificate(req); return err })
	}
	// No CertName: cdnd names it after its content, so a repeat is a no-op.
	for i := 0; i < 2; i++ {
		if err := set(func(*cdn.SetCdnDomainSSLCertificateRequest) {}); err != nil {
			t.Fatal(err)
		}
		a.waitStatus(t, name, "online")
	}
	waitServed(t, name, pemFingerprint(t, chain))
	info := a.certInfo(t, name)
	if !strings.HasPrefix(info.CertName, "cert-") || info.CertId == "" {
		t.Fatalf("%+v", info)
	}

	// Off, then on again by CertId from the repository (certd's way).
	if err := set(func(r *cdn.SetCdnDomainSSLCertificateRequest) { r.SSLProtocol, r.SSLPub, r.SSLPri = "off", "", "" }); err != nil {
		t.Fatal(err)
	}
	waitServed(t, name, "")
	a.waitStatus(t, name, "online")
	if err := set(func(r *cdn.SetCdnDomainSSLCertificateRequest) {
		r.CertType, r.CertId, r.SSLPub, r.SSLPri, r.CertRegion = "cas", requests.Integer(info.CertId), "", "", "ap-southeast-1"
	}); err != nil {
		t.Fatal(err)
	}
	waitServed(t, name, pemFingerprint(t, chain))
	a.waitStatus(t, name, "online")

	other := newAccount(t)
	otherDomain := uniqueDomain("ssl-foreign.example")
	other.addDomain(t, otherDomain)
	for _, tc := range []struct {
		name   string
		edit   func(r *cdn.SetCdnDomainSSLCertificateRequest)
		code   string
		status int
	}{
		{"bad protocol", func(r *cdn.SetCdnDomainSSLCertificateRequest) { r.SSLProtocol = "maybe" }, "InvalidSSLProtocol.ValueNotSupported", 400},
		{"bad region", func(r *cdn.SetCdnDomainSSLCertificateRequest) { r.CertRegion = "mars-1" }, "Abs.CertRegion.ValueNotSupported", 400},
		{"missing SSLPub", func(r *cdn.SetCdnDomainSSLCertificateRequest) { r.SSLPub = "" }, "SSLPub.MissingParameter", 400},
		{"missing SSLPri", func(r *cdn.SetCdnDomainSSLCertificateRequest) { r.SSLPri = "" }, "SSLPri.MissingParameter", 400},
		{"cas without id", func(r *cdn.SetCdnDomainSSLCertificateRequest) { r.CertType, r.SSLPub, r.SSLPri = "cas", "", "" }, "MissingCertId", 400},
		{"cas unknown id", func(r *cdn.SetCdnDomainSSLCertificateRequest) { r.CertType, r.CertId = "cas", "12345" }, "Certificate.NotFind", 400},
		{"foreign domain", func(r *cdn.SetCdnDomainSSLCertificateRequest) { r.DomainName = otherDomain }, "InvalidDomain.NotFound", 404},
	} {
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, set(tc.edit), tc.code, tc.status) })
	}
	// Env is documented but not in this SDK version.
	_, _, err := a.commonCall(t, "2018-05-10", "SetCdnDomainSSLCertificate", "POST", map[string]string{
		"DomainName": name, "SSLProtocol": "on", "Env": "canary", "SSLPub": string(chain), "SSLPri": string(key)})
	wantAPIError(t, err, "InvalidEnv", 400)
	status, _, err := a.commonCall(t, "2018-05-10", "SetCdnDomainSSLCertificate", "POST", map[string]string{
		"DomainName": name, "SSLProtocol": "on", "Env": "staging", "SSLPub": string(chain), "SSLPri": string(key)})
	if err != nil || status != 200 {
		t.Fatalf("Env=staging: %d %v", status, err)
	}
}

func TestBatchSetCdnDomainServerCertificate(t *testing.T) {
	a := newAccount(t)
	d1, d2 := uniqueDomain("batch.example"), uniqueDomain("batch.example")
	a.addDomain(t, d1)
	a.addDomain(t, d2)
	chain, key := certstest.Valid(t, d1, d2)
	req := cdn.CreateBatchSetCdnDomainServerCertificateRequest()
	req.DomainName, req.SSLProtocol, req.CertName, req.CertType = d1+","+d2, "on", "batch", "upload"
	req.SSLPub, req.SSLPri = string(chain), string(key)
	if _, err := a.cdn.BatchSetCdnDomainServerCertificate(req); err != nil {
		t.Fatal(err)
	}
	waitServed(t, d1, pemFingerprint(t, chain))
	waitServed(t, d2, pemFingerprint(t, chain))
	a.waitStatus(t, d1, "online")
	a.waitStatus(t, d2, "online")

	bad := cdn.CreateBatchSetCdnDomainServerCertificateRequest()
	bad.DomainName, bad.SSLProtocol, bad.CertName = d1+","+d2, "on", "broken"
	bad.SSLPub, bad.SSLPri = "not a certificate", string(key)
	_, err := a.cdn.BatchSetCdnDomainServerCertificate(bad)
	wantAPIError(t, err, "Certificate.FormatError", 400)
	// All or nothing: one unknown domain, nothing changes.
	off := cdn.CreateBatchSetCdnDomainServerCertificateRequest()
	off.DomainName, off.SSLProtocol = d1+",missing."+d2, "off"
	_, err = a.cdn.BatchSetCdnDomainServerCertificate(off)
	wantAPIError(t, err, "InvalidDomain.NotFound", 404)
	if a.certInfo(t, d1).ServerCertificateStatus != "on" {
		t.Fatal("a failed batch changed a domain")
	}
	many := cdn.CreateBatchSetCdnDomainServerCertificateRequest()
	many.DomainName, many.SSLProtocol = strings.Repeat(d1+",", 50)+d1, "off"
	_, err = a.cdn.BatchSetCdnDomainServerCertificate(many)
	wantAPIError(t, err, "InvalidDomainName.ExceedLimit", 400)
}

// TestCertificateReads covers the read actions over one account with a
// fresh, an expiring and a mismatched certificate.
func TestCertificateReads(t *testing.T) {
	a := newAccount(t)
	good, soon, wrong, plain := uniqueDomain("reads.example"), uniqueDomain("reads.example"), uniqueDomain("reads.example"), uniqueDomain("reads.example")
	for _, d := range []string{good, soon, wrong, plain} {
		a.addDomain(t, d)
	}
	goodChain, goodKey := certstest.Valid(t, good)
	soonChain, soonKey := certstest.Issue(t, "ecdsa", time.Now().Add(-time.Hour), time.Now().Add(10*24*time.Hour), soon)
	wrongChain, wrongKey := certstest.Valid(t, "elsewhere.example")
	for d, pair := range map[string][2][]byte{good: {goodChain, goodKey}, soon: {soonChain, soonKey}, wrong: {wrongChain, wrongKey}} {
		if err := a.setCert(d, "c-"+d, string(pair[0]), string(pair[1])); err != nil {
			t.Fatal(err)
		}
	}

	list := cdn.CreateDescribeCdnCertificateListRequest()
	lr, err := a.cdn.DescribeCdnCertificateList(list)
	if err != nil {
		t.Fatal(err)
	}
	if lr.CertificateListModel.Count != 3 || len(lr.CertificateListModel.CertList.Cert) != 3 {
		t.Fatalf("list: %+v", lr.CertificateListModel)
	}
	for _, c := range lr.CertificateListModel.CertList.Cert {
		if c.CertId == 0 || len(c.Fingerprint) != 40 || c.LastTime == 0 || c.Issuer == "" {
			t.Fatalf("list entry: %+v", c)
		}
	}
	list.DomainName = good + "," + plain
	if lr, err = a.cdn.DescribeCdnCertificateList(list); err != nil || lr.CertificateListModel.Count != 1 ||
		lr.CertificateListModel.CertList.Cert[0].CertName != "c-"+good {
		t.Fatalf("list by domain: %+v %v", lr, err)
	}

	detail := cdn.CreateDescribeCdnCertificateDetailRequest()
	detail.CertName = "c-" + good
	dr, err := a.cdn.DescribeCdnCertificateDetail(detail)
	if err != nil || dr.Key != "" || !strings.Contains(dr.Cert, "BEGIN CERTIFICATE") || dr.CertId == 0 {
		t.Fatalf("detail: %+v %v", dr, err)
	}
	if strings.Contains(string(dr.GetHttpContentBytes()), "PRIVATE") {
		t.Fatal("detail carries a private key")
	}
	detail.CertName = "nope"
	_, err = a.cdn.DescribeCdnCertificateDetail(detail)
	wantAPIError(t, err, "InvaildParameter", 403)
	id := strconv.FormatInt(dr.CertId, 10)
	if st, body, err := a.commonCall(t, "2018-05-10", "DescribeCdnCertificateDetailById", "POST", map[string]string{"CertId": id}); err != nil || st != 200 || body["CertName"] != "c-"+good {
		t.Fatalf("detail by id: %d %v %v", st, body, err)
	}
	_, _, err = a.commonCall(t, "2018-05-10", "DescribeCdnCertificateDetailById", "POST", map[string]string{"CertId": "1"})
	wantAPIError(t, err, "InvalidCertId.NotFound", 400)

	byID := cdn.CreateDescribeCertificateInfoByIDRequest()
	byID.CertId = id
	ir, err := a.cdn.DescribeCertificateInfoByID(byID)
	if err != nil || len(ir.CertInfos.CertInfo) != 1 || ir.CertInfos.CertInfo[0].DomainList != `["`+good+`"]` ||
		!strings.HasSuffix(ir.CertInfos.CertInfo[0].CertExpireTime, "+0000 UTC") {
		t.Fatalf("info by id: %+v %v", ir, err)
	}
	_, _, err = a.commonCall(t, "2018-05-10", "DescribeCertificateInfoByID", "POST", map[string]string{"CertId": id})
	wantAPIError(t, err, "InvalidAction.NotFound", 404) // GET only

	https := cdn.CreateDescribeCdnHttpsDomainListRequest()
	hr, err := a.cdn.DescribeCdnHttpsDomainList(https)
	if err != nil || hr.TotalCount != 3 {
		t.Fatalf("https list: %+v %v", hr, err)
	}
	status := map[string]string{}
	for _, c := range hr.CertInfos.CertInfo {
		status[c.DomainName] = c.CertStatus
		if _, err := time.Parse("2006-01-02 15:04:05", c.CertExpireTime); err != nil {
			t.Fatalf("CertExpireTime %q", c.CertExpireTime)
		}
	}
	if status[good] != "ok" || status[soon] != "expire_soon" || status[wrong] != "mismatch" {
		t.Fatalf("statuses: %v", status)
	}
	https.Keyword, https.PageSize = "c-"+soon, "1"
	if hr, err = a.cdn.DescribeCdnHttpsDomainList(https); err != nil || hr.TotalCount != 1 || hr.CertInfos.CertInfo[0].DomainName != soon {
		t.Fatalf("keyword: %+v %v", hr, err)
	}

	count, err := a.cdn.DescribeUserCertificateExpireCount(cdn.CreateDescribeUserCertificateExpireCountRequest())
	if err != nil || count.ExpireWithin30DaysCount != 1 || count.ExpiredCount != 0 {
		t.Fatalf("expire count: %+v %v", count, err)
	}

	// By certificate: raw, base64 and URL-encoded PEM all work.
	for _, form := range []string{string(goodChain), base64.StdEncoding.EncodeToString(goodChain), url.QueryEscape(base64.StdEncoding.EncodeToString(goodChain))} {
		req := cdn.CreateDescribeCdnDomainByCertificateRequest()
		req.SSLPub, req.SSLStatus = form, "true"
		r, err := a.cdn.DescribeCdnDomainByCertificate(req)
		if err != nil || len(r.CertInfos.CertInfo) != 1 {
			t.Fatalf("by certificate: %+v %v", r, err)
		}
		ci := r.CertInfos.CertInfo[0]
		if ci.DomainList != good || ci.CertType != "ECDSA" || ci.CertExpired != "no" || !strings.HasSuffix(ci.CertExpireTime, " GMT") {
			t.Fatalf("by certificate: %+v", ci)
		}
	}
	req := cdn.CreateDescribeCdnDomainByCertificateRequest()
	req.SSLPub = "plain words"
	_, err = a.cdn.DescribeCdnDomainByCertificate(req)
	wantAPIError(t, err, "Certificate.DecodeError", 400)
	req.SSLPub = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
	_, err = a.cdn.DescribeCdnDomainByCertificate(req)
	wantAPIError(t, err, "Certificate.FormatError", 400)
}

// TestCSRFlow: the key is made inside cdnd; only the CSR goes out and only
// the certificate comes back.
func TestCSRFlow(t *testing.T) {
	a := newAccount(t)
	name := uniqueDomain("csr.example")
	a.addDomain(t, name)
	req := cdn.CreateCreateCdnCertificateSigningRequestRequest()
	req.CommonName, req.SANs, req.Organization, req.Country = name, "www."+name, "cdnd test", "CN"
	resp, err := a.cdn.CreateCdnCertificateSigningRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(resp.GetHttpContentBytes()), "PRIVATE") || len(resp.PubMd5) != 32 || resp.CommonName != name {
		t.Fatalf("CSR response: %s", resp.GetHttpContentBytes())
	}
	block, _ := pem.Decode([]byte(resp.Csr))
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil || csr.Subject.CommonName != name || len(csr.DNSNames) != 2 {
		t.Fatalf("CSR: %v %+v", err, csr)
	}
	chain := certstest.SignCSR(t, csr)
	set := cdn.CreateSetCdnDomainCSRCertificateRequest()
	set.DomainName, set.ServerCertificate = name, string(chain)
	if _, err := a.cdn.SetCdnDomainCSRCertificate(set); err != nil {
		t.Fatal(err)
	}
	waitServed(t, name, pemFingerprint(t, chain))

	other, _ := certstest.Valid(t, name)
	set = cdn.CreateSetCdnDomainCSRCertificateRequest()
	set.DomainName, set.ServerCertificate = name, string(other)
	_, err = a.cdn.SetCdnDomainCSRCertificate(set)
	wantAPIError(t, err, "Certificate.NoMatchingCSR", 400)
	bad := cdn.CreateCreateCdnCertificateSigningRequestRequest()
	bad.CommonName = "not a name"
	_, err = a.cdn.CreateCdnCertificateSigningRequest(bad)
	wantAPIError(t, err, "InvalidParameter.CSR", 400)
}

func TestModifyAndBatchLifecycle(t *testing.T) {
	a := newAccount(t)
	d1, d2 := uniqueDomain("modify.example"), uniqueDomain("modify.example")
	a.addDomain(t, d1)
	a.addDomain(t, d2)
	mod := cdn.CreateModifyCdnDomainRequest()
	mod.DomainName, mod.Sources = d1, `[{"Content":"origin2.example.net","Type":"domain","Priority":"20","Port":8443}]`
	if _, err := a.cdn.ModifyCdnDomain(mod); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, d1, "online")
	detail := cdn.CreateDescribeCdnDomainDetailRequest()
	detail.DomainName = d1
	dr, err := a.cdn.DescribeCdnDomainDetail(detail)
	if err != nil || dr.GetDomainDetailModel.SourceModels.SourceModel[0].Content != "origin2.example.net" {
		t.Fatalf("after modify: %+v %v", dr, err)
	}
	mod.Sources = `[{"Content":"x","Type":"ftp"}]`
	_, err = a.cdn.ModifyCdnDomain(mod)
	wantAPIError(t, err, "InvalidSourceType.Malformed", 400)

	stop := cdn.CreateBatchStopCdnDomainRequest()
	stop.DomainNames = d1 + "," + d2
	if _, err := a.cdn.BatchStopCdnDomain(stop); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, d1, "offline")
	a.waitStatus(t, d2, "offline")
	start := cdn.CreateBatchStartCdnDomainRequest()
	start.DomainNames = d1 + ",unknown." + d2
	_, err = a.cdn.BatchStartCdnDomain(start)
	wantAPIError(t, err, "InvalidDomain.NotFound", 404)
	a.waitStatus(t, d1, "offline")
	start.DomainNames = d1 + "," + d2
	if _, err := a.cdn.BatchStartCdnDomain(start); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, d2, "online")
}
