package e2e

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/cdnd/cdnd/internal/openapi"
)

// v3Call signs a request with ACS3-HMAC-SHA256 as the tea SDKs do by
// default: Action, Version, date and nonce in x-acs-* headers, operation
// parameters in the query, the body hashed.
type v3Call struct {
	action  string
	query   url.Values
	body    string
	secret  string
	id      string
	edit    func(h http.Header) // after signing
	signed  []string            // headers to sign; default host + x-acs-*
	nonce   string
	version string
	headers map[string]string // set before signing
}

func (c v3Call) do(t *testing.T) apiAnswer {
	t.Helper()
	if c.version == "" {
		c.version = "2018-05-10"
	}
	if c.nonce == "" {
		c.nonce = hex.EncodeToString([]byte(time.Now().Format(time.RFC3339Nano)))
	}
	target := "http://" + srv.APIAddr.String() + "/?" + c.query.Encode()
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(c.body))
	h := req.Header
	h.Set("x-acs-action", c.action)
	h.Set("x-acs-version", c.version)
	h.Set("x-acs-date", time.Now().UTC().Format("2006-01-02T15:04:05Z"))
	h.Set("x-acs-signature-nonce", c.nonce)
	h.Set("x-acs-content-sha256", openapi.PayloadHashV3([]byte(c.body)))
	h.Set("accept", "application/json")
	for k, v := range c.headers {
		h.Set(k, v)
	}
	signed := c.signed
	if signed == nil {
		signed = []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"}
	}
	cr := openapi.CanonicalRequestV3(req, c.query, signed, h.Get("x-acs-content-sha256"))
	sig := openapi.SignV3(c.secret, openapi.StringToSignV3(cr))
	h.Set("Authorization", "ACS3-HMAC-SHA256 Credential="+c.id+",SignedHeaders="+strings.Join(signed, ";")+",Signature="+sig)
	if c.edit != nil {
		c.edit(h)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := apiAnswer{status: resp.StatusCode, header: resp.Header}
	a.body, _ = io.ReadAll(resp.Body)
	_ = json.Unmarshal(a.body, &a.fields)
	return a
}

func TestSignatureV3(t *testing.T) {
	a := newAccount(t)
	name := uniqueDomain("v3.example")
	a.addDomain(t, name)
	base := func() v3Call {
		return v3Call{action: "DescribeCdnDomainDetail", query: url.Values{"DomainName": {name}}, secret: a.Secret, id: a.AccessKeyID}
	}
	ok := base().do(t)
	if ok.status != 200 || ok.fields["GetDomainDetailModel"] == nil {
		t.Fatalf("%d %s", ok.status, ok.body)
	}

	replay := base()
	replay.nonce = "v3-replayed-nonce-" + name
	if ans := replay.do(t); ans.status != 200 {
		t.Fatalf("%d %s", ans.status, ans.body)
	}
	replay.do(t).wantError(t, 400, "SignatureNonceUsed")

	for _, tc := range []struct {
		name   string
		edit   func(c *v3Call)
		status int
		code   string
	}{
		{"wrong secret", func(c *v3Call) { c.secret = "nope" }, 400, "SignatureDoesNotMatch"},
		{"unknown key", func(c *v3Call) { c.id = "LTAInobody0000000000000" }, 404, "InvalidAccessKeyId.NotFound"},
		{"body does not match its hash", func(c *v3Call) {
			c.edit = func(h http.Header) { h.Set("x-acs-content-sha256", openapi.EmptyPayloadHashV3[:63]+"0") }
		}, 400, "IncompleteSignature"},
		{"x-acs header left unsigned", func(c *v3Call) {
			c.signed = []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-version"}
		}, 400, "IncompleteSignature"},
		{"host unsigned", func(c *v3Call) {
			c.signed = []string{"x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"}
		}, 400, "IncompleteSignature"},
		{"stale date", func(c *v3Call) {
			c.edit = func(h http.Header) {
				h.Set("x-acs-date", time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04:05Z"))
			}
		}, 400, "InvalidTimeStamp.Expired"},
		{"other algorithm", func(c *v3Call) {
			c.edit = func(h http.Header) {
				h.Set("Authorization", strings.Replace(h.Get("Authorization"), "ACS3-HMAC-SHA256", "ACS3-HMAC-SM3", 1))
			}
		}, 400, "InvalidSignatureMethod"},
		{"missing action header", func(c *v3Call) { c.edit = func(h http.Header) { h.Del("x-acs-action") } }, 400, "MissingAction"},
		{"security token", func(c *v3Call) {
			c.edit = func(h http.Header) { h.Set("x-acs-security-token", "CAIS") }
		}, 400, "IncompleteSignature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			c.do(t).wantError(t, tc.status, tc.code)
		})
	}
}

// TestSignatureV3WithSTSToken: temporary credentials sign V3 with the
// token in x-acs-security-token (signed like every x-acs-* header).
func TestSignatureV3WithSTSToken(t *testing.T) {
	a := newAccount(t)
	name := uniqueDomain("v3sts.example")
	a.addDomain(t, name)
	rc := ramClient(t, a.AccessKeyID, a.Secret)
	cr := ram.CreateCreateRoleRequest()
	cr.RoleName = "v3"
	cr.AssumeRolePolicyDocument = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::` + a.ID + `:root"]}}]}`
	role, err := rc.CreateRole(cr)
	if err != nil {
		t.Fatal(err)
	}
	ar := ram.CreateAttachPolicyToRoleRequest()
	ar.PolicyType, ar.PolicyName, ar.RoleName = "System", "AliyunCDNReadOnlyAccess", "v3"
	if _, err := rc.AttachPolicyToRole(ar); err != nil {
		t.Fatal(err)
	}
	req := sts.CreateAssumeRoleRequest()
	req.RoleArn, req.RoleSessionName = role.Role.Arn, "v3-session"
	creds, err := stsClient(t, a.AccessKeyID, a.Secret).AssumeRole(req)
	if err != nil {
		t.Fatal(err)
	}
	c := creds.Credentials
	call := func(token string) apiAnswer {
		return v3Call{action: "DescribeCdnDomainDetail", query: url.Values{"DomainName": {name}}, secret: c.AccessKeySecret, id: c.AccessKeyId,
			signed:  []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-security-token", "x-acs-signature-nonce", "x-acs-version"},
			headers: map[string]string{"x-acs-security-token": token}}.do(t)
	}
	if ans := call(c.SecurityToken); ans.status != 200 {
		t.Fatalf("%d %s", ans.status, ans.body)
	}
	call("CAIS-forged").wantError(t, 400, "InvalidSecurityToken.Malformed")
	// The role may read, not write.
	write := v3Call{action: "StopCdnDomain", query: url.Values{"DomainName": {name}}, secret: c.AccessKeySecret, id: c.AccessKeyId,
		signed:  []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-security-token", "x-acs-signature-nonce", "x-acs-version"},
		headers: map[string]string{"x-acs-security-token": c.SecurityToken}}.do(t)
	write.wantError(t, 403, "NoPermission")
	if _, ok := write.fields["AccessDeniedDetail"].(map[string]any); !ok {
		t.Fatalf("AccessDeniedDetail is not an object: %s", write.body)
	}
}
