package acme

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mholt/acmez/v3/acme"

	"github.com/cdnd/cdnd/internal/store"
)

// renewAt picks when to renew a certificate just issued, and when to ask
// the CA's renewal information again.
func (m *Manager) renewAt(ctx context.Context, leaf *x509.Certificate) (renew, recheck time.Time) {
	info, err := m.client.GetRenewalInfo(ctx, leaf)
	if err == nil && info.HasWindow() {
		return m.fromWindow(info)
	}
	return lifetimeRenewal(leaf.NotBefore, leaf.NotAfter), time.Time{}
}

// fromWindow: a uniformly random time inside the CA's suggested window
// (RFC 9773 section 4.2), and the next poll at its Retry-After.
func (m *Manager) fromWindow(info acme.RenewalInfo) (renew, recheck time.Time) {
	renew = info.SelectedTime
	if renew.IsZero() {
		w := info.SuggestedWindow
		renew = w.Start.Add(time.Duration(rand.Int64N(int64(max(w.End.Sub(w.Start), 1)))))
	}
	recheck = m.now().Add(m.cfg.ARIRecheck)
	if info.RetryAfter != nil && info.RetryAfter.Before(recheck) {
		recheck = *info.RetryAfter
	}
	return renew.UTC(), recheck.UTC()
}

// lifetimeRenewal is the renewal time without ARI: two thirds into the
// lifetime, less up to a twentieth of it at random, so that certificates
// issued together (a bulk switch to free) do not all renew in the same
// minute.
func lifetimeRenewal(notBefore, notAfter time.Time) time.Time {
	life := notAfter.Sub(notBefore)
	at := notBefore.Add(life * 2 / 3)
	return at.Add(-time.Duration(rand.Int64N(int64(life)/20 + 1))).UTC()
}

// refreshRenewalInfo asks the CA again whether the certificate in service
// should be renewed sooner (a revocation campaign moves the window).
func (m *Manager) refreshRenewalInfo(ctx context.Context, domain string, fc store.FreeCert, rev int64) {
	c, _, err := m.cfg.Certs.Get(ctx, fc.AccountID, fc.CertName)
	if err != nil {
		return
	}
	leaf, err := leafOf(c.ChainPEM)
	if err != nil {
		return
	}
	info, err := m.client.GetRenewalInfo(ctx, leaf)
	if err != nil || !info.HasWindow() {
		fc.ARICheck = m.now().Add(m.cfg.ARIRecheck).UTC()
	} else {
		renew, recheck := m.fromWindow(info)
		if renew.Before(fc.RenewAt) {
			fc.RenewAt = renew
		}
		fc.ARICheck = recheck
	}
	if _, err := m.update(ctx, fc, rev); err != nil && !errors.Is(err, store.ErrConflict) {
		m.log.Warn("acme: recording renewal information failed", "domain", domain, "err", err)
	}
}

// replaces names the certificate a renewal replaces (RFC 9773 section 5),
// which lets the CA exempt it from rate limits; empty for a first order or
// a CA without renewal information.
func (m *Manager) replaces(ctx context.Context, fc store.FreeCert) string {
	if fc.Issued.IsZero() || fc.ARICheck.IsZero() {
		return ""
	}
	c, _, err := m.cfg.Certs.Get(ctx, fc.AccountID, fc.CertName)
	if err != nil {
		return ""
	}
	leaf, err := leafOf(c.ChainPEM)
	if err != nil {
		return ""
	}
	id, err := acme.ARIUniqueIdentifier(leaf)
	if err != nil {
		return ""
	}
	return id
}

// accountID names the account record of a directory.
func accountID(directory string) string {
	sum := sha256.Sum256([]byte(directory))
	return hex.EncodeToString(sum[:8])
}

// checkCname verifies that the domain's DNS points at its Cname, as
// Alibaba checks before it issues a free certificate.
func (m *Manager) checkCname(ctx context.Context, domain string) error {
	want := strings.TrimSuffix(strings.ToLower(m.cfg.Cname(domain)), ".")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := m.cfg.Resolver.LookupCNAME(ctx, domain)
	if err != nil {
		return fmt.Errorf("looking up the CNAME of %s: %w", domain, err)
	}
	if got = strings.TrimSuffix(strings.ToLower(got), "."); got != want {
		return fmt.Errorf("%s is a CNAME of %q, not of %s", domain, got, want)
	}
	return nil
}

// retryHint carries the Retry-After of the CA's last error answer in one
// order, from the transport to the scheduler.
type retryHint struct {
	mu sync.Mutex
	d  time.Duration
}

type retryHintKey struct{}

func (h *retryHint) get() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.d
}

// retryAfterTransport notes Retry-After on error answers (RFC 8555 section
// 6.6: a rate limit comes with one) in the request's retryHint.
type retryAfterTransport struct{ next http.RoundTripper }

// maxRetryAfter bounds what a CA may ask: a broken header must not park a
// domain for years.
const maxRetryAfter = 7 * 24 * time.Hour

func (t retryAfterTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	h, _ := req.Context().Value(retryHintKey{}).(*retryHint)
	if h == nil {
		return resp, nil
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		h.mu.Lock()
		h.d = max(h.d, d)
		h.mu.Unlock()
	}
	return resp, nil
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 section
// 10.2.3).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var secs int64
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && fmt.Sprint(secs) == v {
		return time.Duration(min(max(secs, 0), int64(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter), true
	}
	return 0, false
}
