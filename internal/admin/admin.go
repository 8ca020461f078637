// Package admin is the operator API: accounts, quotas and domain modes, plus
// the health, readiness and metrics probes, on a listener of its own so that
// it can stay off the public network.
package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/cdnd/cdnd/internal/audit"
	"github.com/cdnd/cdnd/internal/cdn"
	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config wires the operator API.
type Config struct {
	// Token is the bearer token every /admin/ call must carry.
	Token string
	Store *store.Store
	// Accounts, CDN and Audit are set on nodes that run the API; an edge
	// node's operator API has the probes and the fleet view only.
	Accounts *iam.Directory
	CDN      *cdn.Service
	// Ready reports whether the store is open and the edge has loaded
	// everything.
	Ready    func() bool
	Gatherer prometheus.Gatherer
	Audit    *audit.Trail
	Logger   *slog.Logger
}

// Handler returns the operator API.
func Handler(cfg Config) http.Handler {
	a := &api{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	mux.Handle("GET /admin/v1/edges", a.auth(a.listEdges))
	// The Go runtime's profiles of this node, behind the token: what the
	// benchmarks' diagnose mode shows in its own process, for the real one.
	mux.Handle("GET /debug/pprof/", a.requireToken(http.HandlerFunc(profiles)))
	mux.Handle("GET /debug/pprof/profile", a.requireToken(http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/trace", a.requireToken(http.HandlerFunc(pprof.Trace)))
	if cfg.Accounts != nil {
		mux.Handle("POST /admin/v1/accounts", a.auth(a.createAccount))
		mux.Handle("PUT /admin/v1/accounts/{AccountId}/quota", a.auth(a.setQuota))
		mux.Handle("PUT /admin/v1/domains/{DomainName}/mode", a.auth(a.setMode))
		mux.Handle("GET /admin/v1/audit", a.auth(a.queryAudit))
		mux.Handle("GET /admin/v1/accounts", a.auth(a.listAccounts))
		mux.Handle("GET /admin/v1/domains", a.auth(a.listDomains))
		mux.Handle("GET /admin/v1/certs", a.auth(a.listCerts))
		mux.Handle("GET /admin/v1/free-certs", a.auth(a.listFreeCerts))
	}
	return mux
}

type api struct{ cfg Config }

// profiles serves the runtime's named profiles (heap, goroutine, allocs,
// ...), which show code and allocation sites, but not goroutine traces at
// debug=2: those print each call's argument words, and a goroutine caught
// in the middle of a signature would show words of a private key.
func profiles(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("debug") {
	case "", "0", "1":
		pprof.Index(w, r)
	default:
		http.Error(w, "only debug=0 or debug=1: traces with arguments are not served\n", http.StatusForbidden)
	}
}

func (a *api) readyz(w http.ResponseWriter, _ *http.Request) {
	if !a.cfg.Ready() {
		http.Error(w, "not ready\n", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// auth admits a call carrying the operator token and answers in JSON.
func (a *api) auth(next func(ctx context.Context, r *http.Request) (int, any, error)) http.Handler {
	return a.requireToken(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body, err := next(r.Context(), r)
		if err != nil {
			status, body = a.failure(r, err)
		}
		writeJSON(w, status, body)
	}))
}

// requireToken admits a request carrying the operator token, compared in
// constant time.
func (a *api) requireToken(next http.Handler) http.Handler {
	want := []byte("Bearer " + a.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeJSON(w, http.StatusUnauthorized, errorBody{"Unauthorized", "a valid bearer token is required"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

type errorBody struct {
	Code    string
	Message string
}

var errBadRequest = errors.New("admin: bad request body")

// failure maps an error to the operator's answer. Unexpected errors are
// logged, not shown.
func (a *api) failure(r *http.Request, err error) (int, errorBody) {
	switch {
	case errors.Is(err, errBadRequest), errors.Is(err, cdn.ErrBadMode):
		return http.StatusBadRequest, errorBody{"BadRequest", err.Error()}
	case errors.Is(err, cdn.ErrNoSuchDomain), errors.Is(err, iam.ErrUnknownAccount):
		return http.StatusNotFound, errorBody{"NotFound", err.Error()}
	}
	a.cfg.Logger.Error("admin call failed", "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, errorBody{"InternalError", "the operation failed; see the server log"}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadRequest
	}
	return nil
}

func (a *api) createAccount(ctx context.Context, _ *http.Request) (int, any, error) {
	c, err := a.cfg.Accounts.CreateAccount(ctx)
	if err != nil {
		return 0, nil, err
	}
	a.cfg.Logger.Info("account created", "account_id", c.AccountID, "access_key_id", c.AccessKeyID)
	return http.StatusCreated, struct{ AccountId, AccessKeyId, AccessKeySecret string }{c.AccountID, c.AccessKeyID, c.AccessKeySecret}, nil
}

func (a *api) setQuota(ctx context.Context, r *http.Request) (int, any, error) {
	var body struct{ DomainQuota int }
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	if body.DomainQuota < 0 || body.DomainQuota > 1_000_000 {
		return 0, nil, errBadRequest
	}
	id := r.PathValue("AccountId")
	if err := a.cfg.Accounts.SetDomainQuota(ctx, id, body.DomainQuota); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, struct {
		AccountId   string
		DomainQuota int
	}{id, body.DomainQuota}, nil
}

func (a *api) setMode(ctx context.Context, r *http.Request) (int, any, error) {
	var body struct{ Mode string }
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	name := r.PathValue("DomainName")
	if err := a.cfg.CDN.SetMode(ctx, name, body.Mode); err != nil {
		return 0, nil, err
	}
	a.cfg.Logger.Info("domain mode set", "domain", name, "mode", body.Mode)
	return http.StatusOK, struct{ DomainName, Mode string }{name, body.Mode}, nil
}

// queryAudit answers GET /admin/v1/audit with the records matching
// AccountId, DomainName, Action, StartTime and EndTime (RFC 3339) and at
// most Limit of them, oldest first.
func (a *api) queryAudit(ctx context.Context, r *http.Request) (int, any, error) {
	q := r.URL.Query()
	f := audit.Filter{AccountID: q.Get("AccountId"), Domain: q.Get("DomainName"), Action: q.Get("Action")}
	for _, t := range []struct {
		param string
		into  *time.Time
	}{{"StartTime", &f.From}, {"EndTime", &f.To}} {
		if v := q.Get(t.param); v != "" {
			parsed, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return 0, nil, errBadRequest
			}
			*t.into = parsed
		}
	}
	if v := q.Get("Limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return 0, nil, errBadRequest
		}
		f.Limit = n
	}
	events, err := a.cfg.Audit.Query(ctx, f)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, struct{ Events any }{events}, nil
}

type edgeView struct {
	EdgeId   string
	Applied  int64
	Lag      int64 // revisions behind the store
	Domains  int
	Reported time.Time
}

// listEdges answers GET /admin/v1/edges: every live edge, the revision it
// has applied and how far behind the store it is.
func (a *api) listEdges(ctx context.Context, _ *http.Request) (int, any, error) {
	rev, err := a.cfg.Store.Revision(ctx)
	if err != nil {
		return 0, nil, err
	}
	edges, err := a.cfg.Store.Edges(ctx)
	if err != nil {
		return 0, nil, err
	}
	out := make([]edgeView, len(edges))
	for i, e := range edges {
		out[i] = edgeView{EdgeId: e.EdgeID, Applied: e.Applied, Lag: max(0, rev-e.Applied), Domains: e.Domains, Reported: e.Reported}
	}
	return http.StatusOK, struct {
		Revision int64
		Edges    []edgeView
	}{rev, out}, nil
}
