package openapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/iam"
)

// Authorizer decides whether a principal may run a RAM action on every one
// of the resources, given the request's condition keys (lower-cased:
// "acs:sourceip", "acs:securetransport", "acs:currenttime"). A refusal is an
// *iam.Denied.
type Authorizer interface {
	Authorize(ctx context.Context, p iam.Principal, action string, resources []string, conditions map[string]string) error
}

// resources is what an action touches for this call.
func (a *Action) resources(r *Request) []string {
	if a.Resources != nil {
		return a.Resources(r)
	}
	service, _, _ := strings.Cut(a.RAMAction, ":")
	return []string{"acs:" + service + ":*:" + r.Principal.AccountID + ":*"}
}

// conditions are the condition keys a policy may test for this request.
func conditions(r *http.Request, call *Request, now time.Time) map[string]string {
	secure := "false"
	if r.TLS != nil {
		secure = "true"
	}
	return map[string]string{
		"acs:sourceip":        call.SourceIP,
		"acs:securetransport": secure,
		"acs:currenttime":     now.UTC().Format(time.RFC3339),
	}
}

// authorize runs the RAM check before the action does anything.
func (g *Gateway) authorize(r *http.Request, a *Action, call *Request) error {
	if g.cfg.Authorizer == nil || a.RAMAction == "" {
		return nil
	}
	err := g.cfg.Authorizer.Authorize(r.Context(), call.Principal, a.RAMAction, a.resources(call), conditions(r, call, g.cfg.Now()))
	var denied *iam.Denied
	if !errors.As(err, &denied) {
		return err
	}
	p := call.Principal
	detail := &AccessDeniedDetail{
		AuthAction:               a.RAMAction,
		AuthPrincipalType:        p.Type,
		AuthPrincipalDisplayName: p.DisplayName(),
		AuthPrincipalOwnerId:     p.AccountID,
		NoPermissionType:         denied.Decision,
		PolicyType:               denied.PolicyType,
	}
	diag, _ := json.Marshal(struct {
		AuthAction, Resource, NoPermissionType string
	}{a.RAMAction, denied.Resource, denied.Decision})
	detail.EncodedDiagnosticMessage = base64.StdEncoding.EncodeToString(diag)
	e := *ErrNoPermission
	e.AccessDeniedDetail = detail
	return &e
}
