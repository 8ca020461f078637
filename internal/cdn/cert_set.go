package cdn

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// certFault is what can be wrong with a certificate change. Each API version
// reports a fault with its own code (the 2014 API names parameters
// differently and answers some faults with other statuses), so faults are
// translated at the edge of each action through a table.
type certFault int

const (
	faultStatus certFault = iota + 1
	faultCertType
	faultMissingCert
	faultMissingKey
	faultMissingName
	faultNameTooLong
	faultTooLong
	faultBadCert
	faultCertFormat
	faultBadKey
	faultBadBoth
	faultEncryptedKey
	faultMismatch
	faultExpired
	faultCertNotFound
	faultDuplicateName
	faultDuplicateContent
	faultForeignDomain
	faultOffline
	faultSafeMode
	faultProtectedMode
	faultTooManyDomains
	faultCertRegion
	faultEnv
	faultMissingCertID
	faultFreeUnavailable

	// numFaults is one more than the last fault: every table maps each
	// fault below it (TestEveryFaultHasACodeInEveryTable).
	numFaults
)

func (f certFault) Error() string { return "cdn: certificate fault " + strconv.Itoa(int(f)) }

// maxCertName is Alibaba's limit on CertName.
const maxCertName = 128

// setServerCertificateErrors: SetDomainServerCertificate, 2018-05-10, as its
// API reference lists them
// (https://www.alibabacloud.com/help/en/cdn/developer-reference/api-cdn-2018-05-10-setdomainservercertificate).
var setServerCertificateErrors = map[certFault]*openapi.Error{
	faultStatus:           openapi.NewError(400, "InvalidServerCertificateStatus.ValueNotSupported", "The specified ServerCertificateStatus is invalid."),
	faultCertType:         errSetCertificateParameter,
	faultMissingCert:      openapi.NewError(400, "SSLPub.MissingParameter", "The SSLPub parameter is required."),
	faultMissingKey:       openapi.NewError(400, "SSLPri.MissingParameter", "The SSLPri parameter is required."),
	faultMissingName:      openapi.NewError(404, "CertName.MissingParameter", "The CertName parameter is required."),
	faultNameTooLong:      openapi.NewError(400, "InvalidCertName.TooLong", "The length of the certificate name cannot exceed 128 characters."),
	faultTooLong:          openapi.NewError(400, "InvalidCertificate.TooLong", "The Certificate you provided is over the max length"),
	faultBadCert:          openapi.NewError(400, "InvalidSSLPub", "The SSLPub you provided is malformed."),
	faultCertFormat:       openapi.NewError(400, "Certificate.FormatError", "The format of the certificate is invalid."),
	faultBadKey:           openapi.NewError(400, "InvalidSSLPri", "The SSLPri you provided is malformed."),
	faultBadBoth:          openapi.NewError(400, "InvalidSSLPubOrInvalidSSLPri", "The SSLPri or SSLPub you provided is malformed."),
	faultEncryptedKey:     openapi.NewError(400, "Key.Malformed", "The specified Key format is invalid."),
	faultMismatch:         openapi.NewError(400, "Certificate.MissMatch", "The SSLPri does not match the certificate."),
	faultExpired:          openapi.NewError(400, "Certificate.Expired", "The certificate has expired."),
	faultCertNotFound:     openapi.NewError(400, "Certificate.NotFind", "The certificate does not exist."),
	faultDuplicateName:    openapi.NewError(400, "Certificate.Duplicated", "The certificate name already exists."),
	faultDuplicateContent: openapi.NewError(400, "CertificateContent.Duplicated", "The certificate has been uploaded,do not upload again."),
	faultForeignDomain:    openapi.NewError(400, "IllegalOperationDomain", "You are not authorized to operate the domain."),
	faultOffline:          openapi.NewError(400, "InvalidDomain.notOnline", "The domain is offline. Check the status of the domain and try again later."),
	faultSafeMode:         openapi.NewError(400, "DomainInSafeMode", "The domain is in safe mode. To request permission, contact Customer Service."),
	faultProtectedMode:    openapi.NewError(403, "DomainInProtectedMode", "The domain is in protection mode. To request permission, contact Customer Service."),
	faultTooManyDomains:   errSetCertificateParameter,
	// Parameters this action does not take (CertRegion, Env, CertId): a
	// shared code path that raised their faults here would be a bug, but
	// still an answer, not a nil error.
	faultCertRegion:    errSetCertificateParameter,
	faultEnv:           errSetCertificateParameter,
	faultMissingCertID: errSetCertificateParameter,
	// CertType=free needs a CA: an installation without --acme-directory
	// refuses it rather than accept a certificate that never comes.
	faultFreeUnavailable: openapi.NewError(400, "InvalidCertType.FreeUnavailable", "CertType free is not available: this installation has no ACME directory configured (cdnd --acme-directory)."),
}

