package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/cdnd/cdnd/internal/certs/certstest"
)

// legacyCall sends SetDomainServerCertificate with Version 2014-11-11, as
// the older SDKs and the legacy Terraform resource do.
func (a *account) legacyCall(t *testing.T, method string, params map[string]string) (int, map[string]any, error) {
	return a.commonCall(t, "2014-11-11", "SetDomainServerCertificate", method, params)
}

// commonCall sends any action through the SDK's CommonRequest: for
// versions and actions the typed SDK lacks.
func (a *account) commonCall(t *testing.T, version, action, method string, params map[string]string) (int, map[string]any, error) {
	t.Helper()
	req := requests.NewCommonRequest()
	req.Method = method
	req.Product = "Cdn"
	req.Version = version
	req.ApiName = action
	req.Domain = a.cdn.Domain // the shared server's, or another node's
	req.Scheme = "http"
	for k, v := range params {
		req.QueryParams[k] = v
	}
	resp, err := a.cdn.ProcessCommonRequest(req)
	if err != nil {
		return 0, nil, err
	}
	var body map[string]any
	_ = json.Unmarshal(resp.GetHttpContentBytes(), &body)
	return resp.GetHttpStatus(), body, nil
}

func TestSetDomainServerCertificate2014(t *testing.T) {
	a := newAccount(t)
	other := newAccount(t)
	foreign := uniqueDomain("legacy-foreign.example")
	other.addDomain(t, foreign)
	d1, d2 := uniqueDomain("legacy.example"), uniqueDomain("legacy.example")
	a.addDomain(t, d1)
	a.addDomain(t, d2)
	chain, key := certstest.Valid(t, d1, d2)

	// Several domains at once, no CertName (the legacy API makes it optional),
	// over GET as the legacy Terraform resource sends it.
	var status int
	var body map[string]any
	err := unthrottled(func() (err error) {
		status, body, err = a.legacyCall(t, "GET", map[string]string{
			"DomainName": d1 + "," + d2, "ServerCertificateStatus": "on",
			"ServerCertificate": string(chain), "PrivateKey": string(key),
		})
		return err
	})
	if err != nil || status != 200 || body["RequestId"] == nil {
		t.Fatalf("%d %v %v", status, body, err)
	}
	for _, d := range []string{d1, d2} {
		waitServed(t, d, pemFingerprint(t, chain))
		if info := a.certInfo(t, d); !strings.HasPrefix(info.CertName, "cert-") {
			t.Fatalf("generated name: %+v", info)
		}
	}

	// Its own error codes.
	a.waitStatus(t, d1, "online")
	for _, tc := range []struct {
		params map[string]string
		code   string
		status int
	}{
		{map[string]string{"DomainName": d1, "ServerCertificateStatus": "on", "PrivateKey": string(key)}, "ServerCertificate.MissingParameter", 400},
		{map[string]string{"DomainName": d1, "ServerCertificateStatus": "on", "ServerCertificate": string(chain)}, "PrivateKey.MissingParameter", 400},
		{map[string]string{"DomainName": d1, "ServerCertificateStatus": "on", "ServerCertificate": "junk", "PrivateKey": string(key)}, "InvalidCertificate", 400},
		{map[string]string{"DomainName": d1, "ServerCertificateStatus": "on", "ServerCertificate": string(chain), "PrivateKey": "junk"}, "InvalidPrivateKey", 400},
		{map[string]string{"DomainName": d1, "ServerCertificateStatus": "maybe"}, "InvalidServerCertificateStatus.ValueNotSupported", 400},
		{map[string]string{"DomainName": d1 + ",unknown." + d1, "ServerCertificateStatus": "off"}, "InvalidDomain.NotFound", 404},
		{map[string]string{"DomainName": d1 + "," + foreign, "ServerCertificateStatus": "off"}, "IllegalOperation", 403},
		{map[string]string{"DomainName": d1, "ServerCertificateStatus": "on", "CertType": "paid", "CertName": "x"}, "SetDomainServerCertificate.ParameterError", 400},
		{map[string]string{"DomainName": strings.Repeat(d1+",", 50) + d1, "ServerCertificateStatus": "off"}, "SetDomainServerCertificate.ParameterError", 400},
	} {
		err := unthrottled(func() error { _, _, err := a.legacyCall(t, "POST", tc.params); return err })
		wantAPIError(t, err, tc.code, tc.status)
	}
	// All or nothing: the failed batch above did not turn d1 off.
	if info := a.certInfo(t, d1); info.ServerCertificateStatus != "on" {
		t.Fatalf("partial batch applied: %+v", info)
	}
}
