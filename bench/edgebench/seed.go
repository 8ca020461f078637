package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/store"
)

// seedFormat versions the cached data directories: bump it when what seed
// writes changes, so that an old cache is not measured as if it were new.
const seedFormat = 1

// domainsPerAccount spreads the domains over accounts so that the API's
// per-account throttle (SetDomainServerCertificate: 10/s) never paces the
// change streams, and so that an account is the size a large tenant has.
const domainsPerAccount = 1000

// Secrets the seeded installations run with. They protect nothing: the
// data lives in a cache directory of the benchmark and on loopback only.
const (
	rootAccessKeyID     = "LTAIedgebenchRoot0000000"
	rootAccessKeySecret = "edgebenchRootSecret00000000000"
	adminToken          = "edgebench-admin-token"
)

// domainName is the name of the i-th seeded domain; the load generator
// derives the same names from N alone.
func domainName(i int) string { return "d" + strconv.Itoa(i) + ".edgebench.test" }

// certName is the name the i-th domain's seeded certificate is stored under.
func certName(i int) string { return "d" + strconv.Itoa(i) }

// benchAccount is a seeded tenant with its AccessKey and the half-open
// range of domain indexes it owns.
type benchAccount struct {
	ID, AccessKeyID, Secret string
	First, Last             int
}

// manifest describes a seeded data directory: how to start cdnd on it and
// who owns what. It is written last, so a directory without one is an
// interrupted seed and is thrown away.
type manifest struct {
	Format    int            `json:"format"`
	N         int            `json:"n"`
	MasterKey string         `json:"masterKey"` // base64, as CDND_MASTER_KEY
	CAPEM     string         `json:"ca"`
	Accounts  []benchAccount `json:"accounts"`
	Seconds   float64        `json:"seconds"` // how long seeding took
}

// seeded is a prepared installation of N domains in the cache.
type seeded struct {
	dir string // cache directory: data/, certs/, manifest.json
	manifest
	ca *authority
}

func (s *seeded) dataDir() string { return filepath.Join(s.dir, "data") }

// chainFile and keyFile are the PEM files of the i-th domain's seeded
// certificate, for nginx.
func (s *seeded) chainFile(i int) string {
	return filepath.Join(s.dir, "certs", strconv.Itoa(i/1000), strconv.Itoa(i)+".pem")
}
func (s *seeded) keyFile(i int) string {
	return filepath.Join(s.dir, "certs", strconv.Itoa(i/1000), strconv.Itoa(i)+".key")
}

// accountOf returns the account owning domain i.
func (s *seeded) accountOf(i int) *benchAccount { return &s.Accounts[i/domainsPerAccount] }

// copyDataDir copies the seeded data directory to dst, so that every run
// starts from the same state: the runs change certificates, register edges
// and claim nonces, none of which should leak into the next run.
func (s *seeded) copyDataDir(dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	out, err := exec.Command("cp", "-a", s.dataDir(), dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copy data dir: %v: %s", err, out)
	}
	return nil
}

// loadOrSeed returns the cached installation of n domains, seeding it first
// if the cache has none (or an outdated one).
func loadOrSeed(ctx context.Context, cacheDir string, n int, logf func(string, ...any)) (*seeded, error) {
	dir := filepath.Join(cacheDir, fmt.Sprintf("v%d-n%d", seedFormat, n))
	if s, err := loadSeeded(dir); err == nil {
		logf("seed: using cached %d domains in %s", n, dir)
		return s, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	logf("seed: writing %d domains to %s", n, dir)
	start := time.Now()
	s, err := seed(ctx, dir, n)
	if err != nil {
		return nil, fmt.Errorf("seed %d domains: %w", n, err)
	}
	s.Seconds = time.Since(start).Seconds()
	b, err := json.Marshal(s.manifest)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o600); err != nil {
		return nil, err
	}
	logf("seed: %d domains in %.1fs", n, s.Seconds)
	return s, nil
}

func loadSeeded(dir string) (*seeded, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	s := &seeded{dir: dir}
	if err := json.Unmarshal(b, &s.manifest); err != nil {
		return nil, err
	}
	if s.Format != seedFormat {
		return nil, errors.New("outdated seed format")
	}
	caKey, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, err
	}
	if s.ca, err = parseAuthority([]byte(s.CAPEM), caKey); err != nil {
		return nil, err
	}
	return s, nil
}

