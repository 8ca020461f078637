package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/cdnd/cdnd/internal/certs/certstest"
	"github.com/cdnd/cdnd/internal/store"
)

func ramClient(t *testing.T, id, secret string) *ram.Client {
	c, err := ram.NewClientWithAccessKey("cn-hangzhou", id, secret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = srv.APIAddr.String()
	return c
}

func stsClient(t *testing.T, id, secret string) *sts.Client {
	c, err := sts.NewClientWithAccessKey("cn-hangzhou", id, secret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = srv.APIAddr.String()
	return c
}

// robot is a RAM user with its own key and cdn client.
type robot struct {
	name, id, secret string
	cdn              *cdn.Client
}

// newRobot creates a RAM user, attaches the given custom policy documents
// (and system policies), and gives it a key.
func newRobot(t *testing.T, rc *ram.Client, name string, docs []string, system ...string) robot {
	t.Helper()
	cu := ram.CreateCreateUserRequest()
	cu.UserName, cu.DisplayName = name, "certificate robot"
	if _, err := rc.CreateUser(cu); err != nil {
		t.Fatal(err)
	}
	for i, doc := range docs {
		cp := ram.CreateCreatePolicyRequest()
		cp.PolicyName, cp.PolicyDocument = fmt.Sprintf("%s-p%d", name, i), doc
		if _, err := rc.CreatePolicy(cp); err != nil {
			t.Fatalf("CreatePolicy: %v", err)
		}
		ap := ram.CreateAttachPolicyToUserRequest()
		ap.PolicyType, ap.PolicyName, ap.UserName = "Custom", cp.PolicyName, name
		if _, err := rc.AttachPolicyToUser(ap); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range system {
		ap := ram.CreateAttachPolicyToUserRequest()
		ap.PolicyType, ap.PolicyName, ap.UserName = "System", p, name
		if _, err := rc.AttachPolicyToUser(ap); err != nil {
			t.Fatal(err)
		}
	}
	ck := ram.CreateCreateAccessKeyRequest()
	ck.UserName = name
	k, err := rc.CreateAccessKey(ck)
	if err != nil {
		t.Fatal(err)
	}
	return robot{name, k.AccessKey.AccessKeyId, k.AccessKey.AccessKeySecret, sdkClient(t, k.AccessKey.AccessKeyId, k.AccessKey.AccessKeySecret)}
}

func setCertWith(c *cdn.Client, domain, certName string, chain, key []byte) error {
	req := cdn.CreateSetDomainServerCertificateRequest()
	req.DomainName, req.ServerCertificateStatus, req.CertName = domain, "on", certName
	req.ServerCertificate, req.PrivateKey = string(chain), string(key)
	return unthrottled(func() error { _, err := c.SetDomainServerCertificate(req); return err })
}

// wantDenied checks a NoPermission answer and its AccessDeniedDetail object.
func wantDenied(t *testing.T, err error, noPermissionType, principal string) {
	t.Helper()
	wantAPIError(t, err, "NoPermission", 403)
	var se *errors.ServerError
	errorsAs(err, &se)
	d := se.AccessDeniedDetail()
	if d == nil || d["NoPermissionType"] != noPermissionType || d["AuthPrincipalDisplayName"] != principal ||
		d["AuthAction"] != "cdn:SetDomainServerCertificate" || d["AuthPrincipalType"] == "" {
		t.Fatalf("AccessDeniedDetail %v", d)
	}
}

// TestRAMUserLimitedToItsDomains is the scenario: a certificate
// robot whose key may touch only *.a.example, an explicit Deny that wins, a
// source-IP condition, a key disabled and enabled, an STS token that works
// until it expires, and the audit trail that saw each of them.
func TestRAMUserLimitedToItsDomains(t *testing.T) {
	a := newAccount(t)
	rc := ramClient(t, a.AccessKeyID, a.Secret)
	zone := uniqueDomain("a.example")
	mine, deny, other := "x."+zone, "deny."+zone, "b-"+zone+".example"
	for _, d := range []string{mine, deny, other} {
		a.addDomain(t, d)
	}
	arn := func(d string) string { return "acs:cdn:*:" + a.ID + ":domain/" + d }
	allow := fmt.Sprintf(`{"Version":"1","Statement":[{"Effect":"Allow","Action":["cdn:SetDomainServerCertificate","cdn:Describe*"],"Resource":%q}]}`, arn("*."+zone))
	denyDoc := fmt.Sprintf(`{"Version":"1","Statement":[{"Effect":"Deny","Action":"cdn:SetDomainServerCertificate","Resource":%q}]}`, arn(deny))
	bot := newRobot(t, rc, "robot", []string{allow, denyDoc})

	chain, key := certstest.Valid(t, mine, deny, other)
	if err := setCertWith(bot.cdn, mine, "robot-cert", chain, key); err != nil {
		t.Fatalf("allowed domain: %v", err)
	}
	waitServed(t, mine, pemFingerprint(t, chain))
	wantDenied(t, setCertWith(bot.cdn, other, "robot-cert", chain, key), "ImplicitDeny", "robot")
	wantDenied(t, setCertWith(bot.cdn, deny, "robot-cert", chain, key), "ExplicitDeny", "robot")
	if info := a.certInfo(t, other); info.ServerCertificateStatus != "off" {
		t.Fatal("a denied call changed the domain")
	}

	// A source-IP condition: this test calls from 127.0.0.1.
	ipDoc := func(cidr string) string {
		return fmt.Sprintf(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"cdn:SetDomainServerCertificate","Resource":%q,"Condition":{"IpAddress":{"acs:SourceIp":%q}}}]}`, arn("*"), cidr)
	}
	office := newRobot(t, rc, "office", []string{ipDoc("10.0.0.0/8")})
	wantDenied(t, setCertWith(office.cdn, other, "office-cert", chain, key), "ImplicitDeny", "office")
	local := newRobot(t, rc, "local", []string{ipDoc("127.0.0.1/32")})
	a.waitStatus(t, other, "online")
	chain2, key2 := certstest.Valid(t, other)
	if err := setCertWith(local.cdn, other, "local-cert", chain2, key2); err != nil {
		t.Fatalf("source IP allowed: %v", err)
	}

	// Disabling a key holds from the next call; enabling it too.
	update := func(status string) {
		t.Helper()
		req := ram.CreateUpdateAccessKeyRequest()
		req.UserName, req.UserAccessKeyId, req.Status = "robot", bot.id, status
		if _, err := rc.UpdateAccessKey(req); err != nil {
			t.Fatal(err)
		}
	}
	describe := func(c *cdn.Client) error {
		req := cdn.CreateDescribeDomainCertificateInfoRequest()
		req.DomainName = mine
		_, err := c.DescribeDomainCertificateInfo(req)
		return err
	}
	update("Inactive")
	wantAPIError(t, describe(bot.cdn), "InvalidAccessKeyId.Inactive", 400)
	update("Active")
	if err := describe(bot.cdn); err != nil {
		t.Fatal(err)
	}

	// STS: a role with CDN access, assumed by a user allowed to assume it.
	cr := ram.CreateCreateRoleRequest()
	cr.RoleName = "cdn-deployer"
	cr.AssumeRolePolicyDocument = fmt.Sprintf(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::%s:root"]}}]}`, a.ID)
	role, err := rc.CreateRole(cr)
	if err != nil {
		t.Fatal(err)
	}
	ar := ram.CreateAttachPolicyToRoleRequest()
	ar.PolicyType, ar.PolicyName, ar.RoleName = "System", "AliyunCDNFullAccess", "cdn-deployer"
	if _, err := rc.AttachPolicyToRole(ar); err != nil {
		t.Fatal(err)
	}
	deployer := newRobot(t, rc, "deployer", nil, "AliyunSTSAssumeRoleAccess")
	assume := sts.CreateAssumeRoleRequest()
	assume.RoleArn, assume.RoleSessionName, assume.DurationSeconds = role.Role.Arn, "ci-run-1", "900"
	creds, err := stsClient(t, deployer.id, deployer.secret).AssumeRole(assume)
	if err != nil {
		t.Fatal(err)
	}
	if exp, err := time.Parse("2006-01-02T15:04:05Z", creds.Credentials.Expiration); err != nil || time.Until(exp) > 16*time.Minute || time.Until(exp) < 14*time.Minute {
		t.Fatalf("Expiration %q", creds.Credentials.Expiration)
	}
	sc, err := cdn.NewClientWithStsToken("cn-hangzhou", creds.Credentials.AccessKeyId, creds.Credentials.AccessKeySecret, creds.Credentials.SecurityToken)
	if err != nil {
		t.Fatal(err)
	}
	sc.Domain = srv.APIAddr.String()
	a.waitStatus(t, deny, "online")
	chain3, key3 := certstest.Valid(t, deny)
	if err := setCertWith(sc, deny, "sts-cert", chain3, key3); err != nil {
		t.Fatalf("with the STS token: %v", err)
	}
	who, err := stsClientWithToken(t, creds.Credentials).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	if err != nil || who.IdentityType != "AssumedRoleUser" || who.AccountId != a.ID || !strings.Contains(who.Arn, "assumed-role/cdn-deployer/ci-run-1") {
		t.Fatalf("GetCallerIdentity: %+v %v", who, err)
	}
	// The token with another key is refused; a forged token too.
	mismatched, _ := cdn.NewClientWithStsToken("cn-hangzhou", bot.id, bot.secret, creds.Credentials.SecurityToken)
	mismatched.Domain = srv.APIAddr.String()
	wantAPIError(t, describe(mismatched), "InvalidSecurityToken.MismatchWithAccessKey", 400)
	forged, _ := cdn.NewClientWithStsToken("cn-hangzhou", creds.Credentials.AccessKeyId, creds.Credentials.AccessKeySecret, "not-a-token")
	forged.Domain = srv.APIAddr.String()
	wantAPIError(t, describe(forged), "InvalidSecurityToken.Malformed", 400)
	// Expiry: move the credential's expiration into the past, as 15 minutes
	// passing would.
	ctx := context.Background()
	var rec store.STSCredential
	if _, err := srv.Store().Get(ctx, store.STSKey(creds.Credentials.AccessKeyId), &rec); err != nil {
		t.Fatal(err)
	}
	rec.Expiration = time.Now().Add(-time.Second)
	if _, err := srv.Store().PutExpiring(ctx, store.STSKey(rec.AccessKeyID), rec, time.Hour); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, describe(sc), "InvalidSecurityToken.Expired", 400)

	// The audit trail saw each of these, with the right principal.
	var trail struct {
		Events []struct {
			AccountID, PrincipalType, PrincipalName, AccessKeyID, SourceIP, Action, Code, RequestID string
			Resources                                                                               []string
		}
	}
	q := url.Values{"AccountId": {a.ID}}
	if st := adminCall(t, http.MethodGet, "/admin/v1/audit?"+q.Encode(), nil, &trail); st != 200 {
		t.Fatalf("audit: %d", st)
	}
	seen := map[string]bool{}
	for _, e := range trail.Events {
		if e.RequestID == "" || e.SourceIP != "127.0.0.1" {
			t.Fatalf("audit record %+v", e)
		}
		seen[e.PrincipalName+" "+e.Action+" "+e.Code+" "+strings.Join(e.Resources, ",")] = true
	}
	for _, want := range []string{
		"robot SetDomainServerCertificate OK " + arn(mine),
		"robot SetDomainServerCertificate NoPermission " + arn(other),
		"robot SetDomainServerCertificate NoPermission " + arn(deny),
		"office SetDomainServerCertificate NoPermission " + arn(other),
		"robot DescribeDomainCertificateInfo InvalidAccessKeyId.Inactive " + arn(mine),
		"cdn-deployer/ci-run-1 SetDomainServerCertificate OK " + arn(deny),
		a.ID + " UpdateAccessKey OK acs:ram::" + a.ID + ":user/robot",
	} {
		if !seen[want] {
			t.Errorf("audit lacks %q", want)
		}
	}
	raw, _ := json.Marshal(trail)
	for _, secret := range []string{bot.secret, creds.Credentials.AccessKeySecret, creds.Credentials.SecurityToken, a.Secret} {
		if strings.Contains(string(raw), secret) {
			t.Fatal("the audit trail holds a secret")
		}
	}
	// Filters: by domain and by action.
	q.Set("DomainName", other)
	q.Set("Action", "SetDomainServerCertificate")
	if st := adminCall(t, http.MethodGet, "/admin/v1/audit?"+q.Encode(), nil, &trail); st != 200 || len(trail.Events) != 3 {
		t.Fatalf("filtered audit: %d, %d events", st, len(trail.Events))
	}
}

func stsClientWithToken(t *testing.T, c sts.Credentials) *sts.Client {
	s, err := sts.NewClientWithStsToken("cn-hangzhou", c.AccessKeyId, c.AccessKeySecret, c.SecurityToken)
	if err != nil {
		t.Fatal(err)
	}
	s.Domain = srv.APIAddr.String()
	return s
}
