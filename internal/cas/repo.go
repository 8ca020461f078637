package cas

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"strconv"
	"time"

	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
)

var (
	// ErrNotFound: no certificate by that name in the account.
	ErrNotFound = errors.New("cas: certificate not found")
	// ErrNameTaken: the name holds other content and overwriting was not asked for.
	ErrNameTaken = errors.New("cas: certificate name already exists")
	// ErrContentExists: the same certificate is stored under another name.
	ErrContentExists = errors.New("cas: certificate already uploaded under another name")
)

// Repo reads and stages certificate records.
type Repo struct {
	st  *store.Store
	kr  *keyring.Keyring
	now func() time.Time
}

// New returns the repository over st, sealing keys with kr.
func New(st *store.Store, kr *keyring.Keyring) *Repo {
	return &Repo{st: st, kr: kr, now: time.Now}
}

// Get returns a certificate and its revision.
func (r *Repo) Get(ctx context.Context, account, name string) (store.Cert, int64, error) {
	var c store.Cert
	rev, err := r.st.Get(ctx, store.CertKey(account, name), &c)
	if errors.Is(err, store.ErrNotFound) {
		return c, 0, ErrNotFound
	}
	return c, rev, err
}

// Staged is a certificate write prepared for a transaction that may also
// carry other records (a domain binding), so they commit together.
type Staged struct {
	Cert store.Cert
	// Stored says the repository already holds exactly this certificate
	// under the name: the write is only a condition.
	Stored bool
	apply  func(t *store.Txn)
}

// AddTo adds the staged write, and the conditions it was prepared under, to t.
func (s *Staged) AddTo(t *store.Txn) { s.apply(t) }

// fingerprintRecord indexes an account's certificates by content.
type fingerprintRecord struct {
	Name string `json:"name"`
}

// certIDRecord indexes certificates by CertId.
type certIDRecord struct {
	AccountID string `json:"account"`
	Name      string `json:"name"`
}

// StageUpload prepares storing p under name. The same content under the same
// name is a no-op write (binding it again is fine); other content under the
// name is ErrNameTaken unless overwrite; the same content under another name
// is ErrContentExists unless overwrite.
func (r *Repo) StageUpload(ctx context.Context, account, name string, p *Pair, overwrite bool) (*Staged, error) {
	return r.stage(ctx, account, name, p, overwrite, false)
}

// ErrNotIssued: the name holds a certificate cdnd did not obtain itself,
// which an issued certificate must not replace.
var ErrNotIssued = errors.New("cas: the name holds an uploaded certificate")

