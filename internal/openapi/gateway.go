package openapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/iam"
	"github.com/prometheus/client_golang/prometheus"
)

// Credentials resolves an AccessKeyId (and, for STS credentials, its
// SecurityToken) to its principal and secret.
type Credentials interface {
	Lookup(ctx context.Context, accessKeyID, securityToken string) (iam.Principal, []byte, error)
}

// Nonces remembers SignatureNonces so that a captured request cannot be
// replayed within the timestamp window.
type Nonces interface {
	ClaimNonce(ctx context.Context, accessKeyID, nonce string, ttl time.Duration) (bool, error)
}

// ErrUnavailable, wrapped by a dependency's error, makes the gateway answer
// 503 ServiceUnavailable (retryable) instead of 500.
var ErrUnavailable = errors.New("openapi: dependency unavailable")

const (
	// timestampSkew is how far a request's time may be from ours.
	timestampSkew = 15 * time.Minute
	// nonceTTL must cover the whole window in which a timestamp is accepted.
	nonceTTL = 2 * timestampSkew
	// timestampLayout: UTC, whole seconds; fractions are refused.
	timestampLayout = "2006-01-02T15:04:05Z"
)

// Config wires a Gateway to its dependencies.
type Config struct {
	Credentials Credentials
	Nonces      Nonces
	Logger      *slog.Logger
	Metrics     prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// IsUnavailable classifies dependency errors as retryable (503).
	IsUnavailable func(error) bool
	// Authorizer, when set, runs RAM authorization before each action.
	Authorizer Authorizer
	// Auditor, when set, records every write and every refused call
	// (refusals of unauthenticated callers in bounded form).
	Auditor Auditor
	// Timeout bounds one call: with the store unreachable the gateway
	// answers 503 ServiceUnavailable in this time rather than hang. Zero
	// means no bound.
	Timeout time.Duration
	// Share is this node's part of each account's throttling budget; nil
	// means all of it. With several API nodes, one account's 10/s stays
	// 10/s over the fleet.
	Share func() float64
}

// Gateway is the http.Handler of the OpenAPI endpoint.
type Gateway struct {
	cfg      Config
	actions  map[actionKey]*Action
	names    map[string]bool
	versions map[string]bool
	throttle *throttle
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New returns a Gateway with no actions.
func New(cfg Config) *Gateway {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Share == nil {
		cfg.Share = func() float64 { return 1 }
	}
	if cfg.IsUnavailable == nil {
		cfg.IsUnavailable = func(err error) bool { return errors.Is(err, ErrUnavailable) }
	}
	g := &Gateway{
		cfg:      cfg,
		actions:  map[actionKey]*Action{},
		names:    map[string]bool{},
		versions: map[string]bool{},
		throttle: newThrottle(100_000),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdnd_api_requests_total",
			Help: "OpenAPI calls by action and result code (OK for success).",
		}, []string{"action", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cdnd_api_request_duration_seconds",
			Help:    "OpenAPI call latency by action, signature to response.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"action"}),
	}
	if cfg.Metrics != nil {
		cfg.Metrics.MustRegister(g.requests, g.latency)
	}
	return g
}

// Register adds actions. Registering the same (Name, Version) twice panics:
// it is a programming error.
func (g *Gateway) Register(actions ...Action) {
	for i := range actions {
		a := actions[i]
		k := actionKey{a.Name, a.Version}
		if _, dup := g.actions[k]; dup {
			panic("openapi: duplicate action " + a.Name + " " + a.Version)
		}
		g.actions[k] = &a
		g.names[a.Name] = true
		g.versions[a.Version] = true
	}
}

// ServeHTTP answers one call.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.cfg.Now()
	if g.cfg.Timeout > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	requestID := newRequestID()
	call, action, xmlFormat, authErr := g.authenticate(r, requestID)
	label := "unknown"
	if action != nil {
		label = action.Name
	}
	event := newEvent(start, requestID, r, call, action, label)
	err := authErr
	var result any
	switch {
	case err == nil && g.bookkeeps(action):
		result, err = g.runWrite(r.Context(), action, call, event)
	case err == nil:
		result, err = g.run(r.Context(), action, call)
	case errors.Is(err, ErrNoPermission) && g.bookkeeps(action):
		// The refusal claims the nonce and is recorded in one commit.
		_, wc := g.cfg.Auditor.Begin(r.Context(), event, call.nonce, nonceTTL)
		err = g.settle(r.Context(), wc, event, err)
	}
	code, status := "OK", http.StatusOK
	if err != nil {
		apiErr := g.apiError(err, requestID, label)
		code, status = apiErr.Code, apiErr.Status
		writeError(w, r.Host, requestID, apiErr)
	} else if werr := g.writeSuccess(w, requestID, label, xmlFormat, result); werr != nil {
		code, status = ErrInternal.Code, ErrInternal.Status
		g.cfg.Logger.Error("render response", "request_id", requestID, "action", label, "err", werr)
		writeError(w, r.Host, requestID, ErrInternal)
	}
	event.Code, event.Status = code, status
	logged := true
	if !g.bookkeeps(action) || (authErr != nil && !errors.Is(authErr, ErrNoPermission)) {
		logged = g.audit(r.Context(), event, action, authErr)
	}
	elapsed := g.cfg.Now().Sub(start)
	g.requests.WithLabelValues(label, code).Inc()
	g.latency.WithLabelValues(label).Observe(elapsed.Seconds())
	if logged {
		g.cfg.Logger.Info("api call", "request_id", requestID, "action", label,
			"access_key_id", event.AccessKeyID, "source_ip", event.SourceIP, "code", code, "duration", elapsed)
	}
}

