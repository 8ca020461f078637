// Command aliyungo drives cdnd with github.com/denverdino/aliyungo, the SDK
// the legacy Terraform alicloud_cdn_domain resource was built on: its CDN
// client speaks Version 2014-11-11, signs V1 and sends every call as a GET
// with all parameters in the query.
//
// It sets a certificate with SetDomainServerCertificate (2014-11-11), reads it
// back with DescribeDomainCertificateInfo through the same client's Invoke
// (cdnd serves that action in 2018-05-10), and provokes two errors, which
// aliyungo surfaces as *common.Error. It prints one JSON object.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/denverdino/aliyungo/cdn"
	"github.com/denverdino/aliyungo/common"
)

func env(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fmt.Fprintln(os.Stderr, name, "is not set")
		os.Exit(2)
	}
	return v
}

func file(name string) string {
	b, err := os.ReadFile(env(name))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return string(b)
}

// outcome is one call as aliyungo surfaced it.
type outcome struct {
	OK    bool      `json:"ok"`
	Body  any       `json:"body,omitempty"`
	Error *apiError `json:"error,omitempty"`
}

type apiError struct {
	Type       string `json:"type"`
	Text       string `json:"text"`
	StatusCode int    `json:"statusCode,omitempty"`
	Code       string `json:"code,omitempty"`
	Message    string `json:"message,omitempty"`
	RequestID  string `json:"requestId,omitempty"`
}

func result(body any, err error) outcome {
	if err == nil {
		return outcome{OK: true, Body: body}
	}
	e := &apiError{Type: fmt.Sprintf("%T", err), Text: err.Error()}
	var ce *common.Error
	if errors.As(err, &ce) {
		e.StatusCode, e.Code, e.Message, e.RequestID = ce.StatusCode, ce.Code, ce.Message, ce.RequestId
	}
	return outcome{Error: e}
}

type certInfoResponse struct {
	common.Response
	CertInfos struct {
		CertInfo []struct {
			DomainName              string
			CertName                string
			CertType                string
			ServerCertificateStatus string
			ServerCertificate       string
		}
	}
}

func main() {
	endpoint, id := env("CDND_ENDPOINT_URL"), env("CDND_ACCESS_KEY_ID")
	domain, missing := env("CDND_DOMAIN"), env("CDND_MISSING_DOMAIN")
	client := cdn.NewClientWithEndpoint(endpoint, id, env("CDND_ACCESS_KEY_SECRET"))
	out := map[string]any{"client": "github.com/denverdino/aliyungo (Debian golang-github-denverdino-aliyungo-dev), API " + cdn.CDNAPIVersion}

	set, err := client.SetDomainServerCertificate(cdn.CertificateRequest{
		DomainName:              domain,
		CertName:                env("CDND_CERT_NAME"),
		ServerCertificateStatus: "on",
		ServerCertificate:       file("CDND_CERT"),
		PrivateKey:              file("CDND_KEY"),
	})
	out["set"] = result(set, err)

	var info certInfoResponse
	client.SetVersion("2018-05-10")
	err = client.Invoke("DescribeDomainCertificateInfo", &cdn.DescribeDomainRequest{DomainName: domain}, &info)
	client.SetVersion(cdn.CDNAPIVersion)
	out["info"] = result(info, err)

	_, err = client.SetDomainServerCertificate(cdn.CertificateRequest{DomainName: missing, ServerCertificateStatus: "off"})
	out["notFound"] = result(nil, err)

	wrong := cdn.NewClientWithEndpoint(endpoint, id, "not-the-secret")
	_, err = wrong.SetDomainServerCertificate(cdn.CertificateRequest{DomainName: domain, ServerCertificateStatus: "off"})
	out["wrongSecret"] = result(nil, err)

	// What the legacy Terraform resource reads with: the typed 2014-11-11
	// DescribeCdnDomainDetail. Reported, not required.
	detail, err := client.DescribeCdnDomainDetail(cdn.DescribeDomainRequest{DomainName: domain})
	out["legacyDetail"] = result(detail, err)

	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
