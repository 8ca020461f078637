package cas

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// Version is the API version of Alibaba Cloud's certificate service that
// certd, certimate and the SDKs call to upload a certificate before binding
// it to a CDN domain by CertId.
const Version = "2020-04-07"

// Errors of the certificate service actions.
var (
	errNameRepeat      = openapi.NewError(400, "NameRepeat", "The certificate name already exists.")
	errContentRepeat   = openapi.NewError(400, "CertificateContent.Duplicated", "The certificate has been uploaded,do not upload again.")
	errInvalidCert     = openapi.NewError(400, "InvalidCertificate", "The certificate is invalid.")
	errInvalidKey      = openapi.NewError(400, "InvalidPrivateKey", "The private key is invalid.")
	errKeyMismatch     = openapi.NewError(400, "CertificateKeyMismatch", "The private key does not match the certificate.")
	errExpired         = openapi.NewError(400, "CertificateExpired", "The certificate has expired.")
	errTooLong         = openapi.NewError(400, "InvalidCertificate.TooLong", "The certificate or private key is over the max length.")
	errNameTooLong     = openapi.NewError(400, "InvalidName.TooLong", "The length of the certificate name cannot exceed 128 characters.")
	errCertNotFound    = openapi.NewError(404, "NotFound.Certificate", "The certificate does not exist.")
	errCertInUse       = openapi.NewError(400, "CertificateInUse", "The certificate is bound to a CDN domain; unbind it first.")
	errInvalidCertID   = openapi.NewError(400, "InvalidParameter.CertId", "The specified CertId is invalid.")
	errInvalidPageSize = openapi.NewError(400, "InvalidParameter.ShowSize", "The specified ShowSize or CurrentPage is invalid.")
)

// uploadFaults maps validation errors to this API's codes.
var uploadFaults = []struct {
	err  error
	code *openapi.Error
}{
	{ErrChainTooLong, errTooLong},
	{ErrKeyTooLong, errTooLong},
	{ErrExpired, errExpired},
	{certs.ErrKeyMismatch, errKeyMismatch},
	{certs.ErrNoCertificate, errInvalidCert},
	{certs.ErrMalformedCert, errInvalidCert},
	{certs.ErrNoKey, errInvalidKey},
	{certs.ErrMalformedKey, errInvalidKey},
	{certs.ErrEncryptedKey, errInvalidKey},
	{certs.ErrUnsupportedKey, errInvalidKey},
	{ErrNameTaken, errNameRepeat},
	{ErrContentExists, errContentRepeat},
	{ErrNotFound, errCertNotFound},
	{ErrInUse, errCertInUse},
}

func apiError(err error) error {
	for _, f := range uploadFaults {
		if errors.Is(err, f.err) {
			return f.code
		}
	}
	return err
}

// Actions lists the certificate service's actions for the gateway.
func (r *Repo) Actions() []openapi.Action {
	actions := []openapi.Action{
		{Name: "UploadUserCertificate", Version: Version, Rate: 100, Required: []string{"Name", "Cert", "Key"}, Secrets: []string{"Key"}, Handle: r.uploadUserCertificate},
		{Name: "GetUserCertificateDetail", Version: Version, Rate: 100, ReadOnly: true, Required: []string{"CertId"}, Handle: r.getUserCertificateDetail},
		{Name: "ListUserCertificateOrder", Version: Version, Rate: 100, ReadOnly: true, Handle: r.listUserCertificateOrder},
		{Name: "DeleteUserCertificate", Version: Version, Rate: 100, Required: []string{"CertId"}, Handle: r.deleteUserCertificate},
	}
	// RAM names the certificate service "yundun-cert"; its resources are
	// the account's whole service.
	for i := range actions {
		actions[i].RAMAction = "yundun-cert:" + actions[i].Name
	}
	return actions
}

func (r *Repo) uploadUserCertificate(ctx context.Context, req *openapi.Request) (any, error) {
	account, name := req.Principal.AccountID, req.Get("Name")
	if len(name) > 128 {
		return nil, errNameTooLong
	}
	pair, err := ParsePair(req.Get("Cert"), req.Get("Key"), r.now())
	if err != nil {
		return nil, apiError(err)
	}
	staged, err := r.StageUpload(ctx, account, name, pair, false)
	if err != nil {
		return nil, apiError(err)
	}
	if staged.Stored {
		// The same name again, even with the same content: the certificate
		// service refuses a repeated name.
		return nil, errNameRepeat
	}
	t := r.st.Txn()
	staged.AddTo(t)
	if _, err := t.Commit(ctx); err != nil {
		return nil, err
	}
	return struct{ CertId int64 }{staged.Cert.CertID}, nil
}

