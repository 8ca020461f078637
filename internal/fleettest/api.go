package fleettest

import (
	"errors"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
)

// Retry calls call until it succeeds, fails with other than a refusal of
// the moment (throttling, a domain still configuring, a store catching its
// breath), or within has passed, and returns its last error. It is for
// setup calls, whose refusals are not what a test or a benchmark is about.
func Retry(within time.Duration, call func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := call()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		switch APICode(err) {
		case "Throttling.User", "ServiceBusy", "ServiceUnavailable":
			time.Sleep(100 * time.Millisecond)
		default:
			return err
		}
	}
}

// APICode is the API error code of err ("" for success or a failure on
// the client's side, such as no answer).
func APICode(err error) string {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return ""
}

// APIStatus is the HTTP status of an API error (0 for success or a failure
// on the client's side).
func APIStatus(err error) int {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.HttpStatus()
	}
	return 0
}

// Cert is a certificate to upload: its chain and key as PEM, under a name,
// and the fingerprint (SHA-256 of the leaf, hex) a TLS client sees when an
// edge serves it.
type Cert struct {
	Name       string
	Chain, Key string
	FP         string
}

// SetCert is one SetDomainServerCertificate call, not retried: what it
// returns is what the fleet answered. force replaces a certificate bound
// under the same name (ForceSet).
func SetCert(c *cdn.Client, domain string, cert Cert, force bool) error {
	req := cdn.CreateSetDomainServerCertificateRequest()
	req.DomainName, req.ServerCertificateStatus, req.CertName, req.CertType = domain, "on", cert.Name, "upload"
	req.ServerCertificate, req.PrivateKey = cert.Chain, cert.Key
	if force {
		req.ForceSet = "1"
	}
	_, err := c.SetDomainServerCertificate(req)
	return err
}