// StageIssued prepares storing a certificate cdnd obtained through ACME
// under name, replacing the one issued before it; a certificate uploaded
// under that name is ErrNotIssued.
func (r *Repo) StageIssued(ctx context.Context, account, name string, p *Pair) (*Staged, error) {
	existing, rev, err := r.Get(ctx, account, name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if rev != 0 && !existing.ACME {
		return nil, ErrNotIssued
	}
	return r.stage(ctx, account, name, p, true, true)
}

func (r *Repo) stage(ctx context.Context, account, name string, p *Pair, overwrite, issued bool) (*Staged, error) {
	fp := certs.Fingerprint(p.Chain.Leaf)
	existing, rev, err := r.Get(ctx, account, name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	chainPEM := string(certs.EncodeChain(p.Chain))
	if rev != 0 && existing.Fingerprint == fp && (existing.ChainPEM == chainPEM || !overwrite) {
		return &Staged{Cert: existing, Stored: true, apply: func(t *store.Txn) { t.Unchanged(store.CertKey(account, name), rev) }}, nil
	}
	if rev != 0 && existing.Fingerprint != fp && !overwrite {
		return nil, ErrNameTaken
	}
	var other fingerprintRecord
	fpRev, err := r.st.Get(ctx, store.CertFingerprintKey(account, fp), &other)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if fpRev != 0 && other.Name != name && !overwrite {
		return nil, ErrContentExists
	}
	// The old content's index entry goes only if it still names this
	// certificate (a forced upload may have moved it to another name).
	var oldFPRev int64
	if rev != 0 && existing.Fingerprint != "" && existing.Fingerprint != fp {
		var old fingerprintRecord
		n, err := r.st.Get(ctx, store.CertFingerprintKey(account, existing.Fingerprint), &old)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if old.Name == name {
			oldFPRev = n
		}
	}

	now := r.now().UTC()
	sealed, err := r.kr.Seal(p.keyPEM, store.CertKeyAAD(account, name))
	if err != nil {
		return nil, err
	}
	leaf := p.Chain.Leaf
	c := store.Cert{
		AccountID:   account,
		Name:        name,
		CertID:      existing.CertID,
		ChainPEM:    chainPEM,
		Key:         sealed,
		Fingerprint: fp,
		CommonName:  leaf.Subject.CommonName,
		Names:       certs.Names(leaf),
		Issuer:      certs.IssuerOrg(leaf),
		NotBefore:   leaf.NotBefore.UTC(),
		NotAfter:    leaf.NotAfter.UTC(),
		Created:     existing.Created,
		Updated:     now,
		ACME:        issued,
	}
	newID := c.CertID == 0
	if newID {
		c.CertID = newCertID()
		c.Created = now
	}
	return &Staged{Cert: c, apply: func(t *store.Txn) {
		t.Unchanged(store.CertKey(account, name), rev)
		// The content index too: the same content uploaded under another
		// name meanwhile is a conflict, not a silent duplicate.
		t.Unchanged(store.CertFingerprintKey(account, fp), fpRev)
		t.Put(store.CertKey(account, name), c)
		if oldFPRev != 0 {
			t.Unchanged(store.CertFingerprintKey(account, existing.Fingerprint), oldFPRev)
			t.Delete(store.CertFingerprintKey(account, existing.Fingerprint))
		}
		t.Put(store.CertFingerprintKey(account, fp), fingerprintRecord{Name: name})
		if newID {
			id := strconv.FormatInt(c.CertID, 10)
			t.Unchanged(store.CertIDKey(id), 0)
			t.Put(store.CertIDKey(id), certIDRecord{AccountID: account, Name: name})
		}
	}}, nil
}

// StageBind prepares binding an existing certificate: the transaction fails
// with a conflict if the certificate changes or goes away meanwhile.
func (r *Repo) StageBind(ctx context.Context, account, name string) (*Staged, error) {
	c, rev, err := r.Get(ctx, account, name)
	if err != nil {
		return nil, err
	}
	return &Staged{Cert: c, Stored: true, apply: func(t *store.Txn) { t.Unchanged(store.CertKey(account, name), rev) }}, nil
}

// newCertID draws a CertId: numeric like Alibaba's, below 2^53 so that
// JavaScript clients read it exactly. Uniqueness is enforced by the
// transaction (the certids index must be absent).
func newCertID() int64 {
	v, err := rand.Int(rand.Reader, big.NewInt(1<<53-10_000_000))
	if err != nil {
		panic("cas: crypto/rand failed: " + err.Error())
	}
	return v.Int64() + 10_000_000
}

// NameByID finds the name of an account's certificate by CertId. Another
// account's CertId is not found: ids do not cross accounts.
func (r *Repo) NameByID(ctx context.Context, account string, id int64) (string, error) {
	var rec certIDRecord
	_, err := r.st.Get(ctx, store.CertIDKey(strconv.FormatInt(id, 10)), &rec)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.AccountID != account) {
		return "", ErrNotFound
	}
	return rec.Name, err
}

// List returns every certificate of an account, in name order.
func (r *Repo) List(ctx context.Context, account string) ([]store.Cert, error) {
	vs, err := store.List[store.Cert](ctx, r.st, store.CertsPrefix(account))
	if err != nil {
		return nil, err
	}
	out := make([]store.Cert, len(vs))
	for i, v := range vs {
		out[i] = v.Value
	}
	return out, nil
}
