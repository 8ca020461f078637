package cdn

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/ascii"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// DescribeUserDomains errors.
var (
	errPageNumber       = openapi.NewError(400, "InvalidPageNumber.ValueNotSupported", "Specified PageNumber is not supported.")
	errPageSize         = openapi.NewError(400, "InvalidPageSize.ValueNotSupported", "Specified PageSize is not supported.")
	errDomainStatus     = openapi.NewError(400, "InvalidDomainStatus.ValueNotSupported", "Specified DomainStatus is not supported.")
	errDomainSearchType = openapi.NewError(400, "InvalidDomainSearchType.ValueNotSupported", "Specified DomainSearchType is not supported.")
	errCdnTypeValue     = openapi.NewError(400, "InvalidCdnType.ValueNotSupported", "Specified CdnType is not supported.")
	errChangeTime       = openapi.NewError(400, "InvalidParameter.ChangeTime", "Specified ChangeStartTime or ChangeEndTime is not valid.")
)

type sourceModel struct {
	Type     string
	Content  string
	Port     int
	Priority string
	Weight   string
	Enabled  string `json:",omitempty"`
}

type domainDetail struct {
	domainSummary
	ResourceGroupId string
	SourceModels    struct{ SourceModel []sourceModel }
}

// domainSummary is what both versions of DescribeCdnDomainDetail report
// alike.
type domainSummary struct {
	DomainName              string
	Cname                   string
	HttpsCname              string
	CdnType                 string
	DomainStatus            string
	Scope                   string
	ServerCertificateStatus string
	GmtCreated              string
	GmtModified             string
	Description             string
}

// describeDomain reads the caller's domain and summarises it.
func (s *Service) describeDomain(ctx context.Context, r *openapi.Request) (store.Domain, domainSummary, error) {
	d, rev, err := s.loadDomain(ctx, account(r), r.Get("DomainName"))
	if err != nil {
		return d, domainSummary{}, err
	}
	if rev, err = s.servedRevision(ctx, d, rev); err != nil {
		return d, domainSummary{}, err
	}
	applied, err := s.applied(ctx)
	if err != nil {
		return d, domainSummary{}, err
	}
	sum := domainSummary{
		DomainName:              d.Name,
		Cname:                   s.Cname(d.Name),
		CdnType:                 d.CdnType,
		DomainStatus:            status(d, rev, applied),
		Scope:                   d.Scope,
		ServerCertificateStatus: httpsStatus(d),
		GmtCreated:              formatTime(d.Created),
		GmtModified:             formatTime(d.Modified),
	}
	if d.HTTPS != nil {
		sum.HttpsCname = sum.Cname
	}
	return d, sum, nil
}

func (s *Service) describeDomainDetail(ctx context.Context, r *openapi.Request) (any, error) {
	d, sum, err := s.describeDomain(ctx, r)
	if err != nil {
		return nil, err
	}
	detail := domainDetail{domainSummary: sum, ResourceGroupId: d.ResourceGroupID}
	detail.SourceModels.SourceModel = make([]sourceModel, len(d.Sources))
	for i, src := range d.Sources {
		detail.SourceModels.SourceModel[i] = sourceModel{src.Type, src.Content, src.Port, src.Priority, src.Weight, "online"}
	}
	return struct{ GetDomainDetailModel domainDetail }{detail}, nil
}

// Cname is the name a domain's DNS must point at (its Cname): the free
// certificate check of --verify-cname compares with it.
func (s *Service) Cname(domain string) string {
	return strings.TrimPrefix(domain, ".") + "." + s.cnameSuffix
}

func httpsStatus(d store.Domain) string {
	if d.HTTPS != nil {
		return "on"
	}
	return "off"
}

type pageData struct {
	DomainName      string
	DomainId        int64
	Cname           string
	CdnType         string
	DomainStatus    string
	Coverage        string
	SslProtocol     string
	GmtCreated      string
	GmtModified     string
	Description     string
	Sandbox         string
	ResourceGroupId string
	Sources         struct{ Source []sourceModel }
}

// domainFilter is DescribeUserDomains' query, parsed.
type domainFilter struct {
	terms       []string
	search      func(name, term string) bool
	status      string
	cdnTypes    map[string]bool
	coverage    string
	source      string
	rg          string
	since, till time.Time
}

var searchTypes = map[string]func(name, term string) bool{
	"fuzzy_match": strings.Contains,
	"pre_match":   strings.HasPrefix,
	"suf_match":   strings.HasSuffix,
	"full_match":  func(name, term string) bool { return name == term },
}

var listableStatuses = map[string]bool{
	"online": true, "offline": true, "configuring": true, "configure_failed": true,
	"checking": true, "check_failed": true, "stopping": true, "deleting": true,
}

