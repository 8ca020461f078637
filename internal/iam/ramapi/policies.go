package ramapi

import (
	"context"

	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

type policyInfo struct {
	PolicyName     string
	PolicyType     string
	Description    string
	DefaultVersion string
	CreateDate     string
	UpdateDate     string
	AttachDate     string `json:",omitempty"`
}

func infoOf(p store.Policy, policyType string) policyInfo {
	return policyInfo{PolicyName: p.Name, PolicyType: policyType, Description: p.Description, DefaultVersion: p.DefaultVersion,
		CreateDate: isoTime(p.Created), UpdateDate: isoTime(p.Updated)}
}

type policyVersion struct {
	VersionId        string
	IsDefaultVersion bool
	PolicyDocument   string
	CreateDate       string
}

func (a *API) createPolicy(ctx context.Context, r *openapi.Request) (any, error) {
	p, err := a.d.CreatePolicy(ctx, r.Principal.AccountID, r.Get("PolicyName"), r.Get("Description"), r.Get("PolicyDocument"))
	return struct{ Policy policyInfo }{infoOf(p, iam.PolicyCustom)}, err
}

func (a *API) createPolicyVersion(ctx context.Context, r *openapi.Request) (any, error) {
	setDefault := r.Get("SetAsDefault") == "true"
	v, err := a.d.CreatePolicyVersion(ctx, r.Principal.AccountID, r.Get("PolicyName"), r.Get("PolicyDocument"), setDefault)
	return struct{ PolicyVersion policyVersion }{policyVersion{v.VersionID, setDefault, v.Document, isoTime(v.Created)}}, err
}

func (a *API) getPolicy(ctx context.Context, r *openapi.Request) (any, error) {
	policyType := r.Get("PolicyType")
	if policyType == "" {
		policyType = iam.PolicyCustom
	}
	p, err := a.d.GetPolicy(ctx, r.Principal.AccountID, r.Get("PolicyName"), policyType)
	if err != nil {
		return nil, err
	}
	var def policyVersion
	for _, v := range p.Versions {
		if v.VersionID == p.DefaultVersion {
			def = policyVersion{v.VersionID, true, v.Document, isoTime(v.Created)}
		}
	}
	return struct {
		Policy               policyInfo
		DefaultPolicyVersion policyVersion
	}{infoOf(p, policyType), def}, nil
}

func (a *API) deletePolicy(ctx context.Context, r *openapi.Request) (any, error) {
	return nil, a.d.DeletePolicy(ctx, r.Principal.AccountID, r.Get("PolicyName"))
}

func (a *API) attach(kind, param string) func(context.Context, *openapi.Request) (any, error) {
	return func(ctx context.Context, r *openapi.Request) (any, error) {
		return nil, a.d.Attach(ctx, r.Principal.AccountID, kind, r.Get(param), r.Get("PolicyType"), r.Get("PolicyName"))
	}
}

func (a *API) detach(kind, param string) func(context.Context, *openapi.Request) (any, error) {
	return func(ctx context.Context, r *openapi.Request) (any, error) {
		return nil, a.d.Detach(ctx, r.Principal.AccountID, kind, r.Get(param), r.Get("PolicyType"), r.Get("PolicyName"))
	}
}

func (a *API) listPolicies(kind, param string) func(context.Context, *openapi.Request) (any, error) {
	return func(ctx context.Context, r *openapi.Request) (any, error) {
		attached, err := a.d.Attached(ctx, r.Principal.AccountID, kind, r.Get(param))
		if err != nil {
			return nil, err
		}
		list := make([]policyInfo, len(attached))
		for i, p := range attached {
			list[i] = infoOf(p.Policy, p.Type)
			list[i].AttachDate = isoTime(p.Attached)
		}
		return struct {
			Policies struct{ Policy []policyInfo }
		}{struct{ Policy []policyInfo }{list}}, nil
	}
}
