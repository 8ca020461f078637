package iam

import (
	"time"

	"github.com/cdnd/cdnd/internal/iam/policy"
	"github.com/cdnd/cdnd/internal/store"
)

type systemPolicy struct {
	record store.Policy
	parsed *policy.Policy
}

// systemPolicies are the built-in policies people attach most, with
// Alibaba's names, so that scripts written for RAM work unchanged.
var systemPolicies = func() map[string]systemPolicy {
	docs := map[string][2]string{
		"AdministratorAccess":        {"Full access to every service.", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
		"AliyunCDNFullAccess":        {"Full access to CDN.", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"cdn:*","Resource":"*"}]}`},
		"AliyunCDNReadOnlyAccess":    {"Read-only access to CDN.", `{"Version":"1","Statement":[{"Effect":"Allow","Action":["cdn:Describe*","cdn:Get*","cdn:List*"],"Resource":"*"}]}`},
		"AliyunYundunCertFullAccess": {"Full access to the certificate service.", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"yundun-cert:*","Resource":"*"}]}`},
		"AliyunRAMFullAccess":        {"Full access to RAM.", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*","Resource":"*"}]}`},
		"AliyunSTSAssumeRoleAccess":  {"Permission to assume roles.", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`},
	}
	out := make(map[string]systemPolicy, len(docs))
	created := time.Date(2015, 4, 28, 0, 0, 0, 0, time.UTC)
	for name, d := range docs {
		p, err := policy.Parse(d[1])
		if err != nil {
			panic("iam: system policy " + name + ": " + err.Error())
		}
		out[name] = systemPolicy{
			record: store.Policy{Name: name, Description: d[0], DefaultVersion: "v1", Created: created, Updated: created,
				Versions: []store.PolicyVersion{{VersionID: "v1", Document: d[1], Created: created}}},
			parsed: p,
		}
	}
	return out
}()