var errSetCertificateParameter = openapi.NewError(400, "SetDomainCertificate.ParameterError", "The specified parameters are invalid.")

// setServerCertificate2014Errors: the legacy API's own codes (cn docs),
// falling back to the 2018 codes for faults it shares.
var setServerCertificate2014Errors = withDefaults(map[certFault]*openapi.Error{
	faultStatus:         openapi.NewError(400, "InvalidServerCertificateStatus.ValueNotSupported", "The specified value of parameter Enable is not supported."),
	faultCertType:       openapi.NewError(400, "SetDomainServerCertificate.ParameterError", "The specified parameters are invalid."),
	faultMissingCert:    openapi.NewError(400, "ServerCertificate.MissingParameter", "The input parameter ServerCertificate that is mandatory for processing this request is not supplied."),
	faultMissingKey:     openapi.NewError(400, "PrivateKey.MissingParameter", "The input parameter PrivateKey that is mandatory for processing this request is not supplied."),
	faultNameTooLong:    openapi.NewError(400, "InvalidCertName.TooLong", "The CertName you provided is over the max length 128!"),
	faultTooLong:        openapi.NewError(400, "InvalidCertificate.TooLong", "The Certificate you provided is over the max length!"),
	faultBadCert:        openapi.NewError(400, "InvalidCertificate", "The Certificate you provided is malformed!"),
	faultCertFormat:     openapi.NewError(400, "InvalidCertificate", "The Certificate you provided is malformed!"),
	faultBadKey:         openapi.NewError(400, "InvalidPrivateKey", "The PrivateKey you provided is malformed!"),
	faultBadBoth:        openapi.NewError(400, "InvalidCertificate", "The Certificate you provided is malformed!"),
	faultEncryptedKey:   openapi.NewError(400, "InvalidPrivateKey", "The PrivateKey you provided is malformed!"),
	faultMismatch:       openapi.NewError(400, "Certificate.MissMatch", "The PrivateKey does not math the specified Certificate!"),
	faultForeignDomain:  openapi.NewError(403, "IllegalOperation", "Illegal domain operate is not permitted."),
	faultProtectedMode:  openapi.NewError(400, "DomainInProtectedMode", "The domain is in protection mode. To request permission, contact Customer Service."),
	faultTooManyDomains: openapi.NewError(400, "SetDomainServerCertificate.ParameterError", "The specified parameters are invalid."),
}, setServerCertificateErrors)

func withDefaults(codes, defaults map[certFault]*openapi.Error) map[certFault]*openapi.Error {
	for f, e := range defaults {
		if _, ok := codes[f]; !ok {
			codes[f] = e
		}
	}
	return codes
}

// translate turns a certFault into the action's API error. A fault missing
// from the table stays the plain error it is (InternalError, logged) rather
// than becoming a nil *openapi.Error.
func translate(err error, codes map[certFault]*openapi.Error) error {
	var f certFault
	if errors.As(err, &f) {
		if e := codes[f]; e != nil {
			return e
		}
	}
	return err
}

// certChange is one certificate change on one or more domains.
type certChange struct {
	domains  []string
	enable   bool
	certType string // upload | cas | free
	name     string
	chainPEM string
	keyPEM   string
	force    bool
	// pair, when set, is the validated certificate and key (the CSR flow
	// builds it from a key that never left cdnd).
	pair *cas.Pair
}

// maxBatchDomains bounds the domains of one change (the 2014 API and the
// batch API take a comma-separated list).
const maxBatchDomains = 50

// certParamNames are the names one API version gives the parameters of a
// certificate change.
type certParamNames struct{ status, cert, key string }

var (
	serverCertificateParams = certParamNames{"ServerCertificateStatus", "ServerCertificate", "PrivateKey"}
	sslCertificateParams    = certParamNames{"SSLProtocol", "SSLPub", "SSLPri"}
)

// readCertChange reads a certificate change under the given parameter
// names; multi actions take a comma-separated DomainName.
func readCertChange(r *openapi.Request, names certParamNames, multi bool) (certChange, error) {
	c := certChange{
		certType: r.Get("CertType"),
		name:     r.Get("CertName"),
		chainPEM: r.Get(names.cert),
		keyPEM:   r.Get(names.key),
		force:    r.Get("ForceSet") == "1",
		domains:  []string{r.Get("DomainName")},
	}
	if multi {
		c.domains = strings.Split(r.Get("DomainName"), ",")
	}
	switch r.Get(names.status) {
	case "on":
		c.enable = true
	case "off":
	default:
		return c, faultStatus
	}
	return c, nil
}

