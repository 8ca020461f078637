package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/acme/acmetest"
	"github.com/cdnd/cdnd/internal/server"
)

// The free-certificate tests run Pebble in this process with real
// validation: its VA resolves the test names through a DNS server of the
// test to 127.0.0.1 and validates against the node's own edge ports.

// acmeNode is a cdnd serve with free certificates from a Pebble.
type acmeNode struct {
	srv    *server.Server
	pebble *acmetest.Pebble
	cdn    *cdn.Client
}

// startACMENode starts Pebble and a node using it (challenges in order
// of preference); adjust changes the node's configuration further.
func startACMENode(t *testing.T, opts acmetest.Options, challenges []string, adjust func(*server.Config)) *acmeNode {
	t.Helper()
	p := acmetest.Start(t, opts)
	node := startNode(t, func(c *server.Config) {
		c.ACME = server.ACMEConfig{Directory: p.Directory, CAFile: p.CAFile, Challenges: challenges,
			LockTTL: 2 * time.Second, RetryMin: 300 * time.Millisecond}
		if adjust != nil {
			adjust(c)
		}
	})
	p.Validate(portOf(t, node.HTTPAddr), portOf(t, node.HTTPSAddr))
	c, err := cdn.NewClientWithAccessKey("cn-hangzhou", rootAccessKeyID, rootAccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = node.APIAddr.String()
	return &acmeNode{srv: node, pebble: p, cdn: c}
}

func portOf(t *testing.T, a net.Addr) int {
	t.Helper()
	_, port, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

// addFreeDomain adds a domain the CA resolves to this machine and waits
// until it is online.
func (n *acmeNode) addFreeDomain(t *testing.T) string {
	t.Helper()
	name := uniqueDomain("acme.test")
	n.pebble.Point(t, name)
	req := cdn.CreateAddCdnDomainRequest()
	req.DomainName, req.CdnType, req.Sources = name, "web", testSources
	if _, err := n.cdn.AddCdnDomain(req); err != nil {
		t.Fatalf("AddCdnDomain %s: %v", name, err)
	}
	waitDomainStatus(t, n.cdn, name, "online")
	return name
}

func waitDomainStatus(t *testing.T, c *cdn.Client, name, want string) {
	t.Helper()
	a := &account{cdn: c}
	a.waitStatus(t, name, want)
}

// setFree switches a domain to CertType=free through SetCdnDomainSSLCertificate.
func setFree(c *cdn.Client, domain string) error {
	req := cdn.CreateSetCdnDomainSSLCertificateRequest()
	req.DomainName, req.SSLProtocol, req.CertType = domain, "on", "free"
	return unthrottled(func() error { _, err := c.SetCdnDomainSSLCertificate(req); return err })
}

// waitFreeStatus waits until DescribeDomainCertificateInfo reports want.
func waitFreeStatus(t *testing.T, c *cdn.Client, domain, want string, within time.Duration) cdn.CertInfo {
	t.Helper()
	a := &account{cdn: c}
	var info cdn.CertInfo
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if info = a.certInfo(t, domain); info.Status == want {
			return info
		}
	}
	t.Fatalf("%s: Status %q, want %q", domain, info.Status, want)
	return info
}

// servedLeaf handshakes with the edge at addr for sni and returns the leaf.
func servedLeaf(addr, sni string) (*x509.Certificate, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// checkIssued checks that info's certificate is Pebble's, for domain, and
// what the edge at addr serves.
func checkIssued(t *testing.T, info cdn.CertInfo, addr, domain string) *x509.Certificate {
	t.Helper()
	if info.CertType != "free" || info.ServerCertificateStatus != "on" {
		t.Fatalf("CertType %q ServerCertificateStatus %q, want free, on", info.CertType, info.ServerCertificateStatus)
	}
	leaf, err := servedLeaf(addr, domain)
	if err != nil {
		t.Fatalf("handshake %s: %v", domain, err)
	}
	if fingerprint(leaf) != pemFingerprint(t, []byte(info.ServerCertificate)) {
		t.Fatal("the edge serves another certificate than DescribeDomainCertificateInfo reports")
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != domain || !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
		t.Fatalf("served leaf for %v issued by %q, want %s by Pebble", leaf.DNSNames, leaf.Issuer.CommonName, domain)
	}
	return leaf
}

func TestFreeCertificateHTTP01IssuedAndServed(t *testing.T) {
	n := startACMENode(t, acmetest.Options{}, []string{"http-01"}, nil)
	domain := n.addFreeDomain(t)
	start := time.Now()
	if err := setFree(n.cdn, domain); err != nil {
		t.Fatalf("SetCdnDomainSSLCertificate free: %v", err)
	}
	// The call returns at once: the first answer is before issuance.
	a := &account{cdn: n.cdn}
	if got := a.certInfo(t, domain).Status; got != "checking" && got != "applying" && got != "success" {
		t.Fatalf("Status right after the call: %q", got)
	}
	info := waitFreeStatus(t, n.cdn, domain, "success", 30*time.Second)
	t.Logf("issued and served %v after the call", time.Since(start).Round(time.Millisecond))
	checkIssued(t, info, n.srv.HTTPSAddr.String(), domain)
	if got := n.pebble.Orders(domain); got != 1 {
		t.Fatalf("%d orders at the CA, want 1", got)
	}
	// Setting free again changes nothing: no second order.
	if err := setFree(n.cdn, domain); err != nil {
		t.Fatal(err)
	}
	// The challenge path is the edge's, never the origin's (which is not
	// even listening: a proxied request would be a 502).
	req, _ := http.NewRequest(http.MethodGet, "http://"+n.srv.HTTPAddr.String()+"/.well-known/acme-challenge/none", nil)
	req.Host = domain
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "no such challenge") {
		t.Fatalf("challenge path: %d %q, want the edge's 404", resp.StatusCode, body)
	}
	time.Sleep(300 * time.Millisecond)
	if got := n.pebble.Orders(domain); got != 1 {
		t.Fatalf("%d orders at the CA after setting free again, want 1", got)
	}
}

func TestFreeCertificateRefusedWithoutACMEDirectory(t *testing.T) {
	a := newAccount(t)
	domain := uniqueDomain("example.com")
	a.addDomain(t, domain)
	err := setFree(a.cdn, domain)
	wantAPIError(t, err, "InvalidCertType.FreeUnavailable", 400)
	if !strings.Contains(err.Error(), "--acme-directory") {
		t.Fatalf("the message does not say what is missing: %v", err)
	}
	req := cdn.CreateSetDomainServerCertificateRequest()
	req.DomainName, req.ServerCertificateStatus, req.CertType = domain, "on", "free"
	_, err = a.cdn.SetDomainServerCertificate(req)
	wantAPIError(t, err, "InvalidCertType.FreeUnavailable", 400)
	if info := a.certInfo(t, domain); info.ServerCertificateStatus != "off" {
		t.Fatalf("a refused free request changed the domain: %+v", info)
	}
}