// seed writes n domains, each with its own ECDSA P-256 certificate issued by
// one CA, straight into the embedded etcd of a new data directory, in the
// records and under the keys the API would have written: accounts and
// AccessKeys through iam, then per domain the domain record, its owner
// index entry, the certificate record with its key sealed as cas seals it,
// and the certificate's id and fingerprint index entries. Going through
// the API instead would take hours: AddCdnDomain is throttled per account.
func seed(ctx context.Context, dir string, n int) (*seeded, error) {
	masterKey, _, err := keyring.Generate()
	if err != nil {
		return nil, err
	}
	kr, err := keyring.New(masterKey)
	if err != nil {
		return nil, err
	}
	ca, err := newAuthority()
	if err != nil {
		return nil, err
	}
	s := &seeded{dir: dir, ca: ca, manifest: manifest{
		Format:    seedFormat,
		N:         n,
		MasterKey: base64.StdEncoding.EncodeToString(masterKey),
		CAPEM:     string(ca.certPEM),
	}}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.key"), ca.keyPEM, 0o600); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, store.Config{DataDir: s.dataDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	defer st.Close()

	dir2 := iam.New(st, kr)
	if _, _, err := dir2.EnsureRoot(ctx, rootAccessKeyID, rootAccessKeySecret); err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	for first := 0; first < n; first += domainsPerAccount {
		creds, err := dir2.CreateAccount(ctx)
		if err != nil {
			return nil, fmt.Errorf("account: %w", err)
		}
		if err := dir2.SetDomainQuota(ctx, creds.AccountID, domainsPerAccount); err != nil {
			return nil, fmt.Errorf("quota: %w", err)
		}
		s.Accounts = append(s.Accounts, benchAccount{
			ID: creds.AccountID, AccessKeyID: creds.AccessKeyID, Secret: creds.AccessKeySecret,
			First: first, Last: min(first+domainsPerAccount, n),
		})
	}
	if err := s.writeDomains(ctx, st, kr); err != nil {
		return nil, err
	}
	return s, padRaftLog(ctx, st)
}

// domainsPerTxn keeps a transaction under etcd's default limit of 128
// operations: each domain is five puts.
const domainsPerTxn = 25

// writeDomains issues the certificates and commits the records, a batch of
// domains per transaction, several transactions in flight so that etcd
// groups their fsyncs.
func (s *seeded) writeDomains(ctx context.Context, st *store.Store, kr *keyring.Keyring) error {
	batches := make(chan int)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for w := 0; w < 2*runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for first := range batches {
				if err := s.writeBatch(ctx, st, kr, first, min(first+domainsPerTxn, s.N)); err != nil {
					select {
					case errc <- err:
					default:
					}
					return
				}
			}
		}()
	}
	var err error
loop:
	for first := 0; first < s.N; first += domainsPerTxn {
		select {
		case batches <- first:
		case err = <-errc:
			break loop
		}
	}
	close(batches)
	wg.Wait()
	if err != nil {
		return err
	}
	select {
	case err = <-errc:
	default:
	}
	return err
}

func (s *seeded) writeBatch(ctx context.Context, st *store.Store, kr *keyring.Keyring, first, last int) error {
	now := time.Now().UTC()
	txn := st.Txn()
	for i := first; i < last; i++ {
		acct := s.accountOf(i)
		iss, err := s.ca.issue(domainName(i))
		if err != nil {
			return err
		}
		if err := iss.writeFiles(s.chainFile(i), s.keyFile(i)); err != nil {
			return err
		}
		rec, err := iss.record(kr, acct.ID, certName(i), now)
		if err != nil {
			return err
		}
		d := store.Domain{
			Name:      domainName(i),
			DomainID:  randomID(100_000_000),
			AccountID: acct.ID,
			CdnType:   "web",
			Scope:     "domestic",
			Sources:   []store.Source{{Type: "ipaddr", Content: "127.0.0.1", Port: 80, Priority: "20", Weight: "10"}},
			Status:    "online",
			Mode:      "normal",
			Created:   now,
			Modified:  now,
			HTTPS:     &store.Binding{CertName: certName(i), CertType: "upload", Updated: now},
		}
		txn.Put(store.DomainKey(d.Name), d).
			Put(store.OwnerKey(acct.ID, d.Name), struct{}{}).
			Put(store.CertKey(acct.ID, rec.Name), rec).
			// The repository's content and id indexes, as cas.StageUpload
			// writes them (their record types are unexported there).
			Put(store.CertFingerprintKey(acct.ID, rec.Fingerprint), map[string]string{"name": rec.Name}).
			Put(store.CertIDKey(strconv.FormatInt(rec.CertID, 10)), map[string]string{"account": acct.ID, "name": rec.Name})
	}
	_, err := txn.Commit(ctx)
	return err
}

