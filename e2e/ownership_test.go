package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
	"github.com/cdnd/cdnd/internal/dnstest"
	"github.com/cdnd/cdnd/internal/server"
)

var verifyContentRE = regexp.MustCompile(`^verify_[0-9a-f]{32}$`)

func describeVerifyContent(t *testing.T, c *cdn.Client, domain string) string {
	t.Helper()
	req := cdn.CreateDescribeVerifyContentRequest()
	req.DomainName = domain
	resp, err := c.DescribeVerifyContent(req)
	if err != nil {
		t.Fatalf("DescribeVerifyContent %s: %v", domain, err)
	}
	if !verifyContentRE.MatchString(resp.Content) {
		t.Fatalf("DescribeVerifyContent %s = %q, want verify_<32 hex>", domain, resp.Content)
	}
	return resp.Content
}

func verifyDomainOwner(c *cdn.Client, domain, verifyType string) error {
	req := cdn.CreateVerifyDomainOwnerRequest()
	req.DomainName, req.VerifyType = domain, verifyType
	_, err := c.VerifyDomainOwner(req)
	return err
}

// ownerSources is a public origin address: an origin address policy accepts
// it, and nothing in these tests dials it.
const ownerSources = `[{"content":"1.0.0.1","type":"ipaddr","priority":"20","port":80}]`

func addCdnDomain(c *cdn.Client, name string) error {
	req := cdn.CreateAddCdnDomainRequest()
	req.DomainName, req.CdnType, req.Sources = name, "web", ownerSources
	_, err := c.AddCdnDomain(req)
	return err
}

// On the shared server (no --verify-domain-owner, the system's resolver):
// contents differ between accounts, bad input gets its codes, and a check
// that finds nothing is DomainOwnerVerifyFail. The names are under .onion,
// which Go's resolver never sends to DNS (RFC 7686), so the failing checks
// send no traffic anywhere.
func TestOwnershipContentAndFailures(t *testing.T) {
	a, b := newAccount(t), newAccount(t)
	root, name := "owner.onion", uniqueDomain("owner.onion")
	ca := describeVerifyContent(t, a.cdn, root)
	if got := describeVerifyContent(t, a.cdn, name); got != ca {
		t.Errorf("a name under the root: %s, want %s", got, ca)
	}
	if got := describeVerifyContent(t, a.cdn, "."+root); got != ca {
		t.Errorf("a wildcard under the root: %s, want %s", got, ca)
	}
	if cb := describeVerifyContent(t, b.cdn, root); cb == ca {
		t.Errorf("account B got account A's content %s", ca)
	}
	for _, verifyType := range []string{"dnsCheck", "fileCheck"} {
		wantAPIError(t, verifyDomainOwner(a.cdn, name, verifyType), "DomainOwnerVerifyFail", 400)
	}
	wantAPIError(t, verifyDomainOwner(a.cdn, root, "emailCheck"), "InvalidParameter", 400)
	wantAPIError(t, verifyDomainOwner(a.cdn, "192.0.2.1", "dnsCheck"), "InvalidDomainName.Malformed", 400)
	wantAPIError(t, verifyDomainOwner(a.cdn, "co.uk", "dnsCheck"), "DomainOwnerVerifyFail", 400)
	req := cdn.CreateDescribeVerifyContentRequest()
	req.DomainName = "198.51.100.7"
	_, err := a.cdn.DescribeVerifyContent(req)
	wantAPIError(t, err, "InvalidDomainName.Malformed", 400)
	// Without --verify-domain-owner nothing is checked.
	if err := addCdnDomain(a.cdn, name); err != nil {
		t.Fatalf("AddCdnDomain without the flag: %v", err)
	}
}