// certByID resolves a CertId parameter.
func (r *Repo) certByID(ctx context.Context, account, id string) (store.Cert, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return store.Cert{}, errInvalidCertID
	}
	name, err := r.NameByID(ctx, account, n)
	if err != nil {
		return store.Cert{}, apiError(err)
	}
	c, _, err := r.Get(ctx, account, name)
	return c, apiError(err)
}

// certificateDetail is GetUserCertificateDetail's answer. Key is always
// empty: cdnd never returns a private key, whatever CertFilter says. A key
// that can be read back through an API can leak through it; a certificate
// that must move elsewhere should be issued for a new key there.
type certificateDetail struct {
	Id          int64
	Name        string
	Cert        string
	Key         string
	Common      string
	Sans        string
	Issuer      string
	OrgName     string
	Fingerprint string
	Algorithm   string
	StartDate   string
	EndDate     string
	Expired     bool
	BuyInAliyun bool
}

func (r *Repo) getUserCertificateDetail(ctx context.Context, req *openapi.Request) (any, error) {
	c, err := r.certByID(ctx, req.Principal.AccountID, req.Get("CertId"))
	if err != nil {
		return nil, err
	}
	d := certificateDetail{
		Id:          c.CertID,
		Name:        c.Name,
		Common:      c.CommonName,
		Sans:        strings.Join(c.Names, ","),
		Issuer:      c.Issuer,
		Fingerprint: strings.ToUpper(c.Fingerprint),
		Algorithm:   algorithm(c),
		StartDate:   c.NotBefore.UTC().Format(time.DateOnly),
		EndDate:     c.NotAfter.UTC().Format(time.DateOnly),
		Expired:     r.now().After(c.NotAfter),
	}
	if req.Get("CertFilter") != "true" {
		d.Cert = c.ChainPEM
	}
	return d, nil
}

// algorithm names the key type as the certificate service does.
func algorithm(c store.Cert) string {
	chain, err := certs.ParseChain([]byte(c.ChainPEM))
	if err != nil {
		return ""
	}
	if a := certs.KeyAlgorithm(chain.Leaf); a != "ECDSA" {
		return a
	}
	return "ECC"
}

type orderItem struct {
	CertificateId int64
	Name          string
	CommonName    string
	Sans          string
	Issuer        string
	Fingerprint   string
	Algorithm     string
	StartDate     string
	EndDate       string
	CertStartTime int64
	CertEndTime   int64
	Expired       bool
	Upload        bool
	Status        string
	SourceType    string
}

// listUserCertificateOrder lists uploaded certificates (cdnd has no
// purchased ones), newest first, paged by CurrentPage and ShowSize.
func (r *Repo) listUserCertificateOrder(ctx context.Context, req *openapi.Request) (any, error) {
	page, size := 1, 50
	for _, p := range []struct {
		name string
		into *int
	}{{"CurrentPage", &page}, {"ShowSize", &size}} {
		if v := req.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100000 {
				return nil, errInvalidPageSize
			}
			*p.into = n
		}
	}
	all, err := r.List(ctx, req.Principal.AccountID)
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
	keyword, status := strings.ToLower(req.Get("Keyword")), req.Get("Status")
	now := r.now()
	items := []orderItem{}
	total := 0
	for _, c := range all {
		st := orderStatus(c, now)
		if (keyword != "" && !strings.Contains(strings.ToLower(c.Name), keyword) && !strings.Contains(c.CommonName, keyword)) ||
			(status != "" && status != st) {
			continue
		}
		total++
		if total <= (page-1)*size || total > page*size {
			continue
		}
		items = append(items, orderItem{
			CertificateId: c.CertID, Name: c.Name, CommonName: c.CommonName, Sans: strings.Join(c.Names, ","),
			Issuer: c.Issuer, Fingerprint: strings.ToUpper(c.Fingerprint), Algorithm: algorithm(c),
			StartDate: c.NotBefore.UTC().Format(time.DateOnly), EndDate: c.NotAfter.UTC().Format(time.DateOnly),
			CertStartTime: c.NotBefore.UnixMilli(), CertEndTime: c.NotAfter.UnixMilli(),
			Expired: now.After(c.NotAfter), Upload: true, Status: st, SourceType: "upload",
		})
	}
	return struct {
		TotalCount, CurrentPage, ShowSize int64
		CertificateOrderList              []orderItem
	}{int64(total), int64(page), int64(size), items}, nil
}

func orderStatus(c store.Cert, now time.Time) string {
	switch {
	case now.After(c.NotAfter):
		return "EXPIRED"
	case c.NotAfter.Sub(now) < 30*24*time.Hour:
		return "WILLEXPIRED"
	}
	return "ISSUED"
}

func (r *Repo) deleteUserCertificate(ctx context.Context, req *openapi.Request) (any, error) {
	id, err := strconv.ParseInt(req.Get("CertId"), 10, 64)
	if err != nil {
		return nil, errInvalidCertID
	}
	return nil, apiError(r.Delete(ctx, req.Principal.AccountID, id))
}
