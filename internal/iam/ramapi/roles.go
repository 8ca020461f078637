package ramapi

import (
	"context"
	"strconv"

	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

type role struct {
	RoleId                   string
	RoleName                 string
	Arn                      string
	Description              string
	AssumeRolePolicyDocument string
	MaxSessionDuration       int64
	CreateDate               string
}

func (a *API) createRole(ctx context.Context, r *openapi.Request) (any, error) {
	var maxSession int64
	if v := r.Get("MaxSessionDuration"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, iam.ErrDuration
		}
		maxSession = n
	}
	ro, err := a.d.CreateRole(ctx, r.Principal.AccountID, store.Role{RoleName: r.Get("RoleName"), Description: r.Get("Description"),
		TrustPolicy: r.Get("AssumeRolePolicyDocument"), MaxSessionDuration: maxSession})
	return struct{ Role role }{role{ro.RoleID, ro.RoleName, iam.RoleARN(r.Principal.AccountID, ro.RoleName), ro.Description,
		ro.TrustPolicy, ro.MaxSessionDuration, isoTime(ro.Created)}}, err
}

func (a *API) assumeRole(ctx context.Context, r *openapi.Request) (any, error) {
	var seconds int64
	if v := r.Get("DurationSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, iam.ErrDuration
		}
		seconds = n
	}
	c, err := a.d.AssumeRole(ctx, r.Principal, r.Get("RoleArn"), r.Get("RoleSessionName"), r.Get("Policy"), seconds)
	if err != nil {
		return nil, err
	}
	return struct {
		Credentials     struct{ AccessKeyId, AccessKeySecret, SecurityToken, Expiration string }
		AssumedRoleUser struct{ Arn, AssumedRoleId string }
	}{
		struct{ AccessKeyId, AccessKeySecret, SecurityToken, Expiration string }{c.AccessKeyID, c.AccessKeySecret, c.SecurityToken, isoTime(c.Expiration)},
		struct{ Arn, AssumedRoleId string }{c.ARN, c.AssumedRoleID},
	}, nil
}

// getCallerIdentity tells a caller who it is; any valid credentials may ask.
func (a *API) getCallerIdentity(_ context.Context, r *openapi.Request) (any, error) {
	p := r.Principal
	out := struct{ AccountId, UserId, RoleId, Arn, IdentityType, PrincipalId string }{AccountId: p.AccountID}
	switch p.Type {
	case iam.TypeAccount:
		out.IdentityType, out.Arn, out.PrincipalId, out.UserId = "Account", "acs:ram::"+p.AccountID+":root", p.AccountID, p.AccountID
	case iam.TypeSubUser:
		out.IdentityType, out.Arn, out.PrincipalId = "RAMUser", "acs:ram::"+p.AccountID+":user/"+p.Name, p.Name
	case iam.TypeAssumedRoleUser:
		out.IdentityType, out.Arn, out.PrincipalId, out.RoleId = "AssumedRoleUser", "acs:ram::"+p.AccountID+":assumed-role/"+p.Name, p.ID, p.ID
	}
	return out, nil
}
