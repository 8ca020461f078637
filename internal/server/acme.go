package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cdnd/cdnd/internal/acme"
	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
)

// ACMEConfig is the --acme-* configuration of an API node.
type ACMEConfig struct {
	// Directory is the CA's ACME directory URL; empty: no free
	// certificates.
	Directory string
	Email     string
	// CAFile is PEM of the CAs that sign the ACME endpoint's TLS
	// certificate (a private CA), trusted besides the system's.
	CAFile string
	// EABKeyID is the external account binding's key id; its HMAC key
	// comes from the environment (Env.ACMEEABHMAC).
	EABKeyID string
	// VerifyCname makes issuance require the name to be a CNAME of the
	// domain's Cname (status cname_error otherwise).
	VerifyCname bool
	// Challenges are the challenge types in order of preference (default
	// http-01, tls-alpn-01).
	Challenges []string
	// LockTTL is how long a dead node's orders wait before another API
	// node takes them over (default 15 s).
	LockTTL time.Duration
	// RetryMin is the first pause after a failed order (default 1 min).
	RetryMin time.Duration
	// Orders bounds the orders this node runs at once (default 16).
	Orders int
	// Timeouts of the order's phases (tests shorten them; defaults in
	// acme.Config).
	TokenTimeout, CheckTimeout, CertTimeout time.Duration
	// ARIRecheck bounds the time between polls of renewal information
	// (default 6 h; tests shorten it to force a renewal through Pebble).
	ARIRecheck time.Duration
}

func newACMEManager(cfg Config, st *store.Store, repo *cas.Repo, kr *keyring.Keyring, resolver *net.Resolver,
	cname func(string) string, log *slog.Logger, reg prometheus.Registerer) (*acme.Manager, error) {
	a := cfg.ACME
	if (a.EABKeyID == "") != (cfg.Env.ACMEEABHMAC == "") {
		return nil, errors.New("external account binding needs both --acme-eab-kid and CDND_ACME_EAB_HMAC")
	}
	for _, c := range a.Challenges {
		if c != acme.HTTP01 && c != acme.TLSALPN01 {
			return nil, fmt.Errorf("--acme-challenges: %q is neither %s nor %s", c, acme.HTTP01, acme.TLSALPN01)
		}
	}
	client, err := acmeHTTPClient(a.CAFile)
	if err != nil {
		return nil, err
	}
	return acme.New(acme.Config{
		Store: st, Certs: repo, Keyring: kr,
		Directory: a.Directory, Email: a.Email, HTTPClient: client,
		EABKeyID: a.EABKeyID, EABHMAC: cfg.Env.ACMEEABHMAC,
		Challenges: a.Challenges, VerifyCname: a.VerifyCname, Cname: cname, Resolver: resolver,
		LockTTL: a.LockTTL, RetryMin: a.RetryMin, Workers: a.Orders,
		TokenTimeout: a.TokenTimeout, CheckTimeout: a.CheckTimeout, CertTimeout: a.CertTimeout, ARIRecheck: a.ARIRecheck,
		Logger: log, Metrics: reg,
	}), nil
}

// acmeHTTPClient reaches the CA, trusting caFile's certificates besides
// the system's.
func acmeHTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pemBytes, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--acme-ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("--acme-ca-file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: time.Minute}, nil
}
