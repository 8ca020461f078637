package cdn

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cdnd/cdnd/internal/ascii"
	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/objectpath"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/originpolicy"
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
	resolver    *net.Resolver
	keyring     *keyring.Keyring
	// originClient fetches from web servers tenants name (ownership files).
	originClient *http.Client
	verifyOwner  bool
	freeCerts    bool
	origins      *originpolicy.Policy
	now          func() time.Time
	// busyWait is how long an action on a domain that is still configuring
	// waits for the edges before answering ServiceBusy. Edges apply a change
	// in milliseconds, so a script that sets a certificate right after adding
	// the domain just works.
	busyWait time.Duration

	ownerMu     sync.Mutex
	ownerSecret []byte // the verification key, once loaded
}

// Config wires the service.
type Config struct {
	Store *store.Store
	Certs *cas.Repo
	// CnameSuffix is appended to a domain to form its CNAME
	// ("example.com" -> "example.com.<suffix>").
	CnameSuffix string
	// Resolver looks up the names tenants give (origins, ownership
	// records); nil means the system's.
	Resolver *net.Resolver
	// Keyring seals the installation's ownership verification secret.
	Keyring *keyring.Keyring
	// OriginClient fetches ownership files from the web servers tenants
	// name; nil means http.DefaultClient.
	OriginClient *http.Client
	// VerifyDomainOwner makes AddCdnDomain refuse a name whose root domain
	// the account has not verified (VerifyDomainOwner).
	VerifyDomainOwner bool
	// Origins is the node's origin address policy; nil refuses every
	// address that is not globally reachable.
	Origins *originpolicy.Policy
	// FreeCerts says an ACME CA is configured, so CertType=free is
	// accepted (internal/acme issues the certificates).
	FreeCerts bool
}

