package cdn

import (
	"context"
	"time"

	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// Version2018 is the current CDN API version; Version2014 the legacy one
// older SDKs (and the legacy Terraform resource) still send.
const (
	Version2018 = "2018-05-10"
	Version2014 = "2014-11-11"
)

// Service implements the CDN actions over the store.
type Service struct {
	st          *store.Store
	certs       *cas.Repo
	cnameSuffix string
	now         func() time.Time
	// busyWait is how long an action on a domain that is still configuring
	// waits for the edges before answering ServiceBusy. Edges apply a change
	// in milliseconds, so a script that sets a certificate right after adding
	// the domain just works.
	busyWait time.Duration
}

// Config wires the service.
type Config struct {
	Store *store.Store
	Certs *cas.Repo
	// CnameSuffix is appended to a domain to form its CNAME
	// ("example.com" -> "example.com.<suffix>").
	CnameSuffix string
}

// New returns the CDN service.
func New(cfg Config) *Service {
	if cfg.CnameSuffix == "" {
		cfg.CnameSuffix = "w.cdnd.localhost"
	}
	return &Service{
		st:          cfg.Store,
		certs:       cfg.Certs,
		cnameSuffix: cfg.CnameSuffix,
		now:         time.Now,
		busyWait:    2 * time.Second,
	}
}

// Actions lists every action the service answers, for the gateway.
func (s *Service) Actions() []openapi.Action {
	certParams := []string{"PrivateKey"}
	sslParams := []string{"SSLPri"}
	return []openapi.Action{
		{Name: "AddCdnDomain", Version: Version2018, Rate: 30, Required: []string{"DomainName", "CdnType", "Sources"}, Handle: s.addDomain},
		{Name: "DescribeCdnDomainDetail", Version: Version2018, Rate: 30, Required: []string{"DomainName"}, Handle: s.describeDomainDetail},
		{Name: "DescribeUserDomains", Version: Version2018, Rate: 100, Handle: s.describeUserDomains},
		{Name: "StartCdnDomain", Version: Version2018, Rate: 100, Required: []string{"DomainName"}, Handle: s.startDomain},
		{Name: "StopCdnDomain", Version: Version2018, Rate: 40, Required: []string{"DomainName"}, Handle: s.stopDomain},
		{Name: "DeleteCdnDomain", Version: Version2018, Rate: 10, Required: []string{"DomainName"}, Handle: s.deleteDomain},
		{Name: "SetDomainServerCertificate", Version: Version2018, Rate: 10, Required: []string{"DomainName", "ServerCertificateStatus"}, Secrets: certParams, Handle: s.setDomainServerCertificate2018},
		{Name: "SetDomainServerCertificate", Version: Version2014, Rate: 10, Required: []string{"DomainName", "ServerCertificateStatus"}, Secrets: certParams, Handle: s.setDomainServerCertificate2014},
		{Name: "DescribeDomainCertificateInfo", Version: Version2018, Rate: 100, Required: []string{"DomainName"}, Handle: s.describeDomainCertificateInfo},
		{Name: "SetCdnDomainSSLCertificate", Version: Version2018, Rate: 30, Required: []string{"DomainName", "SSLProtocol"}, Secrets: sslParams, Handle: s.setCdnDomainSSLCertificate},
		{Name: "BatchSetCdnDomainServerCertificate", Version: Version2018, Rate: 10, Required: []string{"DomainName", "SSLProtocol"}, Secrets: sslParams, Handle: s.batchSetCdnDomainServerCertificate},
		{Name: "DescribeCdnCertificateList", Version: Version2018, Rate: 30, Handle: s.describeCdnCertificateList},
		{Name: "DescribeCdnCertificateDetail", Version: Version2018, Rate: 20, Required: []string{"CertName"}, Handle: s.describeCdnCertificateDetail},
		{Name: "DescribeCdnCertificateDetailById", Version: Version2018, Rate: 20, Required: []string{"CertId"}, Handle: s.describeCdnCertificateDetailByID},
		{Name: "DescribeCdnDomainByCertificate", Version: Version2018, Rate: 100, Required: []string{"SSLPub"}, Handle: s.describeCdnDomainByCertificate},
		{Name: "DescribeCdnHttpsDomainList", Version: Version2018, Rate: 100, Handle: s.describeCdnHttpsDomainList},
		{Name: "DescribeUserCertificateExpireCount", Version: Version2018, Rate: 100, Handle: s.describeUserCertificateExpireCount},
		{Name: "DescribeCertificateInfoByID", Version: Version2018, Rate: 100, GETOnly: true, Required: []string{"CertId"}, Handle: s.describeCertificateInfoByID},
		{Name: "CreateCdnCertificateSigningRequest", Version: Version2018, Rate: 100, Required: []string{"CommonName"}, Handle: s.createCdnCertificateSigningRequest},
		{Name: "SetCdnDomainCSRCertificate", Version: Version2018, Rate: 100, Required: []string{"DomainName", "ServerCertificate"}, Handle: s.setCdnDomainCSRCertificate},
		{Name: "ModifyCdnDomain", Version: Version2018, Rate: 30, Required: []string{"DomainName"}, Handle: s.modifyDomain},
		{Name: "BatchStartCdnDomain", Version: Version2018, Rate: 30, Required: []string{"DomainNames"}, Handle: s.batchStartDomains},
		{Name: "BatchStopCdnDomain", Version: Version2018, Rate: 30, Required: []string{"DomainNames"}, Handle: s.batchStopDomains},
	}
}

// account is the caller's account id.
func account(r *openapi.Request) string { return r.Principal.AccountID }

// retryConflicts runs f until it commits without a concurrent change getting
// in the way. f re-reads what it depends on each time.
func retryConflicts(ctx context.Context, f func() error) error {
	for attempt := 0; ; attempt++ {
		err := f()
		if err != store.ErrConflict || attempt == 20 {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
