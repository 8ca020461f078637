package cdn

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// domainCertInfo is one CertInfo of DescribeDomainCertificateInfo. CertId is
// a string here (the SDK declares it so), unlike in the list actions.
type domainCertInfo struct {
	DomainName              string
	CertName                string `json:",omitempty"`
	CertId                  string `json:",omitempty"`
	CertRegion              string `json:",omitempty"`
	CertType                string `json:",omitempty"`
	ServerCertificateStatus string
	ServerCertificate       string `json:",omitempty"`
	CertDomainName          string `json:",omitempty"`
	CertOrg                 string `json:",omitempty"`
	CertStartTime           string `json:",omitempty"`
	CertExpireTime          string `json:",omitempty"`
	CertUpdateTime          string `json:",omitempty"`
	CertLife                string `json:",omitempty"`
	DomainCnameStatus       string
	Status                  string
}

// describeDomainCertificateInfo always answers one CertInfo, with
// ServerCertificateStatus "off" for an HTTP-only domain: Terraform reads
// CertInfo[0] and treats an empty list as a missing resource.
func (s *Service) describeDomainCertificateInfo(ctx context.Context, r *openapi.Request) (any, error) {
	d, _, err := s.loadDomain(ctx, account(r), r.Get("DomainName"))
	if err != nil {
		return nil, err
	}
	info := domainCertInfo{DomainName: d.Name, ServerCertificateStatus: "off", DomainCnameStatus: "ok", Status: "success"}
	if d.HTTPS != nil {
		// A free certificate's state is read before the certificate: the
		// issuance writes both at once, so a success read here is
		// followed by the issued certificate below.
		free := d.HTTPS.CertType == certTypeFree
		var status string
		if free {
			if status, err = s.freeStatus(ctx, d); err != nil {
				return nil, err
			}
		}
		c, _, err := s.certs.Get(ctx, d.AccountID, d.HTTPS.CertName)
		if err != nil && !errors.Is(err, cas.ErrNotFound) {
			return nil, err
		}
		if err == nil {
			fillCertInfo(&info, d, c)
		}
		if free {
			info.ServerCertificateStatus, info.CertType, info.Status = "on", certTypeFree, status
		}
	}
	return struct {
		CertInfos struct{ CertInfo []domainCertInfo }
	}{struct{ CertInfo []domainCertInfo }{[]domainCertInfo{info}}}, nil
}

// freeStatus is a free certificate's issuance, with Alibaba's values
// (store.FreeChecking and the others), also while the domain still serves
// the certificate it had before.
func (s *Service) freeStatus(ctx context.Context, d store.Domain) (string, error) {
	var fc store.FreeCert
	_, err := s.st.Get(ctx, store.FreeCertKey(d.Name), &fc)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if fc.Status == "" {
		return store.FreeChecking, nil
	}
	return fc.Status, nil
}

func fillCertInfo(info *domainCertInfo, d store.Domain, c store.Cert) {
	info.ServerCertificateStatus = "on"
	info.CertName = c.Name
	info.CertId = strconv.FormatInt(c.CertID, 10)
	info.CertRegion = "cn-hangzhou"
	info.CertType = d.HTTPS.CertType
	info.ServerCertificate = c.ChainPEM
	info.CertDomainName = c.CommonName
	info.CertOrg = c.Issuer
	info.CertStartTime = formatTime(c.NotBefore)
	info.CertExpireTime = formatTime(c.NotAfter)
	info.CertUpdateTime = formatTime(c.Updated)
	info.CertLife = certLife(c.NotBefore, c.NotAfter)
}

// certLife renders a validity period the way Alibaba does: "3 months",
// "1 years".
func certLife(from, to time.Time) string {
	months := int(to.Sub(from).Hours()/24/30 + 0.5)
	if months >= 12 {
		return strconv.Itoa(months/12) + " years"
	}
	return strconv.Itoa(months) + " months"
}
