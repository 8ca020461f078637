package policy

import (
	"fmt"
	"strings"
	"testing"
)

// benchPolicies builds 100 statements in four policies of 25. None of the
// first 99 matches benchRequest, but they fail at different depths: some on
// the action, some on the resource after the action matched, some only on a
// condition (an IpAddress or DateLessThan that must be evaluated). The one
// statement that allows the request is the very last, so Evaluate has to
// look at everything.
func benchPolicies(t testing.TB) []*Policy {
	var stmts []string
	for i := range 99 {
		var s string
		switch i % 6 {
		case 0:
			s = `{"Effect":"Allow","Action":["cdn:Describe*","cdn:List*"],"Resource":"` + domainArn + `*"}`
		case 1:
			s = `{"Effect":"Deny","Action":"cdn:Delete*","Resource":"` + domainArn + `*"}`
		case 2:
			s = fmt.Sprintf(`{"Effect":"Allow","Action":"cdn:Set*","Resource":"acs:cdn:*:%d:domain/*"}`, 100000+i)
		case 3:
			s = `{"Effect":"Deny","Action":"cdn:*","Resource":"` + domainArn + `*.a.example","Condition":{"NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}`
		case 4:
			s = `{"Effect":"Allow","Action":"cdn:SetDomainServerCertificate","Resource":"` + domainArn + `*.a.example","Condition":{"DateLessThan":{"acs:CurrentTime":"2020-01-01T00:00:00Z"}}}`
		case 5:
			s = `{"Effect":"Allow","Action":["cdn:Set*Config*","cdn:Batch*"],"Resource":"*"}`
		}
		stmts = append(stmts, s)
	}
	stmts = append(stmts, `{"Effect":"Allow","Action":"cdn:Set*","Resource":"`+domainArn+`*.a.example","Condition":{`+
		`"IpAddress":{"acs:SourceIp":["10.0.0.0/8","2001:db8::/32"]},`+
		`"DateLessThan":{"acs:CurrentTime":"2027-01-01T00:00:00Z"},`+
		`"Bool":{"acs:SecureTransport":"true"}}}`)
	var ps []*Policy
	for i := 0; i < len(stmts); i += 25 {
		ps = append(ps, mustParse(t, doc(stmts[i:i+25]...)))
	}
	n := 0
	for _, p := range ps {
		n += p.Statements()
	}
	if n != 100 {
		t.Fatalf("%d statements, want 100", n)
	}
	return ps
}

func benchRequest() Request {
	return Request{
		Action:   setCert,
		Resource: domainArn + "www.a.example",
		Context: map[string]string{
			"acs:sourceip":        "10.1.2.3",
			"acs:currenttime":     "2026-03-01T00:00:00Z",
			"acs:securetransport": "true",
		},
	}
}

func BenchmarkEvaluate100Statements(b *testing.B) {
	ps := benchPolicies(b)
	req := benchRequest()
	if d := Evaluate(ps, req); d != Allow {
		b.Fatalf("Evaluate = %v, want Allow", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(ps, req)
	}
}

// typical is the kind of custom policy an operator writes: read access to
// the account's domains, certificate changes for one zone from the office
// network over HTTPS until a date, and a guard against deletions.
var typical = strings.Join(strings.Fields(`{
  "Version": "1",
  "Statement": [
    {"Effect": "Allow", "Action": ["cdn:Describe*", "cdn:List*"], "Resource": "acs:cdn:*:1234567890123456:domain/*"},
    {"Effect": "Allow", "Action": ["cdn:SetDomainServerCertificate", "cdn:BatchSetCdnDomainServerCertificate"],
     "Resource": ["acs:cdn:*:1234567890123456:domain/*.a.example", "acs:cdn:*:1234567890123456:domain/a.example"],
     "Condition": {
       "IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.1.1", "2001:db8::/32"]},
       "Bool": {"acs:SecureTransport": "true"},
       "DateLessThan": {"acs:CurrentTime": "2027-01-01T00:00:00+08:00"}}},
    {"Effect": "Deny", "Action": "cdn:Delete*", "Resource": "*"}
  ]
}`), " ")

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typical)))
	for b.Loop() {
		if _, err := Parse(typical); err != nil {
			b.Fatal(err)
		}
	}
}
