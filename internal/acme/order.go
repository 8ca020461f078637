package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mholt/acmez/v3/acme"

	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
)

// phase is the part of an order a failure happened in; a timeout is
// reported with the phase's status.
type phase int

const (
	phaseToken phase = iota // new order, authorizations
	phaseCheck              // the CA validating the challenge
	phaseCert               // finalize and download
)

var timeoutStatus = map[phase]string{
	phaseToken: store.FreeGetTokenTimeout,
	phaseCheck: store.FreeCheckTokenTimeout,
	phaseCert:  store.FreeGetCertTimeout,
}

// orderError is a failed order: in which phase, why, and whether the
// phase's time was up (the error itself may not say: the store reports a
// deadline as unavailable).
type orderError struct {
	phase   phase
	err     error
	expired bool
}

// phaseError is err in phase p, whose context is ctx.
func phaseError(ctx context.Context, p phase, err error) *orderError {
	return &orderError{p, err, errors.Is(ctx.Err(), context.DeadlineExceeded)}
}

func (e *orderError) Error() string { return e.err.Error() }
func (e *orderError) Unwrap() error { return e.err }

// order obtains the domain's certificate, resuming the order in the record
// if there is one, and records the outcome.
func (m *Manager) order(ctx context.Context, domain string, fc store.FreeCert, rev int64) {
	if m.cfg.VerifyCname {
		if err := m.checkCname(ctx, domain); err != nil {
			m.failed(ctx, fc, rev, store.FreeCnameError, err.Error(), 0)
			return
		}
	}
	hint := &retryHint{}
	octx := context.WithValue(ctx, retryHintKey{}, hint)
	start := m.now()
	pair, fc, rev, err := m.obtain(octx, fc, rev)
	if ctx.Err() != nil {
		return // shutting down or the lease is lost: the next holder resumes
	}
	if errors.Is(err, store.ErrConflict) {
		return // the request changed meanwhile: the mirror brings it back
	}
	if err != nil {
		status, problem := classify(err)
		var p acme.Problem
		if errors.As(err, &p) && p.Type == acme.ProblemTypeAccountDoesNotExist {
			m.forgetAccount(ctx)
		}
		m.metrics.orders.WithLabelValues(status).Inc()
		m.failed(ctx, fc, rev, status, problem, hint.get())
		return
	}
	if err := m.install(ctx, fc, rev, pair); err != nil {
		if !errors.Is(err, store.ErrConflict) {
			m.metrics.orders.WithLabelValues(store.FreeFailed).Inc()
			m.failed(ctx, fc, rev, store.FreeFailed, "storing the issued certificate: "+err.Error(), 0)
		}
		return
	}
	m.metrics.orders.WithLabelValues(store.FreeSuccess).Inc()
	m.metrics.orderSeconds.Observe(m.now().Sub(start).Seconds())
	m.log.Info("acme: certificate issued", "domain", domain, "not_after", pair.Chain.Leaf.NotAfter.UTC())
}

// obtain runs the order to a certificate. The record is updated (and its
// new revision returned) as the order is placed, so that another node can
// resume it.
func (m *Manager) obtain(ctx context.Context, fc store.FreeCert, rev int64) (*cas.Pair, store.FreeCert, int64, error) {
	tctx, cancel := context.WithTimeout(ctx, m.cfg.TokenTimeout)
	defer cancel()
	cctx, cancelCert := context.WithTimeout(ctx, m.cfg.CertTimeout)
	defer cancelCert()
	fail := func(p phase, err error) (*cas.Pair, store.FreeCert, int64, error) {
		if errors.Is(err, store.ErrConflict) {
			return nil, fc, rev, err
		}
		pctx := tctx
		if p == phaseCert {
			pctx = cctx
		}
		return nil, fc, rev, phaseError(pctx, p, err)
	}
	account, err := m.ensureAccount(tctx)
	if err != nil {
		return fail(phaseToken, err)
	}
	order, key, resumed := m.resume(tctx, account, fc)
	if !resumed {
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return fail(phaseToken, err)
		}
		order = acme.Order{Identifiers: []acme.Identifier{{Type: "dns", Value: fc.Domain}}, Replaces: m.replaces(tctx, fc)}
		if order, err = m.client.NewOrder(tctx, account, order); err != nil {
			return fail(phaseToken, err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return fail(phaseToken, err)
		}
		sealed, err := m.cfg.Keyring.Seal(keyDER, store.FreeOrderKeyAAD(fc.Domain))
		if err != nil {
			return fail(phaseToken, err)
		}
		fc.Order, fc.OrderKey, fc.Orders, fc.Status = order.Location, sealed, fc.Orders+1, store.FreeApplying
		if rev, err = m.update(ctx, fc, rev); err != nil {
			return fail(phaseToken, err)
		}
		m.log.Info("acme: order placed", "domain", fc.Domain, "order", order.Location)
	} else {
		m.log.Info("acme: resuming the order in progress", "domain", fc.Domain, "order", order.Location)
	}
	for _, url := range order.Authorizations {
		if err := m.authorize(ctx, tctx, account, fc, url); err != nil {
			return nil, fc, rev, err
		}
	}
	chainPEM, err := m.finish(cctx, account, order, key, fc.Domain)
	if err != nil {
		return fail(phaseCert, err)
	}
	keyPEM, err := certs.EncodeKey(key)
	if err != nil {
		return fail(phaseCert, err)
	}
	pair, err := cas.ParsePair(string(chainPEM), string(keyPEM), m.now())
	if err != nil {
		return fail(phaseCert, fmt.Errorf("the CA's certificate: %w", err))
	}
	return pair, fc, rev, nil
}

