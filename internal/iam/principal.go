package iam

import "github.com/cdnd/cdnd/internal/iam/policy"

// Principal is who signed a request.
type Principal struct {
	AccountID   string
	AccessKeyID string
	// Type is Alibaba's AuthPrincipalType: "Account" for an account's own
	// key, "SubUser" for a RAM user's, "AssumedRoleUser" for an STS token.
	Type string
	// Name is the RAM user's name, or "role/session" for an assumed role;
	// empty for the account itself.
	Name string
	// ID is the RAM user's or role's id (PrincipalId in GetCallerIdentity).
	ID string

	// role is the assumed role's name, and session its inline policy.
	role    string
	session *policy.Policy
}

// Principal types.
const (
	TypeAccount         = "Account"
	TypeSubUser         = "SubUser"
	TypeAssumedRoleUser = "AssumedRoleUser"
)

// DisplayName is how a denial names the principal.
func (p Principal) DisplayName() string {
	if p.Name != "" {
		return p.Name
	}
	return p.AccountID
}
