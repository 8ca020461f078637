package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/certs/certstest"
)

// configOrigin is a loopback origin that answers 200 and remembers the last
// request's headers.
type configOrigin struct {
	mu   sync.Mutex
	last http.Header
	port string
}

func newConfigOrigin(t *testing.T) *configOrigin {
	o := &configOrigin{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.last = r.Header.Clone()
		o.mu.Unlock()
		_, _ = io.WriteString(w, "origin")
	}))
	t.Cleanup(s.Close)
	_, o.port, _ = net.SplitHostPort(s.Listener.Addr().String())
	return o
}

func (o *configOrigin) header(name string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last.Get(name)
}

// addHTTPSDomain adds a domain at origin o with a certificate and waits
// until the edge serves it.
func (a *account) addHTTPSDomain(t *testing.T, name string, o *configOrigin) {
	t.Helper()
	req := cdn.CreateAddCdnDomainRequest()
	req.DomainName, req.CdnType, req.Sources = name, "web", sourcesAt("ipaddr", "127.0.0.1", o.port)
	if _, err := a.cdn.AddCdnDomain(req); err != nil {
		t.Fatalf("AddCdnDomain %s: %v", name, err)
	}
	a.waitStatus(t, name, "online")
	chain, key := certstest.Valid(t, name)
	if err := a.setCert(name, "cert-"+name, string(chain), string(key)); err != nil {
		t.Fatal(err)
	}
	waitServed(t, name, pemFingerprint(t, chain))
}

// setConfig calls BatchSetCdnDomainConfig, retrying while throttled (3
// calls a second).
func (a *account) setConfig(domains, functions string) (*cdn.BatchSetCdnDomainConfigResponse, error) {
	req := cdn.CreateBatchSetCdnDomainConfigRequest()
	req.DomainNames, req.Functions = domains, functions
	var resp *cdn.BatchSetCdnDomainConfigResponse
	err := unthrottled(func() (err error) { resp, err = a.cdn.BatchSetCdnDomainConfig(req); return err })
	return resp, err
}

// configs describes a domain's configs once every one reads success.
func (a *account) configs(t *testing.T, domain, functions, configID string) []cdn.DomainConfigInDescribeCdnDomainConfigs {
	t.Helper()
	req := cdn.CreateDescribeCdnDomainConfigsRequest()
	req.DomainName, req.FunctionNames, req.ConfigId = domain, functions, configID
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		resp, err := a.cdn.DescribeCdnDomainConfigs(req)
		if err != nil {
			t.Fatalf("DescribeCdnDomainConfigs %s: %v", domain, err)
		}
		settled := true
		for _, c := range resp.DomainConfigs.DomainConfig {
			settled = settled && c.Status == "success"
		}
		if settled {
			return resp.DomainConfigs.DomainConfig
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: configs still %+v", domain, resp.DomainConfigs.DomainConfig)
		}
	}
}

func args(c cdn.DomainConfigInDescribeCdnDomainConfigs) string {
	var parts []string
	for _, a := range c.FunctionArgs.FunctionArg {
		parts = append(parts, a.ArgName+"="+a.ArgValue)
	}
	return strings.Join(parts, ",")
}