// resume returns the record's order and key when the order can still
// complete.
func (m *Manager) resume(ctx context.Context, account acme.Account, fc store.FreeCert) (acme.Order, crypto.Signer, bool) {
	if fc.Order == "" {
		return acme.Order{}, nil, false
	}
	order, err := m.client.GetOrder(ctx, account, acme.Order{Location: fc.Order})
	if err != nil || order.Status == acme.StatusInvalid || order.Status == "" {
		return acme.Order{}, nil, false
	}
	der, err := m.cfg.Keyring.Open(fc.OrderKey, store.FreeOrderKeyAAD(fc.Domain))
	if err != nil {
		return acme.Order{}, nil, false
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	signer, ok := k.(crypto.Signer)
	if err != nil || !ok {
		return acme.Order{}, nil, false
	}
	order.Location = fc.Order
	return order, signer, true
}

// authorize completes one authorization: publish the answer for the edges,
// ask the CA to validate, wait for its verdict, withdraw the answer.
func (m *Manager) authorize(ctx, tctx context.Context, account acme.Account, fc store.FreeCert, url string) error {
	authz, err := m.client.GetAuthorization(tctx, account, url)
	if err != nil {
		return phaseError(tctx, phaseToken, err)
	}
	if authz.Status == acme.StatusValid {
		return nil
	}
	chal, ok := m.pick(authz, fc.Attempts)
	if !ok {
		return phaseError(tctx, phaseToken, fmt.Errorf("the CA offers none of the challenges %v", m.cfg.Challenges))
	}
	if err := m.st.PutChallenge(tctx, fc.Domain, store.Challenge{Token: chal.Token, KeyAuth: chal.KeyAuthorization}); err != nil {
		return phaseError(tctx, phaseToken, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = m.st.DeleteChallenge(dctx, fc.Domain)
	}()
	vctx, cancel := context.WithTimeout(ctx, m.cfg.CheckTimeout)
	defer cancel()
	if _, err := m.client.InitiateChallenge(vctx, account, chal); err != nil {
		return phaseError(vctx, phaseCheck, err)
	}
	if _, err := m.client.PollAuthorization(vctx, account, authz); err != nil {
		return phaseError(vctx, phaseCheck, err)
	}
	return nil
}

// pick chooses the challenge: the preferred type first, the next one on
// each retry, so that a domain whose HTTP port the CA cannot reach still
// gets its certificate over TLS.
func (m *Manager) pick(authz acme.Authorization, attempt int) (acme.Challenge, bool) {
	prefs := m.cfg.Challenges
	for i := range prefs {
		want := prefs[(attempt+i)%len(prefs)]
		for _, c := range authz.Challenges {
			if c.Type == want {
				return c, true
			}
		}
	}
	return acme.Challenge{}, false
}

// finish finalizes the order (unless a previous holder already did) and
// downloads the chain.
func (m *Manager) finish(ctx context.Context, account acme.Account, order acme.Order, key crypto.Signer, domain string) ([]byte, error) {
	order, err := m.client.GetOrder(ctx, account, order)
	if err != nil {
		return nil, err
	}
	switch order.Status {
	case acme.StatusReady:
		csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{domain}}, key)
		if err != nil {
			return nil, err
		}
		if order, err = m.client.FinalizeOrder(ctx, account, order, csr); err != nil {
			return nil, err
		}
	case acme.StatusProcessing:
		for order.Status == acme.StatusProcessing {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(m.client.PollInterval):
			}
			if order, err = m.client.GetOrder(ctx, account, order); err != nil {
				return nil, err
			}
		}
	}
	if order.Status != acme.StatusValid || order.Certificate == "" {
		if order.Error != nil {
			return nil, *order.Error
		}
		return nil, fmt.Errorf("the order is %s, not valid", order.Status)
	}
	chains, err := m.client.GetCertificateChain(ctx, account, order.Certificate)
	if err != nil {
		return nil, err
	}
	if len(chains) == 0 {
		return nil, errors.New("the CA sent no certificate")
	}
	return chains[0].ChainPEM, nil
}

