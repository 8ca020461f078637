// Package ramapi is the wire side of RAM (Version 2015-05-01) and STS
// (Version 2015-04-01): the actions the Alibaba Cloud SDKs' ram and sts
// clients call, answered from iam.
package ramapi

import (
	"context"
	"errors"
	"time"

	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/openapi"
)

// API versions.
const (
	RAMVersion = "2015-05-01"
	STSVersion = "2015-04-01"
)

// Errors of the RAM and STS actions.
var (
	errInvalidName     = openapi.NewError(400, "InvalidParameter.Name.InvalidChars", "The name must be 1 to 64 (128 for policies) letters, digits, '.', '-' or '_'.")
	errUserExists      = openapi.NewError(409, "EntityAlreadyExists.User", "The user already exists.")
	errUserNotFound    = openapi.NewError(404, "EntityNotExist.User", "The user does not exist.")
	errUserHasKeys     = openapi.NewError(409, "DeleteConflict.User.AccessKey", "The user still has access keys.")
	errUserHasPolicies = openapi.NewError(409, "DeleteConflict.User.Policy", "The user still has policies attached.")
	errKeyNotFound     = openapi.NewError(404, "EntityNotExist.User.AccessKey", "The access key of the user does not exist.")
	errKeyLimit        = openapi.NewError(409, "LimitExceeded.User.AccessKey", "A user can have at most 2 access keys.")
	errKeyStatus       = openapi.NewError(400, "InvalidParameter.Status", "Status must be Active or Inactive.")
	errPolicyExists    = openapi.NewError(409, "EntityAlreadyExists.Policy", "The policy already exists.")
	errPolicyNotFound  = openapi.NewError(404, "EntityNotExist.Policy", "The policy does not exist.")
	errPolicyInUse     = openapi.NewError(409, "DeleteConflict.Policy.User", "The policy is still attached.")
	errPolicyDocument  = openapi.NewError(400, "MalformedPolicyDocument", "The policy document is malformed.")
	errPolicyType      = openapi.NewError(400, "InvalidParameter.PolicyType", "PolicyType must be Custom or System.")
	errAttached        = openapi.NewError(409, "EntityAlreadyExists.User.Policy", "The policy is already attached.")
	errNotAttached     = openapi.NewError(404, "EntityNotExist.User.Policy", "The policy is not attached.")
	errRoleExists      = openapi.NewError(409, "EntityAlreadyExists.Role", "The role already exists.")
	errRoleNotFound    = openapi.NewError(404, "EntityNotExist.Role", "The role does not exist.")
	errDuration        = openapi.NewError(400, "InvalidParameter.DurationSeconds", "The duration is out of range.")
	errSessionName     = openapi.NewError(400, "InvalidParameter.RoleSessionName", "The role session name is invalid.")
	errTrustDenied     = openapi.NewError(403, "NoPermission.Role", "The role's trust policy does not allow you to assume it.")
	errChainedAssume   = openapi.NewError(403, "NoPermission.AssumeRole", "Temporary credentials cannot assume a role.")
)

// faults maps iam's refusals to API errors.
var faults = []struct {
	err  error
	code *openapi.Error
}{
	{iam.ErrInvalidName, errInvalidName},
	{iam.ErrUserExists, errUserExists},
	{iam.ErrUserNotFound, errUserNotFound},
	{iam.ErrUserHasKeys, errUserHasKeys},
	{iam.ErrUserHasPolicies, errUserHasPolicies},
	{iam.ErrKeyNotFound, errKeyNotFound},
	{iam.ErrKeyLimit, errKeyLimit},
	{iam.ErrBadKeyStatus, errKeyStatus},
	{iam.ErrPolicyExists, errPolicyExists},
	{iam.ErrPolicyNotFound, errPolicyNotFound},
	{iam.ErrPolicyInUse, errPolicyInUse},
	{iam.ErrPolicyDocument, errPolicyDocument},
	{iam.ErrPolicyType, errPolicyType},
	{iam.ErrAlreadyAttached, errAttached},
	{iam.ErrNotAttached, errNotAttached},
	{iam.ErrRoleExists, errRoleExists},
	{iam.ErrRoleNotFound, errRoleNotFound},
	{iam.ErrDuration, errDuration},
	{iam.ErrSessionName, errSessionName},
	{iam.ErrTrustDenied, errTrustDenied},
	{iam.ErrAssumeFromSession, errChainedAssume},
}

