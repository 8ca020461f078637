package cdn

import (
	"context"
	"errors"

	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/openapi"
)

// domainDetail2014 is DescribeCdnDomainDetail's model in Version
// 2014-11-11, what aliyungo (and the legacy Terraform resource on it) reads:
// one SourceType and SourcePort, Sources as a list of strings, and the
// certificate inline.
type domainDetail2014 struct {
	DomainName              string
	Cname                   string
	HttpsCname              string
	CdnType                 string
	DomainStatus            string
	Scope                   string
	SourceType              string
	SourcePort              int
	Sources                 struct{ Source []string }
	ServerCertificateStatus string
	ServerCertificate       string
	CertificateName         string
	GmtCreated              string
	GmtModified             string
	Description             string
}

func (s *Service) describeDomainDetail2014(ctx context.Context, r *openapi.Request) (any, error) {
	d, rev, err := s.loadDomain(ctx, account(r), r.Get("DomainName"))
	if err != nil {
		return nil, err
	}
	applied, err := s.applied(ctx)
	if err != nil {
		return nil, err
	}
	detail := domainDetail2014{
		DomainName:              d.Name,
		Cname:                   s.cname(d.Name),
		CdnType:                 d.CdnType,
		DomainStatus:            status(d, rev, applied),
		Scope:                   d.Scope,
		ServerCertificateStatus: httpsStatus(d),
		GmtCreated:              formatTime(d.Created),
		GmtModified:             formatTime(d.Modified),
	}
	detail.Sources.Source = make([]string, len(d.Sources))
	for i, src := range d.Sources {
		detail.Sources.Source[i] = src.Content
	}
	if len(d.Sources) > 0 {
		detail.SourceType, detail.SourcePort = d.Sources[0].Type, d.Sources[0].Port
	}
	if d.HTTPS != nil {
		detail.HttpsCname = detail.Cname
		c, _, err := s.certs.Get(ctx, d.AccountID, d.HTTPS.CertName)
		if err != nil && !errors.Is(err, cas.ErrNotFound) {
			return nil, err
		}
		if err == nil {
			detail.ServerCertificate, detail.CertificateName = c.ChainPEM, c.Name
		}
	}
	return struct{ GetDomainDetailModel domainDetail2014 }{detail}, nil
}