func parseDomainFilter(r *openapi.Request) (domainFilter, error) {
	f := domainFilter{
		status:   r.Get("DomainStatus"),
		coverage: r.Get("Coverage"),
		source:   r.Get("Source"),
		rg:       r.Get("ResourceGroupId"),
	}
	if name := ascii.Lower(r.Get("DomainName")); name != "" {
		f.terms = strings.Split(name, ",")
	}
	searchType := r.Get("DomainSearchType")
	if searchType == "" {
		searchType = "fuzzy_match"
	}
	if f.search = searchTypes[searchType]; f.search == nil {
		return f, errDomainSearchType
	}
	if f.status != "" && !listableStatuses[f.status] {
		return f, errDomainStatus
	}
	if types := r.Get("CdnType"); types != "" {
		f.cdnTypes = map[string]bool{}
		for _, t := range strings.Split(types, ",") {
			if !cdnTypes[t] {
				return f, errCdnTypeValue
			}
			f.cdnTypes[t] = true
		}
	}
	if f.coverage != "" && !scopes[f.coverage] {
		return f, errScopeMalformed
	}
	for _, t := range []struct {
		param string
		into  *time.Time
	}{{"ChangeStartTime", &f.since}, {"ChangeEndTime", &f.till}} {
		if v := r.Get(t.param); v != "" {
			parsed, err := time.Parse("2006-01-02T15:04:05Z", v)
			if err != nil {
				return f, errChangeTime
			}
			*t.into = parsed
		}
	}
	if !f.since.IsZero() && !f.till.IsZero() && !f.till.After(f.since) {
		return f, errChangeTime
	}
	return f, nil
}

func (f domainFilter) match(d store.Domain, status string) bool {
	if len(f.terms) > 0 && !anyTerm(f.terms, d.Name, f.search) {
		return false
	}
	switch {
	case f.status != "" && status != f.status,
		f.cdnTypes != nil && !f.cdnTypes[d.CdnType],
		f.coverage != "" && d.Scope != f.coverage,
		f.rg != "" && d.ResourceGroupID != f.rg,
		!f.since.IsZero() && d.Modified.Before(f.since),
		!f.till.IsZero() && d.Modified.After(f.till):
		return false
	}
	if f.source != "" {
		for _, src := range d.Sources {
			if strings.Contains(src.Content, f.source) {
				return true
			}
		}
		return false
	}
	return true
}

func anyTerm(terms []string, name string, match func(name, term string) bool) bool {
	for _, t := range terms {
		if match(name, strings.TrimSpace(t)) {
			return true
		}
	}
	return false
}

// pageParams reads PageNumber (1–100000, default 1) and PageSize (1–500,
// default 20).
func pageParams(r *openapi.Request) (number, size int, err error) {
	if number, err = pageParam(r, "PageNumber", 1, 100000, errPageNumber); err != nil {
		return 0, 0, err
	}
	size, err = pageParam(r, "PageSize", 20, 500, errPageSize)
	return number, size, err
}

// pageParam reads a positive integer within [1, max], or def when absent.
func pageParam(r *openapi.Request, name string, def, max int, bad *openapi.Error) (int, error) {
	v := r.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, bad
	}
	return n, nil
}

func (s *Service) describeUserDomains(ctx context.Context, r *openapi.Request) (any, error) {
	pageNumber, pageSize, err := pageParams(r)
	if err != nil {
		return nil, err
	}
	filter, err := parseDomainFilter(r)
	if err != nil {
		return nil, err
	}
	domains, err := s.accountDomains(ctx, account(r))
	if err != nil {
		return nil, err
	}
	applied, err := s.applied(ctx)
	if err != nil {
		return nil, err
	}
	certRevs, err := s.certRevisions(ctx, account(r))
	if err != nil {
		return nil, err
	}
	// Newest first, as the console lists them; name breaks ties so that
	// pages are stable.
	sort.Slice(domains, func(i, j int) bool {
		a, b := domains[i].Value, domains[j].Value
		if !a.Created.Equal(b.Created) {
			return a.Created.After(b.Created)
		}
		return a.Name < b.Name
	})
	var page []pageData
	total := 0
	for _, v := range domains {
		d := v.Value
		rev := v.Revision
		if d.HTTPS != nil {
			rev = max(rev, certRevs[d.HTTPS.CertName])
		}
		st := status(d, rev, applied)
		if !filter.match(d, st) {
			continue
		}
		total++
		if total <= (pageNumber-1)*pageSize || total > pageNumber*pageSize {
			continue
		}
		p := pageData{
			DomainName:      d.Name,
			DomainId:        d.DomainID,
			Cname:           s.Cname(d.Name),
			CdnType:         d.CdnType,
			DomainStatus:    st,
			Coverage:        d.Scope,
			SslProtocol:     httpsStatus(d),
			GmtCreated:      formatTime(d.Created),
			GmtModified:     formatTime(d.Modified),
			Sandbox:         "normal",
			ResourceGroupId: d.ResourceGroupID,
		}
		p.Sources.Source = make([]sourceModel, len(d.Sources))
		for i, src := range d.Sources {
			p.Sources.Source[i] = sourceModel{Type: src.Type, Content: src.Content, Port: src.Port, Priority: src.Priority, Weight: src.Weight}
		}
		page = append(page, p)
	}
	if page == nil {
		page = []pageData{}
	}
	return struct {
		PageNumber int64
		PageSize   int64
		TotalCount int64
		Domains    struct{ PageData []pageData }
	}{int64(pageNumber), int64(pageSize), int64(total), struct{ PageData []pageData }{page}}, nil
}
