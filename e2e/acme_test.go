package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/acme/acmetest"
	"github.com/cdnd/cdnd/internal/fleettest"
	"github.com/cdnd/cdnd/internal/server"
	"github.com/cdnd/cdnd/internal/store"
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
func startACMENode(t testing.TB, opts acmetest.Options, challenges []string, adjust func(*server.Config, *acmetest.Pebble)) *acmeNode {
	t.Helper()
	p := acmetest.Start(t, opts)
	node := startNode(t, func(c *server.Config) {
		c.ACME = server.ACMEConfig{Directory: p.Directory, CAFile: p.CAFile, Challenges: challenges,
			LockTTL: 2 * time.Second, RetryMin: 300 * time.Millisecond}
		if adjust != nil {
			adjust(c, p)
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

func portOf(t testing.TB, a net.Addr) int {
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
	// Success is reported once the certificate is stored and bound; the
	// edge applies the binding from its watch a moment later (the domain
	// reads configuring meanwhile).
	want := pemFingerprint(t, []byte(info.ServerCertificate))
	var leaf *x509.Certificate
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		leaf, err = servedLeaf(addr, domain)
		if err == nil && fingerprint(leaf) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edge serves %s another certificate than DescribeDomainCertificateInfo reports (err %v)", domain, err)
		}
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
	checkFreeCertWatched(t, n, domain)
}

// checkFreeCertWatched checks what the operator sees of an issued free
// certificate: the expiry listing includes it, the metrics count it by
// state and time to expiry without naming it, and no record, listing or
// metric holds a private key.
func checkFreeCertWatched(t *testing.T, n *acmeNode, domain string) {
	t.Helper()
	get := func(path string) string {
		req, _ := http.NewRequest(http.MethodGet, "http://"+n.srv.AdminAddr.String()+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// Pebble's certificates live 90 days: within 91, not within 30.
	if soon := get("/admin/v1/certs?Expiring=2184h"); !strings.Contains(soon, `"CertName":"free-`+domain+`"`) || !strings.Contains(soon, `"CertType":"free"`) {
		t.Fatalf("the expiry listing lacks the free certificate: %s", soon)
	}
	if soon := get("/admin/v1/certs?Expiring=720h"); strings.Contains(soon, domain) {
		t.Fatalf("a 90-day certificate listed as expiring within 30 days: %s", soon)
	}
	metrics := get("/metrics")
	for _, want := range []string{`cdnd_acme_certificates{state="success"} 1`, `cdnd_acme_orders_total{outcome="success"} 1`,
		`cdnd_acme_certificates_expiring{within="90d"} 1`, `cdnd_acme_certificates_expiring{within="30d"} 0`, "cdnd_acme_renewals_due 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, domain) {
		t.Error("a metric names the domain")
	}
	var records []store.Keyed[json.RawMessage]
	for _, prefix := range []store.Key{store.ACMEPrefix, store.AllCertsPrefix} {
		rs, err := store.ListKeyed[json.RawMessage](context.Background(), n.srv.Store(), prefix)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, rs...)
	}
	if len(records) < 3 { // the account, the free certificate's record, the certificate
		t.Fatalf("only %d records under acme/ and certs/", len(records))
	}
	for _, r := range records {
		if strings.Contains(string(r.Value), "PRIVATE KEY") {
			t.Errorf("record %s holds a private key in plain text", r.Key)
		}
	}
	for _, out := range []string{metrics, get("/admin/v1/free-certs"), get("/admin/v1/certs")} {
		if strings.Contains(out, "PRIVATE KEY") {
			t.Error("the operator API shows a private key")
		}
	}
	// The CLI shows the same: free and uploaded certificates expiring
	// soon alike, and the free certificates' state.
	for args, want := range map[string][]string{
		"certs --expiring 91d": {"free-" + domain, "free"},
		"certs free":           {domain, "success"},
	} {
		cmd := exec.Command(cdndBinary(t), append([]string{"admin", "--admin-addr", n.srv.AdminAddr.String(), "--token", adminToken}, strings.Fields(args)...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("cdnd admin %s: %v\n%s", args, err, out)
		}
		for _, w := range want {
			if !strings.Contains(string(out), w) {
				t.Errorf("cdnd admin %s lacks %q:\n%s", args, w, out)
			}
		}
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

// freeCertRecord is one row of GET /admin/v1/free-certs.
type freeCertRecord struct {
	DomainName, Status, Problem string
	Attempts, Orders            int
	NextAttempt, Updated        time.Time
}

// freeCerts reads a node's operator listing of free certificates.
func freeCerts(t testing.TB, node *server.Server) map[string]freeCertRecord {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+node.AdminAddr.String()+"/admin/v1/free-certs?Limit=1000", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ FreeCerts []freeCertRecord }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	out := map[string]freeCertRecord{}
	for _, fc := range body.FreeCerts {
		out[fc.DomainName] = fc
	}
	return out
}

func TestFreeCertificateTLSALPN01ReplacesUploadWithoutGap(t *testing.T) {
	n := startACMENode(t, acmetest.Options{}, []string{"tls-alpn-01"}, nil)
	domain := n.addFreeDomain(t)
	uploaded := newFleetCert(t, domain, "before-free")
	if err := fleettest.SetCert(n.cdn, domain, uploaded, false); err != nil {
		t.Fatal(err)
	}
	if err := setFree(n.cdn, domain); err != nil {
		t.Fatal(err)
	}
	// Until the free certificate is issued, the uploaded one is served;
	// then the free one. No handshake fails in between.
	a := &account{cdn: n.cdn}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no free certificate within 30 s")
		}
		leaf, err := servedLeaf(n.srv.HTTPSAddr.String(), domain)
		if err != nil {
			t.Fatalf("handshake failed while the free certificate was ordered: %v", err)
		}
		if fingerprint(leaf) == uploaded.FP {
			continue
		}
		break
	}
	checkIssued(t, waitFreeStatus(t, n.cdn, domain, "success", time.Second), n.srv.HTTPSAddr.String(), domain)
	if info := a.certInfo(t, domain); info.CertName != "free-"+domain {
		t.Fatalf("CertName %q, want free-%s", info.CertName, domain)
	}
	// Without a challenge published, acme-tls/1 is refused, never answered
	// with the domain's certificate.
	_, err := tls.Dial("tcp", n.srv.HTTPSAddr.String(), &tls.Config{ServerName: domain, InsecureSkipVerify: true, NextProtos: []string{"acme-tls/1"}})
	if err == nil || !strings.Contains(err.Error(), "unrecognized name") {
		t.Fatalf("acme-tls/1 without a challenge: %v, want unrecognized name", err)
	}
}

// issuedWithFastARI starts a node that polls renewal information every
// 200 ms and issues a free certificate for a new domain.
func issuedWithFastARI(t *testing.T) (*acmeNode, string, cdn.CertInfo) {
	t.Helper()
	n := startACMENode(t, acmetest.Options{}, nil, func(c *server.Config, _ *acmetest.Pebble) { c.ACME.ARIRecheck = 200 * time.Millisecond })
	domain := n.addFreeDomain(t)
	if err := setFree(n.cdn, domain); err != nil {
		t.Fatal(err)
	}
	return n, domain, waitFreeStatus(t, n.cdn, domain, "success", 30*time.Second)
}

// renewNow moves the CA's renewal window of the certificate into the past,
// as a CA does in a revocation campaign (RFC 9773 section 4.2).
func renewNow(t *testing.T, p *acmetest.Pebble, chainPEM string) {
	t.Helper()
	past := time.Now().Add(-time.Hour).UTC()
	p.SetRenewalInfo(t, chainPEM, `{"suggestedWindow":{"start":"`+past.Add(-time.Hour).Format(time.RFC3339)+`","end":"`+past.Format(time.RFC3339)+`"}}`)
}

func TestFreeCertificateRenewalAtARIWindowServedWithoutFailedHandshake(t *testing.T) {
	n, domain, first := issuedWithFastARI(t)
	firstLeaf := checkIssued(t, first, n.srv.HTTPSAddr.String(), domain)

	stop := make(chan struct{})
	type tally struct{ ok, failed int }
	done := make(chan tally)
	go func() {
		var c tally
		for {
			select {
			case <-stop:
				done <- c
				return
			default:
			}
			if _, err := servedLeaf(n.srv.HTTPSAddr.String(), domain); err != nil {
				c.failed++
			} else {
				c.ok++
			}
		}
	}()
	// The CA moves the renewal window into the past (as in a revocation
	// campaign): the next poll of its renewal information renews.
	renewNow(t, n.pebble, first.ServerCertificate)
	var renewed *x509.Certificate
	for deadline := time.Now().Add(30 * time.Second); renewed == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not renewed within 30 s of the CA's window")
		}
		if leaf, err := servedLeaf(n.srv.HTTPSAddr.String(), domain); err == nil && fingerprint(leaf) != fingerprint(firstLeaf) {
			renewed = leaf
		}
	}
	close(stop)
	c := <-done
	t.Logf("%d handshakes during the renewal, %d failed", c.ok+c.failed, c.failed)
	if c.failed != 0 {
		t.Fatalf("%d of %d handshakes failed during the renewal", c.failed, c.ok+c.failed)
	}
	if got := n.pebble.Orders(domain); got != 2 {
		t.Fatalf("%d orders, want 2 (issue and renew)", got)
	}
	if info := waitFreeStatus(t, n.cdn, domain, "success", time.Second); pemFingerprint(t, []byte(info.ServerCertificate)) != fingerprint(renewed) {
		t.Fatal("DescribeDomainCertificateInfo does not report the renewed certificate")
	}
}

func TestFreeCertificateRefusingCAFailsKeepsServingAndRetries(t *testing.T) {
	n, domain, first := issuedWithFastARI(t)
	firstFP := pemFingerprint(t, []byte(first.ServerCertificate))

	n.pebble.Refuse(http.StatusServiceUnavailable, "2")
	renewNow(t, n.pebble, first.ServerCertificate)
	waitFreeStatus(t, n.cdn, domain, "failed", 30*time.Second)
	rec := freeCerts(t, n.srv)[domain]
	if !strings.Contains(rec.Problem, "serverInternal") || !strings.Contains(rec.Problem, "the CA refuses orders") {
		t.Fatalf("operator API problem %q, want the CA's problem document", rec.Problem)
	}
	// The CA's Retry-After (2 s) wins over the 300 ms backoff.
	if wait := rec.NextAttempt.Sub(rec.Updated); wait < 1900*time.Millisecond {
		t.Fatalf("next attempt %v after the failure, want the CA's Retry-After of 2 s", wait)
	}
	if fp, err := handshakeAt(n.srv.HTTPSAddr.String(), domain); err != nil || fp != firstFP {
		t.Fatalf("after the failure the edge serves %q (%v), want the certificate in service", fp, err)
	}
	n.pebble.Refuse(0, "")
	info := waitFreeStatus(t, n.cdn, domain, "success", 30*time.Second)
	if pemFingerprint(t, []byte(info.ServerCertificate)) == firstFP {
		t.Fatal("retried to success but the certificate is the old one")
	}
	checkIssued(t, info, n.srv.HTTPSAddr.String(), domain)
}

func TestFreeCertificateStatuses(t *testing.T) {
	n := startACMENode(t, acmetest.Options{}, nil, func(c *server.Config, p *acmetest.Pebble) {
		c.ACME.VerifyCname, c.DNSResolver = true, p.DNS.Addr
	})
	cnameOf := func(domain string) {
		n.pebble.DNS.Set(t, domain+". 60 IN CNAME "+domain+".w.cdnd.localhost.", domain+".w.cdnd.localhost. 60 IN A 127.0.0.1")
	}
	// No CNAME to the domain's Cname: cname_error, then success once DNS
	// points there.
	pointed := n.addFreeDomain(t)
	if err := setFree(n.cdn, pointed); err != nil {
		t.Fatal(err)
	}
	waitFreeStatus(t, n.cdn, pointed, "cname_error", 10*time.Second)
	cnameOf(pointed)
	waitFreeStatus(t, n.cdn, pointed, "success", 30*time.Second)

	// A name the CA refuses: domain_invalid.
	blocked := n.addFreeDomain(t)
	cnameOf(blocked)
	n.pebble.Block(t, blocked)
	if err := setFree(n.cdn, blocked); err != nil {
		t.Fatal(err)
	}
	waitFreeStatus(t, n.cdn, blocked, "domain_invalid", 10*time.Second)
	if p := freeCerts(t, n.srv)[blocked].Problem; !strings.Contains(p, "rejectedIdentifier") {
		t.Fatalf("problem %q, want the CA's rejectedIdentifier", p)
	}

	// A wildcard: never ordered.
	wild := "." + uniqueDomain("acme.test")
	req := cdn.CreateAddCdnDomainRequest()
	req.DomainName, req.CdnType, req.Sources = wild, "web", testSources
	if _, err := n.cdn.AddCdnDomain(req); err != nil {
		t.Fatal(err)
	}
	waitDomainStatus(t, n.cdn, wild, "online")
	if err := setFree(n.cdn, wild); err != nil {
		t.Fatal(err)
	}
	waitFreeStatus(t, n.cdn, wild, "unsupport_wildcard", time.Second)

	// HTTPS off ends it: no record left, nothing ordered any more.
	off := cdn.CreateSetCdnDomainSSLCertificateRequest()
	off.DomainName, off.SSLProtocol = pointed, "off"
	if _, err := n.cdn.SetCdnDomainSSLCertificate(off); err != nil {
		t.Fatal(err)
	}
	if _, ok := freeCerts(t, n.srv)[pointed]; ok {
		t.Fatal("HTTPS off left the free certificate renewing")
	}
	if got := n.pebble.Orders(wild[1:]) + n.pebble.Orders("*"+wild); got != 0 {
		t.Fatalf("%d orders for a wildcard", got)
	}
	// Deleting the domain ends it too, at once.
	del := cdn.CreateDeleteCdnDomainRequest()
	del.DomainName = wild
	if _, err := n.cdn.DeleteCdnDomain(del); err != nil {
		t.Fatal(err)
	}
	if _, ok := freeCerts(t, n.srv)[wild]; ok {
		t.Fatal("a deleted domain's free certificate is still listed")
	}
}

func TestFreeCertificateTimeouts(t *testing.T) {
	for _, tc := range []struct {
		status string
		adjust func(*server.ACMEConfig)
		// blackhole: the CA validates against a port that accepts and
		// never answers.
		blackhole bool
	}{
		{"get_token_timeout", func(a *server.ACMEConfig) { a.TokenTimeout = time.Nanosecond }, false},
		{"check_token_timeout", func(a *server.ACMEConfig) { a.CheckTimeout = time.Second }, true},
		{"get_cert_timeout", func(a *server.ACMEConfig) { a.CertTimeout = time.Nanosecond }, false},
	} {
		t.Run(tc.status, func(t *testing.T) {
			n := startACMENode(t, acmetest.Options{}, []string{"http-01"}, func(c *server.Config, _ *acmetest.Pebble) {
				c.ACME.RetryMin = time.Hour
				tc.adjust(&c.ACME)
			})
			if tc.blackhole {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						t.Cleanup(func() { c.Close() })
					}
				}()
				port := portOf(t, ln.Addr())
				n.pebble.Validate(port, port)
			}
			domain := n.addFreeDomain(t)
			if err := setFree(n.cdn, domain); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if t.Failed() {
					t.Logf("%+v", freeCerts(t, n.srv)[domain])
				}
			}()
			waitFreeStatus(t, n.cdn, domain, tc.status, 15*time.Second)
		})
	}
}

