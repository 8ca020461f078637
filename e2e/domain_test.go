package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
	"github.com/cdnd/cdnd/internal/store"
)

func TestDomainLifecycle(t *testing.T) {
	a := newAccount(t)
	name := uniqueDomain("life.example")
	req := cdn.CreateAddCdnDomainRequest()
	// Terraform's style: lower-case keys, numbers for port, priority, weight.
	req.DomainName, req.CdnType, req.Scope = name, "download", "global"
	req.Sources = `[{"content":"origin.example.net","type":"domain","priority":20,"port":8080,"weight":15},{"Content":"127.0.0.2","Type":"ipaddr","Priority":"30"}]`
	if _, err := a.cdn.AddCdnDomain(req); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, name, "online")

	detail := cdn.CreateDescribeCdnDomainDetailRequest()
	detail.DomainName = name
	resp, err := a.cdn.DescribeCdnDomainDetail(detail)
	if err != nil {
		t.Fatal(err)
	}
	m := resp.GetDomainDetailModel
	srcs := m.SourceModels.SourceModel
	if m.DomainName != name || m.CdnType != "download" || m.Scope != "global" || m.Cname == "" ||
		m.ServerCertificateStatus != "off" || len(srcs) != 2 ||
		srcs[0].Content != "origin.example.net" || srcs[0].Port != 8080 || srcs[0].Priority != "20" || srcs[0].Weight != "15" ||
		srcs[1].Port != 80 || srcs[1].Priority != "30" || srcs[1].Weight != "10" {
		t.Fatalf("detail: %+v", m)
	}

	stop := cdn.CreateStopCdnDomainRequest()
	stop.DomainName = name
	if _, err := a.cdn.StopCdnDomain(stop); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, name, "offline")
	start := cdn.CreateStartCdnDomainRequest()
	start.DomainName = name
	if _, err := a.cdn.StartCdnDomain(start); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, name, "online")
	del := cdn.CreateDeleteCdnDomainRequest()
	del.DomainName = name
	if _, err := a.cdn.DeleteCdnDomain(del); err != nil {
		t.Fatal(err)
	}
	_, err = a.cdn.DescribeCdnDomainDetail(detail)
	wantAPIError(t, err, "InvalidDomain.NotFound", 404)
	_, err = a.cdn.DeleteCdnDomain(del)
	wantAPIError(t, err, "InvalidDomain.NotFound", 404)
	// The name is free again.
	if _, err := a.cdn.AddCdnDomain(req); err != nil {
		t.Fatal(err)
	}
}

func TestAddCdnDomainErrors(t *testing.T) {
	a := newAccount(t)
	other := newAccount(t)
	taken := uniqueDomain("taken.example")
	other.addDomain(t, taken)
	for _, tc := range []struct {
		name    string
		domain  string
		cdnType string
		sources string
		scope   string
		code    string
		status  int
	}{
		{"malformed name", "bad_name!.example", "web", testSources, "", "InvalidDomainName.Malformed", 400},
		{"single label", "localhost", "web", testSources, "", "InvalidDomainName.Malformed", 400},
		{"IPv4 literal", "192.0.2.10", "web", testSources, "", "InvalidDomainName.Malformed", 400},
		{"IPv6 literal", "2001:db8::10", "web", testSources, "", "InvalidDomainName.Malformed", 400},
		{"wildcard of an IPv4 literal", ".0.2.10", "web", testSources, "", "InvalidDomainName.Malformed", 400},
		{"bad cdn type", uniqueDomain("x.example"), "music", testSources, "", "InvalidCdnType.Malformed", 400},
		{"sources not JSON", uniqueDomain("x.example"), "web", "1.1.1.1", "", "InvalidSources.Malformed", 400},
		{"sources empty", uniqueDomain("x.example"), "web", "[]", "", "InvalidSources.Malformed", 400},
		{"source bad port", uniqueDomain("x.example"), "web", `[{"content":"1.1.1.1","type":"ipaddr","port":70000}]`, "", "InvalidSources.Malformed", 400},
		{"source bad type", uniqueDomain("x.example"), "web", `[{"content":"1.1.1.1","type":"ftp"}]`, "", "InvalidSourceType.Malformed", 400},
		{"bad scope", uniqueDomain("x.example"), "web", testSources, "mars", "InvalidScope.Malformed", 400},
		{"taken by another account", taken, "web", testSources, "", "DomainAlreadyExist", 400},
		{"missing sources", uniqueDomain("x.example"), "web", "", "", "MissingSources", 400},
		{"missing cdn type", uniqueDomain("x.example"), "", testSources, "", "MissingCdnType", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := cdn.CreateAddCdnDomainRequest()
			req.DomainName, req.CdnType, req.Sources, req.Scope = tc.domain, tc.cdnType, tc.sources, tc.scope
			_, err := a.cdn.AddCdnDomain(req)
			wantAPIError(t, err, tc.code, tc.status)
		})
	}
	list := cdn.CreateDescribeUserDomainsRequest()
	resp, err := a.cdn.DescribeUserDomains(list)
	if err != nil {
		t.Fatal(err)
	}
	if resp.TotalCount != 0 {
		t.Fatalf("refused adds left %d domains", resp.TotalCount)
	}
}

