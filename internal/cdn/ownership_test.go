package cdn

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cdnd/cdnd/internal/dnstest"
	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

func ownerRequest(accountID string, params ...string) *openapi.Request {
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	return &openapi.Request{Params: v, Principal: iam.Principal{AccountID: accountID}}
}

func TestRootDomain(t *testing.T) {
	for _, c := range []struct {
		name, root string
		ok         bool
	}{
		{"example.com", "example.com", true},
		{"IMG.Example.COM", "example.com", true},
		{"a.b.example.com", "example.com", true},
		{".example.com", "example.com", true},
		{"img.example.co.uk", "example.co.uk", true},
		{"x.example.github.io", "example.github.io", true},
		{" example.com ", "example.com", true},
		{"co.uk", "", true},      // a public suffix: nobody owns it
		{"github.io", "", true},  // private section of the list, same rule
		{"", "", false},          // missing
		{"com", "", false},       // one label
		{"1.2.3.4", "", false},   // IPv4 literal
		{"::1", "", false},       // IPv6 literal
		{"[::1]", "", false},     // bracketed
		{"a..b.com", "", false},  // empty label
		{"-a.b.com", "", false},  // leading hyphen
		{"a_b.com", "", false},   // underscore
		{"é.example", "", false}, // not punycode
	} {
		root, ok := rootDomain(c.name)
		if root != c.root || ok != c.ok {
			t.Errorf("rootDomain(%q) = %q, %v; want %q, %v", c.name, root, ok, c.root, c.ok)
		}
	}
}

func FuzzRootDomain(f *testing.F) {
	for _, s := range []string{"example.com", ".a.example.co.uk", "1.2.3.4", "co.uk", "", "x.y.z.github.io"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		root, ok := rootDomain(name)
		if !ok && root != "" {
			t.Fatalf("rootDomain(%q) = %q for a malformed name", name, root)
		}
		if root != "" && !strings.HasSuffix(strings.ToLower(strings.TrimSpace(name)), root) {
			t.Fatalf("rootDomain(%q) = %q, not a suffix of the name", name, root)
		}
	})
}

// Bad input gets its documented error and records nothing.
func TestOwnershipBadInput(t *testing.T) {
	s := newTestService(t, Config{})
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		params []string
		want   error
	}{
		{"missing DomainName", []string{"VerifyType", "dnsCheck"}, errDomainMalformed},
		{"malformed DomainName", []string{"DomainName", "a..example.com", "VerifyType", "dnsCheck"}, errDomainMalformed},
		{"IPv4 literal", []string{"DomainName", "192.0.2.1", "VerifyType", "dnsCheck"}, errDomainMalformed},
		{"IPv6 literal", []string{"DomainName", "2001:db8::1", "VerifyType", "fileCheck"}, errDomainMalformed},
		{"public suffix", []string{"DomainName", "co.uk", "VerifyType", "dnsCheck"}, errOwnerVerifyFail},
		{"unknown VerifyType", []string{"DomainName", "example.com", "VerifyType", "emailCheck"}, openapi.ErrInvalidParameter},
		{"VerifyType case", []string{"DomainName", "example.com", "VerifyType", "DNSCHECK"}, openapi.ErrInvalidParameter},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.verifyDomainOwner(ctx, ownerRequest("100", c.params...)); !errors.Is(err, c.want) {
				t.Errorf("VerifyDomainOwner: %v, want %v", err, c.want)
			}
			if c.want == openapi.ErrInvalidParameter {
				return // DescribeVerifyContent takes no VerifyType
			}
			if _, err := s.describeVerifyContent(ctx, ownerRequest("100", c.params...)); !errors.Is(err, c.want) {
				t.Errorf("DescribeVerifyContent: %v, want %v", err, c.want)
			}
		})
	}
	if n, err := s.st.Count(ctx, store.Key("verified/")); err != nil || n != 0 {
		t.Fatalf("%d verified roots recorded (%v), want none", n, err)
	}
}

func content(t *testing.T, s *Service, accountID, domain string) string {
	t.Helper()
	out, err := s.describeVerifyContent(context.Background(), ownerRequest(accountID, "DomainName", domain))
	if err != nil {
		t.Fatal(err)
	}
	return out.(struct{ Content string }).Content
}

// The content is per account and root, the same for every name under the
// root and on every node, and unguessable without the sealed secret.
func TestVerifyContent(t *testing.T) {
	s := newTestService(t, Config{})
	c := content(t, s, "100", "example.com")
	if len(c) != len("verify_")+32 || !strings.HasPrefix(c, "verify_") || strings.Trim(c[7:], "0123456789abcdef") != "" {
		t.Fatalf("content %q, want verify_<32 hex>", c)
	}
	if got := content(t, s, "100", "img.Example.com"); got != c {
		t.Errorf("a name under the root: %q, want %q", got, c)
	}
	if got := content(t, s, "100", ".example.com"); got != c {
		t.Errorf("a wildcard under the root: %q, want %q", got, c)
	}
	other := New(Config{Store: s.st, Keyring: s.keyring}) // another API node
	if got := content(t, other, "100", "example.com"); got != c {
		t.Errorf("another node: %q, want %q", got, c)
	}
	if got := content(t, s, "200", "example.com"); got == c {
		t.Error("another account has the same content")
	}
	if got := content(t, s, "100", "example.net"); got == c {
		t.Error("another root has the same content")
	}
	stranger := newTestService(t, Config{})
	stranger.st = testStore.WithPrefix("/t-other-installation" + t.Name())
	if got := content(t, stranger, "100", "example.com"); got == c {
		t.Error("another installation has the same content")
	}
}