// install stores the certificate, binds it and records the success in one
// transaction: the edges switch to it at once, and a reader never sees a
// success without the certificate.
func (m *Manager) install(ctx context.Context, fc store.FreeCert, rev int64, pair *cas.Pair) error {
	staged, err := m.cfg.Certs.StageIssued(ctx, fc.AccountID, fc.CertName, pair)
	if err != nil {
		return err
	}
	var d store.Domain
	drev, err := m.st.Get(ctx, store.DomainKey(fc.Domain), &d)
	if err != nil {
		return err
	}
	if d.HTTPS == nil || d.HTTPS.CertType != "free" {
		return store.ErrConflict
	}
	now := m.now().UTC()
	leaf := pair.Chain.Leaf
	t := m.st.Txn()
	staged.AddTo(t)
	if d.HTTPS.CertName != fc.CertName {
		d.HTTPS = &store.Binding{CertName: fc.CertName, CertType: "free", Updated: now}
		d.Modified = now
		t.Unchanged(store.DomainKey(d.Name), drev).Put(store.DomainKey(d.Name), d)
	}
	fc.Status, fc.Problem, fc.Attempts, fc.NextAttempt = store.FreeSuccess, "", 0, time.Time{}
	fc.Order, fc.OrderKey = "", keyring.Sealed{}
	fc.Issued, fc.NotAfter = now, leaf.NotAfter.UTC()
	fc.RenewAt, fc.ARICheck = m.renewAt(ctx, leaf)
	fc.Updated = now
	t.Unchanged(store.FreeCertKey(fc.Domain), rev).Put(store.FreeCertKey(fc.Domain), fc)
	_, err = t.Commit(ctx)
	return err
}

// failed records a failure and when to try again: after the backoff, or
// the CA's Retry-After when that is later. The certificate in service, if
// any, stays bound and served.
func (m *Manager) failed(ctx context.Context, fc store.FreeCert, rev int64, status, problem string, retryAfter time.Duration) {
	fc.Attempts++
	delay := max(m.backoff(fc.Attempts), retryAfter)
	fc.Status, fc.Problem, fc.NextAttempt = status, problem, m.now().Add(delay).UTC()
	if status != store.FreeGetCertTimeout && status != store.FreeCheckTokenTimeout {
		// The order is dead or never was: the next attempt places a new
		// one. After a timeout the CA may still complete it.
		fc.Order, fc.OrderKey = "", keyring.Sealed{}
	}
	m.log.Warn("acme: certificate not obtained", "domain", fc.Domain, "status", status, "problem", problem,
		"attempts", fc.Attempts, "retry_in", delay.Round(time.Second))
	if _, err := m.update(ctx, fc, rev); err != nil && !errors.Is(err, store.ErrConflict) {
		m.log.Warn("acme: recording the failure failed", "domain", fc.Domain, "err", err)
	}
}

// maxProblem bounds the problem detail kept in the record and logged: a
// CA's answer (its subproblems, RFC 8555 section 6.7.1) can be of any size,
// and the record must fit one etcd request.
const maxProblem = 1024

// classify maps a failed order to Alibaba's status and the problem detail
// the operator sees, at most maxProblem bytes of it.
func classify(err error) (string, string) {
	status, detail := classifyWhole(err)
	if len(detail) > maxProblem {
		detail = strings.ToValidUTF8(detail[:maxProblem-3], "") + "..."
	}
	return status, detail
}

