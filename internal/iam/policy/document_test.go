package policy

import (
	"strings"
	"testing"
)

// doc wraps statements in a version 1 document.
func doc(statements ...string) string {
	return `{"Version":"1","Statement":[` + strings.Join(statements, ",") + `]}`
}

const allowAll = `{"Effect":"Allow","Action":"*","Resource":"*"}`

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name       string
		document   string
		statements int
	}{
		{"minimal", doc(allowAll), 1},
		{"two statements", doc(allowAll, `{"Effect":"Deny","Action":["cdn:Set*","cdn:Delete*"],"Resource":["acs:cdn:*:1:domain/a","acs:cdn:*:1:domain/b"]}`), 2},
		{"single statement object", `{"Version":"1","Statement":` + allowAll + `}`, 1},
		{"effect any case", doc(`{"Effect":"aLLoW","Action":"*","Resource":"*"}`, `{"Effect":"DENY","Action":"*","Resource":"*"}`), 2},
		{"key order free", `{"Statement":[{"Resource":"*","Action":"*","Effect":"Allow"}],"Version":"1"}`, 1},
		{"whitespace", "\n{ \"Version\" : \"1\" ,\n\t\"Statement\" : [ { \"Effect\" : \"Allow\" , \"Action\" : [ \"*\" ] , \"Resource\" : \"*\" } ] }\n", 1},
		{"escaped key", `{"Vers\u0069on":"1","Statement":[` + allowAll + `]}`, 1},
		{"empty condition", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}`), 1},
		{"all operators", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
			"StringEquals":{"k":"v"},"StringNotEquals":{"k":["a","b"]},
			"StringEqualsIgnoreCase":{"k":"V"},"StringNotEqualsIgnoreCase":{"k":"V"},
			"StringLike":{"k":"a*"},"StringNotLike":{"k":"b*"},
			"NumericEquals":{"n":1},"NumericNotEquals":{"n":"2"},"NumericLessThan":{"n":1.5},
			"NumericLessThanEquals":{"n":-3},"NumericGreaterThan":{"n":"1e3"},"NumericGreaterThanEquals":{"n":0},
			"DateEquals":{"acs:CurrentTime":"2026-01-01T00:00:00Z"},"DateNotEquals":{"acs:CurrentTime":"2019-08-12T17:00:00+08:00"},
			"DateLessThan":{"acs:CurrentTime":"2026-01-01T00:00:00.5Z"},"DateLessThanEquals":{"acs:CurrentTime":"2026-01-01T00:00:00Z"},
			"DateGreaterThan":{"acs:CurrentTime":"2026-01-01T00:00:00Z"},"DateGreaterThanEquals":{"acs:CurrentTime":"2026-01-01T00:00:00Z"},
			"Bool":{"acs:SecureTransport":true},
			"IpAddress":{"acs:SourceIp":["10.0.0.0/8","192.168.1.1","2001:db8::/32","::1","::ffff:172.16.0.0/108"]},
			"NotIpAddress":{"acs:SourceIp":"10.1.2.3/8"}}}`), 1},
		{"at the size limit", doc(`{"Effect":"Allow","Action":"*","Resource":"` + strings.Repeat("x", maxDocumentBytes-len(doc(`{"Effect":"Allow","Action":"*","Resource":""}`))) + `"}`), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.document)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := p.Statements(); got != tc.statements {
				t.Errorf("Statements() = %d, want %d", got, tc.statements)
			}
		})
	}
}

