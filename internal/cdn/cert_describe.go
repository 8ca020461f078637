package cdn

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// Errors of the certificate read actions.
var (
	errCertDetailParameter = openapi.NewError(403, "InvaildParameter", "The parameter you provided is invalid.") // sic: Alibaba's spelling
	errCertIDNotFound      = openapi.NewError(400, "InvalidCertId.NotFound", "The certId does not exist.")
	errCertDecode          = openapi.NewError(400, "Certificate.DecodeError", "Error decoding the certificate.")
)

// expireSoon is how close to expiry a certificate counts as expiring.
const expireSoon = 30 * 24 * time.Hour

// Time formats the certificate actions use, one per action family.
const (
	spaceTimeLayout   = "2006-01-02 15:04:05"           // DescribeCdnHttpsDomainList
	goTimeLayout      = "2006-01-02 15:04:05 -0700 MST" // DescribeCertificateInfoByID
	opensslTimeLayout = "Jan _2 15:04:05 2006 GMT"      // DescribeCdnDomainByCertificate
)

// accountDomains reads every domain of an account.
func (s *Service) accountDomains(ctx context.Context, accountID string) ([]store.Versioned[store.Domain], error) {
	names, err := s.st.DomainsOf(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return s.st.GetDomains(ctx, names)
}

// httpsDomains returns the account's domains with HTTPS on, and the
// certificates of its repository by name.
func (s *Service) httpsDomains(ctx context.Context, accountID string) ([]store.Domain, map[string]store.Cert, error) {
	vs, err := s.accountDomains(ctx, accountID)
	if err != nil {
		return nil, nil, err
	}
	list, err := s.certs.List(ctx, accountID)
	if err != nil {
		return nil, nil, err
	}
	byName := make(map[string]store.Cert, len(list))
	for _, c := range list {
		byName[c.Name] = c
	}
	var out []store.Domain
	for _, v := range vs {
		if v.Value.HTTPS != nil {
			out = append(out, v.Value)
		}
	}
	return out, byName, nil
}

type certListEntry struct {
	CertName    string
	CertId      int64
	Common      string
	Fingerprint string
	Issuer      string
	LastTime    int64
}

// describeCdnCertificateList lists the account's certificates, or those
// bound to the named domains.
func (s *Service) describeCdnCertificateList(ctx context.Context, r *openapi.Request) (any, error) {
	all, err := s.certs.List(ctx, account(r))
	if err != nil {
		return nil, err
	}
	var keep map[string]bool
	if names := r.Get("DomainName"); names != "" {
		keep = map[string]bool{}
		for _, n := range strings.Split(names, ",") {
			d, _, err := s.loadDomain(ctx, account(r), strings.TrimSpace(n))
			if errors.Is(err, errDomainNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if d.HTTPS != nil {
				keep[d.HTTPS.CertName] = true
			}
		}
	}
	list := []certListEntry{}
	for _, c := range all {
		if keep != nil && !keep[c.Name] {
			continue
		}
		list = append(list, certListEntry{c.Name, c.CertID, c.CommonName, fingerprintSHA1(c), c.Issuer, c.NotBefore.Unix()})
	}
	type certList struct{ Cert []certListEntry }
	return struct {
		CertificateListModel struct {
			Count    int
			CertList certList
		}
	}{struct {
		Count    int
		CertList certList
	}{len(list), certList{list}}}, nil
}

// fingerprintSHA1 is the upper-case SHA-1 fingerprint the list shows.
func fingerprintSHA1(c store.Cert) string {
	chain, err := certs.ParseChain([]byte(c.ChainPEM))
	if err != nil {
		return ""
	}
	return certs.SHA1Fingerprint(chain.Leaf)
}

// certDetail never carries the private key: Key is always empty.
type certDetail struct {
	CertName string
	CertId   int64
	Cert     string
	Key      string
}

func (s *Service) describeCdnCertificateDetail(ctx context.Context, r *openapi.Request) (any, error) {
	c, _, err := s.certs.Get(ctx, account(r), r.Get("CertName"))
	if errors.Is(err, cas.ErrNotFound) {
		return nil, errCertDetailParameter
	}
	if err != nil {
		return nil, err
	}
	return certDetail{CertName: c.Name, CertId: c.CertID, Cert: c.ChainPEM}, nil
}

func (s *Service) describeCdnCertificateDetailByID(ctx context.Context, r *openapi.Request) (any, error) {
	if !certRegions[r.Get("CertRegion")] {
		return nil, setSSLCertificateErrors[faultCertRegion]
	}
	c, err := s.certByID(ctx, account(r), r.Get("CertId"))
	if err != nil {
		return nil, err
	}
	return certDetail{CertName: c.Name, CertId: c.CertID, Cert: c.ChainPEM}, nil
}

// certByID reads an account's certificate by its decimal CertId.
func (s *Service) certByID(ctx context.Context, accountID, id string) (store.Cert, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return store.Cert{}, errCertIDNotFound
	}
	name, err := s.certs.NameByID(ctx, accountID, n)
	if err == nil {
		var c store.Cert
		c, _, err = s.certs.Get(ctx, accountID, name)
		if err == nil {
			return c, nil
		}
	}
	if errors.Is(err, cas.ErrNotFound) {
		return store.Cert{}, errCertIDNotFound
	}
	return store.Cert{}, err
}

type certInfoByID struct {
	CertId         string
	CertName       string
	CertType       string
	CreateTime     string
	CertExpireTime string
	HttpsCrt       string
	DomainList     string // a JSON array in a string: the SDK declares a string
}

// describeCertificateInfoByID reports a certificate with the domains it is
// enabled on. As on Alibaba Cloud, a certificate enabled on no domain is
// reported as not existing: the list is empty.
func (s *Service) describeCertificateInfoByID(ctx context.Context, r *openapi.Request) (any, error) {
	infos := []certInfoByID{}
	c, err := s.certByID(ctx, account(r), r.Get("CertId"))
	if err != nil && !errors.Is(err, errCertIDNotFound) {
		return nil, err
	}
	if err == nil {
		domains, _, err := s.httpsDomains(ctx, account(r))
		if err != nil {
			return nil, err
		}
		var names []string
		certType := "upload"
		for _, d := range domains {
			if d.HTTPS.CertName == c.Name {
				names = append(names, d.Name)
				certType = d.HTTPS.CertType
			}
		}
		if len(names) > 0 {
			list, _ := json.Marshal(names)
			infos = append(infos, certInfoByID{
				CertId:         strconv.FormatInt(c.CertID, 10),
				CertName:       c.Name,
				CertType:       certType,
				CreateTime:     c.Created.UTC().Format(goTimeLayout),
				CertExpireTime: c.NotAfter.UTC().Format(goTimeLayout),
				HttpsCrt:       c.ChainPEM,
				DomainList:     string(list),
			})
		}
	}
	return struct {
		CertInfos struct{ CertInfo []certInfoByID }
	}{struct{ CertInfo []certInfoByID }{infos}}, nil
}

type certByCertificate struct {
	Issuer                string
	CertType              string
	CertSubjectCommonName string
	CertStartTime         string
	CertExpireTime        string
	DomainNames           string
	DomainList            string
	CertExpired           string
	CertCaIsLegacy        string
}

// decodeLenientPEM accepts a certificate as callers send it to
// DescribeCdnDomainByCertificate: raw PEM, base64 of the PEM (what the
// documentation asks for), or URL-encoded PEM.
func decodeLenientPEM(v string) (*certs.Chain, error) {
	candidates := []string{v}
	if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v)); err == nil {
		candidates = append(candidates, string(b))
	}
	if u, err := url.QueryUnescape(v); err == nil {
		candidates = append(candidates, u)
		if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(u)); err == nil {
			candidates = append(candidates, string(b))
		}
	}
	var first error
	for _, c := range candidates {
		chain, err := certs.ParseChain([]byte(c))
		if err == nil {
			return chain, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

func (s *Service) describeCdnDomainByCertificate(ctx context.Context, r *openapi.Request) (any, error) {
	chain, err := decodeLenientPEM(r.Get("SSLPub"))
	switch {
	case errors.Is(err, certs.ErrNoCertificate):
		return nil, errCertDecode
	case err != nil:
		return nil, setServerCertificateErrors[faultCertFormat]
	}
	var want *bool
	if v := r.Get("SSLStatus"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, openapi.ErrInvalidParameter.WithMessage("Specified parameter SSLStatus is not valid.")
		}
		want = &b
	}
	vs, err := s.accountDomains(ctx, account(r))
	if err != nil {
		return nil, err
	}
	leaf := chain.Leaf
	names := certs.Names(leaf)
	var matched []string
	for _, v := range vs {
		d := v.Value
		if want != nil && (d.HTTPS != nil) != *want {
			continue
		}
		if certs.CoversAny(names, d.Name) {
			matched = append(matched, d.Name)
		}
	}
	expired := "no"
	if s.now().After(leaf.NotAfter) {
		expired = "yes"
	}
	info := certByCertificate{
		Issuer:                leaf.Issuer.String(),
		CertType:              certs.KeyAlgorithm(leaf),
		CertSubjectCommonName: leaf.Subject.CommonName,
		CertStartTime:         leaf.NotBefore.UTC().Format(opensslTimeLayout),
		CertExpireTime:        leaf.NotAfter.UTC().Format(opensslTimeLayout),
		DomainNames:           strings.Join(names, ","),
		DomainList:            strings.Join(matched, ","),
		CertExpired:           expired,
		CertCaIsLegacy:        "no",
	}
	return struct {
		CertInfos struct{ CertInfo []certByCertificate }
	}{struct{ CertInfo []certByCertificate }{[]certByCertificate{info}}}, nil
}

type httpsDomainInfo struct {
	DomainName     string
	CertName       string
	CertCommonName string
	CertType       string
	CertStatus     string
	CertStartTime  string
	CertExpireTime string
	CertUpdateTime string
}

// certStatus judges a domain's certificate from the certificate itself:
// expired, expiring within 30 days, not covering the domain, or ok.
func certStatus(d store.Domain, c store.Cert, now time.Time) string {
	switch {
	case now.After(c.NotAfter):
		return "expired"
	case !certs.CoversAny(c.Names, d.Name):
		return "mismatch"
	case c.NotAfter.Sub(now) < expireSoon:
		return "expire_soon"
	}
	return "ok"
}

func (s *Service) describeCdnHttpsDomainList(ctx context.Context, r *openapi.Request) (any, error) {
	pageNumber, pageSize, err := pageParams(r)
	if err != nil {
		return nil, err
	}
	domains, byName, err := s.httpsDomains(ctx, account(r))
	if err != nil {
		return nil, err
	}
	sort.Slice(domains, func(i, j int) bool { return domains[i].Name < domains[j].Name })
	keyword := strings.ToLower(r.Get("Keyword"))
	infos := []httpsDomainInfo{}
	total := 0
	now := s.now()
	for _, d := range domains {
		c, ok := byName[d.HTTPS.CertName]
		if !ok || (keyword != "" && !strings.Contains(d.Name, keyword) && !strings.Contains(strings.ToLower(c.Name), keyword)) {
			continue
		}
		total++
		if total <= (pageNumber-1)*pageSize || total > pageNumber*pageSize {
			continue
		}
		infos = append(infos, httpsDomainInfo{
			DomainName:     d.Name,
			CertName:       c.Name,
			CertCommonName: c.CommonName,
			CertType:       d.HTTPS.CertType,
			CertStatus:     certStatus(d, c, now),
			CertStartTime:  c.NotBefore.UTC().Format(spaceTimeLayout),
			CertExpireTime: c.NotAfter.UTC().Format(spaceTimeLayout),
			CertUpdateTime: c.Updated.UTC().Format(spaceTimeLayout),
		})
	}
	return struct {
		TotalCount int
		CertInfos  struct{ CertInfo []httpsDomainInfo }
	}{total, struct{ CertInfo []httpsDomainInfo }{infos}}, nil
}

// describeUserCertificateExpireCount counts domains, not certificates, whose
// certificate has expired or expires within 30 days.
func (s *Service) describeUserCertificateExpireCount(ctx context.Context, r *openapi.Request) (any, error) {
	domains, byName, err := s.httpsDomains(ctx, account(r))
	if err != nil {
		return nil, err
	}
	var soon, expired int
	now := s.now()
	for _, d := range domains {
		c, ok := byName[d.HTTPS.CertName]
		switch {
		case !ok:
		case now.After(c.NotAfter):
			expired++
		case c.NotAfter.Sub(now) < expireSoon:
			soon++
		}
	}
	return struct{ ExpireWithin30DaysCount, ExpiredCount int }{soon, expired}, nil
}
