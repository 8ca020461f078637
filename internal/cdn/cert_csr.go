package cdn

import (
	"context"
	"errors"
	"strings"

	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/openapi"
)

// CreateCdnCertificateSigningRequest and SetCdnDomainCSRCertificate: the
// private key is generated inside cdnd, sealed, and never leaves it. The
// caller gets a CSR to have signed, then sends back only the certificate.
var (
	errCSRParameter = openapi.NewError(400, "InvalidParameter.CSR", "The specified certificate signing request parameters are invalid.")
	errNoPendingKey = openapi.NewError(400, "Certificate.NoMatchingCSR", "No certificate signing request of this account matches the certificate's public key.")
)

func (s *Service) createCdnCertificateSigningRequest(ctx context.Context, r *openapi.Request) (any, error) {
	subj := cas.CSRSubject{
		CommonName:       r.Get("CommonName"),
		Organization:     r.Get("Organization"),
		OrganizationUnit: r.Get("OrganizationUnit"),
		Country:          r.Get("Country"),
		State:            r.Get("State"),
		City:             r.Get("City"),
		Email:            r.Get("Email"),
	}
	if !validCertName(subj.CommonName) || (subj.Country != "" && len(subj.Country) != 2) {
		return nil, errCSRParameter
	}
	sans := []string{subj.CommonName}
	if v := r.Get("SANs"); v != "" {
		for _, n := range strings.Split(v, ",") {
			n = strings.TrimSpace(n)
			if !validCertName(n) {
				return nil, errCSRParameter
			}
			if n != subj.CommonName {
				sans = append(sans, n)
			}
		}
	}
	subj.SANs = sans
	csr, pubMD5, err := s.certs.CreateCSR(ctx, account(r), subj)
	if err != nil {
		return nil, err
	}
	return struct{ Csr, PubMd5, CommonName string }{string(csr), pubMD5, subj.CommonName}, nil
}

// validCertName: a DNS name a certificate may carry, wildcards included.
func validCertName(n string) bool {
	_, ok := normalizeDomain(strings.TrimPrefix(n, "*"))
	return ok && (n[0] != '.')
}

// setCdnDomainCSRCertificate binds the certificate issued for one of the
// account's signing requests, joined with the key kept for it.
func (s *Service) setCdnDomainCSRCertificate(ctx context.Context, r *openapi.Request) (any, error) {
	pair, err := s.certs.PairForCertificate(ctx, account(r), r.Get("ServerCertificate"))
	if errors.Is(err, cas.ErrNoPendingKey) {
		return nil, errNoPendingKey
	}
	if err != nil {
		return nil, translate(pairFault(err), setServerCertificateErrors)
	}
	c := certChange{domains: []string{r.Get("DomainName")}, enable: true, certType: "upload", pair: pair}
	return nil, translate(s.changeCertificate(ctx, account(r), c), setServerCertificateErrors)
}
