package policy

import (
	"testing"
)

const (
	account   = "1234567890123456"
	setCert   = "cdn:SetDomainServerCertificate"
	domainArn = "acs:cdn:*:" + account + ":domain/"
)

func mustParse(t testing.TB, document string) *Policy {
	t.Helper()
	p, err := Parse(document)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

// when makes a one-statement Allow policy on every action and resource with
// the given Condition block.
func when(condition string) string {
	return doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":` + condition + `}`)
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[Decision]string{ImplicitDeny: "ImplicitDeny", Allow: "Allow", ExplicitDeny: "ExplicitDeny", 7: "Decision(7)"} {
		if got := d.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(d), got, want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	allowSet := doc(`{"Effect":"Allow","Action":"cdn:Set*","Resource":"` + domainArn + `*"}`)
	denySet := doc(`{"Effect":"Deny","Action":"cdn:SetDomainServerCertificate","Resource":"` + domainArn + `www.a.example"}`)
	wildDomain := doc(`{"Effect":"Allow","Action":"cdn:*","Resource":"` + domainArn + `*.a.example"}`)
	req := func(action, resource string) Request { return Request{Action: action, Resource: resource} }

	for _, tc := range []struct {
		name     string
		policies []string
		req      Request
		want     Decision
	}{
		{"no policies", nil, req(setCert, domainArn+"www.a.example"), ImplicitDeny},
		{"allow", []string{allowSet}, req(setCert, domainArn+"www.a.example"), Allow},
		{"action not covered", []string{allowSet}, req("cdn:DescribeUserDomains", domainArn+"www.a.example"), ImplicitDeny},
		{"other account", []string{allowSet}, req(setCert, "acs:cdn:*:999:domain/www.a.example"), ImplicitDeny},
		{"explicit deny beats allow, deny in a later policy", []string{allowSet, denySet}, req(setCert, domainArn+"www.a.example"), ExplicitDeny},
		{"explicit deny beats allow, deny in an earlier policy", []string{denySet, allowSet}, req(setCert, domainArn+"www.a.example"), ExplicitDeny},
		{"explicit deny beats allow in one policy", []string{doc(`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"cdn:Set*","Resource":"*"}`)}, req(setCert, "x"), ExplicitDeny},
		{"deny elsewhere leaves allow", []string{allowSet, denySet}, req(setCert, domainArn+"img.a.example"), Allow},
		{"deny alone is not allow", []string{denySet}, req(setCert, domainArn+"img.a.example"), ImplicitDeny},
		{"wildcard domain matches subdomain", []string{wildDomain}, req(setCert, domainArn+"x.a.example"), Allow},
		{"wildcard domain matches deeper subdomain", []string{wildDomain}, req(setCert, domainArn+"y.x.a.example"), Allow},
		{"wildcard domain does not match other domain", []string{wildDomain}, req(setCert, domainArn+"b.example"), ImplicitDeny},
		{"wildcard domain does not match apex", []string{wildDomain}, req(setCert, domainArn+"a.example"), ImplicitDeny},
		{"wildcard domain does not match suffix lookalike", []string{wildDomain}, req(setCert, domainArn+"x.a.example.evil"), ImplicitDeny},
		{"action case-insensitive, request side", []string{allowSet}, req("CDN:SETDOMAINSERVERCERTIFICATE", domainArn+"www.a.example"), Allow},
		{"action case-insensitive, policy side", []string{doc(`{"Effect":"Allow","Action":"CDN:setdomainSERVERcertificate","Resource":"*"}`)}, req(setCert, "x"), Allow},
		{"resource case-sensitive", []string{wildDomain}, req(setCert, domainArn+"X.A.EXAMPLE"), ImplicitDeny},
		{"resource case-sensitive in policy", []string{doc(`{"Effect":"Allow","Action":"*","Resource":"acs:CDN:*:*:*"}`)}, req(setCert, domainArn+"x"), ImplicitDeny},
		{"question mark is literal", []string{doc(`{"Effect":"Allow","Action":"cdn:Set?","Resource":"*"}`)}, req("cdn:SetX", "x"), ImplicitDeny},
		{"one of several actions", []string{doc(`{"Effect":"Allow","Action":["cdn:Describe*","cdn:Set*"],"Resource":["acs:cdn:*:1:domain/a","*"]}`)}, req(setCert, "x"), Allow},
		{"nil policy skipped", []string{"", allowSet}, req(setCert, domainArn+"www.a.example"), Allow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ps []*Policy
			for _, d := range tc.policies {
				if d == "" {
					ps = append(ps, nil)
					continue
				}
				ps = append(ps, mustParse(t, d))
			}
			if got := Evaluate(ps, tc.req); got != tc.want {
				t.Errorf("Evaluate = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConditions(t *testing.T) {
	type ctx = map[string]string
	for _, tc := range []struct {
		name      string
		condition string
		context   ctx
		want      Decision
	}{
		// IpAddress and NotIpAddress.
		{"ipv4 in CIDR", `{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}`, ctx{"acs:sourceip": "10.20.30.40"}, Allow},
		{"ipv4 outside CIDR", `{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}`, ctx{"acs:sourceip": "11.0.0.1"}, ImplicitDeny},
		{"ipv4 single address", `{"IpAddress":{"acs:SourceIp":"192.168.1.1"}}`, ctx{"acs:sourceip": "192.168.1.1"}, Allow},
		{"ipv4 single address, neighbour", `{"IpAddress":{"acs:SourceIp":"192.168.1.1"}}`, ctx{"acs:sourceip": "192.168.1.2"}, ImplicitDeny},
		{"ipv4 list ORed", `{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","192.168.1.1"]}}`, ctx{"acs:sourceip": "192.168.1.1"}, Allow},
		{"ipv4 CIDR with host bits", `{"IpAddress":{"acs:SourceIp":"10.1.2.3/8"}}`, ctx{"acs:sourceip": "10.200.0.1"}, Allow},
		{"ipv4-mapped caller", `{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}`, ctx{"acs:sourceip": "::ffff:10.0.0.1"}, Allow},
		{"ipv4-mapped policy", `{"IpAddress":{"acs:SourceIp":"::ffff:10.0.0.0/104"}}`, ctx{"acs:sourceip": "10.0.0.1"}, Allow},
		{"ipv6 in CIDR", `{"IpAddress":{"acs:SourceIp":"2001:db8::/32"}}`, ctx{"acs:sourceip": "2001:db8:1::5"}, Allow},
		{"ipv6 outside CIDR", `{"IpAddress":{"acs:SourceIp":"2001:db8::/32"}}`, ctx{"acs:sourceip": "2001:db9::5"}, ImplicitDeny},
		{"ipv6 single address", `{"IpAddress":{"acs:SourceIp":"::1"}}`, ctx{"acs:sourceip": "::1"}, Allow},
		{"ipv6 with zone", `{"IpAddress":{"acs:SourceIp":"fe80::/10"}}`, ctx{"acs:sourceip": "fe80::1%eth0"}, Allow},
		{"ipv6 caller, ipv4 policy", `{"IpAddress":{"acs:SourceIp":"0.0.0.0/0"}}`, ctx{"acs:sourceip": "2001:db8::1"}, ImplicitDeny},
		{"malformed caller address", `{"IpAddress":{"acs:SourceIp":"0.0.0.0/0"}}`, ctx{"acs:sourceip": "not-an-ip"}, ImplicitDeny},
		{"NotIpAddress outside", `{"NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}`, ctx{"acs:sourceip": "203.0.113.9"}, Allow},
		{"NotIpAddress inside v4", `{"NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}`, ctx{"acs:sourceip": "10.0.0.9"}, ImplicitDeny},
		{"NotIpAddress inside v6", `{"NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}`, ctx{"acs:sourceip": "2001:db8::9"}, ImplicitDeny},
		{"NotIpAddress malformed caller", `{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}`, ctx{"acs:sourceip": ""}, ImplicitDeny},

		// Bool.
		{"secure transport required, https", `{"Bool":{"acs:SecureTransport":"true"}}`, ctx{"acs:securetransport": "true"}, Allow},
		{"secure transport required, http", `{"Bool":{"acs:SecureTransport":"true"}}`, ctx{"acs:securetransport": "false"}, ImplicitDeny},
		{"bool JSON literal", `{"Bool":{"acs:SecureTransport":true}}`, ctx{"acs:securetransport": "true"}, Allow},
		{"bool any case", `{"Bool":{"acs:SecureTransport":"TRUE"}}`, ctx{"acs:securetransport": "True"}, Allow},
		{"bool false", `{"Bool":{"acs:SecureTransport":false}}`, ctx{"acs:securetransport": "false"}, Allow},
		{"bool malformed context", `{"Bool":{"acs:SecureTransport":false}}`, ctx{"acs:securetransport": "no"}, ImplicitDeny},

		// Dates.
		{"DateLessThan before", `{"DateLessThan":{"acs:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx{"acs:currenttime": "2025-12-31T23:59:59Z"}, Allow},
		{"DateLessThan at", `{"DateLessThan":{"acs:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx{"acs:currenttime": "2026-01-01T00:00:00Z"}, ImplicitDeny},
		{"DateLessThanEquals at", `{"DateLessThanEquals":{"acs:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx{"acs:currenttime": "2026-01-01T00:00:00Z"}, Allow},
		{"DateLessThan offsets compared as instants", `{"DateLessThan":{"acs:CurrentTime":"2019-08-12T17:00:00+08:00"}}`, ctx{"acs:currenttime": "2019-08-12T08:59:59Z"}, Allow},
		{"DateLessThan offsets, after", `{"DateLessThan":{"acs:CurrentTime":"2019-08-12T17:00:00+08:00"}}`, ctx{"acs:currenttime": "2019-08-12T09:00:00Z"}, ImplicitDeny},
		{"DateGreaterThan after", `{"DateGreaterThan":{"acs:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx{"acs:currenttime": "2026-01-01T00:00:00.001Z"}, Allow},
		{"DateGreaterThan before", `{"DateGreaterThan":{"acs:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx{"acs:currenttime": "2025-06-01T00:00:00Z"}, ImplicitDeny},
		{"DateGreaterThanEquals at", `{"DateGreaterThanEquals":{"acs:CurrentTime":"2026-01-01T08:00:00+08:00"}}`, ctx{"acs:currenttime": "2026-01-01T00:00:00Z"}, Allow},
		{"DateEquals same instant", `{"DateEquals":{"acs:CurrentTime":"2026-01-01T08:00:00+08:00"}}`, ctx{"acs:currenttime": "2026-01-01T00:00:00Z"}, Allow},
		{"DateNotEquals same instant", `{"DateNotEquals":{"acs:CurrentTime":"2026-01-01T08:00:00+08:00"}}`, ctx{"acs:currenttime": "2026-01-01T00:00:00Z"}, ImplicitDeny},
		{"date window", `{"DateGreaterThan":{"acs:CurrentTime":"2025-01-01T00:00:00Z"},"DateLessThan":{"acs:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx{"acs:currenttime": "2025-07-01T00:00:00Z"}, Allow},
		{"date malformed context", `{"DateGreaterThan":{"acs:CurrentTime":"2025-01-01T00:00:00Z"}}`, ctx{"acs:currenttime": "tomorrow"}, ImplicitDeny},

		// Strings.
		{"StringEquals", `{"StringEquals":{"acs:UserAgent":"cdnd-cli"}}`, ctx{"acs:useragent": "cdnd-cli"}, Allow},
		{"StringEquals case-sensitive", `{"StringEquals":{"acs:UserAgent":"cdnd-cli"}}`, ctx{"acs:useragent": "CDND-CLI"}, ImplicitDeny},
		{"StringNotEquals", `{"StringNotEquals":{"k":["a","b"]}}`, ctx{"k": "c"}, Allow},
		{"StringNotEquals negates the ORed set", `{"StringNotEquals":{"k":["a","b"]}}`, ctx{"k": "b"}, ImplicitDeny},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"k":"Hello"}}`, ctx{"k": "hELLO"}, Allow},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"k":"Hello"}}`, ctx{"k": "hELLO"}, ImplicitDeny},
		{"StringLike prefix", `{"StringLike":{"k":"cdnd-*"}}`, ctx{"k": "cdnd-cli/1.0"}, Allow},
		{"StringLike middle", `{"StringLike":{"k":"*/prod/*"}}`, ctx{"k": "a/prod/b"}, Allow},
		{"StringLike no match", `{"StringLike":{"k":["*/prod/*","x*"]}}`, ctx{"k": "a/dev/b"}, ImplicitDeny},
		{"StringLike case-sensitive", `{"StringLike":{"k":"cdnd-*"}}`, ctx{"k": "CDND-cli"}, ImplicitDeny},
		{"StringNotLike", `{"StringNotLike":{"k":"*/prod/*"}}`, ctx{"k": "a/dev/b"}, Allow},
		{"number value as string", `{"StringEquals":{"k":10}}`, ctx{"k": "10"}, Allow},

		// Numbers.
		{"NumericLessThan", `{"NumericLessThan":{"n":10}}`, ctx{"n": "9.5"}, Allow},
		{"NumericLessThan equal", `{"NumericLessThan":{"n":10}}`, ctx{"n": "10"}, ImplicitDeny},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"n":"10"}}`, ctx{"n": "1e1"}, Allow},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"n":-1}}`, ctx{"n": "0"}, Allow},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"n":5}}`, ctx{"n": "4"}, ImplicitDeny},
		{"NumericEquals", `{"NumericEquals":{"n":[1,2,3]}}`, ctx{"n": "2.0"}, Allow},
		{"NumericNotEquals", `{"NumericNotEquals":{"n":[1,2,3]}}`, ctx{"n": "2"}, ImplicitDeny},
		{"numeric malformed context", `{"NumericNotEquals":{"n":1}}`, ctx{"n": "NaN"}, ImplicitDeny},

		// Combination and missing keys.
		{"keys ANDed, both hold", `{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"Bool":{"acs:SecureTransport":"true"}}`, ctx{"acs:sourceip": "10.0.0.1", "acs:securetransport": "true"}, Allow},
		{"keys ANDed, one fails", `{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"Bool":{"acs:SecureTransport":"true"}}`, ctx{"acs:sourceip": "10.0.0.1", "acs:securetransport": "false"}, ImplicitDeny},
		{"keys in one operator ANDed", `{"StringEquals":{"a":"1","b":"2"}}`, ctx{"a": "1", "b": "3"}, ImplicitDeny},
		{"keys in one operator ANDed, both hold", `{"StringEquals":{"a":"1","b":["3","2"]}}`, ctx{"a": "1", "b": "2"}, Allow},
		{"condition key case-insensitive", `{"IpAddress":{"ACS:SOURCEIP":"10.0.0.0/8"}}`, ctx{"acs:sourceip": "10.0.0.1"}, Allow},
		{"missing key", `{"IpAddress":{"acs:SourceIp":"0.0.0.0/0"}}`, ctx{}, ImplicitDeny},
		{"missing key, nil context", `{"Bool":{"acs:SecureTransport":"true"}}`, nil, ImplicitDeny},
		{"missing key, negated operator", `{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}`, ctx{}, ImplicitDeny},
		{"missing key, StringNotEquals", `{"StringNotEquals":{"k":"v"}}`, ctx{"other": "x"}, ImplicitDeny},
		{"context keys must be lower-case", `{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}`, ctx{"acs:SourceIp": "10.0.0.1"}, ImplicitDeny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, when(tc.condition))
			if got := Evaluate([]*Policy{p}, Request{Action: setCert, Resource: "x", Context: tc.context}); got != tc.want {
				t.Errorf("Evaluate = %v, want %v", got, tc.want)
			}
		})
	}
}

// A Deny guarded by a condition applies only when the condition holds, and
// (by the missing-key rule) not when the key is absent.
func TestConditionalDeny(t *testing.T) {
	allow := mustParse(t, doc(allowAll))
	deny := mustParse(t, doc(`{"Effect":"Deny","Action":"cdn:*","Resource":"*","Condition":{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}`))
	for _, tc := range []struct {
		ip   string
		want Decision
	}{
		{"10.1.1.1", Allow},
		{"8.8.8.8", ExplicitDeny},
		{"", Allow}, // key absent: the Deny does not apply
	} {
		ctx := map[string]string{}
		if tc.ip != "" {
			ctx["acs:sourceip"] = tc.ip
		}
		if got := Evaluate([]*Policy{allow, deny}, Request{Action: setCert, Resource: "x", Context: ctx}); got != tc.want {
			t.Errorf("source %q: Evaluate = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	ps := benchPolicies(t)
	for _, tc := range []struct {
		name string
		req  Request
		want Decision
	}{
		{"last statement allows", benchRequest(), Allow},
		{"denied", Request{Action: "cdn:DeleteCdnDomain", Resource: domainArn + "www.a.example", Context: benchRequest().Context}, ExplicitDeny},
		{"ipv6, offset time", Request{Action: setCert, Resource: domainArn + "www.a.example", Context: map[string]string{
			"acs:sourceip": "2001:db8::7", "acs:currenttime": "2026-03-01T08:00:00+08:00", "acs:securetransport": "true"}}, Allow},
		{"plainly malformed context", Request{Action: setCert, Resource: domainArn + "www.a.example", Context: map[string]string{
			"acs:sourceip": "x", "acs:currenttime": "", "acs:securetransport": "maybe", "n": "ten"}}, ImplicitDeny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Evaluate(ps, tc.req); got != tc.want {
				t.Fatalf("Evaluate = %v, want %v", got, tc.want)
			}
			if n := testing.AllocsPerRun(200, func() { Evaluate(ps, tc.req) }); n != 0 {
				t.Errorf("Evaluate allocates %v times per call", n)
			}
		})
	}
}
