package cdn

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
	"golang.org/x/net/publicsuffix"
)

// Domain ownership, as Alibaba Cloud CDN proves it before a first
// AddCdnDomain ("Verify the ownership of a domain name",
// https://www.alibabacloud.com/help/en/cdn/getting-started/verify-domain-name-ownership):
// DescribeVerifyContent tells an account what to publish, VerifyDomainOwner
// looks for it in a TXT record at verification.<root> or in the file
// verification.html at the root's web server, and a success covers every
// name under that root, for that account only.

// VerifyDomainOwner errors (api-cdn-2018-05-10-verifydomainowner).
var errOwnerVerifyFail = openapi.NewError(400, "DomainOwnerVerifyFail", "Owner verification of the root domain failed.")

// ownerSecretKey holds the installation's key for verification contents.
var ownerSecretKey = store.MetaKey("owner-verify-secret")

// ownerCheckTimeout bounds one DNS lookup or file fetch: the name is the
// caller's, and so is the server that answers (or never does).
const ownerCheckTimeout = 5 * time.Second

// verifyFileMax is the most of verification.html read: the content is 39
// bytes, so a larger file cannot match, and a tenant's web server cannot
// make cdnd read more.
const verifyFileMax = 4 << 10

// rootDomain is the registrable domain a name belongs to (its public suffix
// plus one label, by the Public Suffix List), which is what ownership is
// proven for: "img.example.co.uk" and ".example.co.uk" have root
// "example.co.uk". An IP literal is not a domain. ok is false for a
// malformed name; root is "" for a name that is itself a public suffix
// ("co.uk", "github.io"), which nobody can prove to own.
func rootDomain(name string) (root string, ok bool) {
	name, ok = normalizeDomain(strings.TrimSpace(name))
	if !ok {
		return "", false
	}
	host := strings.TrimPrefix(name, ".")
	if _, err := netip.ParseAddr(host); err == nil {
		return "", false
	}
	root, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return "", true
	}
	return root, true
}

// verifyContent is what an account publishes to prove it owns root:
// "verify_" and 128 bits of HMAC-SHA256 over the account and the root,
// keyed by a random secret of the installation. It is stable (no record per
// account and root, however many a caller asks about) and no other account
// can compute it: the secret never leaves the store, where it is sealed.
func (s *Service) verifyContent(ctx context.Context, account, root string) (string, error) {
	key, err := s.ownerKey(ctx)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(account + "\x00" + root))
	return "verify_" + hex.EncodeToString(mac.Sum(nil)[:16]), nil
}

// ownerKey loads the installation's verification secret, creating it on
// first use; every API node reads the same one.
func (s *Service) ownerKey(ctx context.Context) ([]byte, error) {
	s.ownerMu.Lock()
	defer s.ownerMu.Unlock()
	if s.ownerSecret != nil {
		return s.ownerSecret, nil
	}
	aad := []byte(ownerSecretKey)
	err := store.RetryConflicts(ctx, func() error {
		var rec store.OwnerSecret
		_, err := s.st.Get(ctx, ownerSecretKey, &rec)
		if err == nil {
			s.ownerSecret, err = s.keyring.Open(rec.Key, aad)
			return err
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		fresh := make([]byte, 32)
		rand.Read(fresh)
		if rec.Key, err = s.keyring.Seal(fresh, aad); err != nil {
			return err
		}
		// Unchanged(…, 0): of two nodes creating it at once, one wins and
		// the other reads the winner's on its retry.
		if _, err = s.st.Txn().Unchanged(ownerSecretKey, 0).Put(ownerSecretKey, rec).Commit(ctx); err != nil {
			return err
		}
		s.ownerSecret = fresh
		return nil
	})
	return s.ownerSecret, err
}

// requestRoot is the root of the request's DomainName, or the error to
// answer.
func requestRoot(r *openapi.Request) (string, error) {
	root, ok := rootDomain(r.Get("DomainName"))
	switch {
	case !ok:
		return "", errDomainMalformed
	case root == "":
		return "", errOwnerVerifyFail
	}
	return root, nil
}

func (s *Service) describeVerifyContent(ctx context.Context, r *openapi.Request) (any, error) {
	root, err := requestRoot(r)
	if err != nil {
		return nil, err
	}
	content, err := s.verifyContent(ctx, account(r), root)
	if err != nil {
		return nil, err
	}
	return struct{ Content string }{content}, nil
}

// ownerChecks are VerifyDomainOwner's VerifyType values: each reports
// whether root publishes content.
var ownerChecks = map[string]func(s *Service, ctx context.Context, root, content string) bool{
	"dnsCheck":  (*Service).dnsCheck,
	"fileCheck": (*Service).fileCheck,
}

func (s *Service) verifyDomainOwner(ctx context.Context, r *openapi.Request) (any, error) {
	root, err := requestRoot(r)
	if err != nil {
		return nil, err
	}
	check := ownerChecks[r.Get("VerifyType")]
	if check == nil {
		return nil, openapi.ErrInvalidParameter
	}
	content, err := s.verifyContent(ctx, account(r), root)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, ownerCheckTimeout)
	ok := check(s, cctx, root, content)
	cancel()
	if !ok {
		return nil, errOwnerVerifyFail
	}
	rec := store.VerifiedRoot{VerifyType: r.Get("VerifyType"), Verified: s.now().UTC()}
	_, err = s.st.Txn().Put(store.VerifiedRootKey(account(r), root), rec).Commit(ctx)
	return nil, err
}

// dnsCheck: a TXT record at verification.<root> holds the content, as
// Alibaba's console asks ("Method 1: DNS settings").
func (s *Service) dnsCheck(ctx context.Context, root, content string) bool {
	txts, err := s.resolver.LookupTXT(ctx, "verification."+root+".")
	if err != nil {
		return false
	}
	for _, txt := range txts {
		if strings.TrimSpace(txt) == content {
			return true
		}
	}
	return false
}

// fileCheck: http://<root>/verification.html holds the content ("Method 2:
// upload a verification file" to the root directory of the domain's web
// server). Only a 200 answer counts, and only its first few KB are read.
func (s *Service) fileCheck(ctx context.Context, root, content string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+root+"/verification.html", nil)
	if err != nil {
		return false
	}
	resp, err := s.originClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, verifyFileMax))
	return err == nil && resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == content
}

// checkOwner refuses a domain whose root the account has not verified, when
// the installation asks for proof of ownership (--verify-domain-owner).
func (s *Service) checkOwner(ctx context.Context, account, name string) error {
	if !s.verifyOwner {
		return nil
	}
	root, _ := rootDomain(name)
	if root == "" {
		return errOwnerVerifyFail
	}
	var rec store.VerifiedRoot
	_, err := s.st.Get(ctx, store.VerifiedRootKey(account, root), &rec)
	if errors.Is(err, store.ErrNotFound) {
		return errOwnerVerifyFail
	}
	return err
}