func TestParseNormalises(t *testing.T) {
	p, err := Parse(doc(`{"Effect":"deny","Action":["CDN:Set*"],"Resource":"acs:cdn:*:1:domain/A","Condition":{"Bool":{"acs:SecureTransport":false},"IpAddress":{"acs:SourceIp":"::ffff:10.0.0.1"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	s := p.statements[0]
	if s.effect != effectDeny {
		t.Errorf("effect = %q", s.effect)
	}
	if s.actions[0].text != "cdn:set*" {
		t.Errorf("action = %q, want lower-cased", s.actions[0].text)
	}
	if s.resources[0].text != "acs:cdn:*:1:domain/A" {
		t.Errorf("resource = %q, want case kept", s.resources[0].text)
	}
	if c := s.conditions[0]; c.key != "acs:securetransport" || c.boolTrue || !c.boolFalse {
		t.Errorf("Bool condition = %+v", c)
	}
	if c := s.conditions[1]; c.key != "acs:sourceip" || c.prefixes[0].String() != "10.0.0.1/32" {
		t.Errorf("IpAddress condition = %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	stmt := func(fields string) string { return doc(`{` + fields + `}`) }
	cond := func(c string) string {
		return stmt(`"Effect":"Allow","Action":"*","Resource":"*","Condition":` + c)
	}
	for _, tc := range []struct {
		name     string
		document string
		want     string // substring of the error
	}{
		{"empty", ``, "not valid JSON"},
		{"not an object", `[]`, "document: must be an object"},
		{"trailing garbage", doc(allowAll) + `x`, "not valid JSON"},
		{"two documents", doc(allowAll) + doc(allowAll), "not valid JSON"},
		{"truncated", doc(allowAll)[:20], "not valid JSON"},
		{"oversize", doc(`{"Effect":"Allow","Action":"*","Resource":"` + strings.Repeat("x", maxDocumentBytes) + `"}`), "more than the limit of 6144"},
		{"oversize by one", doc(`{"Effect":"Allow","Action":"*","Resource":"` + strings.Repeat("x", maxDocumentBytes+1-len(doc(`{"Effect":"Allow","Action":"*","Resource":""}`))) + `"}`), "6145 bytes"},
		{"missing version", `{"Statement":[` + allowAll + `]}`, "Version: missing"},
		{"bad version", `{"Version":"2","Statement":[` + allowAll + `]}`, `Version: must be the string "1"`},
		{"numeric version", `{"Version":1,"Statement":[` + allowAll + `]}`, `Version: must be the string "1"`},
		{"lower-case key", `{"version":"1","Statement":[` + allowAll + `]}`, `document: unknown key "version"`},
		{"unknown top-level key", `{"Version":"1","Id":"x","Statement":[` + allowAll + `]}`, `document: unknown key "Id"`},
		{"duplicate key", `{"Version":"1","Version":"1","Statement":[` + allowAll + `]}`, `duplicate key "Version"`},
		{"missing statement", `{"Version":"1"}`, "Statement: missing"},
		{"empty statement list", `{"Version":"1","Statement":[]}`, "Statement: must not be empty"},
		{"statement is a string", `{"Version":"1","Statement":"x"}`, "Statement: must be an array"},
		{"statement element not object", doc(allowAll, `"x"`), "Statement[1]: must be an object"},
		{"missing effect", stmt(`"Action":"*","Resource":"*"`), "Statement[0].Effect: missing"},
		{"bad effect", stmt(`"Effect":"Permit","Action":"*","Resource":"*"`), `Statement[0].Effect: must be "Allow" or "Deny"`},
		{"non-string effect", stmt(`"Effect":true,"Action":"*","Resource":"*"`), `Statement[0].Effect: must be "Allow" or "Deny"`},
		{"lower-case statement key", stmt(`"effect":"Allow","Action":"*","Resource":"*"`), `Statement[0]: unknown key "effect"`},
		{"unknown statement key", stmt(`"Effect":"Allow","Action":"*","Resource":"*","Sid":"x"`), `Statement[0]: unknown key "Sid"`},
		{"duplicate statement key", stmt(`"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"`), `Statement[0]: duplicate key "Effect"`},
		{"missing action", stmt(`"Effect":"Allow","Resource":"*"`), "Statement[0].Action: missing"},
		{"empty action", stmt(`"Effect":"Allow","Action":"","Resource":"*"`), "Statement[0].Action: must not be empty"},
		{"empty action list", stmt(`"Effect":"Allow","Action":[],"Resource":"*"`), "Statement[0].Action: must not be empty"},
		{"empty action in list", stmt(`"Effect":"Allow","Action":["cdn:*",""],"Resource":"*"`), "Statement[0].Action[1]: must not be empty"},
		{"non-string action", stmt(`"Effect":"Allow","Action":["cdn:*",7],"Resource":"*"`), "Statement[0].Action[1]: must be a string"},
		{"numeric action", stmt(`"Effect":"Allow","Action":7,"Resource":"*"`), "Statement[0].Action: must be a string or an array of strings"},
		{"null action", stmt(`"Effect":"Allow","Action":null,"Resource":"*"`), "Statement[0].Action: must be a string or an array of strings"},
		{"missing resource", stmt(`"Effect":"Allow","Action":"*"`), "Statement[0].Resource: missing"},
		{"empty resource list", stmt(`"Effect":"Allow","Action":"*","Resource":[]`), "Statement[0].Resource: must not be empty"},
		{"NotAction", stmt(`"Effect":"Allow","NotAction":"cdn:Delete*","Resource":"*"`), "Statement[0].NotAction: unsupported"},
		{"NotResource", doc(allowAll, `{"Effect":"Deny","Action":"*","NotResource":"*"}`), "Statement[1].NotResource: unsupported"},
		{"condition not object", cond(`[]`), "Statement[0].Condition: must be an object"},
		{"unknown operator", cond(`{"StringEqualz":{"k":"v"}}`), `Statement[0].Condition: unknown condition operator "StringEqualz"`},
		{"operator wrong case", cond(`{"ipaddress":{"acs:SourceIp":"10.0.0.1"}}`), `unknown condition operator "ipaddress"`},
		{"IfExists not supported", cond(`{"StringEqualsIfExists":{"k":"v"}}`), `unknown condition operator "StringEqualsIfExists"`},
		{"operator not object", cond(`{"StringEquals":"v"}`), "Statement[0].Condition.StringEquals: must be an object"},
		{"operator without keys", cond(`{"StringEquals":{}}`), "Statement[0].Condition.StringEquals: no condition keys"},
		{"empty condition key", cond(`{"StringEquals":{"":"v"}}`), "empty condition key"},
		{"empty value list", cond(`{"StringEquals":{"k":[]}}`), `StringEquals["k"]: empty list of values`},
		{"null value", cond(`{"StringEquals":{"k":null}}`), `StringEquals["k"]: a condition value must be`},
		{"object value", cond(`{"StringEquals":{"k":["a",{}]}}`), `StringEquals["k"][1]: a condition value must be`},
		{"bad CIDR", cond(`{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","10.0.0.0/33"]}}`), `IpAddress["acs:SourceIp"]: "10.0.0.0/33" is not an IP address or CIDR`},
		{"bad address", cond(`{"NotIpAddress":{"acs:SourceIp":"10.0.0.256"}}`), `"10.0.0.256" is not an IP address or CIDR`},
		{"zoned address", cond(`{"IpAddress":{"acs:SourceIp":"fe80::1%eth0"}}`), `is not an IP address or CIDR`},
		{"bad date", cond(`{"DateLessThan":{"acs:CurrentTime":"2026-13-01T00:00:00Z"}}`), `DateLessThan["acs:CurrentTime"]: "2026-13-01T00:00:00Z" is not an RFC 3339 time`},
		{"date without zone", cond(`{"DateLessThan":{"acs:CurrentTime":"2026-01-01T00:00:00"}}`), `is not an RFC 3339 time`},
		{"date as number", cond(`{"DateLessThan":{"acs:CurrentTime":1767225600}}`), `is not an RFC 3339 time`},
		{"bad number", cond(`{"NumericLessThan":{"n":"ten"}}`), `"ten" is not a decimal number`},
		{"NaN", cond(`{"NumericLessThan":{"n":"NaN"}}`), `"NaN" is not a decimal number`},
		{"hex number", cond(`{"NumericLessThan":{"n":"0x10"}}`), `is not a decimal number`},
		{"out of range number", cond(`{"NumericLessThan":{"n":1e999}}`), `is not a decimal number`},
		{"bad bool", cond(`{"Bool":{"acs:SecureTransport":"yes"}}`), `"yes" is not true or false`},
		{"long value is cut short", cond(`{"IpAddress":{"acs:SourceIp":"` + strings.Repeat("9", 500) + `"}}`), `"...`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.document)
			if err == nil {
				t.Fatalf("Parse succeeded with %d statements, want error containing %q", p.Statements(), tc.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "policy: ") {
				t.Errorf("error %q lacks the package prefix", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
			if len(tc.document) > 100 && strings.Contains(msg, tc.document) {
				t.Errorf("error echoes the document")
			}
			if len(msg) > 300 {
				t.Errorf("error is %d bytes long: %q", len(msg), msg)
			}
		})
	}
}

func TestStatementsNil(t *testing.T) {
	var p *Policy
	if p.Statements() != 0 {
		t.Error("nil policy has statements")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(doc(allowAll), "cdn:SetDomainServerCertificate", "acs:cdn:*:1:domain/a", "10.0.0.1", "2026-01-01T00:00:00Z", "true")
	f.Add(`{"Version":"1","Statement":{"Effect":"Deny","Action":["cdn:*"],"Resource":"acs:cdn:*:*:domain/*.a.example","Condition":{"NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","::1"]},"DateLessThan":{"acs:CurrentTime":"2019-08-12T17:00:00+08:00"}}}}`,
		"cdn:Describe", "acs:cdn:*:9:domain/x.a.example", "::ffff:10.0.0.1", "2019-08-12T08:00:00Z", "false")
	f.Add(doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"n":[1,"2.5e3"]},"Bool":{"acs:SecureTransport":true},"StringLike":{"k":"a*b"},"StringNotEqualsIgnoreCase":{"K":"X"}}}`),
		"x", "y", "1e3", "abab", "TRUE")
	f.Add(typical, "cdn:BatchSetCdnDomainServerCertificate", "acs:cdn:*:1234567890123456:domain/a.example", "2001:db8::1", "2026-06-01T00:00:00+08:00", "true")
	f.Add(`{"Version":"1","Statement":[]}`, "", "", "", "", "")
	f.Add(`{"Version":"1","Statement":[{"Effect":"Allow","NotAction":"*","Resource":"*"}]} junk`, "", "", "", "", "")
	f.Fuzz(func(t *testing.T, document, action, resource, v1, v2, v3 string) {
		p, err := Parse(document)
		if err != nil {
			if p != nil {
				t.Fatal("Parse returned a policy and an error")
			}
			if len(document) > 100 && strings.Contains(err.Error(), document) {
				t.Fatal("error echoes the document")
			}
			return
		}
		if p.Statements() < 1 {
			t.Fatalf("parsed policy has %d statements", p.Statements())
		}
		// Feed every value under every key a policy might test.
		ctx := map[string]string{
			"acs:sourceip": v1, "acs:currenttime": v2, "acs:securetransport": v3,
			"n": v1, "k": v2,
		}
		for _, req := range []Request{
			{Action: action, Resource: resource, Context: ctx},
			{Action: action, Resource: resource},
			{Action: strings.ToUpper(action), Resource: resource, Context: map[string]string{"acs:sourceip": v2, "acs:currenttime": v3}},
		} {
			d := Evaluate([]*Policy{p, nil, p}, req)
			if d != ImplicitDeny && d != Allow && d != ExplicitDeny {
				t.Fatalf("Evaluate = %v", d)
			}
			// A single policy cannot be denied by adding another copy of
			// itself: evaluation does not depend on repetition.
			if d1 := Evaluate([]*Policy{p}, req); d1 != d {
				t.Fatalf("Evaluate of one copy = %v, of two = %v", d1, d)
			}
		}
	})
}
