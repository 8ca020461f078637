package iam_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/store"
	"github.com/cdnd/cdnd/internal/store/storetest"
)

// runningDirectory is a Directory whose authorizer follows the store, as in
// a server.
func runningDirectory(tb testing.TB) (*iam.Directory, string) {
	tb.Helper()
	st := testStore.WithPrefix(storetest.Prefix(tb))
	d := iam.New(st, newKeyring(tb, 1))
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	go d.Run(ctx)
	c, err := d.CreateAccount(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return d, c.AccountID
}

// statements builds a policy document of n statements; the last allows
// SetDomainServerCertificate on *.a.example, the others deal with other
// actions and resources, some with conditions.
func statements(account string, n int) string {
	var b strings.Builder
	b.WriteString(`{"Version":"1","Statement":[`)
	for i := 0; i < n-1; i++ {
		effect := "Allow"
		if i%10 == 0 {
			effect = "Deny"
		}
		fmt.Fprintf(&b, `{"Effect":%q,"Action":["cdn:Describe%d*","cdn:Modify%d"],"Resource":"acs:cdn:*:%s:domain/*.zone%d.example","Condition":{"IpAddress":{"acs:SourceIp":"10.%d.0.0/16"},"DateLessThan":{"acs:CurrentTime":"2099-01-01T00:00:00Z"}}},`, effect, i, i, account, i, i%250)
	}
	fmt.Fprintf(&b, `{"Effect":"Allow","Action":"cdn:SetDomainServerCertificate","Resource":"acs:cdn:*:%s:domain/*.a.example"}]}`, account)
	return b.String()
}

func subUser(tb testing.TB, d *iam.Directory, account, name string, docs ...string) iam.Principal {
	tb.Helper()
	ctx := context.Background()
	if _, err := d.CreateUser(ctx, account, store.RAMUser{UserName: name}); err != nil {
		tb.Fatal(err)
	}
	for i, doc := range docs {
		pn := fmt.Sprintf("%s-%d", name, i)
		if _, err := d.CreatePolicy(ctx, account, pn, "", doc); err != nil {
			tb.Fatal(err)
		}
		if err := d.Attach(ctx, account, "user", name, iam.PolicyCustom, pn); err != nil {
			tb.Fatal(err)
		}
	}
	c, _, err := d.CreateAccessKey(ctx, account, name)
	if err != nil {
		tb.Fatal(err)
	}
	p, _, err := d.Lookup(ctx, c.AccessKeyID, "")
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

var conds = map[string]string{"acs:sourceip": "127.0.0.1", "acs:securetransport": "false", "acs:currenttime": "2026-11-26T00:00:00Z"}

func TestAuthorizeFollowsAttachments(t *testing.T) {
	d, account := runningDirectory(t)
	ctx := t.Context()
	p := subUser(t, d, account, "robot", statements(account, 5))
	res := func(domain string) []string { return []string{"acs:cdn:*:" + account + ":domain/" + domain} }
	if err := d.Authorize(ctx, p, "cdn:SetDomainServerCertificate", res("x.a.example"), conds); err != nil {
		t.Fatal(err)
	}
	var denied *iam.Denied
	if err := d.Authorize(ctx, p, "cdn:SetDomainServerCertificate", res("b.example"), conds); !errors.As(err, &denied) || denied.Decision != "ImplicitDeny" {
		t.Fatalf("b.example: %v", err)
	}
	// Every resource of a batch must be allowed.
	if err := d.Authorize(ctx, p, "cdn:SetDomainServerCertificate", append(res("x.a.example"), res("b.example")...), conds); !errors.As(err, &denied) {
		t.Fatalf("batch: %v", err)
	}
	// Detaching takes effect on the next call: the change waited for the
	// authorizer to see it.
	if err := d.Detach(ctx, account, "user", "robot", iam.PolicyCustom, "robot-0"); err != nil {
		t.Fatal(err)
	}
	if err := d.Authorize(ctx, p, "cdn:SetDomainServerCertificate", res("x.a.example"), conds); !errors.As(err, &denied) {
		t.Fatalf("after detach: %v", err)
	}
	// The account itself needs no policy.
	root := iam.Principal{AccountID: account, Type: iam.TypeAccount}
	if err := d.Authorize(ctx, root, "cdn:DeleteCdnDomain", res("anything.example"), conds); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAuthorize100Statements: what authorization adds to a call by a
// RAM user with 100 attached statements (the allowing one last).
func BenchmarkAuthorize100Statements(b *testing.B) {
	d, account := runningDirectory(b)
	docs := make([]string, 10) // RAM limits a document to 6 KB: 10 policies of 10
	for i := range docs {
		docs[i] = statements(account, 10)
	}
	p := subUser(b, d, account, "bench", docs...)
	res := []string{"acs:cdn:*:" + account + ":domain/www.a.example"}
	ctx := context.Background()
	if err := d.Authorize(ctx, p, "cdn:SetDomainServerCertificate", res, conds); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.Authorize(ctx, p, "cdn:SetDomainServerCertificate", res, conds); err != nil {
			b.Fatal(err)
		}
	}
}
