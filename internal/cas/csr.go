package cas

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"

	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/store"
)

// ErrNoPendingKey: no signing request of the account has the certificate's
// public key.
var ErrNoPendingKey = errors.New("cas: no signing request matches the certificate")

// CSRSubject is what a certificate signing request asks for.
type CSRSubject struct {
	CommonName, Organization, OrganizationUnit, Country, State, City, Email string
	SANs                                                                    []string
}

// CreateCSR generates a key pair inside cdnd, seals and keeps the private
// key, and returns the signing request and the MD5 of its public key. The
// private key is never shown to anyone: it meets its certificate only in
// PairForCertificate.
func (r *Repo) CreateCSR(ctx context.Context, account string, subj CSRSubject) (csrPEM []byte, pubMD5 string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	tmpl := &x509.CertificateRequest{
		Subject: pkix.Name{
			CommonName:         subj.CommonName,
			Organization:       nonEmpty(subj.Organization),
			OrganizationalUnit: nonEmpty(subj.OrganizationUnit),
			Country:            nonEmpty(subj.Country),
			Province:           nonEmpty(subj.State),
			Locality:           nonEmpty(subj.City),
		},
		DNSNames:       subj.SANs,
		EmailAddresses: nonEmpty(subj.Email),
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, "", err
	}
	pubMD5, err = publicKeyMD5(&key.PublicKey)
	if err != nil {
		return nil, "", err
	}
	keyPEM, err := certs.EncodeKey(key)
	if err != nil {
		return nil, "", err
	}
	sealed, err := r.kr.Seal(keyPEM, []byte(store.PendingKeyKey(account, pubMD5)))
	if err != nil {
		return nil, "", err
	}
	rec := store.PendingKey{AccountID: account, PubMD5: pubMD5, CommonName: subj.CommonName, Key: sealed, Created: r.now().UTC()}
	if _, err := r.st.Txn().Put(store.PendingKeyKey(account, pubMD5), rec).Commit(ctx); err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), pubMD5, nil
}

// PairForCertificate joins a certificate issued for one of the account's
// signing requests with the private key kept for it.
func (r *Repo) PairForCertificate(ctx context.Context, account, chainPEM string) (*Pair, error) {
	if len(chainPEM) > MaxChainBytes {
		return nil, ErrChainTooLong
	}
	chain, err := certs.ParseChain([]byte(chainPEM))
	if err != nil {
		return nil, err
	}
	pubMD5, err := publicKeyMD5(chain.Leaf.PublicKey)
	if err != nil {
		return nil, certs.ErrUnsupportedKey
	}
	var rec store.PendingKey
	if _, err := r.st.Get(ctx, store.PendingKeyKey(account, pubMD5), &rec); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNoPendingKey
		}
		return nil, err
	}
	keyPEM, err := r.kr.Open(rec.Key, []byte(store.PendingKeyKey(account, pubMD5)))
	if err != nil {
		return nil, err
	}
	return ParsePair(chainPEM, string(keyPEM), r.now())
}

// publicKeyMD5 identifies a key pair as Alibaba's PubMd5 does: MD5 of the
// DER public key, hex.
func publicKeyMD5(pub any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := md5.Sum(der)
	return hex.EncodeToString(sum[:]), nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
