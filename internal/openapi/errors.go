package openapi

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Error is an API error as Alibaba's gateway reports it: the HTTP status,
// the error code clients branch on, and its message. Services define their
// codes next to the actions that raise them.
type Error struct {
	Status  int
	Code    string
	Message string
	// RetryAfter, when set, is sent as x-acs-retry-after (throttling), so
	// tea-based clients back off for that long.
	RetryAfter time.Duration
	// AccessDeniedDetail explains a RAM denial. It is rendered as an
	// object: the classic Go SDK type-asserts it and panics on a string.
	AccessDeniedDetail *AccessDeniedDetail
}

// AccessDeniedDetail is the object Alibaba's gateway adds to NoPermission.
type AccessDeniedDetail struct {
	AuthAction               string
	AuthPrincipalType        string
	AuthPrincipalDisplayName string
	AuthPrincipalOwnerId     string
	NoPermissionType         string
	PolicyType               string
	EncodedDiagnosticMessage string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// NewError defines an API error and enters it in the catalog. Call it for
// package-level definitions; the catalog is how a test proves that every
// defined code is reachable.
func NewError(status int, code, message string) *Error {
	e := &Error{Status: status, Code: code, Message: message}
	catalogMu.Lock()
	catalog = append(catalog, e)
	catalogMu.Unlock()
	return e
}

var (
	catalogMu sync.Mutex
	catalog   []*Error
)

// Catalog lists every error defined with NewError, in definition order.
func Catalog() []*Error {
	catalogMu.Lock()
	defer catalogMu.Unlock()
	return append([]*Error(nil), catalog...)
}

// Is makes errors.Is match on the code, so a test or caller can compare with
// the defined value even when the message was specialised.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Status == e.Status
}

// WithMessage returns a copy carrying another message (e.g. Alibaba's
// messages that name the offending parameter).
func (e *Error) WithMessage(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// Missing is the gateway's answer to an absent required parameter:
// 400 Missing<Param> "<Param> is mandatory for this action."
func Missing(param string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "Missing" + param, Message: param + " is mandatory for this action."}
}

// The gateway's own codes: what Alibaba's API gateway answers before any
// action runs (signature, credentials, timestamp, nonce, throttling, RAM),
// with the messages its SDKs show, as the signature pages describe them
// (https://www.alibabacloud.com/help/en/sdk/product-overview/rpc-mechanism).
var (
	ErrSignatureDoesNotMatch  = NewError(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
	ErrIncompleteSignature    = NewError(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
	ErrAccessKeyNotFound      = NewError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
	ErrAccessKeyInactive      = NewError(400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled.")
	ErrTimestampExpired       = NewError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
	ErrTimestampFormat        = NewError(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
	ErrNonceUsed              = NewError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
	ErrActionNotFound         = NewError(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
	ErrInvalidVersion         = NewError(400, "InvalidVersion", "Specified parameter Version is not valid.")
	ErrSecurityTokenMalformed = NewError(400, "InvalidSecurityToken.Malformed", "Specified SecurityToken is malformed.")
	ErrSignatureMethod        = NewError(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
	ErrFormat                 = NewError(400, "InvalidParameter.Format", "Specified parameter Format is not valid.")
	ErrInvalidParameter       = NewError(400, "InvalidParameter", "The specified parameter is not valid.")
	ErrThrottlingUser         = NewError(400, "Throttling.User", "Request was denied due to user flow control.")
	ErrNoPermission           = NewError(403, "NoPermission", "You are not authorized to do this action. You should be authorized by RAM.")
	ErrSecurityTokenExpired   = NewError(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
	ErrSecurityTokenMismatch  = NewError(400, "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey.")
	ErrInternal               = NewError(500, "InternalError", "The request processing has failed due to some unknown error, exception or failure.")
	ErrServiceUnavailable     = NewError(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")
)