func apiError(err error) error {
	for _, f := range faults {
		if errors.Is(err, f.err) {
			return f.code
		}
	}
	return err
}

// API serves RAM and STS actions from a directory.
type API struct{ d *iam.Directory }

// New returns the RAM and STS API over d.
func New(d *iam.Directory) *API { return &API{d: d} }

// isoTime is how RAM renders times.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// handle adapts an iam call to a Handler, mapping its refusals.
func handle(f func(ctx context.Context, r *openapi.Request) (any, error)) openapi.Handler {
	return func(ctx context.Context, r *openapi.Request) (any, error) {
		v, err := f(ctx, r)
		return v, apiError(err)
	}
}

// arn builds a RAM resource ARN of the caller's account.
func arn(kind, param string) func(r *openapi.Request) []string {
	return func(r *openapi.Request) []string {
		return []string{"acs:ram::" + r.Principal.AccountID + ":" + kind + "/" + r.Get(param)}
	}
}

// Actions lists the RAM and STS actions for the gateway.
func (a *API) Actions() []openapi.Action {
	ram := func(name string, readOnly bool, resources func(*openapi.Request) []string, required []string, f func(context.Context, *openapi.Request) (any, error)) openapi.Action {
		return openapi.Action{Name: name, Version: RAMVersion, Rate: 100, RAMAction: "ram:" + name, Resources: resources,
			ReadOnly: readOnly, Required: required, Handle: handle(f)}
	}
	user, policy, role := arn("user", "UserName"), arn("policy", "PolicyName"), arn("role", "RoleName")
	return []openapi.Action{
		ram("CreateUser", false, user, []string{"UserName"}, a.createUser),
		ram("GetUser", true, user, []string{"UserName"}, a.getUser),
		ram("ListUsers", true, nil, nil, a.listUsers),
		ram("DeleteUser", false, user, []string{"UserName"}, a.deleteUser),
		ram("CreateAccessKey", false, user, nil, a.createAccessKey),
		ram("UpdateAccessKey", false, user, []string{"UserAccessKeyId", "Status"}, a.updateAccessKey),
		ram("DeleteAccessKey", false, user, []string{"UserAccessKeyId"}, a.deleteAccessKey),
		ram("ListAccessKeys", true, user, nil, a.listAccessKeys),
		ram("CreatePolicy", false, policy, []string{"PolicyName", "PolicyDocument"}, a.createPolicy),
		ram("CreatePolicyVersion", false, policy, []string{"PolicyName", "PolicyDocument"}, a.createPolicyVersion),
		ram("GetPolicy", true, policy, []string{"PolicyName"}, a.getPolicy),
		ram("DeletePolicy", false, policy, []string{"PolicyName"}, a.deletePolicy),
		ram("AttachPolicyToUser", false, user, []string{"PolicyType", "PolicyName", "UserName"}, a.attach("user", "UserName")),
		ram("DetachPolicyFromUser", false, user, []string{"PolicyType", "PolicyName", "UserName"}, a.detach("user", "UserName")),
		ram("ListPoliciesForUser", true, user, []string{"UserName"}, a.listPolicies("user", "UserName")),
		ram("CreateRole", false, role, []string{"RoleName", "AssumeRolePolicyDocument"}, a.createRole),
		ram("AttachPolicyToRole", false, role, []string{"PolicyType", "PolicyName", "RoleName"}, a.attach("role", "RoleName")),
		ram("DetachPolicyFromRole", false, role, []string{"PolicyType", "PolicyName", "RoleName"}, a.detach("role", "RoleName")),
		ram("ListPoliciesForRole", true, role, []string{"RoleName"}, a.listPolicies("role", "RoleName")),
		{Name: "AssumeRole", Version: STSVersion, Rate: 100, RAMAction: "sts:AssumeRole", Required: []string{"RoleArn", "RoleSessionName"},
			Resources: func(r *openapi.Request) []string { return []string{r.Get("RoleArn")} }, Handle: handle(a.assumeRole)},
		{Name: "GetCallerIdentity", Version: STSVersion, Rate: 100, ReadOnly: true, Handle: handle(a.getCallerIdentity)},
	}
}
