package e2e

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cdnd/cdnd/internal/certs/certstest"
)

// clientDomain is one domain a client script configures, with its own
// certificate so that the edge check tells the script's calls apart.
type clientDomain struct {
	name, certName string
	chain, key     []byte
}

// prepareDomains adds one domain per mode to a, issues a certificate for
// each, writes the PEMs to dir and returns the script's environment:
// CDND_<MODE>_DOMAIN, _CERT_NAME, _CERT and _KEY.
func (a *account) prepareDomains(t *testing.T, dir, base string, modes ...string) (map[string]clientDomain, map[string]string) {
	t.Helper()
	domains := map[string]clientDomain{}
	env := map[string]string{
		"CDND_ACCESS_KEY_ID":     a.AccessKeyID,
		"CDND_ACCESS_KEY_SECRET": a.Secret,
		"CDND_MISSING_DOMAIN":    uniqueDomain("missing." + base),
	}
	for _, m := range modes {
		d := clientDomain{name: uniqueDomain(strings.ToLower(m) + "." + base), certName: base + "-" + strings.ToLower(m)}
		a.addDomain(t, d.name)
		d.chain, d.key = certstest.Valid(t, d.name)
		domains[m] = d
		env["CDND_"+m+"_DOMAIN"] = d.name
		env["CDND_"+m+"_CERT_NAME"] = d.certName
		env["CDND_"+m+"_CERT"] = writeTemp(t, dir, m+".crt", d.chain)
		env["CDND_"+m+"_KEY"] = writeTemp(t, dir, m+".key", d.key)
	}
	return domains, env
}

// TestClientsPopCore: @alicloud/pop-core, the Node RPC client that certd and
// many scripts use, with GET and with POST (everything in the form body).
// pop-core reads only the body: an error is a Code it does not know, thrown
// as an Error with code = Code and name = Code + "Error".
func TestClientsPopCore(t *testing.T) {
	t.Parallel()
	requireClient(t, "the npm clients of e2e/clients", nodeClientsMissing())
	a := newAccount(t)
	dir := t.TempDir()
	domains, env := a.prepareDomains(t, dir, "popcore.example", "GET", "POST")
	env["CDND_ENDPOINT"] = "http://" + srv.APIAddr.String()

	var out struct {
		Client    string
		GET, POST struct{ Set, Info, NotFound, WrongSecret clientCall }
	}
	runClient(t, env, &out, "node", filepath.Join(clientsDir, "popcore.js"))
	t.Log(out.Client)
	for method, r := range map[string]struct{ Set, Info, NotFound, WrongSecret clientCall }{"GET": out.GET, "POST": out.POST} {
		d := domains[method]
		var set struct{ RequestId, Code string }
		r.Set.ok(t, method+" SetCdnDomainSSLCertificate", &set)
		if set.RequestId == "" || set.Code != "" {
			t.Fatalf("%s SetCdnDomainSSLCertificate: %s", method, r.Set.Body)
		}
		var info certInfoBody
		r.Info.ok(t, method+" DescribeDomainCertificateInfo", &info)
		info.want(t, method+" DescribeDomainCertificateInfo", d.name, d.certName)

		e := r.NotFound.failed(t, method+" unknown domain", "InvalidDomain.NotFound")
		if e.Name != "InvalidDomain.NotFoundError" || e.Data["Code"] != "InvalidDomain.NotFound" ||
			e.Data["RequestId"] == nil || !strings.HasPrefix(e.Message, "The domain provided does not belong to you.") {
			t.Fatalf("%s unknown domain: %+v", method, e)
		}
		e = r.WrongSecret.failed(t, method+" wrong secret", "SignatureDoesNotMatch")
		if e.Name != "SignatureDoesNotMatchError" || !strings.Contains(e.Message, "server string to sign is:"+method+"&%2F&") {
			t.Fatalf("%s wrong secret: %+v", method, e)
		}
		a.confirmServed(t, d.name, d.certName, d.chain)
	}
}

// teaResponse is what the cdn20180510 client returns: the status, the
// headers and the body mapped to its model (lower camel case names).
type teaResponse struct {
	StatusCode int
	Headers    map[string]string
	Body       json.RawMessage
}

type teaCertInfo struct {
	RequestID string `json:"requestId"`
	CertInfos struct {
		CertInfo []struct {
			DomainName, CertName, CertType, ServerCertificateStatus string
		}
	}
}