// parseServerCertificate reads SetDomainServerCertificate's parameters
// (both versions). The 2014 API takes a comma-separated DomainName and
// makes CertName optional.
func parseServerCertificate(r *openapi.Request, legacy bool) (certChange, error) {
	c, err := readCertChange(r, serverCertificateParams, legacy)
	if err != nil {
		return c, err
	}
	if err := c.validate(); err != nil || !c.enable {
		return c, err
	}
	if c.name == "" && c.certType != "free" && (!legacy || c.certType == "cas") {
		return c, faultMissingName
	}
	return c, nil
}

// validate checks what every certificate action requires of a change,
// whatever its parameters are called: a known CertType (upload by
// default), a bounded name and, to enable an upload, a certificate and key.
func (c *certChange) validate() error {
	if len(c.domains) > maxBatchDomains {
		return faultTooManyDomains
	}
	if c.certType == "" {
		c.certType = "upload"
	}
	switch {
	case c.certType != "upload" && c.certType != "cas" && c.certType != certTypeFree:
		return faultCertType
	case !c.enable:
		return nil
	case len(c.name) > maxCertName:
		return faultNameTooLong
	case c.certType == "upload" && c.chainPEM == "":
		return faultMissingCert
	case c.certType == "upload" && c.keyPEM == "":
		return faultMissingKey
	}
	return nil
}

func (s *Service) setDomainServerCertificate2018(ctx context.Context, r *openapi.Request) (any, error) {
	c, err := parseServerCertificate(r, false)
	if err == nil {
		err = s.changeCertificate(ctx, account(r), c)
	}
	return nil, translate(err, setServerCertificateErrors)
}

func (s *Service) setDomainServerCertificate2014(ctx context.Context, r *openapi.Request) (any, error) {
	c, err := parseServerCertificate(r, true)
	if err == nil {
		err = s.changeCertificate(ctx, account(r), c)
	}
	return nil, translate(err, setServerCertificate2014Errors)
}

// pairFaults maps validation errors of a certificate and key to faults.
var pairFaults = []struct {
	err   error
	fault certFault
}{
	{cas.ErrChainTooLong, faultTooLong},
	{cas.ErrKeyTooLong, faultTooLong},
	{cas.ErrExpired, faultExpired},
	{certs.ErrKeyMismatch, faultMismatch},
	{certs.ErrEncryptedKey, faultEncryptedKey},
}

func pairFault(err error) error {
	for _, pf := range pairFaults {
		if errors.Is(err, pf.err) {
			return pf.fault
		}
	}
	badCert := errors.Is(err, certs.ErrNoCertificate) || errors.Is(err, certs.ErrMalformedCert)
	badKey := errors.Is(err, certs.ErrNoKey) || errors.Is(err, certs.ErrMalformedKey) || errors.Is(err, certs.ErrUnsupportedKey)
	switch {
	case badCert && badKey:
		return faultBadBoth
	case errors.Is(err, certs.ErrMalformedCert):
		return faultCertFormat
	case badCert:
		return faultBadCert
	case badKey:
		return faultBadKey
	}
	return err
}

// changeCertificate binds (or unbinds) a certificate on every domain of c in
// one transaction together with the certificate's own record: a reader sees
// all of it or none of it.
func (s *Service) changeCertificate(ctx context.Context, accountID string, c certChange) error {
	pair := c.pair
	if c.enable && c.certType == "upload" {
		if pair == nil {
			var err error
			if pair, err = cas.ParsePair(c.chainPEM, c.keyPEM, s.now()); err != nil {
				return pairFault(err)
			}
		}
		if c.name == "" {
			c.name = "cert-" + certs.Fingerprint(pair.Chain.Leaf)[:16]
		}
	}
	if c.enable && c.certType == certTypeFree && !s.freeCerts {
		return faultFreeUnavailable
	}
	return store.RetryConflicts(ctx, func() error {
		t := s.st.Txn()
		domains := make([]store.Domain, 0, len(c.domains))
		for _, name := range c.domains {
			d, rev, err := s.certDomain(ctx, accountID, name)
			if err != nil {
				return err
			}
			t.Unchanged(store.DomainKey(d.Name), rev)
			domains = append(domains, d)
		}
		var binding *store.Binding
		if c.enable && c.certType != certTypeFree {
			staged, err := s.stageCert(ctx, accountID, c, pair)
			if err != nil {
				return err
			}
			staged.AddTo(t)
			binding = &store.Binding{CertName: c.name, CertType: c.certType, Updated: s.now().UTC()}
		}
		for _, d := range domains {
			binding := binding
			wasFree := d.HTTPS != nil && d.HTTPS.CertType == certTypeFree
			switch {
			case c.enable && c.certType == certTypeFree:
				if wasFree {
					continue // already renewing itself
				}
				binding = s.requestFree(t, d)
			case wasFree:
				// Any other binding, or HTTPS off, ends the renewals.
				t.Delete(store.FreeCertKey(d.Name))
			}
			if sameBinding(d.HTTPS, binding) {
				continue
			}
			d.HTTPS = binding
			d.Modified = s.now().UTC()
			t.Put(store.DomainKey(d.Name), d)
		}
		_, err := t.Commit(ctx)
		return err
	})
}