func TestFreeCertificateThroughEveryAction(t *testing.T) {
	n := startACMENode(t, acmetest.Options{}, nil, nil)
	a := &account{cdn: n.cdn}
	d2018, d2014, batch1, batch2 := n.addFreeDomain(t), n.addFreeDomain(t), n.addFreeDomain(t), n.addFreeDomain(t)
	req := cdn.CreateSetDomainServerCertificateRequest()
	req.DomainName, req.ServerCertificateStatus, req.CertType = d2018, "on", "free" // no CertName needed
	if _, err := n.cdn.SetDomainServerCertificate(req); err != nil {
		t.Fatalf("SetDomainServerCertificate 2018-05-10: %v", err)
	}
	if _, _, err := a.legacyCall(t, "POST", map[string]string{"DomainName": d2014, "ServerCertificateStatus": "on", "CertType": "free"}); err != nil {
		t.Fatalf("SetDomainServerCertificate 2014-11-11: %v", err)
	}
	b := cdn.CreateBatchSetCdnDomainServerCertificateRequest()
	b.DomainName, b.SSLProtocol, b.CertType = batch1+","+batch2, "on", "free"
	if _, err := n.cdn.BatchSetCdnDomainServerCertificate(b); err != nil {
		t.Fatalf("BatchSetCdnDomainServerCertificate: %v", err)
	}
	for _, d := range []string{d2018, d2014, batch1, batch2} {
		checkIssued(t, waitFreeStatus(t, n.cdn, d, "success", 30*time.Second), n.srv.HTTPSAddr.String(), d)
	}
	// The listings and counts include free certificates.
	list, err := n.cdn.DescribeCdnHttpsDomainList(cdn.CreateDescribeCdnHttpsDomainListRequest())
	if err != nil {
		t.Fatal(err)
	}
	free := 0
	for _, c := range list.CertInfos.CertInfo {
		if c.CertType == "free" && c.CertName == "free-"+c.DomainName {
			free++
		}
	}
	if free != 4 {
		t.Fatalf("DescribeCdnHttpsDomainList lists %d free certificates, want 4", free)
	}
	certs, err := n.cdn.DescribeCdnCertificateList(cdn.CreateDescribeCdnCertificateListRequest())
	if err != nil {
		t.Fatal(err)
	}
	if got := certs.CertificateListModel.Count; got != 4 {
		t.Fatalf("DescribeCdnCertificateList counts %d, want the 4 free certificates", got)
	}
	// Binding an uploaded certificate ends the free one's renewals.
	if err := fleettest.SetCert(n.cdn, d2018, newFleetCert(t, d2018, "uploaded-after-free"), false); err != nil {
		t.Fatal(err)
	}
	if _, ok := freeCerts(t, n.srv)[d2018]; ok {
		t.Fatal("an uploaded certificate left the free one renewing")
	}
	if info := a.certInfo(t, d2018); info.CertType != "upload" || info.Status != "success" {
		t.Fatalf("after the upload: CertType %q Status %q", info.CertType, info.Status)
	}
}

