package store

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/cdnd/cdnd/internal/keyring"
)

// Automatic certificates (CertType=free) keep their state under acme/:
//
//	acme/free/{domain}        FreeCert: what the API asked, how far issuance is
//	acme/challenges/{domain}  Challenge: the answer every edge gives the CA, leased
//	acme/accounts/{id}        ACMEAccount: the CA account, key sealed
//	acme/locks/{domain}/...   who is ordering for the domain (clientv3 concurrency)
const (
	acmeDir          = "acme/"
	freeDir          = acmeDir + "free/"
	challengesDir    = acmeDir + "challenges/"
	acmeAccountsDir  = acmeDir + "accounts/"
	acmeLocksDir     = acmeDir + "locks/"
	ACMEPrefix       = Key(acmeDir) // everything above
	FreeCertsPrefix  = Key(freeDir)
	ChallengesPrefix = Key(challengesDir)
)

func FreeCertKey(domain string) Key        { return Key(freeDir + domain) }
func ChallengeKey(domain string) Key       { return Key(challengesDir + domain) }
func ACMEAccountKey(id string) Key         { return Key(acmeAccountsDir + id) }
func acmeLockKey(domain string) Key        { return Key(acmeLocksDir + domain + "/") }
func DomainOfFreeCert(k Key) string        { return string(k)[len(freeDir):] }
func DomainOfChallenge(k Key) string       { return string(k)[len(challengesDir):] }
func FreeOrderKeyAAD(domain string) []byte { return []byte(FreeCertKey(domain)) }

// The states of a free certificate are Alibaba's, as
// DescribeDomainCertificateInfo reports them
// (https://www.alibabacloud.com/help/en/cdn/developer-reference/api-cdn-2018-05-10-describedomaincertificateinfo).
const (
	FreeChecking          = "checking" // asked for, no order yet
	FreeApplying          = "applying" // an order is in progress
	FreeSuccess           = "success"  // issued and bound
	FreeCnameError        = "cname_error"
	FreeDomainInvalid     = "domain_invalid"
	FreeUnsupportWildcard = "unsupport_wildcard"
	FreeGetTokenTimeout   = "get_token_timeout"
	FreeCheckTokenTimeout = "check_token_timeout"
	FreeGetCertTimeout    = "get_cert_timeout"
	FreeFailed            = "failed"
)

// FreeCert is a domain's automatic certificate: written by the API when
// CertType=free is set (and deleted when another binding replaces it), then
// advanced by whichever API node holds the domain's ACME lock.
type FreeCert struct {
	Domain    string `json:"domain"`
	AccountID string `json:"account"`
	// CertName is where the issued certificate lives in the account's
	// repository.
	CertName  string    `json:"cert"`
	Status    string    `json:"status"`
	Requested time.Time `json:"requested"`
	// Problem is the last failure, an ACME problem document's type and
	// detail or the local cause: for the operator, never a key.
	Problem string `json:"problem,omitempty"`
	// Attempts counts the failures since the last success.
	Attempts int `json:"attempts,omitempty"`
	// NextAttempt, when set, is the earliest time to order again (backoff,
	// Retry-After).
	NextAttempt time.Time `json:"next,omitzero"`
	// Order is the URL of the order in progress and OrderKey the sealed key
	// of its CSR, so that another node can finish an order a dead one
	// began instead of placing a second one.
	Order    string         `json:"order,omitempty"`
	OrderKey keyring.Sealed `json:"orderKey,omitzero"`
	// Orders counts the orders placed for this domain.
	Orders int `json:"orders,omitempty"`
	// Issued, NotAfter and RenewAt describe the certificate in service.
	Issued   time.Time `json:"issued,omitzero"`
	NotAfter time.Time `json:"notAfter,omitzero"`
	RenewAt  time.Time `json:"renewAt,omitzero"`
	// ARICheck is when to ask the CA's renewal information again (RFC 9773
	// section 4.3: the client polls at the Retry-After the CA gives).
	ARICheck time.Time `json:"ariCheck,omitzero"`
	Updated  time.Time `json:"updated"`
}

// Challenge is what the edges answer the CA with for a domain: the HTTP-01
// token and key authorization (RFC 8555 section 8.3) and, from the same key
// authorization, the TLS-ALPN-01 certificate (RFC 8737 section 3).
type Challenge struct {
	Token   string `json:"token"`
	KeyAuth string `json:"keyAuth"`
}

// ACMEAccount is the installation's account at one CA directory.
type ACMEAccount struct {
	Directory string         `json:"directory"`
	URL       string         `json:"url"`
	Key       keyring.Sealed `json:"key"`
	Created   time.Time      `json:"created"`
}

// ChallengeTTL bounds how long an answer stays published: a CA validates
// within minutes, and a node that dies mid-order leaves nothing behind.
const ChallengeTTL = 10 * time.Minute

// PutChallenge publishes a challenge answer for every edge.
func (s *Store) PutChallenge(ctx context.Context, domain string, c Challenge) error {
	_, err := s.PutExpiring(ctx, ChallengeKey(domain), c, ChallengeTTL)
	return err
}

// DeleteChallenge withdraws it.
func (s *Store) DeleteChallenge(ctx context.Context, domain string) error {
	_, err := s.cli.Delete(lead(ctx), s.abs(ChallengeKey(domain)))
	return wrap(err)
}

// ErrLocked: another node holds the lock.
var ErrLocked = errors.New("store: locked by another node")

// Locker takes per-domain ACME locks under one lease: if this node dies or
// loses the store for longer than the lease's TTL, etcd releases all of
// them and another node may take over.
type Locker struct {
	s       *Store
	session *concurrency.Session
}

// NewLocker grants the lease (ttl rounded up to seconds, at least 1).
func (s *Store) NewLocker(ctx context.Context, ttl time.Duration) (*Locker, error) {
	secs := max(1, int((ttl+time.Second-1)/time.Second))
	sess, err := concurrency.NewSession(s.cli, concurrency.WithTTL(secs), concurrency.WithContext(s.background))
	if err != nil {
		return nil, wrap(err)
	}
	return &Locker{s: s, session: sess}, nil
}

// Done is closed when the lease is lost: every lock it held is gone.
func (l *Locker) Done() <-chan struct{} { return l.session.Done() }

// Close releases the lease and with it every lock.
func (l *Locker) Close() error { return l.session.Close() }

// TryLock takes the domain's lock, or answers ErrLocked at once when another
// session holds it. unlock releases it.
func (l *Locker) TryLock(ctx context.Context, domain string) (unlock func(), err error) {
	m := concurrency.NewMutex(l.session, l.s.abs(acmeLockKey(domain)))
	if err := m.TryLock(lead(ctx)); err != nil {
		if errors.Is(err, concurrency.ErrLocked) {
			return nil, ErrLocked
		}
		return nil, wrap(err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = m.Unlock(ctx)
	}, nil
}
