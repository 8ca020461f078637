package cdn

import (
	"context"
	"strconv"

	"github.com/cdnd/cdnd/internal/openapi"
)

// SetCdnDomainSSLCertificate and BatchSetCdnDomainServerCertificate: the
// current way to set a certificate (acme.sh's deploy hook calls the first).
// They share SetDomainServerCertificate's faults with their own parameter
// names; an unknown or foreign domain is simply not found.
var setSSLCertificateErrors = withDefaults(map[certFault]*openapi.Error{
	faultStatus:         openapi.NewError(400, "InvalidSSLProtocol.ValueNotSupported", "The specified SSLProtocol is invalid."),
	faultForeignDomain:  errDomainNotFound,
	faultCertRegion:     openapi.NewError(400, "Abs.CertRegion.ValueNotSupported", "The specified CertRegion is not supported."),
	faultEnv:            openapi.NewError(400, "InvalidEnv", "The specified Env is invalid."),
	faultMissingCertID:  openapi.Missing("CertId"),
	faultTooManyDomains: openapi.NewError(400, "InvalidDomainName.ExceedLimit", "The number of domains exceeds the limit."),
}, setServerCertificateErrors)

// batchSetCertificateErrors: the batch action reports any unreadable
// certificate or key as Certificate.FormatError, as its documentation says.
var batchSetCertificateErrors = withDefaults(map[certFault]*openapi.Error{
	faultBadCert:  setServerCertificateErrors[faultCertFormat],
	faultBadKey:   setServerCertificateErrors[faultCertFormat],
	faultBadBoth:  setServerCertificateErrors[faultCertFormat],
	faultCertType: setServerCertificateErrors[faultCertType],
}, setSSLCertificateErrors)

// certRegions are the regions of Alibaba's certificate service a cas
// binding may name; cdnd has one repository and accepts both.
var certRegions = map[string]bool{"": true, "cn-hangzhou": true, "ap-southeast-1": true}

// parseSSLCertificate reads the parameters of SetCdnDomainSSLCertificate
// (one domain) or BatchSetCdnDomainServerCertificate (a comma-separated
// list). CertName is optional for an upload: cdnd names the certificate
// after its content, so repeating the same upload is idempotent.
func (s *Service) parseSSLCertificate(ctx context.Context, r *openapi.Request, batch bool) (certChange, error) {
	c, err := readCertChange(r, sslCertificateParams, batch)
	if err != nil {
		return c, err
	}
	switch {
	case !certRegions[r.Get("CertRegion")]:
		return c, faultCertRegion
	case r.Get("Env") != "" && r.Get("Env") != "staging" && r.Get("Env") != "production":
		return c, faultEnv
	}
	if err := c.validate(); err != nil || !c.enable || c.certType == "upload" || c.certType == certTypeFree {
		return c, err
	}
	// cas: by CertId (what certd and certimate send), or by name.
	if id := r.Get("CertId"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return c, faultCertNotFound
		}
		if c.name, err = s.certs.NameByID(ctx, account(r), n); err != nil {
			return c, translateRepoError(err)
		}
	}
	if c.name == "" {
		return c, faultMissingCertID
	}
	return c, nil
}

func (s *Service) setCdnDomainSSLCertificate(ctx context.Context, r *openapi.Request) (any, error) {
	c, err := s.parseSSLCertificate(ctx, r, false)
	if err == nil {
		err = s.changeCertificate(ctx, account(r), c)
	}
	return nil, translate(err, setSSLCertificateErrors)
}

func (s *Service) batchSetCdnDomainServerCertificate(ctx context.Context, r *openapi.Request) (any, error) {
	c, err := s.parseSSLCertificate(ctx, r, true)
	if err == nil {
		err = s.changeCertificate(ctx, account(r), c)
	}
	return nil, translate(err, batchSetCertificateErrors)
}
