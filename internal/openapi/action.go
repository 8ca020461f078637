package openapi

import (
	"context"
	"net/url"

	"github.com/cdnd/cdnd/internal/iam"
)

// Handler runs an action. It returns a value that marshals to a JSON object
// (the gateway adds RequestId), or an error: an *Error is sent as it is,
// anything else as 500 InternalError.
type Handler func(ctx context.Context, r *Request) (any, error)

// Action is one operation of one API version.
type Action struct {
	Name    string
	Version string
	// Rate is the per-account limit in calls per second, summed over the
	// account's AccessKeys; 0 means unlimited.
	Rate float64
	// GETOnly actions answer InvalidAction.NotFound to any other method,
	// as Alibaba's gateway does for DescribeCertificateInfoByID.
	GETOnly bool
	// Required parameters, checked in order before Handle runs.
	Required []string
	// Secrets names parameters that carry secrets (private keys). A request
	// carrying one never has its string-to-sign echoed in an error.
	Secrets []string
	// RAMAction is what a RAM policy names to allow the call, e.g.
	// "cdn:SetDomainServerCertificate".
	RAMAction string
	// Resources lists the ARNs the call touches; every one must be allowed.
	// Nil means the account's whole service ("acs:<service>:*:<account>:*").
	Resources func(r *Request) []string
	// ReadOnly actions change nothing and are not audited unless refused.
	ReadOnly bool
	Handle   Handler
}

// Request is a verified call as a Handler sees it.
type Request struct {
	Action    string
	Version   string
	Params    url.Values
	Principal iam.Principal
	RequestID string
	SourceIP  string
	// nonce is the call's SignatureNonce, claimed with its bookkeeping.
	nonce string
}

// Get returns a parameter's value, "" when absent.
func (r *Request) Get(name string) string { return r.Params.Get(name) }

// Has reports whether the parameter was sent at all (even empty).
func (r *Request) Has(name string) bool { _, ok := r.Params[name]; return ok }

type actionKey struct{ name, version string }