// edgeGet sends GET path for host to the edge, over HTTPS when overTLS,
// without following redirects.
func edgeGet(t *testing.T, host, path string, overTLS bool) *http.Response {
	t.Helper()
	addr, scheme := srv.HTTPAddr.String(), "http"
	if overTLS {
		addr, scheme = srv.HTTPSAddr.String(), "https"
	}
	c := &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{ServerName: host, InsecureSkipVerify: true},
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Get(scheme + "://" + host + path)
	if err != nil {
		t.Fatalf("GET %s://%s%s: %v", scheme, host, path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// tlsHandshake connects to the edge for sni with TLS versions min..max,
// offering h2 and http/1.1.
func tlsHandshake(sni string, minV, maxV uint16) (tls.ConnectionState, error) {
	conn, err := tls.Dial("tcp", srv.HTTPSAddr.String(), &tls.Config{ServerName: sni, InsecureSkipVerify: true,
		MinVersion: minV, MaxVersion: maxV, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.ConnectionState(), nil
}

// TestConfigHTTPSFunctions: each HTTPS function set through the SDK,
// described with its defaults, served by the edge (redirect, a refused TLS
// 1.2 handshake when only 1.3 is on, HSTS, ALPN without h2, headers both
// ways), changed in place by ConfigId and deleted.
func TestConfigHTTPSFunctions(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	o := newConfigOrigin(t)
	name := uniqueDomain("config.example")
	a.addHTTPSDomain(t, name, o)

	resp, err := a.setConfig(name, `[
		{"functionName":"https_force","functionArgs":[{"argName":"enable","argValue":"on"},{"argName":"https_rewrite","argValue":"308"}]},
		{"functionName":"https_tls_version","functionArgs":[{"argName":"tls10","argValue":"off"},{"argName":"tls11","argValue":"off"},{"argName":"tls12","argValue":"off"},{"argName":"tls13","argValue":"on"}]},
		{"functionName":"HSTS","functionArgs":[{"argName":"enabled","argValue":"on"},{"argName":"https_hsts_max_age","argValue":"5184000"}]},
		{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"off"}]},
		{"functionName":"set_resp_header","functionArgs":[{"argName":"key","argValue":"X-Served-By"},{"argName":"value","argValue":"cdnd"}]},
		{"functionName":"set_req_header","functionArgs":[{"argName":"key","argValue":"X-From-Edge"},{"argName":"value","argValue":"yes"}]}]`)
	if err != nil {
		t.Fatalf("BatchSetCdnDomainConfig: %v", err)
	}
	ids := map[string]int64{}
	for _, m := range resp.DomainConfigList.DomainConfigModel {
		if m.DomainName != name || m.ConfigId <= 0 {
			t.Fatalf("answer %+v", m)
		}
		ids[m.FunctionName] = m.ConfigId
	}
	if len(ids) != 6 {
		t.Fatalf("answer %+v", resp.DomainConfigList)
	}
	described := map[string]string{}
	for _, c := range a.configs(t, name, "", "") {
		if c.ConfigId != strconv.FormatInt(ids[c.FunctionName], 10) {
			t.Fatalf("%s: ConfigId %s, set answered %d", c.FunctionName, c.ConfigId, ids[c.FunctionName])
		}
		described[c.FunctionName] = args(c)
	}
	if described["HSTS"] != "enabled=on,https_hsts_max_age=5184000,https_hsts_include_subdomains=off" ||
		described["set_resp_header"] != "key=X-Served-By,value=cdnd,header_operation_type=add,duplicate=off" {
		t.Fatalf("described %v", described)
	}

	if r := edgeGet(t, name, "/p?q=1", false); r.StatusCode != 308 || r.Header.Get("Location") != "https://"+name+"/p?q=1" {
		t.Fatalf("https_force: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if _, err := tlsHandshake(name, tls.VersionTLS12, tls.VersionTLS12); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("a TLS 1.2 handshake with only 1.3 on: %v", err)
	}
	if cs, err := tlsHandshake(name, tls.VersionTLS12, tls.VersionTLS13); err != nil || cs.Version != tls.VersionTLS13 || cs.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("TLS 1.3 with http2 off: %v, version %x, ALPN %q", err, cs.Version, cs.NegotiatedProtocol)
	}
	r := edgeGet(t, name, "/", true)
	if r.StatusCode != 200 || r.Header.Get("Strict-Transport-Security") != "max-age=5184000" || r.Header.Get("X-Served-By") != "cdnd" {
		t.Fatalf("HTTPS response %d %v", r.StatusCode, r.Header)
	}
	if o.header("X-From-Edge") != "yes" {
		t.Fatal("set_req_header did not reach the origin")
	}
	// The SDK's older single-purpose action for the same function.
	rh := cdn.CreateSetReqHeaderConfigRequest()
	rh.DomainName, rh.Key, rh.Value = name, "X-Legacy", "old-api"
	if _, err := a.cdn.SetReqHeaderConfig(rh); err != nil {
		t.Fatalf("SetReqHeaderConfig: %v", err)
	}
	if cs := a.configs(t, name, "set_req_header", ""); len(cs) != 2 || args(cs[1]) != "key=X-Legacy,value=old-api,header_operation_type=add,duplicate=off" {
		t.Fatalf("after SetReqHeaderConfig: %+v", cs)
	}
	edgeGet(t, name, "/", true)
	if o.header("X-Legacy") != "old-api" {
		t.Fatal("SetReqHeaderConfig did not reach the origin")
	}

	// Changed in place: the ConfigId stays.
	if _, err := a.setConfig(name, fmt.Sprintf(`[
		{"functionName":"HSTS","configId":%d,"functionArgs":[{"argName":"enabled","argValue":"on"},{"argName":"https_hsts_max_age","argValue":"60"},{"argName":"https_hsts_include_subdomains","argValue":"on"}]},
		{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"on"}]}]`, ids["HSTS"])); err != nil {
		t.Fatal(err)
	}
	if cs := a.configs(t, name, "HSTS,https_option", ""); len(cs) != 2 || cs[0].ConfigId != strconv.FormatInt(ids["HSTS"], 10) || cs[1].ConfigId != strconv.FormatInt(ids["https_option"], 10) {
		t.Fatalf("after the change: %+v", cs)
	}
	if r := edgeGet(t, name, "/", true); r.Header.Get("Strict-Transport-Security") != "max-age=60; includeSubDomains" {
		t.Fatalf("changed HSTS: %v", r.Header)
	}
	if cs, err := tlsHandshake(name, tls.VersionTLS13, tls.VersionTLS13); err != nil || cs.NegotiatedProtocol != "h2" {
		t.Fatalf("http2 on: %v, %q", err, cs.NegotiatedProtocol)
	}

	// Deleted: by ConfigId, and by function name.
	del := cdn.CreateDeleteSpecificConfigRequest()
	del.DomainName, del.ConfigId = name, strconv.FormatInt(ids["https_tls_version"], 10)
	if _, err := a.cdn.DeleteSpecificConfig(del); err != nil {
		t.Fatal(err)
	}
	if cs := a.configs(t, name, "", del.ConfigId); len(cs) != 0 {
		t.Fatalf("deleted config still described: %+v", cs)
	}
	if cs, err := tlsHandshake(name, tls.VersionTLS12, tls.VersionTLS12); err != nil || cs.Version != tls.VersionTLS12 {
		t.Fatalf("TLS 1.2 after deleting https_tls_version: %v", err)
	}
	if _, err := a.cdn.DeleteSpecificConfig(del); err == nil {
		t.Fatal("deleting it again succeeded")
	} else {
		wantAPIError(t, err, "InvalidConfigId.NotFound", 404)
	}
	bd := cdn.CreateBatchDeleteCdnDomainConfigRequest()
	bd.DomainNames, bd.FunctionNames = name, "https_force,HSTS"
	if _, err := a.cdn.BatchDeleteCdnDomainConfig(bd); err != nil {
		t.Fatal(err)
	}
	a.configs(t, name, "", "")
	if r := edgeGet(t, name, "/", false); r.StatusCode != 200 {
		t.Fatalf("after deleting https_force: %d", r.StatusCode)
	}
	if r := edgeGet(t, name, "/", true); r.Header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("HSTS after deleting it: %v", r.Header)
	}
}

// TestConfigBatchAllOrNothing: a batch over several domains changes all or
// none of them: a domain of another account, or one config that conflicts
// on one domain, leaves every domain as it was.
func TestConfigBatchAllOrNothing(t *testing.T) {
	t.Parallel()
	a, other := newAccount(t), newAccount(t)
	d1, d2, foreign := uniqueDomain("batch.example"), uniqueDomain("batch.example"), uniqueDomain("batch.example")
	a.addDomain(t, d1)
	a.addDomain(t, d2)
	other.addDomain(t, foreign)
	hsts := `{"functionName":"HSTS","functionArgs":[{"argName":"enabled","argValue":"on"}]}`
	header := `{"functionName":"set_resp_header","functionArgs":[{"argName":"key","argValue":"X-A"},{"argName":"value","argValue":"1"}]}`

	_, err := a.setConfig(d1+","+foreign, "["+hsts+"]")
	wantAPIError(t, err, "InvalidDomain.NotFound", 404)
	if cs := a.configs(t, d1, "", ""); len(cs) != 0 {
		t.Fatalf("a refused batch configured %s: %+v", d1, cs)
	}

	if _, err := a.setConfig(d2, "["+header+"]"); err != nil {
		t.Fatal(err)
	}
	_, err = a.setConfig(d1+","+d2, "["+hsts+","+header+"]")
	wantAPIError(t, err, "ConfigDuplicate", 400)
	if cs := a.configs(t, d1, "", ""); len(cs) != 0 {
		t.Fatalf("a refused batch configured %s: %+v", d1, cs)
	}
	if cs := a.configs(t, d2, "", ""); len(cs) != 1 {
		t.Fatalf("a refused batch changed %s: %+v", d2, cs)
	}

	resp, err := a.setConfig(d1+","+d2, "["+hsts+"]")
	if err != nil || len(resp.DomainConfigList.DomainConfigModel) != 2 {
		t.Fatalf("batch: %v, %+v", err, resp)
	}
	for _, d := range []string{d1, d2} {
		if cs := a.configs(t, d, "HSTS", ""); len(cs) != 1 {
			t.Fatalf("%s: %+v", d, cs)
		}
	}
	// Deleting the domain takes its configs: added again it has none.
	del := cdn.CreateDeleteCdnDomainRequest()
	del.DomainName = d1
	if _, err := a.cdn.DeleteCdnDomain(del); err != nil {
		t.Fatal(err)
	}
	a.addDomain(t, d1)
	if cs := a.configs(t, d1, "", ""); len(cs) != 0 {
		t.Fatalf("a re-added domain kept its configs: %+v", cs)
	}
}

// TestConfigBadInput: every refusal of the configuration actions, through
// the SDK, with its code and status; none of them changes anything.
func TestConfigBadInput(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	name := uniqueDomain("badconfig.example")
	a.addDomain(t, name)
	fn := func(function, args string) string {
		return fmt.Sprintf(`[{"functionName":%q,"functionArgs":[%s]}]`, function, args)
	}
	arg := func(n, v string) string { return fmt.Sprintf(`{"argName":%q,"argValue":%q}`, n, v) }
	many, domains, big := make([]string, 51), make([]string, 51), make([]string, 17)
	for i := range many {
		many[i] = `{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"on"}]}`
		domains[i] = fmt.Sprintf("n%d.%s", i, name)
	}
	for i := range big {
		big[i] = fn("set_resp_header", arg("key", fmt.Sprintf("X-%d", i))+","+arg("value", strings.Repeat("v", 1000)))
		big[i] = big[i][1 : len(big[i])-1]
	}
	for _, tc := range []struct {
		what, domains, functions, code string
		status                         int
	}{
		{"not JSON", name, `[{"functionName"`, "InvalidFunctions.Malformed", 400},
		{"unknown function", name, fn("gzip", arg("enable", "on")), "InvalidFunctionName.ValueNotSupported", 400},
		{"unknown argument", name, fn("https_option", arg("http3", "on")), "InvalidArgName.ValueNotSupported", 400},
		{"bad value", name, fn("https_force", arg("enable", "on")+","+arg("https_rewrite", "303")), "InvalidArgValue.Malformed", 400},
		{"out of range", name, fn("HSTS", arg("enabled", "on")+","+arg("https_hsts_max_age", "-1")), "InvalidArgValue.Malformed", 400},
		{"missing argument", name, fn("HSTS", arg("https_hsts_max_age", "60")), "InvalidFunctionArgs.Malformed", 400},
		{"framing header", name, fn("set_resp_header", arg("key", "Transfer-Encoding")+","+arg("value", "chunked")), "InvalidHeaderKey.ValueNotSupported", 400},
		{"51 functions", name, "[" + strings.Join(many, ",") + "]", "ConfigExceedLimit", 400},
		{"17 KB of headers", name, "[" + strings.Join(big, ",") + "]", "ConfigExceedLimit", 400},
		{"parentId", name, `[{"functionName":"https_option","parentId":"222728944812032","functionArgs":[{"argName":"http2","argValue":"on"}]}]`, "Function.InvalidParentId", 400},
		{"unknown configId", name, `[{"functionName":"https_option","configId":42,"functionArgs":[{"argName":"http2","argValue":"on"}]}]`, "InvalidConfigId.NotFound", 404},
		{"51 domains", strings.Join(domains, ","), fn("https_option", arg("http2", "on")), "InvalidDomainName.ExceedLimit", 400},
		{"unknown domain", "missing-" + name, fn("https_option", arg("http2", "on")), "InvalidDomain.NotFound", 404},
	} {
		_, err := a.setConfig(tc.domains, tc.functions)
		if err == nil {
			t.Fatalf("%s: accepted", tc.what)
		}
		wantAPIError(t, err, tc.code, tc.status)
	}
	if cs := a.configs(t, name, "", ""); len(cs) != 0 {
		t.Fatalf("refused calls configured the domain: %+v", cs)
	}
	bd := cdn.CreateBatchDeleteCdnDomainConfigRequest()
	bd.DomainNames, bd.FunctionNames = name, "gzip"
	_, err := a.cdn.BatchDeleteCdnDomainConfig(bd)
	wantAPIError(t, err, "InvalidFunctionName.ValueNotSupported", 400)
}

// TestConfigRAMRefusal: a RAM user allowed the configuration actions on
// one domain configures it, and is refused on another of the account.
func TestConfigRAMRefusal(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	mine, theirs := uniqueDomain("ramconfig.example"), uniqueDomain("ramconfig.example")
	a.addDomain(t, mine)
	a.addDomain(t, theirs)
	doc := fmt.Sprintf(`{"Version":"1","Statement":[{"Effect":"Allow","Action":["cdn:BatchSetCdnDomainConfig","cdn:DescribeCdnDomainConfigs"],"Resource":"acs:cdn:*:%s:domain/%s"}]}`, a.ID, mine)
	bot := newRobot(t, ramClient(t, a.AccessKeyID, a.Secret), "config-robot", []string{doc})
	botAccount := &account{ID: a.ID, cdn: bot.cdn}
	hsts := `[{"functionName":"HSTS","functionArgs":[{"argName":"enabled","argValue":"on"}]}]`
	if _, err := botAccount.setConfig(mine, hsts); err != nil {
		t.Fatalf("allowed domain: %v", err)
	}
	_, err := botAccount.setConfig(mine+","+theirs, hsts)
	wantAPIError(t, err, "NoPermission", 403)
	if cs := a.configs(t, theirs, "", ""); len(cs) != 0 {
		t.Fatalf("a refused call configured %s", theirs)
	}
	del := cdn.CreateDeleteSpecificConfigRequest()
	del.DomainName, del.ConfigId = mine, "1"
	_, err = bot.cdn.DeleteSpecificConfig(del)
	wantAPIError(t, err, "NoPermission", 403)
}