func TestDomainQuota(t *testing.T) {
	a := newAccount(t)
	if st := adminCall(t, http.MethodPut, "/admin/v1/accounts/"+a.ID+"/quota", map[string]int{"DomainQuota": 2}, nil); st != 200 {
		t.Fatalf("quota: %d", st)
	}
	for i := 0; i < 2; i++ {
		a.addDomain(t, uniqueDomain("quota.example"))
	}
	req := cdn.CreateAddCdnDomainRequest()
	req.DomainName, req.CdnType, req.Sources = uniqueDomain("quota.example"), "web", testSources
	_, err := a.cdn.AddCdnDomain(req)
	wantAPIError(t, err, "DomainOverLimit", 403)
}

func TestDescribeUserDomains(t *testing.T) {
	a := newAccount(t)
	base := uniqueDomain("list.example")
	var names []string
	for i := 0; i < 5; i++ {
		n := fmt.Sprintf("www%d.%s", i, base)
		a.addDomain(t, n)
		names = append(names, n)
	}
	stop := cdn.CreateStopCdnDomainRequest()
	stop.DomainName = names[0]
	if _, err := a.cdn.StopCdnDomain(stop); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, names[0], "offline")
	newAccount(t).addDomain(t, "www9."+base) // another account's: never listed

	list := func(edit func(r *cdn.DescribeUserDomainsRequest)) *cdn.DescribeUserDomainsResponse {
		t.Helper()
		req := cdn.CreateDescribeUserDomainsRequest()
		edit(req)
		resp, err := a.cdn.DescribeUserDomains(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	all := list(func(*cdn.DescribeUserDomainsRequest) {})
	if all.TotalCount != 5 || all.PageNumber != 1 || all.PageSize != 20 || len(all.Domains.PageData) != 5 {
		t.Fatalf("all: total %d page %d size %d len %d", all.TotalCount, all.PageNumber, all.PageSize, len(all.Domains.PageData))
	}
	seen := map[string]bool{}
	for _, page := range []string{"1", "2", "3"} {
		resp := list(func(r *cdn.DescribeUserDomainsRequest) { r.PageSize, r.PageNumber = "2", requestsInt(page) })
		if resp.TotalCount != 5 {
			t.Fatalf("page %s: total %d", page, resp.TotalCount)
		}
		for _, d := range resp.Domains.PageData {
			seen[d.DomainName] = true
		}
	}
	if len(seen) != 5 {
		t.Fatalf("paging saw %d distinct domains", len(seen))
	}
	if r := list(func(r *cdn.DescribeUserDomainsRequest) { r.DomainStatus = "offline" }); r.TotalCount != 1 || r.Domains.PageData[0].DomainName != names[0] {
		t.Fatalf("status filter: %+v", r.Domains.PageData)
	}
	if r := list(func(r *cdn.DescribeUserDomainsRequest) { r.DomainName, r.DomainSearchType = "www3", "pre_match" }); r.TotalCount != 1 {
		t.Fatalf("pre_match: %d", r.TotalCount)
	}
	if r := list(func(r *cdn.DescribeUserDomainsRequest) { r.DomainName, r.DomainSearchType = names[2], "full_match" }); r.TotalCount != 1 {
		t.Fatalf("full_match: %d", r.TotalCount)
	}
	if r := list(func(r *cdn.DescribeUserDomainsRequest) { r.DomainName = strings.TrimPrefix(base, "d") }); r.TotalCount != 5 {
		t.Fatalf("fuzzy: %d", r.TotalCount)
	}
	if r := list(func(r *cdn.DescribeUserDomainsRequest) { r.CdnType = "video" }); r.TotalCount != 0 {
		t.Fatalf("cdn type filter: %d", r.TotalCount)
	}
	for _, tc := range []struct {
		edit func(r *cdn.DescribeUserDomainsRequest)
		code string
	}{
		{func(r *cdn.DescribeUserDomainsRequest) { r.PageNumber = "0" }, "InvalidPageNumber.ValueNotSupported"},
		{func(r *cdn.DescribeUserDomainsRequest) { r.PageSize = "501" }, "InvalidPageSize.ValueNotSupported"},
		{func(r *cdn.DescribeUserDomainsRequest) { r.DomainStatus = "sleeping" }, "InvalidDomainStatus.ValueNotSupported"},
		{func(r *cdn.DescribeUserDomainsRequest) { r.DomainSearchType = "regex" }, "InvalidDomainSearchType.ValueNotSupported"},
		{func(r *cdn.DescribeUserDomainsRequest) { r.CdnType = "web,music" }, "InvalidCdnType.ValueNotSupported"},
		{func(r *cdn.DescribeUserDomainsRequest) { r.ChangeStartTime = "yesterday" }, "InvalidParameter.ChangeTime"},
		{func(r *cdn.DescribeUserDomainsRequest) {
			r.ChangeStartTime, r.ChangeEndTime = "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"
		}, "InvalidParameter.ChangeTime"},
	} {
		req := cdn.CreateDescribeUserDomainsRequest()
		tc.edit(req)
		_, err := a.cdn.DescribeUserDomains(req)
		wantAPIError(t, err, tc.code, 400)
	}
}

// TestServiceBusyWhileAnEdgeLags: a change waits for every live edge to
// apply the previous one; an edge that stays behind makes the domain report
// configuring and further changes answer ServiceBusy, until it catches up
// or leaves.
func TestServiceBusyWhileAnEdgeLags(t *testing.T) {
	a := newAccount(t)
	name := uniqueDomain("busy.example")
	a.addDomain(t, name)
	stuck := srv.Store().RegisterEdge("stuck-" + name)
	ctx := context.Background()
	if err := stuck.Report(ctx, store.Edge{Applied: 1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stuck.Close(ctx) })
	a.waitStatus(t, name, "configuring")
	adminStatus := func() string {
		var out struct {
			Domains []struct{ DomainName, Status string }
		}
		if st := adminCall(t, "GET", "/admin/v1/domains?AccountId="+a.ID, nil, &out); st != 200 || len(out.Domains) != 1 {
			t.Fatalf("admin domains: %d %+v", st, out)
		}
		return out.Domains[0].Status
	}
	if got := adminStatus(); got != "configuring" {
		t.Errorf("the operator's listing says %q while an edge lags, want configuring as the API says", got)
	}
	stop := cdn.CreateStopCdnDomainRequest()
	stop.DomainName = name
	_, err := a.cdn.StopCdnDomain(stop)
	wantAPIError(t, err, "ServiceBusy", 403)

	stuck.Close(ctx)
	a.waitStatus(t, name, "online")
	if got := adminStatus(); got != "online" {
		t.Errorf("the operator's listing says %q once the edges caught up, want online", got)
	}
	if _, err := a.cdn.StopCdnDomain(stop); err != nil {
		t.Fatal(err)
	}
}
