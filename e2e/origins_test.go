package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/dnstest"
	"github.com/cdnd/cdnd/internal/server"
)

func sourcesAt(typ, host, port string) string {
	return fmt.Sprintf(`[{"content":%q,"type":%q,"priority":"20","port":%s,"weight":"10"}]`, host, typ, port)
}

// A tenant's origin cannot be the node (its operator API) or its network,
// even inside --allow-origin-cidrs: refused at AddCdnDomain and
// ModifyCdnDomain with InvalidSources.Malformed naming the address.
func TestOriginsRefusedAtTheAPI(t *testing.T) {
	a := newAccount(t)
	_, adminPort, _ := net.SplitHostPort(srv.AdminAddr.String())
	_, apiPort, _ := net.SplitHostPort(srv.APIAddr.String())
	for _, tc := range []struct {
		name, sources, mention string
	}{
		{"the node's operator API", sourcesAt("ipaddr", "127.0.0.1", adminPort), "127.0.0.1:" + adminPort},
		{"the node's OpenAPI", sourcesAt("ipaddr", "127.0.0.1", apiPort), "127.0.0.1:" + apiPort},
		{"localhost at the admin port", sourcesAt("domain", "localhost", adminPort), "127.0.0.1:" + adminPort},
		{"the IPv4-mapped form", sourcesAt("ipaddr", "::ffff:127.0.0.1", adminPort), "127.0.0.1:" + adminPort},
		{"cloud metadata", sourcesAt("ipaddr", "169.254.169.254", "80"), "169.254.169.254"},
		{"a private network", sourcesAt("ipaddr", "10.0.0.1", "80"), "10.0.0.1"},
		{"IPv6 unique local", sourcesAt("ipaddr", "fd00::1", "80"), "fd00::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := cdn.CreateAddCdnDomainRequest()
			req.DomainName, req.CdnType, req.Sources = uniqueDomain("origin.example"), "web", tc.sources
			_, err := a.cdn.AddCdnDomain(req)
			wantAPIError(t, err, "InvalidSources.Malformed", 400)
			if !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("the error does not name %s: %v", tc.mention, err)
			}
		})
	}
	name := uniqueDomain("modify.example")
	a.addDomain(t, name)
	mod := cdn.CreateModifyCdnDomainRequest()
	mod.DomainName, mod.Sources = name, sourcesAt("ipaddr", "127.0.0.1", adminPort)
	_, err := a.cdn.ModifyCdnDomain(mod)
	wantAPIError(t, err, "InvalidSources.Malformed", 400)
}

// DNS rebinding: a name that resolved to an allowed address when the origin
// was set resolves to the node's own operator API when the edge dials. The
// edge checks the address it dials: 502, and the operator API's /metrics
// never reaches the visitor.
func TestOriginRebindingRefusedAtDialTime(t *testing.T) {
	dns := dnstest.Start(t)
	dns.Set(t, "origin.rebind.test. 0 IN A 127.0.0.2")
	node := startNode(t, func(c *server.Config) { c.DNSResolver = dns.Addr })
	client := sdkClient(t, rootAccessKeyID, rootAccessKeySecret)
	client.Domain = node.APIAddr.String()
	_, adminPort, _ := net.SplitHostPort(node.AdminAddr.String())
	name := "rebind.example.com"
	req := cdn.CreateAddCdnDomainRequest()
	req.DomainName, req.CdnType, req.Sources = name, "web", sourcesAt("domain", "origin.rebind.test", adminPort)
	if _, err := client.AddCdnDomain(req); err != nil {
		t.Fatalf("AddCdnDomain with an origin resolving to 127.0.0.2: %v", err)
	}
	dns.Set(t, "origin.rebind.test. 0 IN A 127.0.0.1") // now the node's own operator API

	var status int
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r, _ := http.NewRequest(http.MethodGet, "http://"+node.HTTPAddr.String()+"/metrics", nil)
		r.Host = name
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, body = resp.StatusCode, string(b)
		if status != http.StatusNotFound { // until the edge has the domain
			break
		}
	}
	if status != http.StatusBadGateway || strings.Contains(body, "go_goroutines") {
		t.Fatalf("request through the rebound origin: %d %q, want 502", status, body)
	}
}
