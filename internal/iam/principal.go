package iam

// Principal is who signed a request.
type Principal struct {
	AccountID   string
	AccessKeyID string
	// Type is Alibaba's AuthPrincipalType: "Account" for an account's own key.
	Type string
}
