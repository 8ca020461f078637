package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
)

const allowAllCDN = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"cdn:*","Resource":"*"}]}`

// TestRAMLifecycle walks users, keys, policies (with versions) and roles
// through the RAM SDK, including every refusal.
func TestRAMLifecycle(t *testing.T) {
	a := newAccount(t)
	rc := ramClient(t, a.AccessKeyID, a.Secret)
	for _, n := range []string{"alice", "bob", "carol"} {
		req := ram.CreateCreateUserRequest()
		req.UserName = n
		if _, err := rc.CreateUser(req); err != nil {
			t.Fatal(err)
		}
	}
	list := ram.CreateListUsersRequest()
	list.MaxItems = "2"
	page, err := rc.ListUsers(list)
	if err != nil || !page.IsTruncated || len(page.Users.User) != 2 || page.Marker != "bob" {
		t.Fatalf("page 1: %+v %v", page, err)
	}
	list.Marker = page.Marker
	if page, err = rc.ListUsers(list); err != nil || page.IsTruncated || len(page.Users.User) != 1 || page.Users.User[0].UserName != "carol" {
		t.Fatalf("page 2: %+v %v", page, err)
	}
	get := ram.CreateGetUserRequest()
	get.UserName = "alice"
	if u, err := rc.GetUser(get); err != nil || u.User.UserId == "" || u.User.CreateDate == "" {
		t.Fatalf("GetUser: %+v %v", u, err)
	}

	// Keys: two per user at most; list, disable, delete.
	var keyIDs []string
	for i := 0; i < 2; i++ {
		req := ram.CreateCreateAccessKeyRequest()
		req.UserName = "alice"
		k, err := rc.CreateAccessKey(req)
		if err != nil {
			t.Fatal(err)
		}
		keyIDs = append(keyIDs, k.AccessKey.AccessKeyId)
	}
	lk := ram.CreateListAccessKeysRequest()
	lk.UserName = "alice"
	keys, err := rc.ListAccessKeys(lk)
	if err != nil || len(keys.AccessKeys.AccessKey) != 2 || keys.AccessKeys.AccessKey[0].Status != "Active" {
		t.Fatalf("ListAccessKeys: %+v %v", keys, err)
	}
	if strings.Contains(string(keys.GetHttpContentBytes()), "Secret") {
		t.Fatal("ListAccessKeys shows secrets")
	}

	// Policies with versions: the default version is the one in force.
	cp := ram.CreateCreatePolicyRequest()
	cp.PolicyName, cp.PolicyDocument, cp.Description = "cdn-all", allowAllCDN, "all of CDN"
	if p, err := rc.CreatePolicy(cp); err != nil || p.Policy.DefaultVersion != "v1" || p.Policy.PolicyType != "Custom" {
		t.Fatalf("CreatePolicy: %+v %v", p, err)
	}
	cv := ram.CreateCreatePolicyVersionRequest()
	cv.PolicyName, cv.PolicyDocument, cv.SetAsDefault = "cdn-all", strings.Replace(allowAllCDN, "cdn:*", "cdn:Describe*", 1), "true"
	if v, err := rc.CreatePolicyVersion(cv); err != nil || v.PolicyVersion.VersionId != "v2" {
		t.Fatalf("CreatePolicyVersion: %+v %v", v, err)
	}
	gp := ram.CreateGetPolicyRequest()
	gp.PolicyName, gp.PolicyType = "cdn-all", "Custom"
	if p, err := rc.GetPolicy(gp); err != nil || p.DefaultPolicyVersion.VersionId != "v2" || !strings.Contains(p.DefaultPolicyVersion.PolicyDocument, "Describe") {
		t.Fatalf("GetPolicy: %+v %v", p, err)
	}
	gp.PolicyName, gp.PolicyType = "AliyunCDNFullAccess", "System"
	if p, err := rc.GetPolicy(gp); err != nil || p.Policy.PolicyType != "System" {
		t.Fatalf("GetPolicy System: %+v %v", p, err)
	}
	attach := ram.CreateAttachPolicyToUserRequest()
	attach.PolicyType, attach.PolicyName, attach.UserName = "Custom", "cdn-all", "bob"
	if _, err := rc.AttachPolicyToUser(attach); err != nil {
		t.Fatal(err)
	}
	lp := ram.CreateListPoliciesForUserRequest()
	lp.UserName = "bob"
	if pols, err := rc.ListPoliciesForUser(lp); err != nil || len(pols.Policies.Policy) != 1 || pols.Policies.Policy[0].AttachDate == "" {
		t.Fatalf("ListPoliciesForUser: %+v %v", pols, err)
	}

	cr := ram.CreateCreateRoleRequest()
	cr.RoleName = "ops"
	cr.AssumeRolePolicyDocument = fmt.Sprintf(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::%s:user/alice"]}}]}`, a.ID)
	role, err := rc.CreateRole(cr)
	if err != nil || role.Role.Arn != "acs:ram::"+a.ID+":role/ops" {
		t.Fatalf("CreateRole: %+v %v", role, err)
	}

	// Refusals.
	ramErr := func(err error, code string, status int) { t.Helper(); wantAPIError(t, err, code, status) }
	cu := ram.CreateCreateUserRequest()
	cu.UserName = "alice"
	_, err = rc.CreateUser(cu)
	ramErr(err, "EntityAlreadyExists.User", 409)
	cu.UserName = "not valid!"
	_, err = rc.CreateUser(cu)
	ramErr(err, "InvalidParameter.Name.InvalidChars", 400)
	get.UserName = "nobody"
	_, err = rc.GetUser(get)
	ramErr(err, "EntityNotExist.User", 404)
	ck := ram.CreateCreateAccessKeyRequest()
	ck.UserName = "alice"
	_, err = rc.CreateAccessKey(ck)
	ramErr(err, "LimitExceeded.User.AccessKey", 409)
	uk := ram.CreateUpdateAccessKeyRequest()
	uk.UserName, uk.UserAccessKeyId, uk.Status = "alice", keyIDs[0], "Sleeping"
	_, err = rc.UpdateAccessKey(uk)
	ramErr(err, "InvalidParameter.Status", 400)
	uk.UserName, uk.Status = "bob", "Inactive" // alice's key, asked as bob's
	_, err = rc.UpdateAccessKey(uk)
	ramErr(err, "EntityNotExist.User.AccessKey", 404)
	du := ram.CreateDeleteUserRequest()
	du.UserName = "alice"
	_, err = rc.DeleteUser(du)
	ramErr(err, "DeleteConflict.User.AccessKey", 409)
	du.UserName = "bob"
	_, err = rc.DeleteUser(du)
	ramErr(err, "DeleteConflict.User.Policy", 409)
	_, err = rc.CreatePolicy(cp)
	ramErr(err, "EntityAlreadyExists.Policy", 409)
	bad := ram.CreateCreatePolicyRequest()
	bad.PolicyName, bad.PolicyDocument = "broken", `{"Version":"2","Statement":[]}`
	_, err = rc.CreatePolicy(bad)
	ramErr(err, "MalformedPolicyDocument", 400)
	gp.PolicyName, gp.PolicyType = "nope", "Custom"
	_, err = rc.GetPolicy(gp)
	ramErr(err, "EntityNotExist.Policy", 404)
	gp.PolicyType = "Managed"
	_, err = rc.GetPolicy(gp)
	ramErr(err, "InvalidParameter.PolicyType", 400)
	dp := ram.CreateDeletePolicyRequest()
	dp.PolicyName = "cdn-all"
	_, err = rc.DeletePolicy(dp)
	ramErr(err, "DeleteConflict.Policy.User", 409)
	_, err = rc.AttachPolicyToUser(attach)
	ramErr(err, "EntityAlreadyExists.User.Policy", 409)
	detach := ram.CreateDetachPolicyFromUserRequest()
	detach.PolicyType, detach.PolicyName, detach.UserName = "Custom", "cdn-all", "carol"
	_, err = rc.DetachPolicyFromUser(detach)
	ramErr(err, "EntityNotExist.User.Policy", 404)
	_, err = rc.CreateRole(cr)
	ramErr(err, "EntityAlreadyExists.Role", 409)
	ar := ram.CreateAttachPolicyToRoleRequest()
	ar.PolicyType, ar.PolicyName, ar.RoleName = "System", "AliyunCDNFullAccess", "nope"
	_, err = rc.AttachPolicyToRole(ar)
	ramErr(err, "EntityNotExist.Role", 404)

	// STS refusals: durations, session names, trust.
	alice := ram.CreateCreateAccessKeyRequest()
	alice.UserName = "carol"
	ck2, err := rc.CreateAccessKey(alice)
	if err != nil {
		t.Fatal(err)
	}
	attachSTS := ram.CreateAttachPolicyToUserRequest()
	attachSTS.PolicyType, attachSTS.PolicyName, attachSTS.UserName = "System", "AliyunSTSAssumeRoleAccess", "carol"
	if _, err := rc.AttachPolicyToUser(attachSTS); err != nil {
		t.Fatal(err)
	}
	carol := stsClient(t, ck2.AccessKey.AccessKeyId, ck2.AccessKey.AccessKeySecret)
	ask := func(session, duration string) error {
		req := sts.CreateAssumeRoleRequest()
		req.RoleArn, req.RoleSessionName, req.DurationSeconds = role.Role.Arn, session, requests.Integer(duration)
		_, err := carol.AssumeRole(req)
		return err
	}
	ramErr(ask("s1", "60"), "InvalidParameter.DurationSeconds", 400)
	ramErr(ask("x", "900"), "InvalidParameter.RoleSessionName", 400)
	ramErr(ask("s1", "900"), "NoPermission.Role", 403) // the trust policy names alice only
	req := sts.CreateAssumeRoleRequest()
	req.RoleArn, req.RoleSessionName = "acs:ram::"+a.ID+":role/none", "s1"
	_, err = carol.AssumeRole(req)
	ramErr(err, "EntityNotExist.Role", 404)
	// Temporary credentials cannot assume again.
	cr2 := ram.CreateCreateRoleRequest()
	cr2.RoleName = "open"
	cr2.AssumeRolePolicyDocument = fmt.Sprintf(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::%s:root"}}]}`, a.ID)
	open, err := rc.CreateRole(cr2)
	if err != nil {
		t.Fatal(err)
	}
	ar.PolicyName, ar.RoleName = "AliyunSTSAssumeRoleAccess", "open"
	if _, err := rc.AttachPolicyToRole(ar); err != nil {
		t.Fatal(err)
	}
	req.RoleArn, req.RoleSessionName = open.Role.Arn, "first"
	creds, err := carol.AssumeRole(req)
	if err != nil {
		t.Fatal(err)
	}
	req2 := sts.CreateAssumeRoleRequest()
	req2.RoleArn, req2.RoleSessionName = open.Role.Arn, "second"
	_, err = stsClientWithToken(t, creds.Credentials).AssumeRole(req2)
	ramErr(err, "NoPermission.AssumeRole", 403)

	who, err := stsClient(t, a.AccessKeyID, a.Secret).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	if err != nil || who.IdentityType != "Account" || who.AccountId != a.ID {
		t.Fatalf("GetCallerIdentity: %+v %v", who, err)
	}
	if who, err = carol.GetCallerIdentity(sts.CreateGetCallerIdentityRequest()); err != nil || who.IdentityType != "RAMUser" || !strings.HasSuffix(who.Arn, ":user/carol") {
		t.Fatalf("GetCallerIdentity user: %+v %v", who, err)
	}

	// Tear down in order: detach, delete keys, delete users and the policy.
	detach.UserName = "bob"
	if _, err := rc.DetachPolicyFromUser(detach); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.DeletePolicy(dp); err != nil {
		t.Fatal(err)
	}
	for _, id := range keyIDs {
		dk := ram.CreateDeleteAccessKeyRequest()
		dk.UserName, dk.UserAccessKeyId = "alice", id
		if _, err := rc.DeleteAccessKey(dk); err != nil {
			t.Fatal(err)
		}
	}
	du.UserName = "alice"
	if _, err := rc.DeleteUser(du); err != nil {
		t.Fatal(err)
	}
	get.UserName = "alice"
	_, err = rc.GetUser(get)
	ramErr(err, "EntityNotExist.User", 404)
}