// New returns the CDN service.
func New(cfg Config) *Service {
	if cfg.Origins == nil {
		cfg.Origins = originpolicy.New(nil)
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.OriginClient == nil {
		cfg.OriginClient = http.DefaultClient
	}
	if cfg.CnameSuffix == "" {
		cfg.CnameSuffix = "w.cdnd.localhost"
	}
	return &Service{
		st:           cfg.Store,
		certs:        cfg.Certs,
		cnameSuffix:  cfg.CnameSuffix,
		resolver:     cfg.Resolver,
		keyring:      cfg.Keyring,
		originClient: cfg.OriginClient,
		verifyOwner:  cfg.VerifyDomainOwner,
		freeCerts:    cfg.FreeCerts,
		origins:      cfg.Origins,
		now:          time.Now,
		busyWait:     2 * time.Second,
	}
}

// Actions lists every action the service answers, for the gateway. Each
// names the domains it touches, so that a RAM policy limited to
// "acs:cdn:*:ACCOUNT:domain/*.a.example" allows x.a.example and nothing else.
func (s *Service) Actions() []openapi.Action {
	certParams := []string{"PrivateKey"}
	sslParams := []string{"SSLPri"}
	one, list, all := domainResource("DomainName"), domainListResource("DomainName"), allDomainsResource
	actions := []openapi.Action{
		{Name: "AddCdnDomain", Version: Version2018, Rate: 30, Resources: one, Required: []string{"DomainName", "CdnType", "Sources"}, Handle: s.addDomain},
		{Name: "DescribeCdnDomainDetail", Version: Version2018, Rate: 30, ReadOnly: true, Resources: one, Required: []string{"DomainName"}, Handle: s.describeDomainDetail},
		{Name: "DescribeUserDomains", Version: Version2018, Rate: 100, ReadOnly: true, Resources: all, Handle: s.describeUserDomains},
		{Name: "StartCdnDomain", Version: Version2018, Rate: 100, Resources: one, Required: []string{"DomainName"}, Handle: s.startDomain},
		{Name: "StopCdnDomain", Version: Version2018, Rate: 40, Resources: one, Required: []string{"DomainName"}, Handle: s.stopDomain},
		{Name: "DeleteCdnDomain", Version: Version2018, Rate: 10, Resources: one, Required: []string{"DomainName"}, Handle: s.deleteDomain},
		{Name: "ModifyCdnDomain", Version: Version2018, Rate: 30, Resources: one, Required: []string{"DomainName"}, Handle: s.modifyDomain},
		{Name: "BatchStartCdnDomain", Version: Version2018, Rate: 30, Resources: domainListResource("DomainNames"), Required: []string{"DomainNames"}, Handle: s.batchStartDomains},
		{Name: "BatchStopCdnDomain", Version: Version2018, Rate: 30, Resources: domainListResource("DomainNames"), Required: []string{"DomainNames"}, Handle: s.batchStopDomains},
		{Name: "SetDomainServerCertificate", Version: Version2018, Rate: 10, Resources: one, Required: []string{"DomainName", "ServerCertificateStatus"}, Secrets: certParams, Handle: s.setDomainServerCertificate2018},
		{Name: "SetDomainServerCertificate", Version: Version2014, Rate: 10, Resources: list, Required: []string{"DomainName", "ServerCertificateStatus"}, Secrets: certParams, Handle: s.setDomainServerCertificate2014},
		{Name: "SetCdnDomainSSLCertificate", Version: Version2018, Rate: 30, Resources: one, Required: []string{"DomainName", "SSLProtocol"}, Secrets: sslParams, Handle: s.setCdnDomainSSLCertificate},
		{Name: "BatchSetCdnDomainServerCertificate", Version: Version2018, Rate: 10, Resources: list, Required: []string{"DomainName", "SSLProtocol"}, Secrets: sslParams, Handle: s.batchSetCdnDomainServerCertificate},
		{Name: "SetCdnDomainCSRCertificate", Version: Version2018, Rate: 100, Resources: one, Required: []string{"DomainName", "ServerCertificate"}, Handle: s.setCdnDomainCSRCertificate},
		{Name: "CreateCdnCertificateSigningRequest", Version: Version2018, Rate: 100, Required: []string{"CommonName"}, Handle: s.createCdnCertificateSigningRequest},
		{Name: "DescribeDomainCertificateInfo", Version: Version2018, Rate: 100, ReadOnly: true, Resources: one, Required: []string{"DomainName"}, Handle: s.describeDomainCertificateInfo},
		// What aliyungo's CDN client (Version 2014-11-11) reads back with.
		{Name: "DescribeCdnDomainDetail", Version: Version2014, Rate: 30, ReadOnly: true, Resources: one, Required: []string{"DomainName"}, Handle: s.describeDomainDetail2014},
		{Name: "DescribeDomainCertificateInfo", Version: Version2014, Rate: 100, ReadOnly: true, Resources: one, Required: []string{"DomainName"}, Handle: s.describeDomainCertificateInfo},
		{Name: "DescribeCdnCertificateList", Version: Version2018, Rate: 30, ReadOnly: true, Resources: all, Handle: s.describeCdnCertificateList},
		{Name: "DescribeCdnCertificateDetail", Version: Version2018, Rate: 20, ReadOnly: true, Resources: all, Required: []string{"CertName"}, Handle: s.describeCdnCertificateDetail},
		{Name: "DescribeCdnCertificateDetailById", Version: Version2018, Rate: 20, ReadOnly: true, Resources: all, Required: []string{"CertId"}, Handle: s.describeCdnCertificateDetailByID},
		{Name: "DescribeCdnDomainByCertificate", Version: Version2018, Rate: 100, ReadOnly: true, Resources: all, Required: []string{"SSLPub"}, Handle: s.describeCdnDomainByCertificate},
		{Name: "DescribeCdnHttpsDomainList", Version: Version2018, Rate: 100, ReadOnly: true, Resources: all, Handle: s.describeCdnHttpsDomainList},
		{Name: "DescribeUserCertificateExpireCount", Version: Version2018, Rate: 100, ReadOnly: true, Resources: all, Handle: s.describeUserCertificateExpireCount},
		// Ownership: 100 calls a second per account, as Alibaba documents.
		{Name: "DescribeVerifyContent", Version: Version2018, Rate: 100, ReadOnly: true, Resources: one, Required: []string{"DomainName"}, Handle: s.describeVerifyContent},
		{Name: "VerifyDomainOwner", Version: Version2018, Rate: 100, Resources: one, Required: []string{"DomainName", "VerifyType"}, Handle: s.verifyDomainOwner},
		// Domain configuration; BatchSetCdnDomainConfig at the 3 calls a
		// second its page gives.
		{Name: "BatchSetCdnDomainConfig", Version: Version2018, Rate: 3, Resources: domainListResource("DomainNames"), Required: []string{"DomainNames", "Functions"}, Handle: s.batchSetDomainConfig},
		{Name: "DescribeCdnDomainConfigs", Version: Version2018, Rate: 20, ReadOnly: true, Resources: one, Required: []string{"DomainName"}, Handle: s.describeDomainConfigs},
		{Name: "DeleteSpecificConfig", Version: Version2018, Rate: 20, Resources: one, Required: []string{"DomainName", "ConfigId"}, Handle: s.deleteSpecificConfig},
		{Name: "SetReqHeaderConfig", Version: Version2018, Rate: 30, Resources: one, Required: []string{"DomainName", "Key", "Value"}, Handle: s.setReqHeaderConfig},
		{Name: "BatchDeleteCdnDomainConfig", Version: Version2018, Rate: 30, Resources: domainListResource("DomainNames"), Required: []string{"DomainNames", "FunctionNames"}, Handle: s.batchDeleteDomainConfig},
		// Refresh and prefetch at the rates their pages give.
		{Name: "RefreshObjectCaches", Version: Version2018, Rate: 50, Resources: refreshResources, Required: []string{"ObjectPath"}, Handle: s.refreshObjectCaches},
		{Name: "PushObjectCache", Version: Version2018, Rate: 50, Resources: objectPathDomains(objectpath.Preload), Required: []string{"ObjectPath"}, Handle: s.pushObjectCache},
		{Name: "DescribeRefreshTaskById", Version: Version2018, Rate: 30, ReadOnly: true, Resources: all, Required: []string{"TaskId"}, Handle: s.describeRefreshTaskByID},
		{Name: "DescribeRefreshTasks", Version: Version2018, Rate: 5, ReadOnly: true, Resources: all, Handle: s.describeRefreshTasks},
		{Name: "DescribeRefreshQuota", Version: Version2018, Rate: 20, ReadOnly: true, Resources: all, Handle: s.describeRefreshQuota},
		{Name: "DescribeCertificateInfoByID", Version: Version2018, Rate: 100, ReadOnly: true, GETOnly: true, Resources: all, Required: []string{"CertId"}, Handle: s.describeCertificateInfoByID},
	}
	for i := range actions {
		actions[i].RAMAction = "cdn:" + actions[i].Name
	}
	return actions
}

// domainARN names a domain in RAM policies.
func domainARN(account, domain string) string {
	return "acs:cdn:*:" + account + ":domain/" + ascii.Lower(strings.TrimSpace(domain))
}

// domainResource: the call touches the domain named by param.
func domainResource(param string) func(r *openapi.Request) []string {
	return func(r *openapi.Request) []string { return []string{domainARN(account(r), r.Get(param))} }
}

// domainListResource: the call touches each domain of a comma-separated list.
func domainListResource(param string) func(r *openapi.Request) []string {
	return func(r *openapi.Request) []string {
		names := strings.Split(r.Get(param), ",")
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = domainARN(account(r), n)
		}
		return out
	}
}

// allDomainsResource: list and repository actions touch "domain/*".
func allDomainsResource(r *openapi.Request) []string { return []string{domainARN(account(r), "*")} }

// account is the caller's account id.
func account(r *openapi.Request) string { return r.Principal.AccountID }