func classifyWhole(err error) (string, string) {
	var oe *orderError
	var problem acme.Problem
	switch {
	case errors.As(err, &oe) && oe.expired:
		return timeoutStatus[oe.phase], err.Error()
	case errors.As(err, &problem):
		detail := problem.Type + ": " + problem.Detail
		for _, sp := range problem.Subproblems {
			detail += "; " + sp.Type + ": " + sp.Detail
		}
		switch problem.Type {
		case acme.ProblemTypeRejectedIdentifier, acme.ProblemTypeUnsupportedIdentifier, acme.ProblemTypeCAA:
			return store.FreeDomainInvalid, detail
		}
		return store.FreeFailed, detail
	}
	return store.FreeFailed, err.Error()
}

// ensureAccount returns the installation's account at the CA, registering
// it on first use. Its key is generated here and kept sealed in the store,
// shared by every API node.
func (m *Manager) ensureAccount(ctx context.Context) (acme.Account, error) {
	m.accountMu.Lock()
	defer m.accountMu.Unlock()
	if m.account != nil {
		return *m.account, nil
	}
	key := store.ACMEAccountKey(accountID(m.cfg.Directory))
	aad := []byte(key)
	for {
		var rec store.ACMEAccount
		_, err := m.st.Get(ctx, key, &rec)
		if err == nil {
			der, err := m.cfg.Keyring.Open(rec.Key, aad)
			if err != nil {
				return acme.Account{}, fmt.Errorf("opening the ACME account key: %w", err)
			}
			k, err := x509.ParsePKCS8PrivateKey(der)
			signer, ok := k.(crypto.Signer)
			if err != nil || !ok {
				return acme.Account{}, errors.New("the stored ACME account key does not parse")
			}
			a := acme.Account{Location: rec.URL, PrivateKey: signer, Status: acme.StatusValid}
			m.account = &a
			return a, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return acme.Account{}, err
		}
		a, sealed, err := m.register(ctx, aad)
		if err != nil {
			return acme.Account{}, err
		}
		rec = store.ACMEAccount{Directory: m.cfg.Directory, URL: a.Location, Key: sealed, Created: m.now().UTC()}
		_, err = m.st.Txn().Unchanged(key, 0).Put(key, rec).Commit(ctx)
		if errors.Is(err, store.ErrConflict) {
			continue // another node registered first: use its account
		}
		if err != nil {
			return acme.Account{}, err
		}
		m.account = &a
		return a, nil
	}
}

// forgetAccount drops the account the CA no longer knows (a private CA
// reset, an account deactivated), so that the next order registers anew.
// The stored record goes only if it is still that account: another node
// may have registered the new one already.
func (m *Manager) forgetAccount(ctx context.Context) {
	m.accountMu.Lock()
	defer m.accountMu.Unlock()
	if m.account == nil {
		return
	}
	gone := m.account.Location
	m.account = nil
	key := store.ACMEAccountKey(accountID(m.cfg.Directory))
	var rec store.ACMEAccount
	rev, err := m.st.Get(ctx, key, &rec)
	if err == nil && rec.URL == gone {
		_, _ = m.st.Txn().Unchanged(key, rev).Delete(key).Commit(ctx)
	}
	m.log.Warn("acme: the CA no longer knows the account; registering anew", "account", gone)
}

func (m *Manager) register(ctx context.Context, aad []byte) (acme.Account, keyring.Sealed, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return acme.Account{}, keyring.Sealed{}, err
	}
	a := acme.Account{PrivateKey: k, TermsOfServiceAgreed: true}
	if m.cfg.Email != "" {
		a.Contact = []string{"mailto:" + m.cfg.Email}
	}
	if m.cfg.EABKeyID != "" {
		if err := a.SetExternalAccountBinding(ctx, m.client, acme.EAB{KeyID: m.cfg.EABKeyID, MACKey: m.cfg.EABHMAC}); err != nil {
			return acme.Account{}, keyring.Sealed{}, fmt.Errorf("external account binding: %w", err)
		}
	}
	if a, err = m.client.NewAccount(ctx, a); err != nil {
		return acme.Account{}, keyring.Sealed{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return acme.Account{}, keyring.Sealed{}, err
	}
	sealed, err := m.cfg.Keyring.Seal(der, aad)
	return a, sealed, err
}

func decodeJSON(b []byte, v any) error { return json.Unmarshal(b, v) }

// leafOf parses the leaf of a stored chain.
func leafOf(chainPEM string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(chainPEM))
	if block == nil {
		return nil, errors.New("no certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}