// newEvent is the audit event of a call, its outcome still "OK".
func newEvent(start time.Time, requestID string, r *http.Request, call *Request, action *Action, label string) AuditEvent {
	e := AuditEvent{Time: start, RequestID: requestID, SourceIP: sourceIP(r), Action: label, Code: "OK", Status: http.StatusOK}
	if call != nil {
		p := call.Principal
		e.AccountID, e.PrincipalType, e.PrincipalName, e.AccessKeyID = p.AccountID, p.Type, p.DisplayName(), p.AccessKeyID
		e.Version = call.Version
		if action != nil && p.AccountID != "" {
			e.Resources = action.resources(call)
		}
	}
	return e.clipped()
}

// bookkeeps reports whether a call of a is a write whose nonce claim and
// audit record ride on the action's own commit (Auditor.Begin).
func (g *Gateway) bookkeeps(a *Action) bool {
	return g.cfg.Auditor != nil && a != nil && !a.ReadOnly
}

// runWrite runs a write action under its bookkeeping and settles it.
func (g *Gateway) runWrite(ctx context.Context, a *Action, call *Request, e AuditEvent) (any, error) {
	wctx, wc := g.cfg.Auditor.Begin(ctx, e, call.nonce, nonceTTL)
	result, err := g.run(wctx, a, call)
	if err = g.settle(ctx, wc, e, err); err != nil {
		return nil, err
	}
	return result, nil
}

// settle completes a write call's bookkeeping once the action returned err.
// A replay is SignatureNonceUsed whatever the action said (its commit wrote
// nothing). An action that committed nothing (it failed, or changed
// nothing) still claims its nonce and leaves its record, in one commit.
func (g *Gateway) settle(ctx context.Context, wc WriteCall, e AuditEvent, err error) error {
	if wc.Replayed() {
		return ErrNonceUsed
	}
	if err != nil {
		apiErr := g.apiError(err, e.RequestID, e.Action)
		e.Code, e.Status, err = apiErr.Code, apiErr.Status, apiErr
	}
	if wc.Committed() {
		if err != nil { // a step after the commit failed: say so too
			g.audit(ctx, e, nil, nil)
		}
		return err
	}
	fresh, ferr := wc.Finish(ctx, e)
	switch {
	case ferr != nil && err == nil:
		return ferr
	case ferr != nil:
		g.cfg.Logger.Error("audit record lost", "request_id", e.RequestID, "action", e.Action, "err", clip(ferr.Error()))
	case !fresh:
		return ErrNonceUsed
	}
	return err
}

// run calls the handler, checking required parameters first and turning a
// panic into InternalError rather than a dropped connection.
func (g *Gateway) run(ctx context.Context, a *Action, call *Request) (result any, err error) {
	for _, p := range a.Required {
		if call.Get(p) == "" {
			return nil, Missing(p)
		}
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("openapi: panic in %s: %v", a.Name, p)
		}
	}()
	return a.Handle(ctx, call)
}

// apiError maps any error to what the client sees. Unexpected errors are
// logged here, once, and never shown: their text may name internals.
func (g *Gateway) apiError(err error, requestID, action string) *Error {
	var apiErr *Error
	switch {
	case errors.As(err, &apiErr) && apiErr != nil:
		// A nil *Error inside err (a lookup that found no entry) is a bug
		// of the action: it falls through to InternalError.
		return apiErr
	case g.cfg.IsUnavailable(err):
		g.cfg.Logger.Warn("dependency unavailable", "request_id", requestID, "action", action, "err", clip(err.Error()))
		return ErrServiceUnavailable
	default:
		g.cfg.Logger.Error("internal error", "request_id", requestID, "action", action, "err", clip(err.Error()))
		return ErrInternal
	}
}

