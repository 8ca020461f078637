package iam

import "errors"

// Refusals of RAM and STS operations; the RAM API maps each to Alibaba's
// code.
var (
	ErrInvalidName       = errors.New("iam: invalid name")
	ErrUserExists        = errors.New("iam: user already exists")
	ErrUserNotFound      = errors.New("iam: user not found")
	ErrUserHasKeys       = errors.New("iam: user still has access keys")
	ErrUserHasPolicies   = errors.New("iam: user still has policies attached")
	ErrKeyNotFound       = errors.New("iam: access key of the user not found")
	ErrKeyLimit          = errors.New("iam: a user has at most two access keys")
	ErrBadKeyStatus      = errors.New("iam: status must be Active or Inactive")
	ErrPolicyExists      = errors.New("iam: policy already exists")
	ErrPolicyNotFound    = errors.New("iam: policy not found")
	ErrPolicyInUse       = errors.New("iam: policy is attached")
	ErrPolicyDocument    = errors.New("iam: malformed policy document")
	ErrPolicyType        = errors.New("iam: policy type must be Custom or System")
	ErrAlreadyAttached   = errors.New("iam: policy already attached")
	ErrNotAttached       = errors.New("iam: policy not attached")
	ErrRoleExists        = errors.New("iam: role already exists")
	ErrRoleNotFound      = errors.New("iam: role not found")
	ErrTrustDenied       = errors.New("iam: the role's trust policy does not allow the caller")
	ErrDuration          = errors.New("iam: duration out of range")
	ErrSessionName       = errors.New("iam: invalid role session name")
	ErrAssumeFromSession = errors.New("iam: assumed-role credentials cannot assume a role")
)