func TestFreeCertificateExternalAccountBinding(t *testing.T) {
	const kid, hmac = "kid-e2e", "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
	eab := acmetest.Options{EAB: map[string]string{kid: hmac}}
	// The key id without its HMAC key (or the other way round) is refused
	// at start, not at the first order.
	_, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), APIAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0",
		HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Stdout: io.Discard,
		Env:  server.Env{AdminToken: adminToken, MasterKey: masterKey},
		ACME: server.ACMEConfig{Directory: "https://127.0.0.1:1/dir", EABKeyID: kid}})
	if err == nil || !strings.Contains(err.Error(), "CDND_ACME_EAB_HMAC") {
		t.Fatalf("start with --acme-eab-kid and no CDND_ACME_EAB_HMAC: %v", err)
	}
	n := startACMENode(t, eab, nil, func(c *server.Config, _ *acmetest.Pebble) {
		c.ACME.EABKeyID, c.Env.ACMEEABHMAC = kid, hmac
	})
	domain := n.addFreeDomain(t)
	if err := setFree(n.cdn, domain); err != nil {
		t.Fatal(err)
	}
	checkIssued(t, waitFreeStatus(t, n.cdn, domain, "success", 30*time.Second), n.srv.HTTPSAddr.String(), domain)

	// Without the binding, the CA refuses the account: failed, with its
	// problem.
	bare := startACMENode(t, eab, nil, nil)
	other := bare.addFreeDomain(t)
	if err := setFree(bare.cdn, other); err != nil {
		t.Fatal(err)
	}
	waitFreeStatus(t, bare.cdn, other, "failed", 30*time.Second)
	if p := freeCerts(t, bare.srv)[other].Problem; !strings.Contains(p, "externalAccountRequired") {
		t.Fatalf("problem %q, want the CA's externalAccountRequired", p)
	}
}

func TestFreeCertificateRegistersAgainWhenTheCAForgetsTheAccount(t *testing.T) {
	n := startACMENode(t, acmetest.Options{}, nil, nil)
	first := n.addFreeDomain(t)
	if err := setFree(n.cdn, first); err != nil {
		t.Fatal(err)
	}
	waitFreeStatus(t, n.cdn, first, "success", 30*time.Second)
	n.pebble.Restart() // the account is gone at the CA
	second := n.addFreeDomain(t)
	if err := setFree(n.cdn, second); err != nil {
		t.Fatal(err)
	}
	checkIssued(t, waitFreeStatus(t, n.cdn, second, "success", 30*time.Second), n.srv.HTTPSAddr.String(), second)
	if rec := freeCerts(t, n.srv)[second]; rec.Orders != 1 {
		t.Fatalf("%d orders placed, want 1 after registering again", rec.Orders)
	}
}