func (g *Gateway) writeSuccess(w http.ResponseWriter, requestID, action string, xmlFormat bool, result any) error {
	body, err := successBody(requestID, result)
	if err != nil {
		return err
	}
	ctype := "application/json;charset=utf-8"
	if xmlFormat {
		if body, err = jsonToXML(action+"Response", body); err != nil {
			return err
		}
		ctype = "text/xml;charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("x-acs-request-id", requestID)
	_, err = w.Write(body)
	return err
}

// authenticate decodes and verifies a request up to the point where the
// action may run: signature, timestamp, AccessKey, throttling and nonce.
func (g *Gateway) authenticate(r *http.Request, requestID string) (*Request, *Action, bool, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxFormBody+1))
	if err != nil {
		return nil, nil, false, ErrInvalidParameter
	}
	if len(body) > MaxFormBody {
		return nil, nil, false, ErrInvalidParameter.WithMessage("The request body is over %d bytes.", MaxFormBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	params, err := DecodeParams(r)
	if err != nil {
		return nil, nil, false, ErrInvalidParameter.WithMessage("The request parameters are not well encoded.")
	}
	var s signedRequest
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "ACS3-") {
		s, err = parseV3(r, params, body, auth)
	} else {
		s, err = parseV1(r, params)
	}
	if err == nil {
		err = checkCommonLimits(&s)
	}
	if err != nil {
		return nil, nil, false, err
	}

	xmlFormat := false
	switch f := strings.ToUpper(params.Get("Format")); f {
	case "", "JSON":
	case "XML":
		xmlFormat = true
	default:
		return nil, nil, false, ErrFormat
	}
	if err := g.checkTimestamp(s.timestamp); err != nil {
		return nil, nil, false, err
	}
	action, err := g.lookup(s.action, s.version, r.Method)
	if err != nil {
		return nil, nil, false, err
	}
	call := &Request{
		Action:    action.Name,
		Version:   action.Version,
		Params:    params,
		Principal: iam.Principal{AccessKeyID: s.accessKeyID},
		RequestID: requestID,
		SourceIP:  sourceIP(r),
	}
	principal, secret, err := g.cfg.Credentials.Lookup(r.Context(), s.accessKeyID, s.securityToken)
	if err != nil {
		if principal.AccountID != "" {
			call.Principal = principal // a known but refused key: the audit names it
		}
		return call, action, false, credentialError(err)
	}
	if err := s.verify(string(secret), mayEcho(action, params)); err != nil {
		return call, action, false, err
	}
	call.Principal = principal
	if ok, wait := g.throttle.allow(principal.AccountID, action, g.cfg.Now(), g.cfg.Share()); !ok {
		e := *ErrThrottlingUser
		e.RetryAfter = wait
		return call, action, false, &e
	}
	call.nonce = s.nonce
	if !g.bookkeeps(action) {
		fresh, err := g.cfg.Nonces.ClaimNonce(r.Context(), s.accessKeyID, s.nonce, nonceTTL)
		if err != nil {
			return call, action, false, err
		}
		if !fresh {
			return call, action, false, ErrNonceUsed
		}
	}
	if err := g.authorize(r, action, call); err != nil {
		return call, action, false, err
	}
	return call, action, xmlFormat, nil
}

// credentialFaults maps iam's refusals of a credential to gateway codes.
var credentialFaults = []struct {
	err  error
	code *Error
}{
	{iam.ErrUnknownKey, ErrAccessKeyNotFound},
	{iam.ErrInactiveKey, ErrAccessKeyInactive},
	{iam.ErrTokenMalformed, ErrSecurityTokenMalformed},
	{iam.ErrTokenExpired, ErrSecurityTokenExpired},
	{iam.ErrTokenMismatch, ErrSecurityTokenMismatch},
}

func credentialError(err error) error {
	for _, f := range credentialFaults {
		if errors.Is(err, f.err) {
			return f.code
		}
	}
	return err
}

func (g *Gateway) checkTimestamp(ts string) error {
	// time.Parse would accept fractional seconds the layout lacks; the
	// gateway refuses them, so the length is checked too.
	t, err := time.Parse(timestampLayout, ts)
	if err != nil || len(ts) != len(timestampLayout) {
		return ErrTimestampFormat
	}
	if d := g.cfg.Now().Sub(t); d > timestampSkew || d < -timestampSkew {
		return ErrTimestampExpired
	}
	return nil
}

// lookup finds the action for (name, version). A version no action has is
// InvalidVersion; a known version without that action, or a method the
// action does not take, is InvalidAction.NotFound.
func (g *Gateway) lookup(name, version, method string) (*Action, error) {
	a, ok := g.actions[actionKey{name, version}]
	switch {
	case !ok && !g.versions[version]:
		return nil, ErrInvalidVersion
	case !ok:
		return nil, ErrActionNotFound
	case a.GETOnly && method != http.MethodGet:
		return nil, ErrActionNotFound
	}
	return a, nil
}

// sourceIP is the caller's address as this server saw it.
func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