func verify(s *Service, accountID, domain, verifyType string) error {
	_, err := s.verifyDomainOwner(context.Background(), ownerRequest(accountID, "DomainName", domain, "VerifyType", verifyType))
	return err
}

func TestDNSCheck(t *testing.T) {
	ns := dnstest.Start(t)
	s := newTestService(t, Config{Resolver: resolverAt(ns.Addr)})
	c := content(t, s, "100", "example.com")
	if err := verify(s, "100", "www.example.com", "dnsCheck"); !errors.Is(err, errOwnerVerifyFail) {
		t.Fatalf("no record: %v, want %v", err, errOwnerVerifyFail)
	}
	ns.Set(t, `verification.example.com. 60 IN TXT "verify_00000000000000000000000000000000"`)
	if err := verify(s, "100", "www.example.com", "dnsCheck"); !errors.Is(err, errOwnerVerifyFail) {
		t.Fatalf("wrong content: %v, want %v", err, errOwnerVerifyFail)
	}
	// Another account's content proves nothing for this one.
	ns.Set(t, `verification.example.com. 60 IN TXT "`+content(t, s, "200", "example.com")+`"`)
	if err := verify(s, "100", "www.example.com", "dnsCheck"); !errors.Is(err, errOwnerVerifyFail) {
		t.Fatalf("another account's content: %v, want %v", err, errOwnerVerifyFail)
	}
	ns.Set(t, `verification.example.com. 60 IN TXT "v=spf1 -all"`, `verification.example.com. 60 IN TXT "`+c+`"`)
	if err := verify(s, "100", "www.example.com", "dnsCheck"); err != nil {
		t.Fatalf("with the record: %v", err)
	}
	var rec store.VerifiedRoot
	if _, err := s.st.Get(context.Background(), store.VerifiedRootKey("100", "example.com"), &rec); err != nil || rec.VerifyType != "dnsCheck" {
		t.Fatalf("verified record %+v, %v", rec, err)
	}
}

// fileServer plays the root's web server: every connection the service's
// client opens reaches it, whatever the name.
func fileServer(t *testing.T, h http.HandlerFunc) *http.Client {
	t.Helper()
	web := httptest.NewServer(h)
	t.Cleanup(web.Close)
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, web.Listener.Addr().String())
	}}}
}

func TestFileCheck(t *testing.T) {
	var file string
	var status = http.StatusOK
	var gotURL string
	client := fileServer(t, func(w http.ResponseWriter, r *http.Request) {
		gotURL = "http://" + r.Host + r.URL.Path
		w.WriteHeader(status)
		_, _ = w.Write([]byte(file))
	})
	s := newTestService(t, Config{OriginClient: client})
	c := content(t, s, "100", "example.org")
	for _, bad := range []struct {
		name, file string
		status     int
	}{
		{"not found", c, http.StatusNotFound},
		{"wrong content", "verify_00000000000000000000000000000000", http.StatusOK},
		{"content past the read bound", strings.Repeat(" ", verifyFileMax) + c, http.StatusOK},
		{"content with more after it", c + "x", http.StatusOK},
	} {
		file, status = bad.file, bad.status
		if err := verify(s, "100", "img.example.org", "fileCheck"); !errors.Is(err, errOwnerVerifyFail) {
			t.Errorf("%s: %v, want %v", bad.name, err, errOwnerVerifyFail)
		}
	}
	file, status = c+"\n", http.StatusOK
	if err := verify(s, "100", "img.example.org", "fileCheck"); err != nil {
		t.Fatalf("with the file: %v", err)
	}
	if gotURL != "http://example.org/verification.html" {
		t.Errorf("fetched %s, want the root's /verification.html", gotURL)
	}
}

// With VerifyDomainOwner, AddCdnDomain needs the account's proof for the
// root; without it, no check is made.
func TestAddDomainNeedsVerifiedRoot(t *testing.T) {
	ns := dnstest.Start(t)
	s := newTestService(t, Config{Resolver: resolverAt(ns.Addr), VerifyDomainOwner: true})
	ctx := context.Background()
	for _, id := range []string{"100", "200"} {
		if _, err := s.st.Txn().Put(store.AccountKey(id), store.Account{AccountID: id, DomainQuota: 10}).Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	add := func(accountID, name string) error {
		_, err := s.addDomain(ctx, ownerRequest(accountID, "DomainName", name, "CdnType", "web",
			"Sources", ownerTestSources))
		return err
	}
	if err := add("100", "www.example.com"); !errors.Is(err, errOwnerVerifyFail) {
		t.Fatalf("unverified: %v, want %v", err, errOwnerVerifyFail)
	}
	ns.Set(t, `verification.example.com. 60 IN TXT "`+content(t, s, "100", "example.com")+`"`)
	if err := verify(s, "100", "example.com", "dnsCheck"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"www.example.com", ".example.com", "example.com"} {
		if err := add("100", name); err != nil {
			t.Errorf("verified root, %s: %v", name, err)
		}
	}
	if err := add("200", "img.example.com"); !errors.Is(err, errOwnerVerifyFail) {
		t.Errorf("another account: %v, want %v", err, errOwnerVerifyFail)
	}
	open := New(Config{Store: s.st, Keyring: s.keyring})
	if err := func() error {
		_, err := open.addDomain(ctx, ownerRequest("200", "DomainName", "img.example.net", "CdnType", "web",
			"Sources", ownerTestSources))
		return err
	}(); err != nil {
		t.Errorf("without the flag: %v", err)
	}
}

// ownerTestSources is a public origin address: an origin address policy
// accepts it, and nothing here dials it.
const ownerTestSources = `[{"content":"1.0.0.1","type":"ipaddr","port":80}]`