// padRaftLog writes small transactions until etcd has taken a snapshot and
// compacted its in-memory raft log past the seed's large batches. A cluster
// that grew to N domains through the API holds a few thousand small entries
// in memory and replays few at start; a freshly batch-seeded one would
// instead replay and hold hundreds of megabytes of batches, which would be
// charged to the edge's heap and start-up. etcd snapshots every 10,000
// entries and keeps the last 5,000 after one.
func padRaftLog(ctx context.Context, st *store.Store) error {
	const target = 10_000 + 5_000 + 500
	key := store.MetaKey("edgebench-pad")
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for {
		rev, err := st.Revision(ctx)
		if err != nil {
			return err
		}
		if rev >= target {
			break
		}
		for i := int64(0); i < min(target-rev, 1000); i++ {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				if _, err := st.Txn().Put(key, i).Commit(ctx); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
	}
	_, err := st.Txn().Delete(key).Commit(ctx)
	// The snapshot is taken asynchronously after the entry that crosses the
	// threshold is applied; give it time to reach the disk.
	time.Sleep(2 * time.Second)
	return err
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// randomID draws a positive id below 2^53 (JavaScript-safe, as the API's).
func randomID(floor int64) int64 {
	v, err := rand.Int(rand.Reader, big.NewInt(1<<53-floor))
	if err != nil {
		panic(err)
	}
	return v.Int64() + floor
}

// authority is the one CA that issues every benchmark certificate, standing
// in for a public CA's intermediate: each chain is leaf + this certificate.
type authority struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
}

func newAuthority() (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cdnd edgebench CA", Organization: []string{"cdnd edgebench"}},
		NotBefore:             time.Now().Add(-24 * time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return parseAuthority(
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

func parseAuthority(certPEM, keyPEM []byte) (*authority, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("CA: bad PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("CA: not an ECDSA key")
	}
	return &authority{cert: cert, key: key, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// issued is a leaf with its key, in the forms the API receives them.
type issued struct {
	chain    *certs.Chain
	chainPEM []byte // canonical: leaf then CA, as the API stores it
	keyPEM   []byte // canonical PKCS#8, as the API seals it
	fp       string // hex SHA-256 of the leaf DER
}

// issue makes a fresh ECDSA P-256 leaf for name, valid for 90 days.
func (ca *authority) issue(name string) (*issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	chain := &certs.Chain{Leaf: leaf, Certs: []*x509.Certificate{leaf, ca.cert}, DER: [][]byte{der, ca.cert.Raw}}
	keyPEM, err := certs.EncodeKey(key)
	if err != nil {
		return nil, err
	}
	return &issued{chain: chain, chainPEM: certs.EncodeChain(chain), keyPEM: keyPEM, fp: certs.Fingerprint(leaf)}, nil
}

// record is the certificate record cas.StageUpload would store for this
// leaf under (account, name): the key sealed with the record's own key as
// associated data.
func (is *issued) record(kr *keyring.Keyring, account, name string, now time.Time) (store.Cert, error) {
	sealed, err := kr.Seal(is.keyPEM, store.CertKeyAAD(account, name))
	if err != nil {
		return store.Cert{}, err
	}
	leaf := is.chain.Leaf
	return store.Cert{
		AccountID:   account,
		Name:        name,
		CertID:      randomID(10_000_000),
		ChainPEM:    string(is.chainPEM),
		Key:         sealed,
		Fingerprint: is.fp,
		CommonName:  leaf.Subject.CommonName,
		Names:       certs.Names(leaf),
		Issuer:      certs.IssuerOrg(leaf),
		NotBefore:   leaf.NotBefore.UTC(),
		NotAfter:    leaf.NotAfter.UTC(),
		Created:     now,
		Updated:     now,
	}, nil
}

func (is *issued) writeFiles(chainPath, keyPath string) error {
	if err := os.MkdirAll(filepath.Dir(chainPath), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(chainPath, is.chainPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyPath, is.keyPEM, 0o600)
}
