package admin

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/cdnd/cdnd/internal/ascii"
	"github.com/cdnd/cdnd/internal/store"
)

// The operator's listings page with a cursor: Limit records (default
// 100, at most 1000) after the key After, and Next, the After of the
// following page ("" at the end). A cursor, unlike a page number, costs
// what one page scans even among 100k domains, and filters do not shift it.
const (
	defaultPage = 100
	maxPage     = 1000
)

type page struct {
	after string
	limit int
}

func pageOf(r *http.Request) (page, error) {
	q := r.URL.Query()
	p := page{after: q.Get("After"), limit: defaultPage}
	if v := q.Get("Limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			return p, errBadRequest
		}
		p.limit = n
	}
	return p, nil
}

type accountView struct {
	AccountId   string
	DomainQuota int
	Domains     int64
	Created     time.Time
}

// listAccounts answers GET /admin/v1/accounts.
func (a *api) listAccounts(ctx context.Context, r *http.Request) (int, any, error) {
	p, err := pageOf(r)
	if err != nil {
		return 0, nil, err
	}
	rows, next, err := store.Page[store.Account](ctx, a.cfg.Store, store.AccountsPrefix, p.after, p.limit, nil)
	if err != nil {
		return 0, nil, err
	}
	out := make([]accountView, len(rows))
	for i, row := range rows {
		acct := row.Value
		n, err := a.cfg.Store.CountDomains(ctx, acct.AccountID)
		if err != nil {
			return 0, nil, err
		}
		out[i] = accountView{acct.AccountID, acct.DomainQuota, n, acct.Created}
	}
	return http.StatusOK, struct {
		Accounts []accountView
		Next     string
	}{out, next}, nil
}

type domainView struct {
	DomainName string
	AccountId  string
	Status     string
	Mode       string
	CertName   string // "" with HTTPS off
	CertType   string
	Modified   time.Time
}

// listDomains answers GET /admin/v1/domains?AccountId=&Status=.
func (a *api) listDomains(ctx context.Context, r *http.Request) (int, any, error) {
	p, err := pageOf(r)
	if err != nil {
		return 0, nil, err
	}
	account, status := r.URL.Query().Get("AccountId"), ascii.Lower(r.URL.Query().Get("Status"))
	keep := func(d store.Domain) bool {
		return (account == "" || d.AccountID == account) && (status == "" || d.Status == status)
	}
	rows, next, err := store.Page(ctx, a.cfg.Store, store.AllDomainsPrefix, p.after, p.limit, keep)
	if err != nil {
		return 0, nil, err
	}
	applied, err := a.cfg.Store.AppliedByEveryEdge(ctx)
	if err != nil {
		return 0, nil, err
	}
	out := make([]domainView, len(rows))
	for i, row := range rows {
		d := row.Value
		out[i] = domainView{DomainName: d.Name, AccountId: d.AccountID, Status: d.Status, Mode: d.Mode, Modified: d.Modified}
		if row.Revision > applied {
			// As DescribeUserDomains says it: a live edge has not applied
			// the domain's last change yet.
			out[i].Status = "configuring"
		}
		if d.HTTPS != nil {
			out[i].CertName, out[i].CertType = d.HTTPS.CertName, d.HTTPS.CertType
		}
	}
	return http.StatusOK, struct {
		Domains []domainView
		Next    string
	}{out, next}, nil
}

type certView struct {
	AccountId  string
	CertName   string
	CertId     int64
	CommonName string
	Issuer     string
	NotAfter   time.Time
	// CertType is "free" for a certificate cdnd obtained through ACME,
	// else "upload".
	CertType string
}

// listCerts answers GET /admin/v1/certs?AccountId=&Expiring=720h: the
// certificates of the repositories (never a key), those expiring within
// Expiring only when it is set.
func (a *api) listCerts(ctx context.Context, r *http.Request) (int, any, error) {
	p, err := pageOf(r)
	if err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	prefix := store.AllCertsPrefix
	if id := q.Get("AccountId"); id != "" {
		prefix = store.CertsPrefix(id)
	}
	var keep func(store.Cert) bool
	if v := q.Get("Expiring"); v != "" {
		within, err := time.ParseDuration(v)
		if err != nil || within < 0 {
			return 0, nil, errBadRequest
		}
		horizon := time.Now().Add(within)
		keep = func(c store.Cert) bool { return c.NotAfter.Before(horizon) }
	}
	rows, next, err := store.Page(ctx, a.cfg.Store, prefix, p.after, p.limit, keep)
	if err != nil {
		return 0, nil, err
	}
	out := make([]certView, len(rows))
	for i, row := range rows {
		c := row.Value
		out[i] = certView{c.AccountID, c.Name, c.CertID, c.CommonName, c.Issuer, c.NotAfter, "upload"}
		if c.ACME {
			out[i].CertType = "free"
		}
	}
	return http.StatusOK, struct {
		Certs []certView
		Next  string
	}{out, next}, nil
}

type freeCertView struct {
	DomainName  string
	AccountId   string
	CertName    string
	Status      string
	Problem     string // the last ACME problem detail
	Attempts    int
	NextAttempt time.Time `json:",omitzero"`
	Orders      int
	NotAfter    time.Time `json:",omitzero"`
	RenewAt     time.Time `json:",omitzero"`
	Updated     time.Time
}

// listFreeCerts answers GET /admin/v1/free-certs?AccountId=&Status=: the
// domains with CertType=free, how far their issuance is and the last
// failure's problem detail.
func (a *api) listFreeCerts(ctx context.Context, r *http.Request) (int, any, error) {
	p, err := pageOf(r)
	if err != nil {
		return 0, nil, err
	}
	account, status := r.URL.Query().Get("AccountId"), r.URL.Query().Get("Status")
	keep := func(fc store.FreeCert) bool {
		return (account == "" || fc.AccountID == account) && (status == "" || fc.Status == status)
	}
	rows, next, err := store.Page(ctx, a.cfg.Store, store.FreeCertsPrefix, p.after, p.limit, keep)
	if err != nil {
		return 0, nil, err
	}
	out := make([]freeCertView, len(rows))
	for i, row := range rows {
		fc := row.Value
		out[i] = freeCertView{fc.Domain, fc.AccountID, fc.CertName, fc.Status, fc.Problem, fc.Attempts,
			fc.NextAttempt, fc.Orders, fc.NotAfter, fc.RenewAt, fc.Updated}
	}
	return http.StatusOK, struct {
		FreeCerts []freeCertView
		Next      string
	}{out, next}, nil
}