// certTypeFree is a certificate cdnd obtains and renews itself through
// ACME, Alibaba's "free certificate".
const certTypeFree = "free"

// FreeCertName is the repository name of a domain's free certificate.
func FreeCertName(domain string) string { return "free-" + domain }

// requestFree adds to t the request of a free certificate for d and
// returns d's binding meanwhile: the certificate it already serves, if any,
// until the free one is issued (the API call returns at once).
func (s *Service) requestFree(t *store.Txn, d store.Domain) *store.Binding {
	now := s.now().UTC()
	fc := store.FreeCert{Domain: d.Name, AccountID: d.AccountID, CertName: FreeCertName(d.Name),
		Status: store.FreeChecking, Requested: now, Updated: now}
	if strings.HasPrefix(d.Name, ".") {
		// HTTP-01 and TLS-ALPN-01 cannot prove a wildcard (RFC 8555
		// section 7.1.3: only dns-01 may).
		fc.Status = store.FreeUnsupportWildcard
	}
	t.Put(store.FreeCertKey(d.Name), fc)
	name := fc.CertName
	if d.HTTPS != nil {
		name = d.HTTPS.CertName
	}
	return &store.Binding{CertName: name, CertType: certTypeFree, Updated: now}
}

func sameBinding(a, b *store.Binding) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.CertName == b.CertName && a.CertType == b.CertType
}

// certDomain loads a domain whose certificate is about to change and checks
// it may change: the caller's, online, not held in safe or protected mode,
// and not still applying a previous change.
func (s *Service) certDomain(ctx context.Context, accountID, name string) (store.Domain, int64, error) {
	name, ok := normalizeDomain(strings.TrimSpace(name))
	if !ok {
		return store.Domain{}, 0, errDomainNotFound
	}
	var d store.Domain
	rev, err := s.st.Get(ctx, store.DomainKey(name), &d)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return d, 0, errDomainNotFound
	case err != nil:
		return d, 0, err
	case d.AccountID != accountID:
		return d, 0, faultForeignDomain
	case d.Mode == ModeSafe:
		return d, 0, faultSafeMode
	case d.Mode == ModeProtected:
		return d, 0, faultProtectedMode
	case d.Status != statusOnline:
		return d, 0, faultOffline
	}
	return d, rev, s.awaitSettled(ctx, rev)
}

// stageCert prepares the certificate side of a change: an upload stores (or
// reuses) the pair under its name, cas binds what the repository holds.
func (s *Service) stageCert(ctx context.Context, accountID string, c certChange, pair *cas.Pair) (*cas.Staged, error) {
	var staged *cas.Staged
	var err error
	if c.certType == "cas" {
		staged, err = s.certs.StageBind(ctx, accountID, c.name)
	} else {
		staged, err = s.certs.StageUpload(ctx, accountID, c.name, pair, c.force)
	}
	if err != nil {
		return nil, translateRepoError(err)
	}
	if c.certType == "cas" && s.now().After(staged.Cert.NotAfter) {
		return nil, faultExpired
	}
	return staged, nil
}

// repoFaults maps the repository's refusals to certificate faults.
var repoFaults = []struct {
	err   error
	fault certFault
}{
	{cas.ErrNotFound, faultCertNotFound},
	{cas.ErrNameTaken, faultDuplicateName},
	{cas.ErrContentExists, faultDuplicateContent},
}

func translateRepoError(err error) error {
	for _, rf := range repoFaults {
		if errors.Is(err, rf.err) {
			return rf.fault
		}
	}
	return err
}