// With --verify-domain-owner, AddCdnDomain needs the account's proof for the
// root, by a TXT record or by the file on the root's web server.
//
// The file is fetched from 127.x.y.z:80 (the check always uses port 80),
// through the origin address policy: this server allows 127.0.0.0/8.
func TestOwnershipRequiredToAddDomain(t *testing.T) {
	web := listenWeb(t)
	ns := dnstest.Start(t)
	s := startVerifyingServer(t, ns.Addr)
	c, err := cdn.NewClientWithAccessKey("cn-hangzhou", rootAccessKeyID, rootAccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = s.APIAddr.String()

	// dnsCheck.
	wantAPIError(t, addCdnDomain(c, "www.dns-owned.example"), "DomainOwnerVerifyFail", 400)
	wantAPIError(t, verifyDomainOwner(c, "dns-owned.example", "dnsCheck"), "DomainOwnerVerifyFail", 400)
	ns.Set(t, `verification.dns-owned.example. 60 IN TXT "`+describeVerifyContent(t, c, "www.dns-owned.example")+`"`)
	if err := verifyDomainOwner(c, "www.dns-owned.example", "dnsCheck"); err != nil {
		t.Fatalf("dnsCheck with the record: %v", err)
	}
	for _, name := range []string{"www.dns-owned.example", ".dns-owned.example", "dns-owned.example"} {
		if err := addCdnDomain(c, name); err != nil {
			t.Errorf("AddCdnDomain %s after dnsCheck: %v", name, err)
		}
	}

	// fileCheck: the root's name resolves to the web server.
	ns.Set(t, "file-owned.example. 60 IN A "+web.ip)
	wantAPIError(t, verifyDomainOwner(c, "file-owned.example", "fileCheck"), "DomainOwnerVerifyFail", 400)
	web.file.Store(describeVerifyContent(t, c, "file-owned.example"))
	if err := verifyDomainOwner(c, "img.file-owned.example", "fileCheck"); err != nil {
		t.Fatalf("fileCheck with the file: %v", err)
	}
	if err := addCdnDomain(c, "img.file-owned.example"); err != nil {
		t.Errorf("AddCdnDomain after fileCheck: %v", err)
	}

	// A root nobody verified stays refused.
	wantAPIError(t, addCdnDomain(c, "www.other-root.example"), "DomainOwnerVerifyFail", 400)
}

// webServer plays a root domain's web server on 127.x.y.z:80.
type webServer struct {
	ip   string
	file atomic.Value // string: what /verification.html holds
}

func listenWeb(t *testing.T) *webServer {
	t.Helper()
	// A loopback address of its own, so that no other test's port 80 is in
	// the way.
	ip := fmt.Sprintf("127.%d.%d.%d", 1+rand.IntN(254), rand.IntN(256), 1+rand.IntN(254))
	ln, err := net.Listen("tcp", ip+":80")
	if err != nil {
		t.Skipf("the fileCheck fetch goes to port 80, which this test cannot bind: %v", err)
	}
	w := &webServer{ip: ip}
	hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		file, _ := w.file.Load().(string)
		if r.URL.Path != "/verification.html" || file == "" {
			http.NotFound(rw, r)
			return
		}
		_, _ = io.WriteString(rw, file)
	})}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return w
}

// startVerifyingServer starts a second cdnd with --verify-domain-owner that
// resolves tenants' names at the DNS server dnsAddr.
func startVerifyingServer(t *testing.T, dnsAddr string) *server.Server {
	t.Helper()
	return startNode(t, func(c *server.Config) { c.DNSResolver, c.VerifyDomainOwner = dnsAddr, true })
}

// The two actions are cdn:DescribeVerifyContent and cdn:VerifyDomainOwner
// on the domain named, like every per-domain action.
func TestOwnershipRAM(t *testing.T) {
	a := newAccount(t)
	rc := ramClient(t, a.AccessKeyID, a.Secret)
	allow := fmt.Sprintf(`{"Version":"1","Statement":[{"Effect":"Allow","Action":["cdn:DescribeVerifyContent","cdn:VerifyDomainOwner"],"Resource":"acs:cdn:*:%s:domain/*.mine.onion"}]}`, a.ID)
	bot := newRobot(t, rc, "verifier", []string{allow})
	if got, want := describeVerifyContent(t, bot.cdn, "www.mine.onion"), describeVerifyContent(t, a.cdn, "mine.onion"); got != want {
		t.Errorf("a RAM user's content %s, want its account's %s", got, want)
	}
	wantAPIError(t, verifyDomainOwner(bot.cdn, "www.mine.onion", "dnsCheck"), "DomainOwnerVerifyFail", 400)
	req := cdn.CreateDescribeVerifyContentRequest()
	req.DomainName = "www.theirs.onion"
	_, err := bot.cdn.DescribeVerifyContent(req)
	for action, err := range map[string]error{
		"cdn:DescribeVerifyContent": err,
		"cdn:VerifyDomainOwner":     verifyDomainOwner(bot.cdn, "www.theirs.onion", "dnsCheck"),
	} {
		wantAPIError(t, err, "NoPermission", 403)
		var se *errors.ServerError
		errorsAs(err, &se)
		if d := se.AccessDeniedDetail(); d["AuthAction"] != action || d["NoPermissionType"] != "ImplicitDeny" {
			t.Errorf("AccessDeniedDetail %v, want %s ImplicitDeny", d, action)
		}
	}
}
