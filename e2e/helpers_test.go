package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/server"
)

// account is a tenant created through the operator API, with an SDK client.
type account struct {
	ID, AccessKeyID, Secret string
	cdn                     *cdn.Client
}

func newAccount(t *testing.T) *account {
	t.Helper()
	var body struct{ AccountId, AccessKeyId, AccessKeySecret string }
	status := adminCall(t, http.MethodPost, "/admin/v1/accounts", nil, &body)
	if status != http.StatusCreated {
		t.Fatalf("create account: status %d", status)
	}
	return &account{ID: body.AccountId, AccessKeyID: body.AccessKeyId, Secret: body.AccessKeySecret, cdn: sdkClient(t, body.AccessKeyId, body.AccessKeySecret)}
}

func sdkClient(t *testing.T, id, secret string) *cdn.Client {
	t.Helper()
	c, err := cdn.NewClientWithAccessKey("cn-hangzhou", id, secret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = srv.APIAddr.String()
	return c
}

func adminCallB(b *testing.B, path string, out any) int {
	req, _ := http.NewRequest(http.MethodPost, "http://"+srv.AdminAddr.String()+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode
}

// adminCall calls the operator API with the token and decodes the answer.
func adminCall(t *testing.T, method, path string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+srv.AdminAddr.String()+path, body)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

var domainSeq atomic.Int64

// uniqueDomain returns a fresh domain name under base, so tests sharing one
// server never collide.
func uniqueDomain(base string) string {
	return fmt.Sprintf("d%d-%d.%s", time.Now().UnixNano()%1_000_000, domainSeq.Add(1), base)
}

const testSources = `[{"content":"127.0.0.1","type":"ipaddr","priority":"20","port":80,"weight":"10"}]`

// addDomain adds a domain and waits until the edge has it online.
func (a *account) addDomain(t *testing.T, name string) {
	t.Helper()
	req := cdn.CreateAddCdnDomainRequest()
	req.DomainName, req.CdnType, req.Sources = name, "web", testSources
	if _, err := a.cdn.AddCdnDomain(req); err != nil {
		t.Fatalf("AddCdnDomain %s: %v", name, err)
	}
	a.waitStatus(t, name, "online")
}

func (a *account) waitStatus(t *testing.T, name, want string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		req := cdn.CreateDescribeCdnDomainDetailRequest()
		req.DomainName = name
		resp, err := a.cdn.DescribeCdnDomainDetail(req)
		if err != nil {
			t.Fatalf("DescribeCdnDomainDetail %s: %v", name, err)
		}
		if got = resp.GetDomainDetailModel.DomainStatus; got == want {
			return
		}
	}
	t.Fatalf("domain %s status %q, want %q", name, got, want)
}

func (a *account) setCert(name, certName, chain, key string) error {
	req := cdn.CreateSetDomainServerCertificateRequest()
	req.DomainName, req.ServerCertificateStatus, req.CertName = name, "on", certName
	req.ServerCertificate, req.PrivateKey, req.CertType = chain, key, "upload"
	return unthrottled(func() error { _, err := a.cdn.SetDomainServerCertificate(req); return err })
}

// unthrottled retries call while the API answers Throttling.User, as
// Terraform and the tea clients do: SetDomainServerCertificate allows 10
// calls a second and a table of cases goes faster than that.
func unthrottled(call func() error) error {
	for {
		err := call()
		var se *errors.ServerError
		if !errorsAs(err, &se) || se.ErrorCode() != "Throttling.User" {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (a *account) certInfo(t *testing.T, name string) cdn.CertInfo {
	t.Helper()
	req := cdn.CreateDescribeDomainCertificateInfoRequest()
	req.DomainName = name
	resp, err := a.cdn.DescribeDomainCertificateInfo(req)
	if err != nil {
		t.Fatalf("DescribeDomainCertificateInfo %s: %v", name, err)
	}
	if n := len(resp.CertInfos.CertInfo); n != 1 {
		t.Fatalf("DescribeDomainCertificateInfo %s: %d CertInfo, want 1", name, n)
	}
	return resp.CertInfos.CertInfo[0]
}

// wantAPIError checks that err is the API error code with the HTTP status.
func wantAPIError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var se *errors.ServerError
	if !errorsAs(err, &se) {
		t.Fatalf("got %v, want API error %s", err, code)
	}
	if se.ErrorCode() != code || se.HttpStatus() != status {
		t.Fatalf("got %d %s (%s), want %d %s", se.HttpStatus(), se.ErrorCode(), se.Message(), status, code)
	}
}

// handshake connects to the edge with SNI and returns the SHA-256 of the
// leaf it was served, or the handshake error.
func handshake(sni string) (string, error) { return handshakeAt(srv.HTTPSAddr.String(), sni) }

func handshakeAt(addr, sni string) (string, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return fingerprint(conn.ConnectionState().PeerCertificates[0]), nil
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// pemFingerprint is the fingerprint of the first certificate in a PEM chain.
func pemFingerprint(t *testing.T, chain []byte) string {
	t.Helper()
	certs, err := tlsCertificates(chain)
	if err != nil {
		t.Fatal(err)
	}
	return fingerprint(certs[0])
}

// waitServed polls the edge until sni is served the certificate with
// fingerprint want ("" means: the handshake is refused).
func waitServed(t *testing.T, sni, want string) {
	t.Helper()
	var got string
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		got, err = handshake(sni)
		if want == "" && err != nil && strings.Contains(err.Error(), "unrecognized name") {
			return
		}
		if want != "" && err == nil && got == want {
			return
		}
	}
	t.Fatalf("edge serves %s: got %q (err %v), want %q", sni, got, err, want)
}

// startNode starts another cdnd serve in this process, on its own data
// directory and ephemeral ports, with the shared server's secrets and, as
// its test origins listen on loopback, 127.0.0.0/8 allowed; adjust changes
// its configuration first. It is ready when returned and stopped when the
// test ends.
func startNode(t testing.TB, adjust func(*server.Config)) *server.Server {
	t.Helper()
	cfg := server.Config{
		DataDir: t.TempDir(), APIAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		AllowOriginCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Env:              server.Env{RootAccessKeyID: rootAccessKeyID, RootAccessKeySecret: rootAccessKeySecret, AdminToken: adminToken, MasterKey: masterKey},
		Logger:           slog.New(slog.DiscardHandler),
		Stdout:           io.Discard,
	}
	adjust(&cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	node, err := server.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Shutdown(context.Background()) })
	for deadline := time.Now().Add(30 * time.Second); !node.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("node not ready")
		}
	}
	return node
}
