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
	domainSummary
	SourceType        string
	SourcePort        int
	Sources           struct{ Source []string }
	ServerCertificate string
	CertificateName   string
}

func (s *Service) describeDomainDetail2014(ctx context.Context, r *openapi.Request) (any, error) {
	d, sum, err := s.describeDomain(ctx, r)
	if err != nil {
		return nil, err
	}
	detail := domainDetail2014{domainSummary: sum}
	detail.Sources.Source = make([]string, len(d.Sources))
	for i, src := range d.Sources {
		detail.Sources.Source[i] = src.Content
	}
	if len(d.Sources) > 0 {
		detail.SourceType, detail.SourcePort = d.Sources[0].Type, d.Sources[0].Port
	}
	if d.HTTPS != nil {
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