// TestClientsCdn20180510: @alicloud/cdn20180510, the official generated
// client, signing V3 (its default) and V1 (signatureAlgorithm "v2"). It
// reads the status: 4xx is a ClientError with code (the body's Code),
// statusCode, requestId, data (the parsed body) and the message
// "<Code>: code: <status>, <Message> request id: <RequestId>".
func TestClientsCdn20180510(t *testing.T) {
	t.Parallel()
	requireClient(t, "the npm clients of e2e/clients", nodeClientsMissing())
	a := newAccount(t)
	dir := t.TempDir()
	domains, env := a.prepareDomains(t, dir, "tea.example", "V3", "V1")
	env["CDND_ENDPOINT"] = srv.APIAddr.String()

	type run struct {
		Set, Info, NotFound, WrongSecret, HttpsList         clientCall
		SetConfig, DescribeConfigs, BadConfig, DeleteConfig clientCall
	}
	var out struct {
		Client string
		V3, V1 run
	}
	runClient(t, env, &out, "node", filepath.Join(clientsDir, "cdn20180510.js"))
	t.Log(out.Client)
	for mode, r := range map[string]run{"V3": out.V3, "V1": out.V1} {
		d := domains[mode]
		var set struct {
			teaResponse
			Body struct {
				RequestID string `json:"requestId"`
			}
		}
		r.Set.ok(t, mode+" SetCdnDomainSSLCertificate", &set)
		if set.StatusCode != 200 || set.Body.RequestID == "" || set.Headers["x-acs-request-id"] != set.Body.RequestID {
			t.Fatalf("%s SetCdnDomainSSLCertificate: %s", mode, r.Set.Body)
		}
		var info struct {
			teaResponse
			Body teaCertInfo
		}
		r.Info.ok(t, mode+" DescribeDomainCertificateInfo", &info)
		if ci := info.Body.CertInfos.CertInfo; info.StatusCode != 200 || len(ci) != 1 || ci[0].DomainName != d.name ||
			ci[0].CertName != d.certName || ci[0].ServerCertificateStatus != "on" || ci[0].CertType != "upload" {
			t.Fatalf("%s DescribeDomainCertificateInfo: %s", mode, r.Info.Body)
		}

		e := r.NotFound.failed(t, mode+" unknown domain", "InvalidDomain.NotFound")
		if e.StatusCode != 404 || e.Name != "ClientError" || e.Data["Code"] != "InvalidDomain.NotFound" ||
			e.Data["RequestId"] == nil || e.Message != "InvalidDomain.NotFound: code: 404, The domain provided does not belong to you. request id: "+e.RequestID {
			t.Fatalf("%s unknown domain: %+v", mode, e)
		}
		e = r.WrongSecret.failed(t, mode+" wrong secret", "SignatureDoesNotMatch")
		if e.StatusCode != 400 || e.Name != "ClientError" || !strings.HasPrefix(e.Message, "SignatureDoesNotMatch: code: 400, Specified signature") {
			t.Fatalf("%s wrong secret: %+v", mode, e)
		}
		a.confirmServed(t, d.name, d.certName, d.chain)
	}

	// One more read, V3: the HTTPS domains of the account.
	var list struct {
		teaResponse
		Body struct {
			TotalCount int `json:"totalCount"`
			CertInfos  struct {
				CertInfo []struct{ DomainName, CertName, CertStatus string }
			}
		}
	}
	out.V3.HttpsList.ok(t, "V3 DescribeCdnHttpsDomainList", &list)
	found := false
	for _, ci := range list.Body.CertInfos.CertInfo {
		found = found || (ci.DomainName == domains["V3"].name && ci.CertName == domains["V3"].certName && ci.CertStatus == "ok")
	}
	if list.StatusCode != 200 || list.Body.TotalCount != 1 || !found {
		t.Fatalf("V3 DescribeCdnHttpsDomainList: %s", out.V3.HttpsList.Body)
	}

	// Domain configuration, V3: set, described, refused, deleted.
	var set struct {
		teaResponse
		Body struct {
			DomainConfigList struct {
				DomainConfigModel []struct {
					DomainName, FunctionName string
					ConfigID                 int64 `json:"configId"`
				}
			}
		}
	}
	out.V3.SetConfig.ok(t, "V3 BatchSetCdnDomainConfig", &set)
	if m := set.Body.DomainConfigList.DomainConfigModel; set.StatusCode != 200 || len(m) != 1 || m[0].DomainName != domains["V3"].name ||
		m[0].FunctionName != "https_force" || m[0].ConfigID <= 0 {
		t.Fatalf("V3 BatchSetCdnDomainConfig: %s", out.V3.SetConfig.Body)
	}
	var described struct {
		teaResponse
		Body struct {
			DomainConfigs struct {
				DomainConfig []struct {
					FunctionName string
					ConfigID     string `json:"configId"`
					FunctionArgs struct {
						FunctionArg []struct{ ArgName, ArgValue string }
					}
				}
			}
		}
	}
	out.V3.DescribeConfigs.ok(t, "V3 DescribeCdnDomainConfigs", &described)
	if dc := described.Body.DomainConfigs.DomainConfig; len(dc) != 1 || dc[0].ConfigID != strconv.FormatInt(set.Body.DomainConfigList.DomainConfigModel[0].ConfigID, 10) ||
		len(dc[0].FunctionArgs.FunctionArg) != 2 || dc[0].FunctionArgs.FunctionArg[0].ArgValue != "on" {
		t.Fatalf("V3 DescribeCdnDomainConfigs: %s", out.V3.DescribeConfigs.Body)
	}
	if e := out.V3.BadConfig.failed(t, "V3 malformed Functions", "InvalidFunctions.Malformed"); e.StatusCode != 400 {
		t.Fatalf("V3 malformed Functions: %+v", e)
	}
	var deleted struct{ teaResponse }
	out.V3.DeleteConfig.ok(t, "V3 DeleteSpecificConfig", &deleted)
	if deleted.StatusCode != 200 {
		t.Fatalf("V3 DeleteSpecificConfig: %s", out.V3.DeleteConfig.Body)
	}
}
