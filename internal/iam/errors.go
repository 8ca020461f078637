package iam

import "errors"

// Refusals of credentials, mapped to the gateway's codes.
var (
	// ErrTokenMalformed: a SecurityToken that cdnd did not issue, or an STS
	// AccessKey used without its token.
	ErrTokenMalformed = errors.New("iam: security token malformed")
	// ErrTokenExpired: the temporary credentials have expired.
	ErrTokenExpired = errors.New("iam: security token expired")
	// ErrTokenMismatch: the token belongs to another AccessKey.
	ErrTokenMismatch = errors.New("iam: security token does not match the access key")
)

// Denied is a RAM refusal: which decision (ImplicitDeny: no policy allows;
// ExplicitDeny: a policy denies) on which resource.
type Denied struct {
	Decision   string
	Resource   string
	PolicyType string
}

func (d *Denied) Error() string { return "iam: " + d.Decision + " on " + d.Resource }
