package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	cassdk "github.com/aliyun/alibaba-cloud-sdk-go/services/cas"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
	"github.com/cdnd/cdnd/internal/certs/certstest"
)

func casClient(t *testing.T, a *account) *cassdk.Client {
	c, err := cassdk.NewClientWithAccessKey("cn-hangzhou", a.AccessKeyID, a.Secret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = srv.APIAddr.String()
	return c
}

// TestCertificateService: upload to the repository, bind to a domain by
// CertId (certd's and certimate's flow), read it back without its key,
// refuse to delete it while bound.
func TestCertificateService(t *testing.T) {
	a := newAccount(t)
	cs := casClient(t, a)
	name := uniqueDomain("cas.example")
	a.addDomain(t, name)
	chain, key := certstest.Valid(t, name)

	up := cassdk.CreateUploadUserCertificateRequest()
	up.Name, up.Cert, up.Key = "from-certd", string(chain), string(key)
	ur, err := cs.UploadUserCertificate(up)
	if err != nil || ur.CertId == 0 {
		t.Fatalf("upload: %+v %v", ur, err)
	}
	id := strconv.FormatInt(ur.CertId, 10)

	bind := cdn.CreateSetCdnDomainSSLCertificateRequest()
	bind.DomainName, bind.SSLProtocol, bind.CertType, bind.CertId = name, "on", "cas", requests.Integer(id)
	if _, err := a.cdn.SetCdnDomainSSLCertificate(bind); err != nil {
		t.Fatal(err)
	}
	waitServed(t, name, pemFingerprint(t, chain))
	if info := a.certInfo(t, name); info.CertId != id || info.CertType != "cas" || info.CertName != "from-certd" {
		t.Fatalf("bound: %+v", info)
	}

	get := cassdk.CreateGetUserCertificateDetailRequest()
	get.CertId, get.CertFilter = requests.Integer(id), "false"
	gr, err := cs.GetUserCertificateDetail(get)
	if err != nil || gr.Name != "from-certd" || gr.Key != "" || !strings.Contains(gr.Cert, "BEGIN CERTIFICATE") ||
		gr.Common != name || gr.Algorithm != "ECC" || gr.Expired || gr.EndDate == "" {
		t.Fatalf("detail: %+v %v", gr, err)
	}
	if strings.Contains(string(gr.GetHttpContentBytes()), "PRIVATE KEY") {
		t.Fatal("the key left cdnd")
	}
	get.CertFilter = "true"
	if gr, err = cs.GetUserCertificateDetail(get); err != nil || gr.Cert != "" {
		t.Fatalf("filtered detail: %+v %v", gr, err)
	}

	list := cassdk.CreateListUserCertificateOrderRequest()
	list.OrderType = "UPLOAD"
	lr, err := cs.ListUserCertificateOrder(list)
	if err != nil || lr.TotalCount != 1 || lr.CertificateOrderList[0].CertificateId != ur.CertId || lr.CertificateOrderList[0].Status != "ISSUED" {
		t.Fatalf("list: %+v %v", lr, err)
	}
	list.Keyword = "no-such"
	if lr, err = cs.ListUserCertificateOrder(list); err != nil || lr.TotalCount != 0 || lr.CertificateOrderList == nil {
		t.Fatalf("keyword: %+v %v", lr, err)
	}

	del := cassdk.CreateDeleteUserCertificateRequest()
	del.CertId = requests.Integer(id)
	_, err = cs.DeleteUserCertificate(del)
	wantAPIError(t, err, "CertificateInUse", 400)
	a.waitStatus(t, name, "online")
	off := cdn.CreateSetCdnDomainSSLCertificateRequest()
	off.DomainName, off.SSLProtocol = name, "off"
	if _, err := a.cdn.SetCdnDomainSSLCertificate(off); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.DeleteUserCertificate(del); err != nil {
		t.Fatal(err)
	}
	_, err = cs.GetUserCertificateDetail(get)
	wantAPIError(t, err, "NotFound.Certificate", 404)
	// Another account cannot see or delete it either way.
	_, err = casClient(t, newAccount(t)).DeleteUserCertificate(del)
	wantAPIError(t, err, "NotFound.Certificate", 404)
}

func TestCertificateServiceErrors(t *testing.T) {
	a := newAccount(t)
	cs := casClient(t, a)
	chain, key := certstest.Valid(t, "cas-errors.example")
	otherChain, _ := certstest.Valid(t, "cas-errors.example")
	expChain, expKey := certstest.Issue(t, "ecdsa", time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour), "cas-errors.example")
	up := cassdk.CreateUploadUserCertificateRequest()
	up.Name, up.Cert, up.Key = "taken", string(chain), string(key)
	if _, err := cs.UploadUserCertificate(up); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cert, key, code string
	}{
		{"taken", string(chain), string(key), "NameRepeat"},
		{"copy", string(chain), string(key), "CertificateContent.Duplicated"},
		{"bad-cert", "nope", string(key), "InvalidCertificate"},
		{"bad-key", string(chain), "nope", "InvalidPrivateKey"},
		{"mismatch", string(otherChain), string(key), "CertificateKeyMismatch"},
		{"expired", string(expChain), string(expKey), "CertificateExpired"},
		{"huge", strings.Repeat(string(chain), 64<<10/len(chain)+1), string(key), "InvalidCertificate.TooLong"},
		{strings.Repeat("n", 129), string(chain), string(key), "InvalidName.TooLong"},
	} {
		r := cassdk.CreateUploadUserCertificateRequest()
		r.Name, r.Cert, r.Key = tc.name, tc.cert, tc.key
		_, err := cs.UploadUserCertificate(r)
		wantAPIError(t, err, tc.code, 400)
	}
	get := cassdk.CreateGetUserCertificateDetailRequest()
	get.CertId = "notanumber"
	_, err := cs.GetUserCertificateDetail(get)
	wantAPIError(t, err, "InvalidParameter.CertId", 400)
	list := cassdk.CreateListUserCertificateOrderRequest()
	list.ShowSize = "0"
	_, err = cs.ListUserCertificateOrder(list)
	wantAPIError(t, err, "InvalidParameter.ShowSize", 400)
}
